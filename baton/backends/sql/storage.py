"""``SQLStorage``: a ``Storage`` (JSON values under string keys) in SQLite or PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from ._base import SQLStore, prefix_range
from .database import Database

__all__ = ["SQLStorage"]

_PUT = {
    "sqlite": "INSERT INTO baton_storage (key, value) VALUES ($1, $2) ON CONFLICT (key) DO "
    "UPDATE SET value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    "postgresql": "INSERT INTO baton_storage (key, value) VALUES ($1, $2) ON CONFLICT (key) DO "
    "UPDATE SET value = excluded.value, updated_at = now()",
}


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a storage key must be a string, got {type(key).__name__}")
    return key


class SQLStorage(SQLStore):
    """Key-value ``Storage`` in the ``baton_storage`` table: ``SQLStorage(url_or_database)``.

    Values are anything ``json.dumps`` accepts (no NaN or infinities); ``get`` returns them as
    ``json.loads`` reads them back (tuples come back as lists).
    """

    def __init__(self, database: Database | str) -> None:
        super().__init__(database)

    async def get(self, key: str) -> Any | None:
        """The value under ``key``, or ``None``."""
        value = await self.db.fetchval(
            "SELECT value FROM baton_storage WHERE key = $1", _check_key(key)
        )
        return None if value is None else json.loads(value)

    async def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"storage values must be JSON-serializable: {exc}") from None
        await self.db.execute(_PUT[self.db.dialect], _check_key(key), text)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there (only one of concurrent deletes wins)."""
        removed = await self.db.execute("DELETE FROM baton_storage WHERE key = $1", _check_key(key))
        return removed > 0

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted by code point."""
        low, high = prefix_range(_check_key(prefix))
        if high is None:
            rows = await self.db.fetch(
                "SELECT key FROM baton_storage WHERE key >= $1 ORDER BY key", low
            )
            return [str(r[0]) for r in rows if str(r[0]).startswith(prefix)]
        rows = await self.db.fetch(
            "SELECT key FROM baton_storage WHERE key >= $1 AND key < $2 ORDER BY key", low, high
        )
        return [str(r[0]) for r in rows]
