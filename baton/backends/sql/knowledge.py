"""``SQLKnowledge``: a ``KnowledgeStore`` in SQLite or PostgreSQL.

PostgreSQL searches a generated ``tsvector`` column (English stemming without stopwords, GIN
index) ranked with ``ts_rank``. SQLite searches an FTS5 index (BM25) when the library has FTS5,
and the shared BM25 ranking of ``baton.harness.knowledge.base.rank`` otherwise; writes made
without the index mark it stale, and it is rebuilt the next time FTS5 is available. Keys,
metadata and limits are checked exactly as by every other knowledge store.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from ...harness.knowledge.base import (
    Note,
    check_limit,
    decode_metadata,
    encode_metadata,
    query_terms,
    rank,
    validate_key,
    validate_prefix,
)
from ._base import SQLStore, prefix_range
from .database import Database, Session

__all__ = ["SQLKnowledge"]

_FTS_TABLE = (
    "CREATE VIRTUAL TABLE baton_notes_fts USING fts5(key, text, "
    "tokenize = 'porter unicode61 remove_diacritics 2')"
)
_UPSERT = {
    "sqlite": "INSERT INTO baton_notes (key, text, metadata) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET text = excluded.text, metadata = excluded.metadata, "
    "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') RETURNING id",
    "postgresql": "INSERT INTO baton_notes (key, text, metadata) VALUES ($1, $2, $3) "
    "ON CONFLICT (key) DO UPDATE SET text = excluded.text, metadata = excluded.metadata, "
    "updated_at = now()",
}


def _where_prefix(prefix: str, column: str, first: int) -> tuple[str, tuple[str, ...]]:
    """A condition on ``column`` for keys under ``prefix``, numbering parameters from
    ``first`` (callers re-check ``startswith`` when the range has no upper bound)."""
    low, high = prefix_range(prefix)
    if not prefix:
        return "TRUE", ()
    if high is None:
        return f"{column} >= ${first}", (low,)
    return f"{column} >= ${first} AND {column} < ${first + 1}", (low, high)


class SQLKnowledge(SQLStore):
    """Notes in the ``baton_notes`` table: ``SQLKnowledge(url_or_database)``.

    ``full_text`` (SQLite only): ``None`` uses FTS5 when SQLite has it, ``True`` requires it,
    ``False`` never uses it. PostgreSQL always uses its full-text search.
    """

    def __init__(self, database: Database | str, *, full_text: bool | None = None) -> None:
        super().__init__(database)
        self.full_text = full_text
        self._fts: bool | None = None  # SQLite: whether the FTS5 index is used (after setup)
        self._setup_lock = asyncio.Lock()

    @property
    def uses_fts(self) -> bool:
        """Whether searches use a full-text index (known after the first operation)."""
        return self.db.dialect == "postgresql" or bool(self._fts)

    # -- the protocol -----------------------------------------------------------------------

    async def read(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None``."""
        key = validate_key(key)
        value = await self.db.fetchval("SELECT text FROM baton_notes WHERE key = $1", key)
        return None if value is None else str(value)

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Store ``text`` and ``metadata`` under ``key``, replacing what was there."""
        key = validate_key(key)
        if not isinstance(text, str):
            raise TypeError(f"a note's text must be a string, got {type(text).__name__}")
        meta = encode_metadata(metadata)
        if self.db.dialect == "postgresql":
            await self.db.execute(_UPSERT["postgresql"], key, text, meta)
            return
        fts = await self._sqlite_setup()
        async with self.db.transaction() as session:
            rowid = await session.fetchval(_UPSERT["sqlite"], key, text, meta)
            if fts:
                await session.execute("DELETE FROM baton_notes_fts WHERE rowid = $1", rowid)
                await session.execute(
                    "INSERT INTO baton_notes_fts (rowid, key, text) VALUES ($1, $2, $3)",
                    rowid,
                    key,
                    text,
                )

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted by code point."""
        prefix = validate_prefix(prefix)
        where, args = _where_prefix(prefix, "key", 1)
        rows = await self.db.fetch(f"SELECT key FROM baton_notes WHERE {where} ORDER BY key", *args)
        return [str(r[0]) for r in rows if str(r[0]).startswith(prefix)]

    async def delete(self, key: str) -> bool:
        """Remove a note; ``True`` if there was one."""
        key = validate_key(key)
        if self.db.dialect == "postgresql":
            return await self.db.execute("DELETE FROM baton_notes WHERE key = $1", key) > 0
        fts = await self._sqlite_setup()
        async with self.db.transaction() as session:
            rowid = await session.fetchval("SELECT id FROM baton_notes WHERE key = $1", key)
            if rowid is None:
                return False
            await session.execute("DELETE FROM baton_notes WHERE id = $1", rowid)
            if fts:
                await session.execute("DELETE FROM baton_notes_fts WHERE rowid = $1", rowid)
            return True

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        """Up to ``limit`` notes under ``prefix`` relevant to ``query``, best first."""
        prefix = validate_prefix(prefix)
        limit = check_limit(limit)
        wanted = query_terms(query)
        if not wanted or not limit:
            return []
        if self.db.dialect == "postgresql":
            where, args = _where_prefix(prefix, "key", 3)
            rows = await self.db.fetch(
                "SELECT key, text, metadata, ts_rank(search, q) AS relevance "
                "FROM baton_notes, to_tsquery('baton_english'::regconfig, $1) AS q "
                f"WHERE search @@ q AND {where} ORDER BY relevance DESC, key LIMIT $2",
                " | ".join(wanted),
                limit,
                *args,
            )
            notes = [Note(k, t, decode_metadata(m), float(r)) for k, t, m, r in rows]
        elif await self._sqlite_setup():
            where, args = _where_prefix(prefix, "n.key", 3)
            match = " OR ".join('"{}"'.format(t.replace('"', '""')) for t in wanted)
            rows = await self.db.fetch(
                "SELECT n.key, n.text, n.metadata, bm25(baton_notes_fts) AS relevance "
                "FROM baton_notes_fts JOIN baton_notes n ON n.id = baton_notes_fts.rowid "
                f"WHERE baton_notes_fts MATCH $1 AND {where} ORDER BY relevance, n.key LIMIT $2",
                match,
                limit,
                *args,
            )
            notes = [Note(k, t, decode_metadata(m), -float(r)) for k, t, m, r in rows]
        else:
            where, args = _where_prefix(prefix, "key", 1)
            rows = await self.db.fetch(
                f"SELECT key, text, metadata FROM baton_notes WHERE {where}", *args
            )
            notes = rank(query, ((str(k), str(t), str(m)) for k, t, m in rows), limit=limit)
        return [n for n in notes if n.key.startswith(prefix)]

    # -- SQLite's full-text index ------------------------------------------------------------

    async def _sqlite_setup(self) -> bool:
        if self._fts is not None:
            return self._fts
        async with self._setup_lock:
            if self._fts is None:
                async with self.db.transaction() as session:
                    self._fts = await self._prepare_fts(session)
        return self._fts

    async def _prepare_fts(self, session: Session) -> bool:
        try:
            await session.execute("CREATE VIRTUAL TABLE temp.baton_fts_probe USING fts5(x)")
            await session.execute("DROP TABLE temp.baton_fts_probe")
            available = True
        except Exception as exc:  # sqlite3.OperationalError: no such module: fts5
            if "fts5" not in str(exc):
                raise
            available = False
        if self.full_text and not available:
            raise ConfigError(
                "SQLKnowledge(full_text=True) needs SQLite with FTS5, which this SQLite lacks; "
                "pass full_text=None to fall back to the built-in ranking"
            )
        use = available and self.full_text is not False
        has_index = bool(
            await session.fetchval(
                "SELECT count(*) FROM sqlite_master WHERE name = 'baton_notes_fts'"
            )
        )
        stale = bool(
            await session.fetchval(
                "SELECT count(*) FROM baton_notes_state WHERE name = 'fts_stale'"
            )
        )
        if use and (not has_index or stale):
            await session.execute("DELETE FROM baton_notes_fts" if has_index else _FTS_TABLE)
            await session.execute(
                "INSERT INTO baton_notes_fts (rowid, key, text) SELECT id, key, text "
                "FROM baton_notes"
            )
            await session.execute("DELETE FROM baton_notes_state WHERE name = 'fts_stale'")
        elif not use and has_index and not stale:
            # Notes written now won't reach the index: rebuild it when it is used again.
            await session.execute(
                "INSERT INTO baton_notes_state (name, value) VALUES ('fts_stale', '1')"
            )
        return use
