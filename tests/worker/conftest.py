"""Fixtures of the worker tests: the backend tests' Redis and SQL fixtures (a unique key prefix
or schema per test, cleaned up after; a ``redis-server`` of a test's own) and ``store`` (each
durable backend in turn), shared from there."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backends"))

from redis_support import own_redis, prefix, redis_url
from sql_support import postgres_server, postgresql_url, sql_url, sqlite_url
from store_support import store

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
