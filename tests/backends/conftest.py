"""Fixtures of the backend tests (Redis: see ``redis_support.py``; SQL: ``sql_support.py``)."""

from __future__ import annotations

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
    "store",
]


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """Each durable backend in turn, fresh for the test, as a spec ``run_procs.stores`` opens:
    a SQL URL, or a Redis URL with its key prefix after ``#``."""
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}#{request.getfixturevalue('prefix')}"
    return str(request.getfixturevalue(f"{request.param}_url"))
