"""``SQLiteKnowledge``: notes in a SQLite database, searched with FTS5 when SQLite has it.

Uses the standard library's ``sqlite3``: one connection per store, used from worker threads one
operation at a time (a lock serializes them), so the event loop never blocks on disk. The schema
is created on first use and versioned in a ``schema_version`` table, so later releases can
upgrade a database in place.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ...errors import ConfigError
from .base import (
    Note,
    check_limit,
    decode_metadata,
    encode_metadata,
    query_terms,
    rank,
    validate_key,
    validate_prefix,
)

__all__ = ["SCHEMA_VERSION", "SQLiteKnowledge"]

SCHEMA_VERSION = 1
T = TypeVar("T")


def _schema_v1(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
        "text TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', updated_at REAL NOT NULL)"
    )
    db.execute("CREATE TABLE knowledge_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


# Migration n takes a database at version n - 1 to version n.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _schema_v1}

_FTS_TABLE = (
    "CREATE VIRTUAL TABLE notes_fts USING fts5(key, text, "
    "tokenize = 'porter unicode61 remove_diacritics 2')"
)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _prefix_clause(prefix: str, column: str = "key") -> tuple[str, tuple[str | int, ...]]:
    """A SQL condition (using the key index) for ``column`` starting with ``prefix``."""
    if not prefix:
        return "1", ()
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:  # no next character: compare the start instead
        return f"{column} >= ? AND substr({column}, 1, ?) = ?", (prefix, len(prefix), prefix)
    return f"{column} >= ? AND {column} < ?", (prefix, prefix[:-1] + chr(last))


def _fts5_available(db: sqlite3.Connection) -> bool:
    try:
        db.execute("CREATE VIRTUAL TABLE temp.baton_fts_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.baton_fts_probe")
    return True


class SQLiteKnowledge:
    """Notes in a SQLite file (or ``":memory:"``), created with its schema on first use.

    ``full_text``: ``None`` (default) uses SQLite's FTS5 full-text index when the library has
    it and the shared BM25 ranking otherwise; ``True`` requires FTS5; ``False`` never uses it.
    Call ``await store.close()`` (or use ``async with``) when done.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ":memory:", *, full_text: bool | None = None
    ) -> None:
        self.path = path if path == ":memory:" else Path(path)
        self.full_text = full_text
        self._db: sqlite3.Connection | None = None
        self._fts = False
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteKnowledge({str(self.path)!r})"

    @property
    def uses_fts(self) -> bool:
        """Whether searches use the FTS5 index (known after the first operation)."""
        return self._fts

    # -- the protocol -----------------------------------------------------------------------

    async def read(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None``."""
        key = validate_key(key)

        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT text FROM notes WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return await self._run(read)

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Store ``text`` and ``metadata`` under ``key``."""
        key = validate_key(key)
        if not isinstance(text, str):
            raise TypeError(f"a note's text must be a string, got {type(text).__name__}")
        meta = encode_metadata(metadata)

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "INSERT INTO notes (key, text, metadata, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET text = excluded.text, "
                    "metadata = excluded.metadata, updated_at = excluded.updated_at",
                    (key, text, meta, time.time()),
                )
                if self._fts:
                    (rowid,) = db.execute("SELECT id FROM notes WHERE key = ?", (key,)).fetchone()
                    db.execute("DELETE FROM notes_fts WHERE rowid = ?", (rowid,))
                    db.execute(
                        "INSERT INTO notes_fts (rowid, key, text) VALUES (?, ?, ?)",
                        (rowid, key, text),
                    )

        await self._run(write)

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        where, args = _prefix_clause(validate_prefix(prefix))

        def keys(db: sqlite3.Connection) -> builtins.list[str]:
            rows = db.execute(f"SELECT key FROM notes WHERE {where} ORDER BY key", args)
            return [str(row[0]) for row in rows]

        return await self._run(keys)

    async def delete(self, key: str) -> bool:
        """Remove a note; ``True`` if there was one."""
        key = validate_key(key)

        def delete(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                row = db.execute("SELECT id FROM notes WHERE key = ?", (key,)).fetchone()
                if row is None:
                    return False
                db.execute("DELETE FROM notes WHERE id = ?", row)
                if self._fts:
                    db.execute("DELETE FROM notes_fts WHERE rowid = ?", row)
                return True

        return await self._run(delete)

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        """The notes under ``prefix`` most relevant to ``query``, best first (FTS5's BM25, or
        the shared ranking without FTS5)."""
        where, args = _prefix_clause(validate_prefix(prefix), "n.key")
        limit = check_limit(limit)
        wanted = query_terms(query)
        if not wanted or not limit:
            return []

        def search(db: sqlite3.Connection) -> builtins.list[Note]:
            if not self._fts:
                rows = db.execute(f"SELECT key, text, metadata FROM notes n WHERE {where}", args)
                return rank(query, rows, limit=limit)
            match = " OR ".join('"{}"'.format(t.replace('"', '""')) for t in wanted)
            rows = db.execute(
                "SELECT n.key, n.text, n.metadata, bm25(notes_fts) AS relevance FROM notes_fts "
                f"JOIN notes n ON n.id = notes_fts.rowid WHERE notes_fts MATCH ? AND {where} "
                "ORDER BY relevance, n.key LIMIT ?",
                (match, *args, limit),
            )
            return [Note(k, t, decode_metadata(m), -r) for k, t, m, r in rows]

        return await self._run(search)

    # -- lifecycle ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""

        def close() -> None:
            with self._lock:
                self._closed = True
                if self._db is not None:
                    self._db.close()
                    self._db = None

        await asyncio.to_thread(close)

    async def __aenter__(self) -> SQLiteKnowledge:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the connection (only touched in worker threads, under the lock) --------------------

    async def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return operation(self._connection())

        return await asyncio.to_thread(locked)

    def _connection(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            if isinstance(self.path, Path):
                db.execute("PRAGMA journal_mode = WAL")
            self._fts = self._prepare(db)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _prepare(self, db: sqlite3.Connection) -> bool:
        """Create or upgrade the schema; set up the full-text index. True if it is used."""
        available = _fts5_available(db)
        if self.full_text and not available:
            raise ConfigError(
                "SQLiteKnowledge(full_text=True) needs SQLite with FTS5, which this Python's "
                "sqlite3 lacks; pass full_text=None to fall back to the built-in ranking"
            )
        use = available and self.full_text is not False
        with _transaction(db):
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"{self.path} holds knowledge schema version {version}, newer than this "
                    f"Baton understands ({SCHEMA_VERSION}); upgrade Baton to open it"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                _MIGRATIONS[step](db)
            if version < SCHEMA_VERSION:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            has_index = (
                db.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes_fts'").fetchone()
                is not None
            )
            stale = db.execute("SELECT 1 FROM knowledge_state WHERE name = 'fts_stale'").fetchone()
            if use and (not has_index or stale):
                if has_index:
                    db.execute("DELETE FROM notes_fts")
                else:
                    db.execute(_FTS_TABLE)
                db.execute(
                    "INSERT INTO notes_fts (rowid, key, text) SELECT id, key, text FROM notes"
                )
                db.execute("DELETE FROM knowledge_state WHERE name = 'fts_stale'")
            elif not use and has_index and not stale:
                # Notes written now won't reach the index: rebuild it when FTS5 is back.
                db.execute("INSERT INTO knowledge_state (name, value) VALUES ('fts_stale', '1')")
        return use
