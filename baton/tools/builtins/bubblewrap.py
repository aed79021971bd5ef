"""``Bubblewrap``: the default sandbox on Linux, built on ``bwrap`` (the distribution's package).

Each run gets new namespaces (user, pid, network, ipc, uts, cgroup): the network holds only its
own loopback, so nothing on the host or beyond is reachable; ``/usr``, ``/etc`` and the library
directories are mounted read-only; ``/tmp`` is a private tmpfs; the scratch directory, mounted at
``/workspace``, is the one writable place that outlives the run; the environment is cleared. The
program runs as an unprivileged uid (running as root, a fresh one per workspace: see
``identities``) with rlimits on CPU time, memory, processes, file size and open files, in a pid
namespace whose processes all die with it; Baton kills the whole process group at the wall-time
limit and sweeps up any process of the uid after every run. Nested user namespaces are disabled.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ...errors import ConfigError, MissingDependency
from .identities import DEFAULT_UID_RANGE, UidPool, is_root, kill_uid, tasks_of_uid
from .sandbox import Sandbox, Workspace

__all__ = ["SYSTEM_PATHS", "Bubblewrap"]

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Host paths a program sees, read-only (those that exist; symlinks such as ``/bin ->
usr/bin`` are recreated as symlinks)."""

SCRATCH = "/workspace"
PROGRAMS = "/snippet"
_HELPERS = 3  # tasks of bwrap itself (monitor and pid-namespace init) under the nproc limit


