"""SQLStorage on SQLite and PostgreSQL, and what all SQL stores share: URLs, one pool per URL,
closing cleanly, and drivers imported only when used."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from baton.backends.sql import (
    Database,
    SQLHistory,
    SQLKnowledge,
    SQLStorage,
    open_backend,
    parse_url,
)
from baton.errors import ConfigError
from baton.events import RunFinished
from baton.history import History, Storage


async def test_get_put_delete_keys(sql_url: str) -> None:
    async with SQLStorage(sql_url) as storage:
        assert isinstance(storage, Storage)
        assert await storage.get("missing") is None
        value = {"pending": ["call_1"], "n": 3, "ok": True, "none": None, "f": 1.5, "t": "日本"}
        await storage.put("baton:suspended:c1", value)
        await storage.put("baton:suspended:c2", [1, 2])
        await storage.put("other", "text")
        assert await storage.get("baton:suspended:c1") == value
        await storage.put("baton:suspended:c2", {"replaced": 1})
        assert await storage.get("baton:suspended:c2") == {"replaced": 1}
        assert await storage.keys() == ["baton:suspended:c1", "baton:suspended:c2", "other"]
        assert await storage.keys("baton:") == ["baton:suspended:c1", "baton:suspended:c2"]
        assert await storage.keys("nothing") == []
        assert await storage.delete("baton:suspended:c1") is True
        assert await storage.delete("baton:suspended:c1") is False
        assert await storage.get("baton:suspended:c1") is None
    async with SQLStorage(sql_url) as again:  # durable
        assert await again.keys() == ["baton:suspended:c2", "other"]


async def test_keys_sort_by_code_point(sql_url: str) -> None:
    keys = ["b", "B", "a/Z", "a/é", "a/z", "Æ", "a", "a\U0010ffff", "a\U0010ffffx"]
    async with SQLStorage(sql_url) as storage:
        for key in keys:
            await storage.put(key, key)
        assert await storage.keys() == sorted(keys)
        assert await storage.keys("a/") == ["a/Z", "a/z", "a/é"]
        assert await storage.keys("a\U0010ffff") == ["a\U0010ffff", "a\U0010ffffx"]


async def test_values_must_be_json(sql_url: str) -> None:
    async with SQLStorage(sql_url) as storage:
        with pytest.raises(TypeError, match="JSON"):
            await storage.put("k", {"when": object()})
        with pytest.raises(TypeError, match="JSON"):
            await storage.put("k", float("nan"))
        with pytest.raises(TypeError, match="string"):
            await storage.get(42)  # type: ignore[arg-type]
        assert await storage.keys() == []


async def test_of_concurrent_deletes_exactly_one_wins(sql_url: str) -> None:
    async with SQLStorage(sql_url) as storage:
        await storage.put("claim", {"x": 1})
        results = await asyncio.gather(*(storage.delete("claim") for _ in range(10)))
        assert sorted(results) == [False] * 9 + [True]


# -- URLs, pools, lifecycle --------------------------------------------------------------------


def test_urls_parse() -> None:
    assert parse_url("sqlite:///:memory:").target == ":memory:"
    assert parse_url("sqlite://").target == ":memory:"
    assert parse_url("sqlite:///data/baton.db").target == "data/baton.db"
    assert parse_url("sqlite:////var/lib/baton.db").target == "/var/lib/baton.db"
    pg = parse_url("postgres://app:secret@db:5433/app?schema=agents&sslmode=disable")
    assert (pg.dialect, pg.schema) == ("postgresql", "agents")
    assert pg.target == "postgresql://app:secret@db:5433/app?sslmode=disable"
    assert "secret" not in pg.redacted and "app:***@db" in pg.redacted
    assert "secret" not in repr(SQLStorage(Database(pg)))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("baton.db", "not a database URL"),
        ("mysql://x/y", "unsupported database URL scheme 'mysql'"),
        ("redis://localhost", "baton.backends.redis"),
        ("sqlite:relative.db", "not a database URL"),
        ("postgresql://h/db?schema=bad-name", "plain identifier"),
    ],
)
def test_bad_urls_say_what_a_good_one_is(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Database(url)


@pytest.mark.parametrize(
    ("url", "extra"), [("sqlite://", "sqlite"), ("postgresql://h/d", "postgres")]
)
def test_a_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, extra: str
) -> None:
    driver = "aiosqlite" if extra == "sqlite" else "asyncpg"
    monkeypatch.setitem(sys.modules, driver, None)  # as if it were not installed
    with pytest.raises(ConfigError, match=rf"pip install 'baton-agents\[{extra}\]'"):
        SQLHistory(url)


def test_importing_baton_and_the_backends_imports_no_driver() -> None:
    code = (
        "import sys, baton, baton.backends, baton.backends.sql\n"
        "from baton.backends.sql import SQLHistory, open_backend\n"
        "SQLHistory('sqlite:///:memory:'); open_backend('postgresql://nowhere/db')\n"
        "loaded = {'aiosqlite', 'asyncpg'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_stores_on_one_url_share_one_pool_closed_by_the_last(sql_url: str) -> None:
    history, storage = SQLHistory(sql_url), SQLStorage(sql_url)
    async with open_backend(sql_url) as backend:
        assert history.db is storage.db is backend.database is backend.knowledge.db
        assert isinstance(backend.history, History)
        await history.append("c", [RunFinished("r", "x")])
        assert await backend.history.length("c") == 1
        await history.aclose()
        await history.aclose()  # twice is fine, and counts once
        await storage.put("k", 1)
    assert "ready" in repr(storage.db)
    await storage.aclose()
    assert "closed" in repr(storage.db)
    with pytest.raises(RuntimeError, match="closed"):
        await storage.get("k")
    async with SQLStorage(sql_url) as fresh:  # a new pool for the URL
        assert fresh.db is not storage.db
        assert await fresh.get("k") == 1


async def test_a_given_database_stays_open_until_its_owner_closes_it(sql_url: str) -> None:
    async with Database(sql_url) as db:
        async with SQLStorage(db) as storage:
            await storage.put("k", 1)
        assert await SQLStorage(db).get("k") == 1  # closing the store left the database open
    with pytest.raises(RuntimeError, match="closed"):
        await SQLStorage(db).get("k")


CLEAN_EXIT = """
import asyncio, gc, sys, warnings
from baton.backends.sql import SQLHistory, SQLKnowledge, SQLStorage, open_backend
from baton.events import RunFinished

async def main(url: str) -> None:
    # Dev mode is on for its ResourceWarnings; its slow-callback log depends on the machine's
    # load (speed belongs in benchmarks/), so it is turned off.
    asyncio.get_running_loop().slow_callback_duration = float("inf")
    async with open_backend(url) as backend:
        await backend.history.append("c", [RunFinished("r", "x")])
        await backend.knowledge.write("k", "text")
        await asyncio.gather(*(backend.storage.put(f"k{i}", i) for i in range(20)))
    async with SQLHistory(url) as history, SQLStorage(url) as storage, SQLKnowledge(url) as k:
        assert await history.length("c") == 1 and await storage.get("k3") == 3
        assert await k.read("k") == "text"

asyncio.run(main(sys.argv[1]))
gc.collect()
"""


async def test_pools_close_cleanly_without_warnings(sql_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-W",
        "error",
        "-c",
        textwrap.dedent(CLEAN_EXIT),
        sql_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert (out + err).decode() == ""


async def test_knowledge_protocol_through_open_backend(sql_url: str) -> None:
    async with open_backend(sql_url) as backend:
        assert isinstance(backend.knowledge, SQLKnowledge)
        await backend.knowledge.write("a", "green tea")
        assert await backend.knowledge.read("a") == "green tea"
