"""Sandboxes: where ``code_execution`` and ``shell`` run programs, and what a run returns.

A ``Sandbox`` is a backend (``Bubblewrap``, ``Docker``, ``UnsafeSubprocess``); ``await
sandbox.open(limits)`` gives a ``Workspace``: one scratch directory (the only place a program may
write that outlives the run) and one identity, in which any number of runs happen one after
another. Each run returns an ``Execution``: stdout, stderr, the exit status, the files it wrote,
and which limit stopped it, if one did.

Every run ends with all of its processes killed: a program cannot leave a daemon behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...errors import ConfigError
from .limits import Limits

__all__ = ["LANGUAGES", "Execution", "Sandbox", "Workspace", "WorkspaceClosed", "WrittenFile"]

_MAX_FILES_LISTED = 50
_MAX_FILES_WALKED = 10_000
_CHUNK = 65536
_CTIME_MARGIN_NS = 20_000_000

# Languages a workspace can run, by the name of their program file.
LANGUAGES = {"python": "main.py", "shell": "main.sh"}


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file a run created or changed, relative to the scratch directory."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Execution:
    """What one run in a sandbox did."""

    stdout: str
    stderr: str
    exit_code: int | None
    """The program's exit status (``128 + n`` when signal ``n`` ended it); ``None`` when Baton
    killed it at the wall-time limit."""
    files: tuple[WrittenFile, ...] = ()
    """Files created or changed in the scratch directory (at most 50 listed)."""
    limit: str | None = None
    """The ``Limits`` field that stopped the run (e.g. ``"memory_mb"``), or ``None``."""
    note: str = ""
    """A sentence on why the run stopped, when a limit stopped it."""
    seconds: float = 0.0
    dropped_stdout: int = 0
    """Bytes of stdout past ``Limits.output_kb`` that were read and dropped."""
    dropped_stderr: int = 0
    more_files: int = 0
    """Written files beyond those listed in ``files``."""

    def summary(self) -> dict[str, Any]:
        """The run as plain data, without its output (kept as the tool call's value)."""
        return {
            "exit_code": self.exit_code,
            "limit": self.limit,
            "files": [{"path": f.path, "size": f.size} for f in self.files],
            "seconds": round(self.seconds, 3),
        }

    @property
    def ok(self) -> bool:
        """The program exited with status 0 and no limit stopped it."""
        return self.exit_code == 0 and self.limit is None

    def report(self) -> str:
        """The run as text for a model: status, the limit note, output and files."""
        status = "killed" if self.exit_code is None else f"exit status {self.exit_code}"
        lines = [status + (f"; {self.note}" if self.note else "")]
        for name, text, dropped in (
            ("stdout", self.stdout, self.dropped_stdout),
            ("stderr", self.stderr, self.dropped_stderr),
        ):
            if text or dropped:
                cut = f" ({dropped} more bytes dropped)" if dropped else ""
                lines.append(f"--- {name}{cut}\n{text.rstrip()}")
        if self.files:
            listed = ", ".join(f"{f.path} ({f.size} bytes)" for f in self.files)
            more = f" and {self.more_files} more" if self.more_files else ""
            lines.append(f"--- files written: {listed}{more}")
        return "\n".join(lines)


class WorkspaceClosed(ConfigError):
    """A run asked of a workspace that was closed (``Workspace.close``)."""


@dataclass(slots=True)
class Workspace:
    """One sandbox: a scratch directory and an identity, reused by every run until ``close``.

    Runs in one workspace happen one at a time (a lock orders them). Use it as an async
    context manager, or call ``close()``: that removes the scratch directory.
    """

    sandbox: Sandbox
    limits: Limits
    base: Path
    """A host directory of Baton's holding ``scratch`` and the program files."""
    uid: int | None = None
    """The uid runs use on the host, when the backend gives each workspace its own."""
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    """Backend-specific details (a container id, ...)."""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    @property
    def scratch(self) -> Path:
        """The host path of the scratch directory."""
        return self.base / "scratch"

    async def run_code(self, code: str, language: str = "python") -> Execution:
        """Run a Python program (``language="python"``) or a shell script (``"shell"``)."""
        try:
            filename = LANGUAGES[language]
        except KeyError:
            raise ConfigError(
                f"unknown language {language!r}: use one of {', '.join(LANGUAGES)}"
            ) from None
        async with self._lock:
            self._check_open()
            program = self.base / "program" / filename
            program.write_text(code, encoding="utf-8")
            program.chmod(0o644)
            inside = self.sandbox.program_path(self, filename)
            interpreter = [self.sandbox.python, "-u"] if language == "python" else ["/bin/sh"]
            return await self._run_locked([*interpreter, inside])

    async def run(self, argv: Sequence[str]) -> Execution:
        """Run a command (``argv[0]`` looked up on the sandbox's ``PATH``)."""
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ConfigError(f"a command is a non-empty list of strings, got {argv!r}")
        async with self._lock:
            self._check_open()
            return await self._run_locked(list(argv))

    async def close(self) -> None:
        """Kill anything left, release the identity and remove the scratch directory."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self.sandbox.release(self)
            await asyncio.to_thread(_remove_tree, self.base)

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called: no more runs happen here."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise WorkspaceClosed("this sandbox workspace is closed; open a new one")

    async def _run_locked(self, argv: list[str]) -> Execution:
        # A file's ctime moves on every write, rename or chmod and cannot be set back: what
        # changed since the run started is one walk afterwards. The kernel stamps ctimes from a
        # coarse clock (a tick late at most), hence the margin.
        since = time.time_ns() - _CTIME_MARGIN_NS
        command, options = self.sandbox.command(self, argv)
        started = time.monotonic()
        outcome = await _supervise(command, options, self.limits, self.sandbox, self)
        seconds = time.monotonic() - started
        if not outcome.timed_out:
            problem = self.sandbox.setup_failure(self, outcome.stderr.decode("utf-8", "replace"))
            if problem is not None:  # the developer's to fix: not a result for the model
                raise ConfigError(problem)
        after = await asyncio.to_thread(_sizes_changed_since, self.scratch, since)
        changed = sorted(after)
        files = tuple(WrittenFile(p, after[p]) for p in changed[:_MAX_FILES_LISTED])
        stdout, stderr = outcome.stdout, outcome.stderr
        limit, note = _diagnose(outcome, self.limits, seconds)
        if limit is None and any(size >= self.limits.file_size_bytes for size in after.values()):
            limit = "file_size_mb"  # a writer that carried on after its write was cut short
            note = _NOTES[limit].format(limits=self.limits)
        return Execution(
            stdout=stdout.decode("utf-8", errors="replace"),
            stderr=stderr.decode("utf-8", errors="replace"),
            exit_code=None if outcome.timed_out else outcome.returncode,
            files=files,
            limit=limit,
            note=note,
            seconds=seconds,
            dropped_stdout=outcome.dropped_stdout,
            dropped_stderr=outcome.dropped_stderr,
            more_files=max(0, len(changed) - _MAX_FILES_LISTED),
        )


class Sandbox(ABC):
    """A backend that runs programs in isolation under ``Limits``.

    Subclasses say how to prepare a workspace, how to wrap a command, and how to make sure
    nothing of a run survives it.
    """

    name: ClassVar[str]
    is_security_boundary: ClassVar[bool] = True

    def __init__(self, *, env: Mapping[str, str] | None = None, python: str = "python3") -> None:
        if env is not None and not (
            isinstance(env, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise ConfigError(f"{type(self).__name__}(env=...) must map names to strings")
        self.env = dict(env or {})
        """Extra environment variables for every run (the rest of the environment is cleared)."""
        self.python = python
        """The Python interpreter programs run with (a name on the sandbox's ``PATH``, or a
        path the sandbox can see)."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``MissingDependency`` naming what to install when this backend cannot run."""

    async def open(self, limits: Limits | None = None) -> Workspace:
        """A new workspace: an empty scratch directory and (where the backend has them) a
        fresh identity."""
        if limits is not None and not isinstance(limits, Limits):
            raise ConfigError(f"{self.name} sandbox: open() takes a Limits(...), got {limits!r}")
        self.check()
        base = Path(tempfile.mkdtemp(prefix=f"baton-{self.name}-"))
        (base / "scratch").mkdir()
        (base / "program").mkdir()
        workspace = Workspace(self, limits or Limits(), base)
        try:
            await self.prepare(workspace)
        except BaseException:
            await asyncio.to_thread(_remove_tree, base)
            raise
        return workspace

    async def prepare(self, workspace: Workspace) -> None:  # noqa: B027 (optional hook)
        """Set up a new workspace (an identity, ownership of its directories)."""

    @abstractmethod
    def command(self, workspace: Workspace, argv: list[str]) -> tuple[list[str], dict[str, Any]]:
        """The host command that runs ``argv`` in the sandbox, and keyword arguments for
        ``asyncio.create_subprocess_exec`` (``user=``, ``env=``, ...)."""

    @abstractmethod
    def program_path(self, workspace: Workspace, filename: str) -> str:
        """Where a program file written to ``base/program`` is seen by the sandbox."""

    def spawned(self, workspace: Workspace) -> None:  # noqa: B027 (optional hook)
        """Called once the command was started (or failed to start): release what only the
        child needed (the write end of a pipe, ...)."""

    async def after_run(self, workspace: Workspace) -> None:  # noqa: B027 (optional hook)
        """Make sure no process of the run survives (called after every run)."""

    def setup_failure(self, workspace: Workspace, stderr: str) -> str | None:
        """Why the sandbox itself could not start the program (not the program's own
        failure), or ``None``; asked after each run that was not killed at the wall time."""
        return None

    async def release(self, workspace: Workspace) -> None:  # noqa: B027 (optional hook)
        """Give back what ``prepare`` took."""

    def base_env(self, workspace: Workspace, home: str) -> dict[str, str]:
        """The environment a program sees: nothing of the host's, a few basics and ``env``."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.env,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(slots=True)
class _Outcome:
    returncode: int
    stdout: bytes
    stderr: bytes
    dropped_stdout: int
    dropped_stderr: int
    timed_out: bool


async def _supervise(
    command: list[str],
    options: dict[str, Any],
    limits: Limits,
    sandbox: Sandbox,
    workspace: Workspace,
) -> _Outcome:
    """Run ``command`` in a new session, keep the first bytes of its output, kill its whole
    process group at the wall-time limit, and always let the backend sweep up after it."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            **options,
        )
    finally:
        sandbox.spawned(workspace)
    assert process.stdout is not None and process.stderr is not None
    keep = limits.output_bytes
    out, err = _Capture(keep), _Capture(keep)
    timed_out = False
    try:
        async with asyncio.timeout(limits.wall_seconds):
            await asyncio.gather(
                out.drain(process.stdout), err.drain(process.stderr), process.wait()
            )
    except TimeoutError:
        timed_out = True
    finally:
        _kill_group(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        await sandbox.after_run(workspace)
    code = process.returncode if process.returncode is not None else -signal.SIGKILL
    return _Outcome(
        128 - code if code < 0 else code,  # killed by signal n: 128 + n, as shells report it
        bytes(out.kept),
        bytes(err.kept),
        out.dropped,
        err.dropped,
        timed_out,
    )


class _Capture:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    __slots__ = ("dropped", "kept", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(_CHUNK):
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.dropped += max(0, len(chunk) - max(room, 0))


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# What a program prints when the kernel refuses it something a limit caps. Only a hint for
# the note: the exit status is what the result reports as fact.
_SYMPTOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("memory_mb", ("MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory")),
    ("file_size_mb", ("File too large", "File size limit exceeded")),
    (
        "processes",
        ("Resource temporarily unavailable", "can't start new thread", "Cannot fork"),
    ),
    ("open_files", ("Too many open files",)),
)
_NOTES = {
    "wall_seconds": "killed at the wall-time limit of {limits.wall_seconds:g} s, with every "
    "process it started",
    "cpu_seconds": "killed at the CPU time limit of {limits.cpu_seconds:g} s",
    "memory_mb": "ran out of memory: the memory limit is {limits.memory_mb:g} MB",
    "file_size_mb": "a file reached the size limit of {limits.file_size_mb:g} MB; writing past "
    "it failed",
    "processes": "hit the limit of {limits.processes:g} processes; starting more failed",
    "open_files": "hit the limit of {limits.open_files:g} open files; opening more failed",
}


def _diagnose(outcome: _Outcome, limits: Limits, seconds: float) -> tuple[str | None, str]:
    """Which limit stopped the run, if any, and the note that says so."""
    limit: str | None = None
    code = outcome.returncode
    if outcome.timed_out:
        limit = "wall_seconds"
    elif code == 128 + signal.SIGXCPU or (
        code == 128 + signal.SIGKILL and seconds >= limits.cpu_seconds
    ):
        limit = "cpu_seconds"  # SIGXCPU at the soft limit, SIGKILL at the hard one
    elif code == 128 + signal.SIGXFSZ:
        limit = "file_size_mb"
    else:  # a refusal the program reported (and maybe survived: a shell's "Cannot fork")
        tail = outcome.stderr[-4096:].decode("utf-8", "replace")
        limit = next((name for name, marks in _SYMPTOMS if any(m in tail for m in marks)), None)
    if limit is None:
        return None, ""
    return limit, _NOTES[limit].format(limits=limits)


def _sizes_changed_since(root: Path, since_ns: int) -> dict[str, int]:
    """Size of each regular file under ``root`` whose ctime is ``since_ns`` or later (symlinks
    not followed, at most ``_MAX_FILES_WALKED`` entries)."""
    found: dict[str, int] = {}
    pending = [root]
    walked = 0
    while pending and walked < _MAX_FILES_WALKED:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            walked += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    if stat.st_ctime_ns >= since_ns:
                        found[os.path.relpath(entry.path, root)] = stat.st_size
            except OSError:
                continue
    return found


def check_setup(maker: str, sandbox: object, limits: object) -> None:
    """A ``ConfigError`` naming the fix when ``maker`` (``code_execution``, ``shell``) is given
    something other than a sandbox instance and a ``Limits``."""
    if isinstance(sandbox, type) and issubclass(sandbox, Sandbox):
        raise ConfigError(
            f"{maker}(sandbox=...) takes a sandbox instance: {sandbox.__name__}(), "
            f"not the class {sandbox.__name__}"
        )
    if not isinstance(sandbox, Sandbox):
        raise ConfigError(
            f"{maker}(sandbox=...) takes Bubblewrap(), Docker() or UnsafeSubprocess(), "
            f"got {sandbox!r}"
        )
    if not isinstance(limits, Limits):
        raise ConfigError(f"{maker}(limits=...) takes Limits(...), got {limits!r}")


def _remove_tree(path: Path) -> None:
    """Remove a workspace, even one whose program took away its own permissions."""

    def retry(function: Any, failed: str, _error: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            os.chmod(failed, 0o700)
            function(failed)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
