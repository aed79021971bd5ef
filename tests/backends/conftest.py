"""Fixtures of the backend tests (Redis: see ``redis_support.py``; SQL: ``sql_support.py``;
every durable backend in turn: ``store_support.py``)."""

from __future__ import annotations

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
