"""The knowledge store: one behavioural suite run against every implementation, then what is
particular to files and SQLite (layout, schema, full-text index)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.harness.knowledge import (
    MAX_KEY_LENGTH,
    FileKnowledge,
    InvalidKey,
    KnowledgeStore,
    MemoryKnowledge,
    Note,
    SQLiteKnowledge,
)


class Backend:
    """Makes stores of one kind; ``reopen()`` gives a new object over the same data."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.durable = kind != "memory"
        self.opened: list[SQLiteKnowledge] = []
        self._memory = MemoryKnowledge()

    def reopen(self) -> KnowledgeStore:
        if self.kind == "memory":
            return self._memory
        if self.kind == "files":
            return FileKnowledge(self.root / "notes")
        store = SQLiteKnowledge(
            self.root / "knowledge.db", full_text=None if self.kind == "sqlite" else False
        )
        self.opened.append(store)
        return store


KINDS = ["memory", "files", "sqlite", "sqlite-no-fts"]


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = Backend(request.param, tmp_path)
    yield made
    for store in made.opened:
        await store.close()


@pytest.fixture
def store(backend: Backend) -> KnowledgeStore:
    return backend.reopen()


NOTES = {
    "user:1/drinks": "Drinks green tea every morning; no coffee after noon.",
    "user:1/work": "Works on the Baton project, an agent framework written in Python.",
    "user:1/family": "Has two kids and a dog named Biscuit.",
    "user:1/travel": "Flew to Lisbon last spring; liked the tea houses there.",
    "user:10/drinks": "Only coffee, strong and black.",
    "user:2/drinks": "Prefers tea, green tea above all.",
}


async def fill(store: KnowledgeStore) -> None:
    for key, text in NOTES.items():
        await store.write(key, text)


# -- the shared behaviour --------------------------------------------------------------------


async def test_implements_the_protocol(store: KnowledgeStore) -> None:
    assert isinstance(store, KnowledgeStore)


async def test_write_then_read(store: KnowledgeStore) -> None:
    assert await store.read("user:1/drinks") is None
    await store.write("user:1/drinks", "green tea")
    assert await store.read("user:1/drinks") == "green tea"


async def test_overwrite_replaces_text(store: KnowledgeStore) -> None:
    await store.write("k", "first")
    await store.write("k", "second")
    assert await store.read("k") == "second"
    assert await store.list() == ["k"]


async def test_text_round_trips_exactly(store: KnowledgeStore) -> None:
    texts = {
        "crlf": "line one\r\nline two\r\n",
        "front-matter-like": '---\n{"not": "metadata"}\n---\nbody',
        "fence": "---\n",
        "spaces": "  padded  \n\n",
        "empty": "",
        "unicode": "naïve café ✓ 日本語",
    }
    for key, text in texts.items():
        await store.write(key, text)
    for key, text in texts.items():
        assert await store.read(key) == text


async def test_list_by_prefix_is_sorted_and_exact(store: KnowledgeStore) -> None:
    await fill(store)
    assert await store.list() == sorted(NOTES)
    assert await store.list("user:1/") == [
        "user:1/drinks",
        "user:1/family",
        "user:1/travel",
        "user:1/work",
    ]
    assert await store.list("user:1/t") == ["user:1/travel"]
    assert await store.list("user:1") == sorted(k for k in NOTES if k.startswith("user:1"))
    assert await store.list("nobody/") == []


async def test_a_key_and_keys_under_it_coexist(store: KnowledgeStore) -> None:
    await store.write("projects", "all projects")
    await store.write("projects/baton", "the framework")
    await store.write("projects/baton/docs", "the docs")
    assert await store.read("projects") == "all projects"
    assert await store.read("projects/baton") == "the framework"
    assert await store.list("projects") == ["projects", "projects/baton", "projects/baton/docs"]
    assert await store.delete("projects/baton")
    assert await store.list() == ["projects", "projects/baton/docs"]


