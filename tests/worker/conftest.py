"""Fixtures of the worker tests: the backend tests' Redis and SQL fixtures (a unique key prefix
or schema per test, cleaned up after; a ``redis-server`` of a test's own), shared from there."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backends"))

import pytest
from redis_support import own_redis, prefix, redis_url
from sql_support import postgres_server, postgresql_url, sql_url, sqlite_url

__all__ = [
    "own_redis",
    "postgres_server",
    "postgresql_url",
    "prefix",
    "redis_url",
    "sql_url",
    "sqlite_url",
    "storage_url",
]


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str:
    """Each durable storage backend in turn, fresh for the test: a SQL URL, or a Redis URL with
    its key prefix after ``#``."""
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}#{request.getfixturevalue('prefix')}"
    return str(request.getfixturevalue(f"{request.param}_url"))
