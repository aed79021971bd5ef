"""Helpers the MCP tests share: counting the server processes a test started (children of this
process, found through ``/proc``)."""

from __future__ import annotations

import os
from pathlib import Path


def child_processes(marker: bytes, parent: int | None = None) -> list[int]:
    """The pids of ``parent``'s (default: this process's) live children whose command line
    holds ``marker``."""
    found = []
    me = str(parent if parent is not None else os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if ppid == me and state != "Z" and any(marker in part for part in cmdline):
            found.append(int(entry.name))
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
