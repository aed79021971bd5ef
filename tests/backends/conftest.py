"""Fixtures of the backend tests (Redis: see ``redis_support.py``; SQL: ``sql_support.py``)."""

from __future__ import annotations

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
]
