"""``files(root=...)``: read, write, list, search and patch files inside one directory.

    agent = Agent("editor", tools=[files("./project")])                  # files_read, ...
    agent = Agent("reviewer", tools=[files("./project", read_only=True)])

Every path the model gives is taken relative to ``root`` (an absolute path must lie under it)
and resolved, symlinks included, before use: a path that ends up outside ``root`` (``..``, a
symlink pointing out, ``/etc/passwd``) is refused. The checked path is then opened one directory
at a time from the root (``openat`` with ``O_NOFOLLOW``), so a directory or file swapped for a
symlink after the check (by a shell tool, say) is refused rather than followed out of the root.
Reads and writes have size limits; ``read_only=True`` offers only the reading tools. Problems
come back to the model as short tool errors.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from ...errors import ConfigError
from ..tool import Tool
from ..toolkit import Toolkit

__all__ = ["OutsideRoot", "files"]

_SKIPPED_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache"}


class OutsideRoot(PermissionError):
    """A path that resolves outside the files tool's root."""


class _Root:
    """The root directory and the checks every path goes through."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if not isinstance(root, str | os.PathLike):
            raise ConfigError(f"files(root=...) takes a directory path, got {type(root).__name__}")
        path = Path(root).expanduser()
        if not path.is_dir():
            raise ConfigError(f"files(root=...): {str(path)!r} is not a directory")
        self.path = path.resolve()

    def resolve(self, given: str) -> Path:
        """``given`` as a real path under the root, or ``OutsideRoot``."""
        if "\x00" in given:
            raise ValueError("a path cannot contain NUL characters")
        candidate = Path(given)
        if not candidate.is_absolute():
            candidate = self.path / candidate
        real = Path(os.path.realpath(candidate))
        if real != self.path and self.path not in real.parents:
            raise OutsideRoot(f"{given!r} is outside the directory this tool may use")
        return real

    def show(self, path: Path) -> str:
        relative = path.relative_to(self.path)
        return "." if relative == Path(".") else relative.as_posix()

    def open_dir(self, real: Path, *, create: bool = False) -> int:
        """A descriptor of the directory ``real`` (a path ``resolve`` returned), opened one
        component at a time from the root without following symlinks; ``create`` makes the
        missing ones. A component that became a symlink since the check is refused."""
        fd = os.open(self.path, _DIR_FLAGS)
        try:
            for part in real.relative_to(self.path).parts:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    inner = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _moved(real) from None
                    raise
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_regular(self, real: Path, flags: int, shown: str) -> int:
        """Open ``real`` only if it is a regular file: opening a FIFO or a device could block
        for ever, or read without end. ``O_NONBLOCK`` makes the open itself return at once; the
        file's type is checked on what was opened."""
        if real == self.path:
            raise IsADirectoryError(f"{shown!r} is not a regular file but a directory")
        parent = self.open_dir(real.parent, create=bool(flags & os.O_CREAT))
        flags |= os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real.name, flags, 0o644, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the file became a symlink after the check
                raise _moved(real) from None
            if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO with no reader; a directory
                raise _not_regular(
                    os.stat(real.name, dir_fd=parent, follow_symlinks=False), shown
                ) from None
            raise
        finally:
            os.close(parent)
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise _not_regular(os.stat_result((mode, *(0,) * 9)), shown)
        os.set_blocking(fd, True)
        return fd


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _moved(real: Path) -> OutsideRoot:
    return OutsideRoot(
        f"{real.name!r}: a part of its path was replaced by a symlink while in use; refused"
    )


def _not_regular(status: os.stat_result, shown: str) -> OSError:
    if stat.S_ISDIR(status.st_mode):
        return IsADirectoryError(f"{shown!r} is not a regular file but a directory")
    return OSError(f"{shown!r} is not a regular file (a FIFO, socket or device); it is not opened")