async def test_keys_keep_case_and_unicode(store: KnowledgeStore) -> None:
    await store.write("User:Æsa/Notes ✓", "upper")
    await store.write("user:æsa/notes ✓", "lower")
    await store.write("a.b/c.d", "dots")
    await store.write("CON", "a name Windows reserves")
    assert await store.read("User:Æsa/Notes ✓") == "upper"
    assert await store.read("user:æsa/notes ✓") == "lower"
    assert await store.read("a.b/c.d") == "dots"
    assert await store.read("CON") == "a name Windows reserves"
    assert await store.list() == sorted(["User:Æsa/Notes ✓", "user:æsa/notes ✓", "a.b/c.d", "CON"])


async def test_delete(store: KnowledgeStore) -> None:
    await fill(store)
    assert await store.delete("user:1/work") is True
    assert await store.delete("user:1/work") is False
    assert await store.delete("never/written") is False
    assert await store.read("user:1/work") is None
    assert "user:1/work" not in await store.list()
    assert await store.search("Baton framework Python", prefix="user:1/") == []


async def test_search_ranks_by_term_overlap(store: KnowledgeStore) -> None:
    await fill(store)
    found = await store.search("green tea", prefix="user:1/")
    assert [n.key for n in found] == ["user:1/drinks", "user:1/travel"]
    assert all(isinstance(n, Note) for n in found)
    assert found[0].score > found[1].score > 0
    assert found[0].text == NOTES["user:1/drinks"]


async def test_search_is_case_insensitive_and_folds_plurals(store: KnowledgeStore) -> None:
    await fill(store)
    assert [n.key for n in await store.search("BISCUIT", prefix="user:1/")] == ["user:1/family"]
    assert [n.key for n in await store.search("kid", prefix="user:1/")] == ["user:1/family"]
    assert [n.key for n in await store.search("projects", prefix="user:1/")] == ["user:1/work"]


async def test_search_stays_inside_its_prefix(store: KnowledgeStore) -> None:
    await fill(store)
    assert [n.key for n in await store.search("coffee", prefix="user:1/")] == ["user:1/drinks"]
    assert [n.key for n in await store.search("coffee", prefix="user:10/")] == ["user:10/drinks"]
    assert await store.search("coffee", prefix="user:2/") == []
    everywhere = {n.key for n in await store.search("coffee", limit=10)}
    assert everywhere == {"user:1/drinks", "user:10/drinks"}


async def test_search_limit_and_no_match(store: KnowledgeStore) -> None:
    await fill(store)
    assert len(await store.search("tea", limit=2)) == 2
    assert len(await store.search("tea", limit=10)) == 3
    assert await store.search("tea", limit=0) == []
    assert await store.search("submarine") == []
    assert await store.search("") == []
    assert await store.search("  ?! ") == []
    with pytest.raises(ValueError, match="limit"):
        await store.search("tea", limit=-1)


async def test_search_ignores_query_syntax(store: KnowledgeStore) -> None:
    await fill(store)
    found = await store.search('"tea" AND (coffee OR -NOT*) NEAR user:1', prefix="user:1/")
    assert found[0].key == "user:1/drinks"


async def test_metadata_round_trip(store: KnowledgeStore) -> None:
    metadata = {"source": "chat", "turn": 3, "tags": ["drinks", "morning"], "ok": True, "x": None}
    await store.write("user:1/drinks", "green tea", metadata=metadata)
    await store.write("user:1/plain", "green light")
    found = {n.key: n for n in await store.search("green", prefix="user:1/")}
    assert found["user:1/drinks"].metadata == metadata
    assert found["user:1/plain"].metadata == {}
    await store.write("user:1/drinks", "green tea again", metadata={"source": "email"})
    (note,) = await store.search("again")
    assert note.metadata == {"source": "email"}


