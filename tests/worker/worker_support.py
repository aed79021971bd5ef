"""Helpers the worker tests share."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def held_step(started: asyncio.Event | None = None) -> tuple[Any, asyncio.Event]:
    """A tool ``slow_step`` that answers "done" once the event it comes with is set: a run
    that is in progress until the test lets it finish. ``started`` is set when the step begins."""
    from baton import tool

    release = asyncio.Event()

    @tool
    async def slow_step() -> str:
        """A step that takes a while."""
        if started is not None:
            started.set()
        await release.wait()
        return "done"

    return slow_step, release


def open_storage(url: str) -> Any:
    """The ``Storage`` a ``store`` spec names."""
    if url.startswith("redis"):
        from baton.backends.redis import RedisStorage

        address, _, key_prefix = url.partition("#")
        return RedisStorage(address, prefix=key_prefix)
    from baton.backends.sql import SQLStorage

    return SQLStorage(url)


ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


class WorkerProcess:
    """A real ``baton worker run`` process (``python -m baton.cli``), with this directory
    importable so ``--agent`` can name the test agents; its stderr goes to a file."""

    def __init__(
        self,
        spec_path: Path,
        agent: str,
        redis_url: str,
        prefix: str,
        *,
        concurrency: int = 2,
        heartbeat: float = 0.5,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "baton.cli",
            "worker",
            "run",
            str(spec_path),
            "--agent",
            agent,
            "--redis",
            redis_url,
            "--prefix",
            prefix,
            "--concurrency",
            str(concurrency),
            "--heartbeat",
            str(heartbeat),
            "--retry-delay",
            "0",
        ]
        self.env = {**os.environ, "PYTHONPATH": str(HERE), **(env or {})}
        self.log = spec_path.with_name(f"{spec_path.stem}-{secrets.token_hex(3)}.log")
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("w") as errors:
            self.process = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "ready" not in line:
            self.kill()
            raise RuntimeError(f"the worker did not start: {line!r}\n{self.log.read_text()}")
        return self

    def terminate(self) -> str:
        """SIGTERM, wait for the exit; return what it printed after starting."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        return out

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def write_spec(spec: Any, directory: Path) -> Path:
    """``spec`` saved as a ``*.worker.md`` file in ``directory``."""
    path = directory / f"{spec.id}.worker.md"
    path.write_text(spec.to_markdown())
    return path


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, tries: int = 1500) -> None:
    """Wait until ``check()`` is true (an event in another process or in Redis, which can't
    be awaited directly), polling every 20 ms; fail after ``tries`` polls."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


class ManualClock:
    """A clock the test moves (``advance``); triggers sleeping on it wake when it passes their
    tick. Several runners may share one, as processes share the wall clock."""

    def __init__(self, now: float) -> None:
        self.t = now
        self.sleeping = 0  # how many are waiting on it now
        self._moved = asyncio.Condition()

    def now(self) -> float:
        return self.t

    async def sleep_until(self, t: float) -> None:
        async with self._moved:
            self.sleeping += 1
            try:
                await self._moved.wait_for(lambda: self.t >= t)
            finally:
                self.sleeping -= 1

    async def advance(self, seconds: float) -> None:
        async with self._moved:
            self.t += seconds
            self._moved.notify_all()


def dbos_config(postgres_url: str, schema: str, **extra: Any) -> Any:
    """A DBOS configuration keeping its system tables in ``schema`` of ``postgres_url``."""
    return {
        "name": "baton-worker-tests",
        "system_database_url": postgres_url,
        "dbos_system_schema": schema,
        "log_level": "ERROR",
        **extra,
    }


async def drop_schema(postgres_url: str, schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
