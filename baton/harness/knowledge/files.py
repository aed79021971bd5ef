"""``FileKnowledge``: one text file per note under a root directory.

Key segments become directories and the last one a ``.md`` file: ``user:42/preferences`` is
``<root>/user%3A42/preferences.md``. Names are percent-encoded so that every valid key maps to
one safe, portable file name: only lowercase ASCII letters, digits, ``_`` and ``-`` are kept as
they are (so keys differing only in case stay distinct on case-insensitive file systems, and a
key can never name anything outside the root). Metadata, when there is some, is a JSON front
matter block (JSON is also YAML), so each note stays one human-readable file written atomically.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .base import (
    InvalidKey,
    Note,
    check_limit,
    encode_metadata,
    rank,
    validate_key,
    validate_prefix,
)

__all__ = ["FileKnowledge"]

_SUFFIX = ".md"
_KEEP = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_RESERVED = frozenset(  # names Windows refuses, with or without an extension
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(10)]
)
_MAX_NAME = 240  # bytes; file systems allow 255 per name, and the suffix needs room
_FENCE = "---\n"


def encode_segment(segment: str) -> str:
    """A key segment as a portable file name (reversible with ``urllib.parse.unquote``)."""
    name = "".join(c if c in _KEEP else "".join(f"%{b:02X}" for b in c.encode()) for c in segment)
    if segment in _RESERVED:
        name = f"%{ord(name[0]):02X}{name[1:]}"
    if len(name) > _MAX_NAME:
        raise InvalidKey(
            f"key segment {segment[:40]!r}... is too long for FileKnowledge once encoded as a "
            "file name; use shorter segments (or lowercase ASCII, which encodes 1:1)"
        )
    return name


def _decode_segment(name: str) -> str | None:
    """The key segment a file name encodes; ``None`` for names this store didn't make."""
    try:
        segment = unquote(name, errors="strict")
        made_here = segment not in (".", "..") and encode_segment(segment) == name
        return segment if made_here else None
    except (UnicodeDecodeError, InvalidKey):
        return None


def _split(content: str) -> tuple[str, str]:
    """(text, metadata JSON) of a note file."""
    if content.startswith(_FENCE):
        end = content.find("\n" + _FENCE, len(_FENCE) - 1)
        if end != -1:
            header = content[len(_FENCE) : end]
            try:
                if isinstance(json.loads(header), dict):
                    return content[end + 1 + len(_FENCE) :], header
            except ValueError:
                pass
    return content, "{}"


def _join(text: str, metadata: str) -> str:
    if metadata == "{}" and not text.startswith(_FENCE):
        return text
    return f"{_FENCE}{metadata}\n{_FENCE}{text}"


class FileKnowledge:
    """Notes as files under ``root`` (created on first write): easy to read, diff and back up.

    Writes are atomic (a temporary file in the same directory, then ``os.replace``); blocking
    file I/O runs in worker threads. ``search`` reads the notes under the prefix and ranks them
    with the shared BM25 scoring, which suits up to some thousands of notes per prefix.
    """

    __slots__ = ("root",)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileKnowledge({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (which need not exist)."""
        *parents, last = validate_key(key).split("/")
        directory = self.root.joinpath(*(encode_segment(s) for s in parents))
        return directory / (encode_segment(last) + _SUFFIX)

    async def read(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None``."""
        found = await asyncio.to_thread(self._load, self.path(key))
        return None if found is None else found[0]

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Store ``text`` and ``metadata`` under ``key``, atomically."""
        path = self.path(key)
        if not isinstance(text, str):
            raise TypeError(f"a note's text must be a string, got {type(text).__name__}")
        await asyncio.to_thread(self._save, path, _join(text, encode_metadata(metadata)))

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        return [key for key, _ in await asyncio.to_thread(self._scan, validate_prefix(prefix))]

    async def delete(self, key: str) -> bool:
        """Remove a note (and directories it leaves empty); ``True`` if there was one."""
        return await asyncio.to_thread(self._remove, self.path(key))

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        """The notes under ``prefix`` most relevant to ``query`` (shared BM25 ranking)."""
        prefix = validate_prefix(prefix)
        limit = check_limit(limit)
        return await asyncio.to_thread(self._search, query, limit, prefix)

    # -- blocking helpers (run in worker threads) -------------------------------------------

    @staticmethod
    def _load(path: Path) -> tuple[str, str] | None:
        try:
            with open(path, encoding="utf-8", newline="") as file:
                return _split(file.read())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _save(self, path: Path, content: str) -> None:
        for attempt in range(3):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
            except FileNotFoundError:  # a concurrent delete pruned the directory: make it again
                if attempt == 2:
                    raise
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
                    file.write(content)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            return

    def _remove(self, path: Path) -> bool:
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return False
        directory = path.parent
        while directory != self.root:
            try:
                directory.rmdir()  # only succeeds when empty
            except OSError:
                break
            directory = directory.parent
        return True

    def _scan(self, prefix: str) -> builtins.list[tuple[str, Path]]:
        # Start at the directory the prefix's complete segments name, not at the root.
        *parents, _ = prefix.split("/")
        try:
            start = self.root.joinpath(*(encode_segment(s) for s in parents))
        except InvalidKey:
            return []
        base = "".join(p + "/" for p in parents)
        found: list[tuple[str, Path]] = []
        for directory, subdirs, files in os.walk(start):
            segments = [_decode_segment(p) for p in Path(directory).relative_to(start).parts]
            if None in segments:  # not a directory this store made
                subdirs.clear()
                continue
            head = base + "".join(f"{s}/" for s in segments)
            for name in files:
                segment = name.endswith(_SUFFIX) and _decode_segment(name[: -len(_SUFFIX)])
                if segment and (key := head + segment).startswith(prefix):
                    found.append((key, Path(directory) / name))
        found.sort()
        return found

    def _search(self, query: str, limit: int, prefix: str) -> builtins.list[Note]:
        candidates: list[tuple[str, str, str]] = []
        for key, path in self._scan(prefix):
            loaded = self._load(path)
            if loaded is not None:
                candidates.append((key, *loaded))
        return rank(query, candidates, limit=limit)
