"""Redis for the backend tests: a real server, a unique key prefix per test, cleaned up after.

Under ``CI=true`` an unreachable Redis fails the tests; elsewhere they are skipped with the
command that starts one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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


class OwnRedis:
    """A ``redis-server`` of one test's own, for tests that stop Redis: a free loopback port and
    a temporary directory, started and stopped by this object (by pid), never the shared one."""

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        # durable: every write is in the append-only file before it is answered, so a
        # restart (start() after stop()) comes back with all the data
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *(
                    ("--appendonly", "yes", "--appendfsync", "always")
                    if self.durable
                    else ("--appendonly", "no")
                ),
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """Kill this server (SIGKILL, by pid) and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A started ``OwnRedis``; killed after the test."""
    if not shutil.which("redis-server"):
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs redis-server on PATH", pytrace=False)
        pytest.skip("redis-server is not on PATH")
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
