"""Redis for the backend tests: a real server, a unique key prefix per test, cleaned up after.

Under ``CI=true`` an unreachable Redis fails the tests; elsewhere they are skipped with the
command that starts one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _problem() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis package is missing (pip install -e '.[dev]' or '.[redis]')"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        return f"Redis at {REDIS_URL} is unreachable ({exc})"
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    problem = _problem()
    if problem is not None:
        message = f"{problem}; start it with: {START_REDIS}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs Redis: {message}", pytrace=False)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    from baton.backends.redis import close_pools

    name = f"baton-test:{uuid.uuid4().hex[:12]}:"
    yield name
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(f"{name}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
        await close_pools()


def can_restart_redis(url: str = REDIS_URL) -> str | None:
    """Why this test process cannot restart the Redis server (``None``: it can)."""
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost") or (parsed.port or 6379) != 6379:
        return f"the tests restart only the local Redis on port 6379, not {url}"
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        return "redis-server and redis-cli are not on PATH"
    for path in ("/var/lib/redis", "/var/log/redis"):
        if not os.access(path, os.W_OK):
            return f"no write access to {path} (needed to start redis-server)"
    if os.environ.get("BATON_NO_REDIS_RESTART"):
        return "BATON_NO_REDIS_RESTART is set"
    return None
