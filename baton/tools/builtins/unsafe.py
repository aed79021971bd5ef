"""``UnsafeSubprocess``: programs run as plain subprocesses of yours, under rlimits only.

NOT A SECURITY BOUNDARY. A program run this way sees your files, your network and everything
your user may do; only the ``Limits`` apply (and, running as root, the kernel exempts root from
the process limit, so a fork bomb is not contained). Use it where the code is yours or where
nothing is at stake (a throwaway container, CI), on machines without bubblewrap or Docker. It
must be chosen by name: no default ever falls back to it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from .identities import is_root, tasks_of_uid
from .sandbox import Sandbox, Workspace

__all__ = ["UnsafeSubprocess"]

# Sets the limits, then becomes the program: the portable way when `prlimit` is missing.
_LAUNCHER = """\
import os, resource, sys
for name, value in zip(("CPU", "AS", "NPROC", "FSIZE", "NOFILE", "CORE"), sys.argv[1:7]):
    soft, _, hard = value.partition(":")
    limit = getattr(resource, "RLIMIT_" + name, None)
    if limit is not None:
        try:
            resource.setrlimit(limit, (int(soft), int(hard or soft)))
        except (ValueError, OSError):
            pass
os.execvp(sys.argv[7], sys.argv[7:])
"""


class UnsafeSubprocess(Sandbox):
    """Runs programs as your own subprocesses with ``Limits`` (rlimits and the wall time)
    and a cleared environment. Not a security boundary: see the module's docs."""

    name = "unsafe"
    is_security_boundary = False

    def __init__(self, *, env: Mapping[str, str] | None = None, python: str | None = None) -> None:
        super().__init__(env=env, python=python or sys.executable)

    def check(self) -> None:
        """Always usable."""

    def program_path(self, workspace: Workspace, filename: str) -> str:
        return str(workspace.base / "program" / filename)

    def command(self, workspace: Workspace, argv: list[str]) -> tuple[list[str], dict[str, Any]]:
        limits = workspace.limits
        cpu = max(1, round(limits.cpu_seconds))
        # Root is exempt from RLIMIT_NPROC anyway; anyone else's count includes what they run.
        nproc = int(limits.processes) + (0 if is_root() else tasks_of_uid(os.getuid()))
        values = [
            f"{cpu}:{cpu + 1}",
            str(limits.memory_bytes),
            str(nproc),
            str(limits.file_size_bytes),
            str(int(limits.open_files)),
            "0",
        ]
        prlimit = shutil.which("prlimit")
        if prlimit is not None:
            flags = ("--cpu", "--as", "--nproc", "--fsize", "--nofile", "--core")
            wrapper = [prlimit, *(f"{f}={v}" for f, v in zip(flags, values, strict=True)), "--"]
        else:
            wrapper = [sys.executable, "-c", _LAUNCHER, *values]
        env = self.base_env(workspace, str(workspace.scratch))
        env["PATH"] = os.pathsep.join([os.path.dirname(self.python), env["PATH"]])
        return [*wrapper, *argv], {"env": env, "cwd": str(workspace.scratch)}