async def test_metadata_must_be_json(store: KnowledgeStore) -> None:
    with pytest.raises(TypeError, match="JSON"):
        await store.write("k", "text", metadata={"when": object()})
    with pytest.raises(TypeError, match="string keys"):
        await store.write("k", "text", metadata={1: "x"})  # type: ignore[dict-item]
    assert await store.read("k") is None


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/leading",
        "trailing/",
        "double//slash",
        "..",
        "../escape",
        "a/../b",
        "a/./b",
        ".",
        "back\\slash",
        "nul\x00byte",
        "new\nline",
        " padded",
        "x" * (MAX_KEY_LENGTH + 1),
        "lone\ud800surrogate",
    ],
)
async def test_invalid_keys_are_refused(store: KnowledgeStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.write(key, "text")
    with pytest.raises(InvalidKey):
        await store.read(key)
    with pytest.raises(InvalidKey):
        await store.delete(key)
    assert await store.list() == []


async def test_invalid_key_errors_say_why(store: KnowledgeStore) -> None:
    with pytest.raises(InvalidKey, match="empty"):
        await store.write("", "x")
    with pytest.raises(InvalidKey, match=r"'\.\.' segment"):
        await store.write("../etc/passwd", "x")
    with pytest.raises(InvalidKey, match="limit is 256"):
        await store.write("k" * 300, "x")
    with pytest.raises(ValueError):  # InvalidKey is a ValueError
        await store.read(42)  # type: ignore[arg-type]


async def test_invalid_prefixes_are_refused(store: KnowledgeStore) -> None:
    for prefix in ("../", "a/../", "a//", "/"):
        with pytest.raises(InvalidKey):
            await store.list(prefix)
        with pytest.raises(InvalidKey):
            await store.search("x", prefix=prefix)


async def test_the_longest_key_works(store: KnowledgeStore) -> None:
    key = "/".join(["segment"] * 32)[:MAX_KEY_LENGTH].rstrip("/")
    await store.write(key, "deep")
    assert await store.read(key) == "deep"
    assert await store.list() == [key]


async def test_concurrent_writes_all_land(store: KnowledgeStore) -> None:
    await asyncio.gather(*(store.write(f"n/{i}", f"note {i}") for i in range(40)))
    assert await store.list("n/") == sorted(f"n/{i}" for i in range(40))
    results = await asyncio.gather(*(store.read(f"n/{i}") for i in range(40)))
    assert results == [f"note {i}" for i in range(40)]


async def test_notes_persist_across_store_objects(backend: Backend) -> None:
    if not backend.durable:
        pytest.skip("MemoryKnowledge keeps notes in one object only")
    first = backend.reopen()
    await fill(first)
    await first.write("user:1/meta", "with metadata", metadata={"v": 1})
    await first.delete("user:1/family")
    if isinstance(first, SQLiteKnowledge):
        await first.close()

    second = backend.reopen()
    assert second is not first
    assert await second.read("user:1/drinks") == NOTES["user:1/drinks"]
    assert await second.read("user:1/family") is None
    assert await second.list("user:1/") == [
        "user:1/drinks",
        "user:1/meta",
        "user:1/travel",
        "user:1/work",
    ]
    (note,) = await second.search("metadata")
    assert note.metadata == {"v": 1}
    best, *_ = await second.search("green tea", prefix="user:1/")
    assert best.key == "user:1/drinks"


# -- FileKnowledge -----------------------------------------------------------------------------


async def test_files_are_one_readable_file_per_note(tmp_path: Path) -> None:
    store = FileKnowledge(tmp_path)
    await store.write("user:42/preferences", "Metric units.")
    await store.write("user:42/Travel Plans", "Lisbon", metadata={"source": "chat"})
    assert (tmp_path / "user%3A42" / "preferences.md").read_text() == "Metric units."
    with_meta = (tmp_path / "user%3A42" / "%54ravel%20%50lans.md").read_text()
    assert with_meta == '---\n{"source":"chat"}\n---\nLisbon'
    assert store.path("user:42/preferences") == tmp_path / "user%3A42" / "preferences.md"


async def test_files_never_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = FileKnowledge(root)
    for key in ("..%2Fescape", "a/..%2E", "%2E%2E/x", "~/x", "C:/x", "-rf"):
        await store.write(key, "inside")
        assert await store.read(key) == "inside"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]  # noqa: ASYNC240
    assert written and all(root in p.parents for p in written)
    assert not any(name.startswith(".") for p in written for name in p.relative_to(root).parts)