class Bubblewrap(Sandbox):
    """Run programs under ``bwrap`` (install it with ``apt-get install bubblewrap``).

    ``read_only``: more host paths to show read-only at the same place (a virtualenv, a data
    set); ``env``: variables to set (nothing of the host's environment is passed); ``python``:
    the interpreter (default: the system's ``python3``; a virtualenv's needs ``read_only``);
    ``uid_range``: where fresh uids come from when running as root.
    """

    name = "bubblewrap"

    def __init__(
        self,
        *,
        read_only: Iterable[str | os.PathLike[str]] = (),
        env: Mapping[str, str] | None = None,
        python: str = "python3",
        executable: str = "bwrap",
        uid_range: tuple[int, int] = DEFAULT_UID_RANGE,
    ) -> None:
        super().__init__(env=env, python=python)
        if isinstance(read_only, str | os.PathLike):
            raise ConfigError(f"Bubblewrap(read_only=...) takes a list of paths: [{read_only!r}]")
        self.read_only = tuple(str(Path(p).absolute()) for p in read_only)
        for path in self.read_only:
            if path in ("/", SCRATCH, PROGRAMS, "/tmp", "/proc", "/dev"):
                raise ConfigError(f"Bubblewrap(read_only=...) cannot mount {path!r}")
        self.executable = executable
        self._uids = UidPool(*uid_range)

    def check(self) -> None:
        _tools(self.executable)

    async def prepare(self, workspace: Workspace) -> None:
        if not is_root():
            return
        uid = self._uids.take()
        workspace.uid = uid
        for path in (workspace.base, workspace.scratch, workspace.base / "program"):
            os.chown(path, uid, uid)

    def program_path(self, workspace: Workspace, filename: str) -> str:
        return f"{PROGRAMS}/{filename}"

    def command(self, workspace: Workspace, argv: list[str]) -> tuple[list[str], dict[str, Any]]:
        bwrap, prlimit, disable_userns = _tools(self.executable)
        limits = workspace.limits
        cpu = max(1, round(limits.cpu_seconds))
        rlimits = [
            prlimit,
            f"--cpu={cpu}:{cpu + 1}",  # SIGXCPU first, SIGKILL a second later
            f"--as={limits.memory_bytes}",
            f"--nproc={self._tasks_before(workspace) + int(limits.processes) + _HELPERS}",
            f"--fsize={limits.file_size_bytes}",
            f"--nofile={int(limits.open_files)}",
            "--core=0",
            "--",
        ]
        status_read, status_write = os.pipe()  # bwrap reports there whether the program ran
        workspace.state["status"] = (status_read, status_write)
        args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        args += ["--json-status-fd", str(status_write)]
        args += ["--disable-userns"] if disable_userns else []
        args += ["--hostname", "sandbox", "--cap-drop", "ALL", "--clearenv"]
        for key, value in self.base_env(workspace, SCRATCH).items():
            args += ["--setenv", key, value]
        args += _system_mounts()
        for path in self.read_only:
            args += ["--ro-bind", path, path]
        args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        args += ["--ro-bind", str(workspace.base / "program"), PROGRAMS]
        args += ["--bind", str(workspace.scratch), SCRATCH, "--chdir", SCRATCH, "--"]
        options: dict[str, Any] = {"env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}}
        options["cwd"] = str(workspace.base)
        options["pass_fds"] = (status_write,)
        if workspace.uid is not None:
            options.update(user=workspace.uid, group=workspace.uid, extra_groups=[])
        return rlimits + args + argv, options

    def _tasks_before(self, workspace: Workspace) -> int:
        """Tasks already counted against the uid a run starts under: for a fresh uid, only
        zombies of its earlier runs (bwrap's namespace init is reaped by the host's init,
        which some container inits never do); running as yourself, all of yours."""
        if workspace.uid is None:
            return tasks_of_uid(os.getuid())
        return int(workspace.state.get("tasks_left", 0))

    def spawned(self, workspace: Workspace) -> None:
        status = workspace.state.get("status")
        if status is not None:
            os.close(status[1])  # only bwrap writes there

    async def after_run(self, workspace: Workspace) -> None:
        if workspace.uid is not None:
            workspace.state["tasks_left"] = await asyncio.to_thread(kill_uid, workspace.uid)
        status = workspace.state.pop("status", None)
        if status is not None:  # every writer is gone: this read ends at once
            with os.fdopen(status[0], "rb") as reader:
                workspace.state["ran"] = b'"exit-code"' in reader.read()

    def setup_failure(self, workspace: Workspace, stderr: str) -> str | None:
        """bwrap reports an exit code only for a program it started; without one, the error
        is bwrap's own (its message is the first ``bwrap:`` line of stderr)."""
        if workspace.state.pop("ran", True):
            return None
        said = next((line for line in stderr.splitlines() if line.startswith("bwrap:")), "")
        return (
            f"the Bubblewrap sandbox could not start the program ({said or 'no message'}). "
            "If it could not create namespaces, allow unprivileged user namespaces (e.g. sysctl "
            "kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns"
            "=0 on Ubuntu); if a command is missing, make it visible with Bubblewrap(read_only="
            "[...]) or pick another interpreter with python=..."
        )

    async def release(self, workspace: Workspace) -> None:
        if workspace.uid is not None:
            await asyncio.to_thread(kill_uid, workspace.uid)
            self._uids.give_back(workspace.uid)


@functools.cache
def _tools(executable: str) -> tuple[str, str, bool]:
    """Paths of ``bwrap`` and ``prlimit`` and whether this ``bwrap`` can disable nested user
    namespaces; a ``MissingDependency`` naming the package when one is missing."""
    bwrap = shutil.which(executable)
    if bwrap is None:
        raise MissingDependency(
            f"the Bubblewrap sandbox needs the {executable!r} program, which is not installed: "
            "install the 'bubblewrap' package (apt-get install bubblewrap, dnf install "
            "bubblewrap, apk add bubblewrap), or pick another backend (Docker(), or "
            "UnsafeSubprocess() where isolation does not matter)"
        )
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise MissingDependency(
            "the Bubblewrap sandbox needs the 'prlimit' program to set its limits: install the "
            "'util-linux' package"
        )
    help_text = subprocess.run(
        [bwrap, "--help"], capture_output=True, text=True, check=False, timeout=10
    ).stdout
    return bwrap, prlimit, "--disable-userns" in help_text


@functools.cache
def _system_mounts() -> tuple[str, ...]:
    args: list[str] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return tuple(args)