def files(
    root: str | os.PathLike[str],
    *,
    read_only: bool = False,
    max_read_bytes: int = 256 * 1024,
    max_write_bytes: int = 1024 * 1024,
    max_results: int = 200,
    prefix: str = "files",
) -> Toolkit:
    """A ``Toolkit`` over the files under ``root``: ``files_read``, ``files_list``,
    ``files_search`` and, unless ``read_only``, ``files_write`` and ``files_patch``.

    ``max_read_bytes``: the most of a file one read returns (ask for more with ``offset``);
    ``max_write_bytes``: the largest file a write or patch may leave; ``max_results``: the most
    entries a list or search returns.
    """
    for name, value in (
        ("max_read_bytes", max_read_bytes),
        ("max_write_bytes", max_write_bytes),
        ("max_results", max_results),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"files({name}=...) must be a positive integer, got {value!r}")
    base = _Root(root)

    def read(path: str, offset: int = 0) -> str:
        """Read a text file.

        Args:
            path: The file, relative to the root directory.
            offset: The byte to start at, to read on where an earlier read stopped.
        """
        target = base.resolve(path)
        if offset < 0:
            raise ValueError("offset cannot be negative")
        fd = base.open_regular(target, os.O_RDONLY, path)
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(offset)
            data = handle.read(max_read_bytes)
        if b"\x00" in data[:8192]:
            raise ValueError(f"{path!r} is a binary file ({size} bytes); only text can be read")
        text = data.decode("utf-8", errors="replace")
        end = offset + len(data)
        if end < size:
            text += f"\n[... {size - end} more bytes: read again with offset={end}]"
        return text

    def list_files(path: str = ".", recursive: bool = False) -> str:
        """List a directory: files with their sizes, directories ending in '/'.

        Args:
            path: The directory, relative to the root directory.
            recursive: Also list what is inside subdirectories.
        """
        target = base.resolve(path)
        if not target.is_dir():
            raise NotADirectoryError(f"{path!r} is not a directory")
        lines: list[str] = []
        for place, status in _walk(base, target, recursive):
            if len(lines) == max_results:
                lines.append("[... more entries; list a subdirectory to see them]")
                break
            shown = base.show(place)
            if stat.S_ISDIR(status.st_mode):
                lines.append(shown + "/")
            elif stat.S_ISLNK(status.st_mode):
                lines.append(shown + " (symlink)")
            else:
                lines.append(f"{shown} ({status.st_size} bytes)")
        return "\n".join(lines) if lines else f"{base.show(target)} is empty"

    def search(pattern: str, path: str = ".", regex: bool = False) -> str:
        """Find lines containing a text (or matching a regular expression) in the files
        under a directory.

        Args:
            pattern: The text to find (case-sensitive), or a Python regular expression.
            path: The directory (or file) to search, relative to the root directory.
            regex: Treat the pattern as a regular expression.
        """
        target = base.resolve(path)
        try:
            matcher = re.compile(pattern if regex else re.escape(pattern))
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        hits: list[str] = []
        if not target.is_dir():
            os.close(base.open_regular(target, os.O_RDONLY, path))  # refused if not regular
        candidates = (
            [place for place, status in _walk(base, target, True) if stat.S_ISREG(status.st_mode)]
            if target.is_dir()
            else [target]
        )
        for file in candidates:
            try:
                with os.fdopen(
                    base.open_regular(file, os.O_RDONLY, base.show(file)), "rb"
                ) as handle:
                    data = handle.read(max_read_bytes)
            except OSError:
                continue
            if b"\x00" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if matcher.search(line):
                    hits.append(f"{base.show(file)}:{number}: {line.strip()[:200]}")
                    if len(hits) == max_results:
                        return "\n".join([*hits, "[... more matches; narrow the search]"])
        return "\n".join(hits) if hits else f"no matches for {pattern!r}"

    def write(path: str, content: str) -> str:
        """Write a text file, replacing it if it exists (missing directories are created).

        Args:
            path: The file, relative to the root directory.
            content: The whole new content of the file.
        """
        data = content.encode("utf-8")
        if len(data) > max_write_bytes:
            raise ValueError(f"the content has {len(data)} bytes; the limit is {max_write_bytes}")
        target = base.resolve(path)
        _write(base, target, data, path)
        return f"Wrote {base.show(target)} ({len(data)} bytes)."

    def patch(path: str, old: str, new: str, replace_all: bool = False) -> str:
        """Replace a piece of text in a file.

        Args:
            path: The file, relative to the root directory.
            old: The exact text to replace; it must occur once unless replace_all is set.
            new: The text to put in its place.
            replace_all: Replace every occurrence of old.
        """
        target = base.resolve(path)
        with os.fdopen(base.open_regular(target, os.O_RDONLY, path), "rb") as handle:
            text = handle.read(max_write_bytes + 1).decode("utf-8")
        if len(text.encode("utf-8")) > max_write_bytes:
            raise ValueError(f"{path!r} is larger than the {max_write_bytes} bytes limit")
        count = text.count(old) if old else 0
        if count == 0:
            raise ValueError(f"the text to replace was not found in {path!r}")
        if count > 1 and not replace_all:
            raise ValueError(
                f"the text to replace occurs {count} times in {path!r}: give more context, "
                "or set replace_all"
            )
        updated = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        data = updated.encode("utf-8")
        if len(data) > max_write_bytes:
            raise ValueError(f"the result would exceed the {max_write_bytes} bytes limit")
        _write(base, target, data, path)
        return f"Replaced {count if replace_all else 1} occurrence(s) in {base.show(target)}."

    tools = [
        Tool(read, name="read"),
        Tool(list_files, name="list"),
        Tool(search, name="search"),
    ]
    if not read_only:
        tools += [Tool(write, name="write"), Tool(patch, name="patch")]
    return Toolkit(*tools, name="files", prefix=prefix)


def _write(base: _Root, target: Path, data: bytes, shown: str) -> None:
    # Truncated only once known to be a regular file: O_TRUNC on open would also apply to a
    # device, and the open of a FIFO would wait for a reader. Missing directories are made on
    # the way (open_regular with O_CREAT), each under the one opened before it.
    fd = base.open_regular(target, os.O_WRONLY | os.O_CREAT, shown)
    with os.fdopen(fd, "wb") as handle:
        handle.truncate(0)
        handle.write(data)


def _walk(base: _Root, directory: Path, recursive: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """``(path, lstat)`` of the entries under ``directory`` in name order, read through
    descriptors opened from the root (see ``_Root.open_dir``), each subdirectory opened from
    its parent's, without following symlinks or descending into tool caches (``.git``,
    ``node_modules``, ...)."""
    try:
        fd = base.open_dir(directory)
    except OutsideRoot:
        raise
    except OSError:  # unreadable
        return
    yield from _walk_open(fd, directory, recursive)


def _walk_open(fd: int, directory: Path, recursive: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """``_walk`` of the directory open as ``fd``, which it closes."""
    try:
        try:
            with os.scandir(fd) as listing:
                names = sorted(entry.name for entry in listing)
        except OSError:
            return
        entries = []
        for name in names:
            with contextlib.suppress(OSError):  # gone since the listing
                entries.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
        for name, status in entries:
            place = directory / name
            yield place, status
            if recursive and stat.S_ISDIR(status.st_mode) and name not in _SKIPPED_DIRS:
                try:
                    inner = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a symlink
                        raise _moved(place) from None
                    continue  # unreadable, or gone since it was listed
                yield from _walk_open(inner, place, recursive)
    finally:
        os.close(fd)