async def test_files_ignore_what_they_did_not_write(tmp_path: Path) -> None:
    store = FileKnowledge(tmp_path)
    await store.write("real/note", "mine")
    (tmp_path / "README.txt").write_text("not a note")
    (tmp_path / "Upper.md").write_text("not encoded by us")
    (tmp_path / ".hidden.md").write_text("hidden")
    (tmp_path / "real" / ".x.tmp").write_text("a leftover temp file")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.md").write_text("nope")
    assert await store.list() == ["real/note"]


async def test_files_delete_prunes_empty_directories(tmp_path: Path) -> None:
    store = FileKnowledge(tmp_path / "notes")
    await store.write("a/b/c", "deep")
    await store.write("a/keep", "stays")
    assert await store.delete("a/b/c")
    assert not (tmp_path / "notes" / "a" / "b").exists()
    assert (tmp_path / "notes" / "a" / "keep.md").exists()
    assert await store.delete("a/keep")
    assert (tmp_path / "notes").is_dir()
    assert os.listdir(tmp_path / "notes") == []


async def test_files_write_atomically_leaving_no_temp_files(tmp_path: Path) -> None:
    store = FileKnowledge(tmp_path)
    for i in range(5):
        await store.write("k", f"version {i}")
    assert sorted(os.listdir(tmp_path)) == ["k.md"]


async def test_files_refuse_segments_too_long_to_be_file_names(tmp_path: Path) -> None:
    store = FileKnowledge(tmp_path)
    with pytest.raises(InvalidKey, match="too long for FileKnowledge"):
        await store.write("日本" * 60, "x")


# -- SQLiteKnowledge ---------------------------------------------------------------------------


def tables(path: Path) -> Callable[[str], list[tuple[object, ...]]]:
    def query(sql: str) -> list[tuple[object, ...]]:
        db = sqlite3.connect(path)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    return query


async def test_sqlite_creates_a_versioned_schema_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "k.db"
    async with SQLiteKnowledge(path) as store:
        assert not path.exists()  # nothing happens until it is used
        await store.write("k", "v")
        assert store.uses_fts
    query = tables(path)
    assert query("SELECT version FROM schema_version") == [(1,)]
    names = {row[0] for row in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "notes", "notes_fts"} <= names


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    async with SQLiteKnowledge(path) as store:
        await store.write("k", "v")
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE schema_version SET version = 99")
    db.close()
    async with SQLiteKnowledge(path) as store:
        with pytest.raises(ConfigError, match="newer"):
            await store.read("k")


async def test_sqlite_without_fts_keeps_the_index_for_later(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    async with SQLiteKnowledge(path) as store:
        await store.write("a", "green tea")
    async with SQLiteKnowledge(path, full_text=False) as store:
        assert [n.key for n in await store.search("tea")] == ["a"]
        assert not store.uses_fts
        await store.write("b", "iced tea with lemon")
        await store.write("a", "black coffee")
    async with SQLiteKnowledge(path) as store:
        assert [n.key for n in await store.search("tea")] == ["b"]
        assert store.uses_fts
        assert [n.key for n in await store.search("coffee")] == ["a"]


async def test_sqlite_in_memory_and_close(tmp_path: Path) -> None:
    store = SQLiteKnowledge()
    await store.write("k", "v")
    assert await store.read("k") == "v"
    await store.close()
    await store.close()  # closing twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        await store.read("k")
