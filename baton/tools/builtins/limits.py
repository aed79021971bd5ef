"""``Limits``: what one sandboxed run may use, in one object a user can read.

    Limits()                                   # the documented defaults below
    Limits(wall_seconds=120, memory_mb=2048)   # a data-science snippet

Each limit is enforced by the kernel (rlimits) except ``wall_seconds``, which Baton enforces by
killing every process of the run, and ``output_kb``, which only bounds what is kept of stdout and
stderr (the rest is read and dropped, so a chatty program is never blocked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ...errors import ConfigError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run in a sandbox may use.

    Defaults: 10 s of CPU time, 30 s of wall time, 512 MB of memory (address space), 32
    processes (threads count too), 16 MB per written file, 64 open files, and 64 KB of stdout
    and of stderr kept (the rest is dropped, and the result says so).
    """

    cpu_seconds: float = 10
    """CPU time per process (``RLIMIT_CPU``); past it the process is killed."""
    wall_seconds: float = 30
    """Real time for the whole run; past it every process of the run is killed."""
    memory_mb: int = 512
    """Address space per process (``RLIMIT_AS``); past it allocations fail."""
    processes: int = 32
    """Processes and threads the run may have at once (``RLIMIT_NPROC``)."""
    file_size_mb: int = 16
    """Largest file the run may write (``RLIMIT_FSIZE``)."""
    open_files: int = 64
    """Open file descriptors per process (``RLIMIT_NOFILE``)."""
    output_kb: int = 64
    """How much of stdout, and of stderr, is kept for the result."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(
                    f"Limits({field.name}=...) must be a positive, finite number, got {value!r}"
                )
        for name in ("processes", "open_files"):  # counts: a fraction would be cut to 0
            value = getattr(self, name)
            if not isinstance(value, int):
                raise ConfigError(f"Limits({name}=...) is a whole number, got {value!r}")
        if self.open_files < 8:
            raise ConfigError(
                f"Limits(open_files={self.open_files}) leaves no room for a program's own "
                "stdin/stdout/stderr and libraries: use 8 or more"
            )

    @property
    def memory_bytes(self) -> int:
        """``memory_mb`` in bytes (the address-space limit)."""
        return int(self.memory_mb * 1024 * 1024)

    @property
    def file_size_bytes(self) -> int:
        """``file_size_mb`` in bytes (the largest file a program may write)."""
        return int(self.file_size_mb * 1024 * 1024)

    @property
    def output_bytes(self) -> int:
        """``output_kb`` in bytes (what is kept of stdout, and of stderr)."""
        return int(self.output_kb * 1024)

    def describe(self) -> str:
        """One line for the model: what the sandbox allows."""
        return (
            f"{self.cpu_seconds:g}s CPU, {self.wall_seconds:g}s wall time, "
            f"{self.memory_mb:g} MB memory, {self.processes:g} processes, "
            f"{self.file_size_mb:g} MB per file, {self.open_files:g} open files"
        )
