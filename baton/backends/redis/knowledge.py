"""``RedisKnowledge``: a knowledge store in Redis, shared by every process using it.

Layout under ``<prefix>knowledge:<name>:``: a hash ``notes`` (key -> JSON ``[text, metadata]``)
and a sorted set ``keys`` (every key at score 0), so that ``list(prefix)`` is one
``ZRANGEBYLEX`` (UTF-8 byte order is code point order, which is Python's string order).
``search`` ranks the notes under the prefix with the shared BM25 ranking
(``baton.harness.knowledge.rank``), which suits some thousands of notes per prefix.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

from ...harness.knowledge.base import (
    Note,
    check_limit,
    encode_metadata,
    rank,
    validate_key,
    validate_prefix,
)
from .connection import Connector, RedisSource

__all__ = ["RedisKnowledge"]


class RedisKnowledge:
    """A ``KnowledgeStore`` in Redis (see the module docs). ``name`` separates stores that
    share a Redis database and prefix."""

    __slots__ = ("_connector", "_keys", "_notes", "name", "prefix")

    def __init__(
        self, redis: RedisSource = None, *, name: str = "default", prefix: str = "baton:"
    ) -> None:
        self._connector = Connector(redis)
        self.name = name
        self.prefix = prefix
        base = f"{prefix}knowledge:{name}:"
        self._notes = base + "notes"
        self._keys = base + "keys"

    def __repr__(self) -> str:
        return f"RedisKnowledge({self._connector!r}, name={self.name!r})"

    async def read(self, key: str) -> str | None:
        raw = await self._connector.client().hget(self._notes, validate_key(key))
        return None if raw is None else str(json.loads(raw)[0])

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        key = validate_key(key)
        if not isinstance(text, str):
            raise TypeError(f"a note's text must be a string, got {type(text).__name__}")
        payload = json.dumps([text, encode_metadata(metadata)], ensure_ascii=False)
        async with self._connector.client().pipeline(transaction=True) as pipe:
            pipe.hset(self._notes, key, payload.encode())
            pipe.zadd(self._keys, {key: 0})
            await pipe.execute()

    async def list(self, prefix: str = "") -> builtins.list[str]:
        prefix = validate_prefix(prefix)
        client = self._connector.client()
        if not prefix:
            found = await client.zrange(self._keys, 0, -1)
        else:
            start = b"[" + prefix.encode()
            found = await client.zrangebylex(self._keys, start, start[1:].join((b"(", b"\xff")))
        return [k.decode() if isinstance(k, bytes) else str(k) for k in found]

    async def delete(self, key: str) -> bool:
        key = validate_key(key)
        async with self._connector.client().pipeline(transaction=True) as pipe:
            pipe.hdel(self._notes, key)
            pipe.zrem(self._keys, key)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        limit = check_limit(limit)
        keys = await self.list(prefix)
        if not keys or limit == 0:
            return []
        values = await self._connector.client().hmget(self._notes, keys)
        candidates = []
        for key, raw in zip(keys, values, strict=True):
            if raw is not None:
                text, metadata = json.loads(raw)
                candidates.append((key, text, metadata))
        return rank(query, candidates, limit=limit)

    async def clear(self) -> None:
        """Delete every note of this store."""
        await self._connector.client().delete(self._notes, self._keys)
