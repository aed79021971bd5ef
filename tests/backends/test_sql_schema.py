"""The versioned schema: created on first use, upgraded in place keeping data, safe under
concurrent first use, and a database newer than the code refused untouched."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from baton.backends.sql import (
    LATEST,
    Database,
    SchemaVersionError,
    SQLHistory,
    SQLKnowledge,
    SQLStorage,
    migrate,
    parse_url,
    schema_version,
)
from baton.backends.sql.schema import MIGRATIONS
from baton.errors import ConfigError
from baton.events import RunFinished, to_dict


async def raw_execute(url: str, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Run statements with the bare driver, behind Baton's back (``?`` placeholders)."""
    parsed = parse_url(url)
    if parsed.dialect == "sqlite":
        db = sqlite3.connect(parsed.target)
        with db:
            for sql, args in statements:
                db.execute(sql, args)
        db.close()
        return
    import asyncpg

    settings = {"search_path": parsed.schema} if parsed.schema else None
    conn = await asyncpg.connect(parsed.target, server_settings=settings)
    try:
        for sql, args in statements:
            numbered = sql
            for i in range(1, len(args) + 1):
                numbered = numbered.replace("?", f"${i}", 1)
            await conn.execute(numbered, *args)
    finally:
        await conn.close()


async def versions(url: str) -> list[int]:
    async with Database(url, migrate=False) as db:
        await schema_version(db)  # connects without touching the schema
        engine = await db.connected()
        async with engine.session(False) as session:
            rows = await session.fetch("SELECT version FROM baton_schema_version ORDER BY 1")
    return [int(r[0]) for r in rows]


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    assert all((m.sqlite or m.postgresql) and m.description for m in MIGRATIONS)


async def test_first_use_creates_the_latest_schema(sql_url: str) -> None:
    assert await schema_version(sql_url) == 0
    async with SQLStorage(sql_url) as storage:
        assert await storage.keys() == []
    assert await schema_version(sql_url) == LATEST
    assert await versions(sql_url) == list(range(1, LATEST + 1))


async def test_an_old_schema_is_upgraded_keeping_its_data(sql_url: str) -> None:
    assert await migrate(sql_url, target=1) == 1
    assert await schema_version(sql_url) == 1
    event = RunFinished("run-1", "written by version 1")
    await raw_execute(
        sql_url,
        ("INSERT INTO baton_conversations (conversation_id, length) VALUES (?, ?)", ("c", 1)),
        (
            "INSERT INTO baton_events (conversation_id, seq, type, payload) VALUES (?, ?, ?, ?)",
            ("c", 0, "RunFinished", json.dumps(to_dict(event))),
        ),
        ("INSERT INTO baton_storage (key, value) VALUES (?, ?)", ("k", '{"kept": true}')),
    )

    async with SQLHistory(sql_url) as history:  # the current code upgrades on first use
        assert await history.load("c") == [event]
        await history.append("c", [RunFinished("run-2", "written after the upgrade")])
        assert await history.length("c") == 2
        async with SQLStorage(history.db) as storage, SQLKnowledge(history.db) as knowledge:
            assert await storage.get("k") == {"kept": True}
            await knowledge.write("notes/a", "made possible by migration 2")
            assert [n.key for n in await knowledge.search("migration")] == ["notes/a"]
    assert await versions(sql_url) == list(range(1, LATEST + 1))


async def test_a_schema_newer_than_the_code_is_refused_untouched(sql_url: str) -> None:
    async with SQLHistory(sql_url) as history:
        await history.append("c", [RunFinished("r", "x")])
    await raw_execute(
        sql_url,
        (
            "INSERT INTO baton_schema_version (version, description) VALUES (?, ?)",
            (LATEST + 1, "from the future"),
        ),
    )
    async with SQLHistory(sql_url) as history:
        with pytest.raises(SchemaVersionError, match=rf"version {LATEST + 1}, newer") as raised:
            await history.load("c")
        assert isinstance(raised.value, ConfigError)
        assert (raised.value.found, raised.value.supported) == (LATEST + 1, LATEST)
        assert "Upgrade baton-agents" in str(raised.value)
        with pytest.raises(SchemaVersionError):  # and again: nothing was half-opened
            await history.append("c", [RunFinished("r", "y")])
    with pytest.raises(SchemaVersionError, match="newer"):
        await migrate(sql_url)
    assert await versions(sql_url) == [*range(1, LATEST + 1), LATEST + 1]


async def test_without_migrate_an_old_schema_is_refused_with_the_fix(sql_url: str) -> None:
    await migrate(sql_url, target=1)
    async with Database(sql_url, migrate=False) as db, SQLStorage(db) as storage:
        with pytest.raises(SchemaVersionError, match=r"version 1; this code needs .*migrate"):
            await storage.get("k")
    assert await schema_version(sql_url) == 1
    assert await migrate(sql_url) == LATEST
    async with Database(sql_url, migrate=False) as db, SQLStorage(db) as storage:
        assert await storage.get("k") is None


async def test_concurrent_first_use_from_separate_pools(sql_url: str) -> None:
    # Separate Database objects (separate connections), all first used at once.
    databases = [Database(sql_url) for _ in range(6)]
    try:
        stores = [SQLHistory(db) for db in databases]
        await asyncio.gather(
            *(s.append("c", [RunFinished(f"r{i}", "x")]) for i, s in enumerate(stores))
        )
        assert await stores[0].length("c") == 6
    finally:
        await asyncio.gather(*(db.aclose() for db in databases))
    assert await versions(sql_url) == list(range(1, LATEST + 1))


async def test_migrate_rejects_a_target_outside_the_known_versions(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="target"):
        await migrate(sqlite_url, target=LATEST + 1)
