"""Identities for sandboxed runs: a fresh host uid per workspace, and the processes of a uid.

The kernel counts ``RLIMIT_NPROC`` per real uid, so two runs that share a uid share one process
budget (and a fork bomb in one starves the other). Running as root, Baton gives each workspace a
uid of its own, unused by any process or account, from a high range; every process left with that
uid after a run is killed. Not running as root, a program can only run as you: the process limit
is then counted on top of the tasks you already have when the run starts.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from pathlib import Path

from ...errors import ConfigError

__all__ = ["DEFAULT_UID_RANGE", "UidPool", "is_root", "kill_uid", "tasks_of_uid"]

DEFAULT_UID_RANGE = (2_000_000, 2_999_999)
"""Where fresh uids come from: far above accounts (< 60000) and the usual subordinate-uid
ranges of containers (100000-165535 per user)."""


def is_root() -> bool:
    """Whether this process runs as root (and so can give each workspace its own uid)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


class UidPool:
    """Hands out uids that no process, account or other workspace of this process uses."""

    def __init__(self, first: int = DEFAULT_UID_RANGE[0], last: int = DEFAULT_UID_RANGE[1]) -> None:
        if not 1000 <= first <= last < 2**31 - 1:
            raise ConfigError(
                f"a uid range must satisfy 1000 <= first <= last < 2**31 - 1, got ({first}, {last})"
            )
        self.first, self.last = first, last
        self._taken: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> int:
        """A uid of the range that no account, process or workspace of this pool uses;
        ``ConfigError`` when none is left."""
        accounts = _account_uids()
        busy = _uids_with_processes()
        with self._lock:
            for _ in range(1000):
                uid = random.randint(self.first, self.last)
                if uid not in self._taken and uid not in accounts and uid not in busy:
                    self._taken.add(uid)
                    return uid
        raise ConfigError(f"no free uid left in the sandbox range {self.first}-{self.last}")

    def give_back(self, uid: int) -> None:
        """Return a uid ``take`` gave (its processes already killed)."""
        with self._lock:
            self._taken.discard(uid)


def _account_uids() -> set[int]:
    uids: set[int] = set()
    try:
        text = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return uids
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[2].isdigit():
            uids.add(int(parts[2]))
    return uids


def _process_uids(only: int | None = None) -> list[tuple[int, int, int, bool]]:
    """(pid, real uid, threads, is a zombie) of every process visible in /proc, or of those
    owned by ``only`` (a cheap ``stat`` of each ``/proc/<pid>`` skips the others)."""
    found: list[tuple[int, int, int, bool]] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            if only is not None and os.stat(f"/proc/{name}").st_uid != only:
                continue
            status = Path(f"/proc/{name}/status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # gone meanwhile
        uid = threads = -1
        zombie = False
        for line in status.splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("State:"):
                zombie = line.split()[1] in ("Z", "X")
        if uid >= 0 and (only is None or uid == only):
            found.append((int(name), uid, max(threads, 1), zombie))
    return found


def _uids_with_processes() -> set[int]:
    """Owners of the processes in /proc (a process's directory belongs to its uid)."""
    owners: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return owners
    for name in names:
        if name.isdigit():
            try:
                owners.add(os.stat(f"/proc/{name}").st_uid)
            except OSError:
                continue
    return owners


def tasks_of_uid(uid: int) -> int:
    """How many tasks (processes and threads, zombies included) have real uid ``uid``: the
    count ``RLIMIT_NPROC`` is checked against."""
    return sum(threads for _, _, threads, _ in _process_uids(uid))


def kill_uid(uid: int, *, patience: float = 2.0) -> int:
    """SIGKILL every process whose real uid is ``uid`` and wait (up to ``patience`` seconds)
    until only zombies are left; return how many tasks are left: zombies still count against
    the uid's process limit until their parent reaps them. Only for uids from a ``UidPool``.

    A killed process takes a moment to die (a namespace's processes too, once its init is
    gone), so the sweep repeats with short pauses (this runs in a worker thread)."""
    deadline = time.monotonic() + patience
    pause = 0.0005
    while True:
        mine = [(pid, threads, zombie) for pid, _, threads, zombie in _process_uids(uid)]
        alive = [pid for pid, _, zombie in mine if not zombie]
        if not alive or time.monotonic() > deadline:
            return sum(threads for _, threads, _ in mine)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
