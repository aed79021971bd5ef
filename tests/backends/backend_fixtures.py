"""The fixtures of the durable backends, in one place for every test folder that needs them
(``from backend_fixtures import *`` in its conftest): Redis (``redis_support.py``), SQL
(``sql_support.py``) and ``store``, each durable backend in turn (SQLite, PostgreSQL, Redis),
fresh for the test, named by one string."""

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
    """Each durable backend in turn, fresh for the test, as one spec (what ``run_procs.stores``
    and the worker tests' ``open_storage`` open): a SQL URL, or a Redis URL with its key prefix
    after ``#``."""
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}#{request.getfixturevalue('prefix')}"
    return str(request.getfixturevalue(f"{request.param}_url"))
