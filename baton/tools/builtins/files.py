"""``files(root=...)``: read, write, list, search and patch files inside one directory.

    agent = Agent("editor", tools=[files("./project")])                  # files_read, ...
    agent = Agent("reviewer", tools=[files("./project", read_only=True)])

Every path the model gives is taken relative to ``root`` (an absolute path must lie under it)
and resolved, symlinks included, before use: a path that ends up outside ``root`` (``..``, a
symlink pointing out, ``/etc/passwd``) is refused, and the final open refuses a symlink that
appeared after the check (``O_NOFOLLOW``). Reads and writes have size limits; ``read_only=True``
offers only the reading tools. Problems come back to the model as short tool errors.
"""

from __future__ import annotations

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


def _open_read(path: Path, shown: str) -> int:
    return _open_regular(path, os.O_RDONLY, shown)


def _open_regular(path: Path, flags: int, shown: str) -> int:
    """Open ``path`` (not following a final symlink) only if it is a regular file: opening a
    FIFO or a device could block for ever, or read without end. ``O_NONBLOCK`` makes the open
    itself return at once; the file's type is checked on what was opened."""
    flags |= os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a FIFO with no reader; a directory
            raise _not_regular(path, shown) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_regular(path, shown)
    os.set_blocking(fd, True)
    return fd


def _not_regular(path: Path, shown: str) -> OSError:
    if path.is_dir():
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
        fd = _open_read(target, path)
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
        for entry in _walk(target, recursive):
            if len(lines) == max_results:
                lines.append("[... more entries; list a subdirectory to see them]")
                break
            shown = base.show(Path(entry.path))
            if entry.is_dir(follow_symlinks=False):
                lines.append(shown + "/")
            elif entry.is_symlink():
                lines.append(shown + " (symlink)")
            else:
                lines.append(f"{shown} ({entry.stat(follow_symlinks=False).st_size} bytes)")
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
            os.close(_open_read(target, path))  # a single file: refused if not a regular one
        candidates = (
            [Path(e.path) for e in _walk(target, True) if e.is_file(follow_symlinks=False)]
            if target.is_dir()
            else [target]
        )
        for file in candidates:
            try:
                with os.fdopen(_open_read(file, base.show(file)), "rb") as handle:
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
        target.parent.mkdir(parents=True, exist_ok=True)
        base.resolve(path)  # the created directories must not have changed where it points
        _write(target, data, path)
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
        with os.fdopen(_open_read(target, path), "rb") as handle:
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
        _write(target, data, path)
        return f"Replaced {count if replace_all else 1} occurrence(s) in {base.show(target)}."

    tools = [
        Tool(read, name="read"),
        Tool(list_files, name="list"),
        Tool(search, name="search"),
    ]
    if not read_only:
        tools += [Tool(write, name="write"), Tool(patch, name="patch")]
    return Toolkit(*tools, name="files", prefix=prefix)


def _write(target: Path, data: bytes, shown: str) -> None:
    # Truncated only once known to be a regular file: O_TRUNC on open would also apply to a
    # device, and the open of a FIFO would wait for a reader.
    fd = _open_regular(target, os.O_WRONLY | os.O_CREAT, shown)
    with os.fdopen(fd, "wb") as handle:
        handle.truncate(0)
        handle.write(data)


def _walk(directory: Path, recursive: bool) -> Iterator[os.DirEntry[str]]:
    """Entries under ``directory`` in name order, without following symlinks or descending
    into tool caches (``.git``, ``node_modules``, ...)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        yield entry
        if recursive and entry.is_dir(follow_symlinks=False) and entry.name not in _SKIPPED_DIRS:
            yield from _walk(Path(entry.path), recursive)
