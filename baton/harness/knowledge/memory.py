"""``MemoryKnowledge``: a knowledge store in this process's memory."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from .base import (
    Note,
    check_limit,
    encode_metadata,
    rank,
    validate_key,
    validate_prefix,
)

__all__ = ["MemoryKnowledge"]


class MemoryKnowledge:
    """Notes kept in a dict: fast, for tests and single-process use; gone when the process exits.

    Metadata is stored as JSON text, so what comes back equals what a durable store returns.
    """

    __slots__ = ("_notes",)

    def __init__(self) -> None:
        self._notes: dict[str, tuple[str, str]] = {}

    async def read(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None``."""
        found = self._notes.get(validate_key(key))
        return None if found is None else found[0]

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Store ``text`` and ``metadata`` under ``key``."""
        key = validate_key(key)
        if not isinstance(text, str):
            raise TypeError(f"a note's text must be a string, got {type(text).__name__}")
        self._notes[key] = (text, encode_metadata(metadata))

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        prefix = validate_prefix(prefix)
        return sorted(k for k in self._notes if k.startswith(prefix))

    async def delete(self, key: str) -> bool:
        """Remove a note; ``True`` if there was one."""
        return self._notes.pop(validate_key(key), None) is not None

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        """The notes under ``prefix`` most relevant to ``query`` (shared BM25 ranking)."""
        prefix = validate_prefix(prefix)
        candidates = (
            (key, text, meta) for key, (text, meta) in self._notes.items() if key.startswith(prefix)
        )
        return rank(query, candidates, limit=check_limit(limit))

    def __len__(self) -> int:
        return len(self._notes)

    def __repr__(self) -> str:
        return f"MemoryKnowledge({len(self._notes)} notes)"
