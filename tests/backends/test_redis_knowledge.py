"""RedisKnowledge passes the knowledge store suite shared by every implementation
(``tests/test_knowledge.py``)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from baton.backends.redis import RedisKnowledge
from baton.harness.knowledge import KnowledgeStore

sys.path.insert(0, str(Path(__file__).parents[1]))
import test_knowledge as suite


class RedisBackend:
    """Stores over one Redis prefix; ``reopen()`` gives a new object over the same notes."""

    kind = "redis"
    durable = True

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.opened: list[object] = []

    def reopen(self) -> KnowledgeStore:
        return RedisKnowledge(self.url, prefix=self.prefix, name="suite")


@pytest.fixture
def backend(redis_url: str, prefix: str) -> RedisBackend:
    return RedisBackend(redis_url, prefix)


@pytest.fixture
def store(backend: RedisBackend) -> KnowledgeStore:
    return backend.reopen()


# Every behaviour test of the shared suite (those taking a store or a backend), run here.
for _name, _test in vars(suite).items():
    if _name.startswith("test_") and {"store", "backend"} & set(
        inspect.signature(_test).parameters
    ):
        globals()[_name] = _test


async def test_stores_with_different_names_are_separate(redis_url: str, prefix: str) -> None:
    one = RedisKnowledge(redis_url, prefix=prefix, name="one")
    two = RedisKnowledge(redis_url, prefix=prefix, name="two")
    await one.write("k", "in one")
    assert await two.read("k") is None and await two.list() == []
    await one.clear()
    assert await one.list() == []
