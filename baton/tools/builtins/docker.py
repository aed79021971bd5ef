"""``Docker``: the same limits in a container, for machines without bubblewrap.

Each run is a fresh ``docker run --rm`` of ``image`` with no network, a read-only root file
system, a private ``/tmp`` (tmpfs), the scratch directory mounted at ``/workspace``, no
capabilities, ``no-new-privileges``, an unprivileged uid (running as root, the workspace's own
fresh uid; else ``nobody``), the memory and process limits as cgroup limits and the others as
ulimits. At the wall-time limit the container is killed by name (killing the ``docker`` client
alone would leave it running). Needs the ``docker`` CLI and a daemon it can reach.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Mapping
from typing import Any

from ...errors import MissingDependency
from .identities import DEFAULT_UID_RANGE, UidPool, is_root
from .sandbox import Sandbox, Workspace

__all__ = ["Docker"]

_NOBODY = 65534


class Docker(Sandbox):
    """Run programs in throwaway containers of ``image`` (default ``python:3.12-slim``)."""

    name = "docker"

    def __init__(
        self,
        image: str = "python:3.12-slim",
        *,
        env: Mapping[str, str] | None = None,
        python: str = "python3",
        executable: str = "docker",
        uid_range: tuple[int, int] = DEFAULT_UID_RANGE,
    ) -> None:
        super().__init__(env=env, python=python)
        self.image = image
        self.executable = executable
        self._uids = UidPool(*uid_range)

    def check(self) -> None:
        if shutil.which(self.executable) is None:
            raise MissingDependency(
                f"the Docker sandbox needs the {self.executable!r} command, which is not "
                "installed: install Docker (the 'docker.io' package on Debian and Ubuntu, or "
                "Docker Engine from docs.docker.com), or use Bubblewrap() on Linux"
            )

    async def prepare(self, workspace: Workspace) -> None:
        if is_root():
            workspace.uid = self._uids.take()
            for path in (workspace.scratch, workspace.base / "program"):
                os.chown(path, workspace.uid, workspace.uid)
        else:  # the container's user is not ours: it may write the scratch directory only
            workspace.scratch.chmod(0o777)
            (workspace.base / "program").chmod(0o755)

    def program_path(self, workspace: Workspace, filename: str) -> str:
        return f"/snippet/{filename}"

    def command(self, workspace: Workspace, argv: list[str]) -> tuple[list[str], dict[str, Any]]:
        limits = workspace.limits
        uid = workspace.uid if workspace.uid is not None else _NOBODY
        name = f"baton-{uuid.uuid4().hex[:16]}"
        workspace.state["container"] = name
        cpu = max(1, round(limits.cpu_seconds))
        args = [self.executable, "run", "--rm", "--name", name, "--network", "none"]
        args += ["--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev", "--cap-drop", "ALL"]
        args += ["--security-opt", "no-new-privileges", "--user", f"{uid}:{uid}"]
        args += [f"--memory={limits.memory_mb:g}m", f"--memory-swap={limits.memory_mb:g}m"]
        args += [f"--pids-limit={int(limits.processes)}"]
        args += ["--ulimit", f"cpu={cpu}:{cpu + 1}"]
        args += ["--ulimit", f"fsize={limits.file_size_bytes}"]
        args += ["--ulimit", f"nofile={int(limits.open_files)}", "--ulimit", "core=0"]
        for key, value in self.base_env(workspace, "/workspace").items():
            args += ["--env", f"{key}={value}"]
        args += ["-v", f"{workspace.scratch}:/workspace:rw"]
        args += ["-v", f"{workspace.base / 'program'}:/snippet:ro", "-w", "/workspace"]
        return [*args, self.image, *argv], {}

    async def after_run(self, workspace: Workspace) -> None:
        name = workspace.state.pop("container", None)
        if name is None:
            return
        killer = await asyncio.create_subprocess_exec(
            self.executable,
            "kill",
            name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await killer.wait()  # fails harmlessly when the container is already gone

    async def release(self, workspace: Workspace) -> None:
        if workspace.uid is not None:
            self._uids.give_back(workspace.uid)
