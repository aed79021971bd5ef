"""Helpers of the built-in tool tests: small limits, the bwrap check, leftover processes."""

from __future__ import annotations

import os
import shutil

import pytest

from baton.tools.builtins import Limits

INSTALL_BWRAP = "apt-get install -y bubblewrap"

# Small limits so each escape attempt ends quickly; wall time stays well above the others.
TIGHT = Limits(
    cpu_seconds=1, wall_seconds=20, memory_mb=256, processes=16, file_size_mb=2, output_kb=16
)


def needs_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip(f"bubblewrap is not installed: {INSTALL_BWRAP}")


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = open(f"/proc/{name}/status", encoding="utf-8").read()  # noqa: SIM115
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] not in "ZX":
            found.append(int(name))
    return found


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent is not)."""
    try:
        status = open(f"/proc/{pid}/status", encoding="utf-8").read()  # noqa: SIM115
    except OSError:
        return False
    return "\nState:\tZ" not in status and "\nState:\tX" not in status
