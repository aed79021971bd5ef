"""SQLKnowledge passes the shared knowledge suite (tests/test_knowledge.py) on SQLite, with and
without FTS5, and on PostgreSQL; then what is particular to it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baton.backends.sql import Database, SQLKnowledge
from baton.harness.knowledge import KnowledgeStore


def _load_suite() -> Any:
    path = Path(__file__).resolve().parents[1] / "test_knowledge.py"
    spec = importlib.util.spec_from_file_location("baton_shared_knowledge_suite", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_suite = _load_suite()
# The shared behaviour, run here against SQLKnowledge (the file- and SQLite-specific tests of
# that module stay there).
SHARED = [
    name
    for name in vars(_suite)
    if name.startswith("test_") and not name.startswith(("test_files_", "test_sqlite_"))
]
globals().update({name: getattr(_suite, name) for name in SHARED})


class Backend:
    """Makes SQLKnowledge stores over one database; ``reopen()`` gives a new object."""

    durable = True

    def __init__(self, url: str, full_text: bool | None) -> None:
        self.url = url
        self.full_text = full_text
        self.opened: list[SQLKnowledge] = []

    def reopen(self) -> KnowledgeStore:
        store = SQLKnowledge(Database(self.url), full_text=self.full_text)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "sqlite-no-fts", "postgresql"])
def kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    name = "postgresql_url" if request.param == "postgresql" else "sqlite_url"
    return request.param, str(request.getfixturevalue(name))


@pytest.fixture
async def backend(kind: tuple[str, str]) -> AsyncIterator[Backend]:
    made = Backend(kind[1], False if kind[0] == "sqlite-no-fts" else None)
    yield made
    for store in made.opened:
        await store.db.aclose()


@pytest.fixture
def store(backend: Backend) -> KnowledgeStore:
    return backend.reopen()


def test_the_shared_suite_is_here() -> None:
    assert len(SHARED) >= 20
    assert "test_search_ranks_by_term_overlap" in SHARED


async def test_sqlite_keeps_the_index_for_when_fts5_is_back(sqlite_url: str) -> None:
    async with SQLKnowledge(sqlite_url) as store:
        await store.write("a", "green tea")
        assert store.uses_fts
    async with SQLKnowledge(sqlite_url, full_text=False) as store:
        assert [n.key for n in await store.search("tea")] == ["a"]
        assert not store.uses_fts
        await store.write("b", "iced tea with lemon")
        await store.write("a", "black coffee")
    async with SQLKnowledge(sqlite_url) as store:
        assert [n.key for n in await store.search("tea")] == ["b"]
        assert store.uses_fts
        assert [n.key for n in await store.search("coffee")] == ["a"]


async def test_postgres_searches_its_tsvector_index(postgresql_url: str) -> None:
    async with SQLKnowledge(postgresql_url) as store:
        assert store.uses_fts
        await store.write("docs/setup", "Installing the PostgreSQL drivers")
        (note,) = await store.search("install driver")
        assert note.key == "docs/setup" and note.score > 0
        async with store.db.transaction() as session:
            await session.execute("SET LOCAL enable_seqscan = off")
            plan = await session.fetch(
                "EXPLAIN SELECT key FROM baton_notes "
                "WHERE search @@ to_tsquery('baton_english', 'driver')"
            )
        assert "baton_notes_search" in " ".join(str(row[0]) for row in plan)


async def test_full_text_true_uses_fts5_when_sqlite_has_it(sqlite_url: str) -> None:
    async with SQLKnowledge(sqlite_url, full_text=True) as store:
        await store.write("k", "v")
        assert store.uses_fts
