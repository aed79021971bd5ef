"""Baton's SQL schema, versioned: ordered migrations recorded in ``baton_schema_version``.

On first use a ``Database`` brings the schema up to ``LATEST`` in one transaction, holding a lock
that makes concurrent first use (several processes starting at once) safe: a PostgreSQL
transaction-scoped advisory lock, or SQLite's ``BEGIN IMMEDIATE``. A database whose schema is
newer than this code is refused, untouched. Migrations are append-only: a released step is never
edited, a change is a new step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .database import Database, Engine, Session
from .url import DatabaseURL, Dialect

__all__ = ["LATEST", "MIGRATIONS", "Migration", "SchemaVersionError", "migrate", "schema_version"]


class SchemaVersionError(ConfigError):
    """The database's schema is not one this code can use (newer, or not yet upgraded)."""

    def __init__(self, message: str, *, found: int, supported: int) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


@dataclass(frozen=True, slots=True)
class Migration:
    """Step ``version``: the statements taking a database from ``version - 1`` to it."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgresql


_NOW_SQLITE = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversations, events and key-value storage",
        sqlite=(
            "CREATE TABLE baton_conversations (conversation_id TEXT PRIMARY KEY, "
            f"length INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT {_NOW_SQLITE}, "
            f"updated_at TEXT NOT NULL DEFAULT {_NOW_SQLITE})",
            "CREATE TABLE baton_events (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, "
            "type TEXT NOT NULL, payload TEXT NOT NULL, "
            f"created_at TEXT NOT NULL DEFAULT {_NOW_SQLITE}, "
            "PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID",
            "CREATE TABLE baton_storage (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
            f"updated_at TEXT NOT NULL DEFAULT {_NOW_SQLITE})",
        ),
        postgresql=(
            'CREATE TABLE baton_conversations (conversation_id TEXT COLLATE "C" PRIMARY KEY, '
            "length BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
            "updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            'CREATE TABLE baton_events (conversation_id TEXT COLLATE "C" NOT NULL, '
            "seq BIGINT NOT NULL, type TEXT NOT NULL, payload JSON NOT NULL, "
            "created_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (conversation_id, seq))",
            'CREATE TABLE baton_storage (key TEXT COLLATE "C" PRIMARY KEY, value JSON NOT NULL, '
            "updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        ),
    ),
    Migration(
        2,
        "knowledge notes with full-text search",
        sqlite=(
            "CREATE TABLE baton_notes (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
            "text TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}', "
            f"updated_at TEXT NOT NULL DEFAULT {_NOW_SQLITE})",
            # The FTS5 index is made by SQLKnowledge when SQLite has FTS5; this remembers when
            # it missed writes (made without FTS5) and must be rebuilt.
            "CREATE TABLE baton_notes_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
        postgresql=(
            # English stemming without a stopword list (the search ranks like Baton's other
            # stores do: a note about "doing it again" is found by "again").
            "CREATE TEXT SEARCH DICTIONARY baton_english_stem (TEMPLATE = snowball, "
            "LANGUAGE = english)",
            "CREATE TEXT SEARCH CONFIGURATION baton_english (COPY = english)",
            "ALTER TEXT SEARCH CONFIGURATION baton_english ALTER MAPPING FOR asciiword, "
            "asciihword, hword_asciipart, word, hword, hword_part WITH baton_english_stem",
            'CREATE TABLE baton_notes (key TEXT COLLATE "C" PRIMARY KEY, text TEXT NOT NULL, '
            "metadata TEXT NOT NULL DEFAULT '{}', updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
            "search TSVECTOR GENERATED ALWAYS AS (to_tsvector('baton_english'::regconfig, "
            "regexp_replace(key, '[^[:alnum:]]+', ' ', 'g') || ' ' || text)) STORED)",
            "CREATE INDEX baton_notes_search ON baton_notes USING GIN (search)",
        ),
    ),
    Migration(
        3,
        "conversation claims (one ask per conversation across processes)",
        sqlite=(
            "CREATE TABLE baton_claims (conversation_id TEXT PRIMARY KEY, holder TEXT NOT NULL, "
            "expires_at REAL NOT NULL)",
        ),
        postgresql=(
            'CREATE TABLE baton_claims (conversation_id TEXT COLLATE "C" PRIMARY KEY, '
            "holder TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
        ),
    ),
    Migration(
        4,
        "SQLite: events counted by a trigger (an append is one statement)",
        sqlite=(
            # Events are numbered contiguously, so a conversation's length is its last seq + 1.
            "CREATE TRIGGER baton_events_counted AFTER INSERT ON baton_events BEGIN "
            "INSERT INTO baton_conversations (conversation_id, length) "
            "VALUES (NEW.conversation_id, NEW.seq + 1) ON CONFLICT (conversation_id) DO UPDATE "
            f"SET length = excluded.length, updated_at = {_NOW_SQLITE}; END",
        ),
        postgresql=(),  # an append is one statement there already
    ),
)

LATEST = MIGRATIONS[-1].version

_VERSION_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS baton_schema_version (version INTEGER PRIMARY KEY, "
    f"description TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT {_NOW_SQLITE})",
    "postgresql": "CREATE TABLE IF NOT EXISTS baton_schema_version (version INTEGER PRIMARY KEY, "
    "description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
}
_HAS_VERSION_TABLE = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name = 'baton_schema_version'",
    "postgresql": "SELECT count(*) FROM (SELECT to_regclass('baton_schema_version') AS t) x "
    "WHERE t IS NOT NULL",
}
_CURRENT = "SELECT coalesce(max(version), 0) FROM baton_schema_version"


def _too_new(found: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"the database holds Baton schema version {found}, newer than this code supports "
        f"({LATEST}); it was left untouched. Upgrade baton-agents to use it.",
        found=found,
        supported=LATEST,
    )


async def _current(session: Session, dialect: Dialect) -> int:
    if not await session.fetchval(_HAS_VERSION_TABLE[dialect]):
        return 0
    return int(await session.fetchval(_CURRENT))


async def upgrade(engine: Engine, dialect: Dialect, target: int = LATEST) -> int:
    """Apply the missing migrations up to ``target`` in one locked transaction; the version."""
    if not 0 <= target <= LATEST:
        raise ValueError(f"target must be a schema version from 0 to {LATEST}, got {target}")
    async with engine.migration() as session:
        await session.execute(_VERSION_TABLE[dialect])
        found = int(await session.fetchval(_CURRENT))
        if found > LATEST:
            raise _too_new(found)
        for step in MIGRATIONS:
            if found < step.version <= target:
                for statement in step.statements(dialect):
                    await session.execute(statement)
                await session.execute(
                    "INSERT INTO baton_schema_version (version, description) VALUES ($1, $2)",
                    step.version,
                    step.description,
                )
        return max(found, target)


async def prepare(engine: Engine, dialect: Dialect, *, allow_upgrade: bool) -> None:
    """Make the schema usable: upgrade it (``allow_upgrade``) or check that it is current."""
    async with engine.session(False) as session:
        found = await _current(session, dialect)
    if found > LATEST:
        raise _too_new(found)
    if found == LATEST:
        return
    if not allow_upgrade:
        raise SchemaVersionError(
            f"the database holds Baton schema version {found}; this code needs {LATEST}. "
            "Upgrade it with `await baton.backends.sql.migrate(url)` (or open it with "
            "migrate=True).",
            found=found,
            supported=LATEST,
        )
    await upgrade(engine, dialect)


async def migrate(database: Database | str, *, target: int | None = None) -> int:
    """Bring a database's schema up to ``target`` (default: the latest); the version now."""
    db = Database(database, migrate=False) if isinstance(database, str) else database
    try:
        engine = await db.connected()
        return await upgrade(engine, db.dialect, LATEST if target is None else target)
    finally:
        if isinstance(database, str):
            await db.aclose()


async def schema_version(database: Database | str | DatabaseURL) -> int:
    """The schema version a database holds (0 if it has none)."""
    db = database if isinstance(database, Database) else Database(database, migrate=False)
    try:
        engine = await db.connected()
        async with engine.session(False) as session:
            return await _current(session, db.dialect)
    finally:
        if db is not database:
            await db.aclose()
