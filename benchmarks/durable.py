"""The durable path: what an ask costs when its conversation lives in a real store.

    python -m benchmarks.durable            # ~30 s, needs Redis and PostgreSQL on loopback
    python -m benchmarks.durable --quick    # a smoke run

Scenario B (one tool round: request -> tool call -> result -> answer) and its curve over tool
rounds per ask (1, 5, 20), on each store: in memory (``MemoryHistory``, the floor for the loop
itself), ``RedisHistory``, ``RedisHistory`` + ``RedisStream``, SQLite (a file) and PostgreSQL.
Each ask names its stored conversation (``conversation_id=...``, a new one per ask, so the
scripted model's per-conversation tally stays out of the figure): it claims it, checks it is
current, and records every step store-first, as production asks do. For Redis the server's
own command counter gives the commands per ask (``INFO commandstats``, this benchmark being the
only client; a Lua script counts with the commands it runs).

The floor beside each figure is what the store's own client (redis-py, aiosqlite, asyncpg, no
Baton in between) takes for the same number of round trips, each carrying one event: an ask of
``r`` tool rounds makes ``2 + 2r`` with ``RedisHistory`` (the claim carries the run's start, the
last write the release) and ``4 + 2r`` on SQLite and PostgreSQL (claim and release are
statements of their own). ``tests/backends/test_round_trips.py`` pins Redis's.

Targets (issue 9): at most one store round trip per recorded step; B with ``RedisHistory``
<= 400 us and on SQLite <= 1,500 us (on the machine the issue was measured on).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.history import History, Storage
from baton.testing import ScriptedModel, call

REDIS_URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@tool(inline=True)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def script(rounds: int) -> list[Any]:
    return [call("add", a=i, b=1) for i in range(rounds)] + ["done"]


# One event as the stores hold it: what each bare round trip of the floor carries.
PAYLOAD = json.dumps(
    {
        "type": "ModelResponse",
        "text": "",
        "tool_calls": [{"id": "call_0", "name": "add", "arguments": {"a": 0, "b": 1}}],
        "usage": {"input_tokens": 12, "output_tokens": 5},
        "agent": "bench",
    }
)
TRIPS: dict[str, Callable[[int], int]] = {
    "redis": lambda rounds: 2 + 2 * rounds,
    "sqlite": lambda rounds: 4 + 2 * rounds,
    "postgresql": lambda rounds: 4 + 2 * rounds,
}


@asynccontextmanager
async def store(name: str) -> AsyncIterator[tuple[History, Storage, Any, Callable[[], Any]]]:
    """(history, storage, stream factory or None, one bare round trip) for one store."""
    if name == "memory":

        async def nothing() -> None:
            return None

        yield MemoryHistory(), MemoryStorage(), None, nothing
        return
    if name.startswith("redis"):
        import redis.asyncio as aioredis

        from baton.backends.redis import (
            RedisHistory,
            RedisStorage,
            RedisStream,
            close_pools,
            connect,
        )

        prefix = f"baton-bench:{uuid.uuid4().hex[:8]}:"
        client = connect(REDIS_URL)
        bare = aioredis.Redis.from_url(REDIS_URL)
        streams = (
            (lambda cid: RedisStream(cid, REDIS_URL, prefix=prefix))
            if name == "redis+stream"
            else None
        )

        async def bare_trip() -> Any:
            return await bare.rpush(f"{prefix}bare", PAYLOAD)

        try:
            yield (
                RedisHistory(REDIS_URL, prefix=prefix),
                RedisStorage(REDIS_URL, prefix=prefix),
                streams,
                bare_trip,
            )
        finally:
            keys = [k async for k in client.scan_iter(f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await bare.aclose()
            await close_pools()
        return
    from baton.backends.sql import SQLHistory, SQLStorage
    from baton.backends.sql.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        schema = f"baton_bench_{uuid.uuid4().hex[:8]}"
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}" if name == "sqlite" else f"{POSTGRES_URL}?schema={schema}"
        database = Database.shared(url)
        history, storage = SQLHistory(database), SQLStorage(database)
        await database.execute("CREATE TABLE bench_bare (payload TEXT NOT NULL)")
        bare_trip: Callable[[], Any]
        if name == "sqlite":
            import aiosqlite

            bare_conn = await aiosqlite.connect(path, isolation_level=None)
            await bare_conn.execute("PRAGMA synchronous = NORMAL")

            async def sqlite_trip() -> Any:
                sql = "INSERT INTO bench_bare (payload) VALUES (?)"
                return await bare_conn.execute_fetchall(sql, (PAYLOAD,))

            bare_trip, close = sqlite_trip, bare_conn.close
        else:
            import asyncpg

            pg = await asyncpg.connect(POSTGRES_URL, server_settings={"search_path": schema})

            async def postgres_trip() -> Any:
                return await pg.execute("INSERT INTO bench_bare (payload) VALUES ($1)", PAYLOAD)

            bare_trip, close = postgres_trip, pg.close
        try:
            yield history, storage, None, bare_trip
        finally:
            await close()
            if name == "postgresql":
                await database.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await database.aclose()


async def redis_commands() -> int:
    from baton.backends.redis import connect

    stats = await connect(REDIS_URL).info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


async def measure(name: str, rounds: int, asks: int) -> dict[str, float]:
    async with store(name) as (history, storage, streams, bare_trip):
        agent = Agent("bench", tools=[add], history=history, storage=storage, max_turns=50)
        run = uuid.uuid4().hex[:8]
        cids = [f"bench-{run}-{i}" for i in range(asks + 3)]
        options = [
            {"conversation_id": cid, **({"stream": streams(cid)} if streams else {})}
            for cid in cids
        ]
        for i in range(3):  # warm up: connections, schema, caches
            await agent.ask("go", config=ScriptedModel(*script(rounds)), **options[asks + i])
            await bare_trip()
        commands = await redis_commands() if name.startswith("redis") else 0
        models = [ScriptedModel(*script(rounds)) for _ in range(asks)]
        start = time.perf_counter()
        for model, option in zip(models, options, strict=False):
            await agent.ask("go", config=model, **option)
        per_ask = (time.perf_counter() - start) / asks * 1e6
        cmds = (await redis_commands() - commands - 1) / asks if name.startswith("redis") else 0
        trips = TRIPS[name](rounds) if name in TRIPS else 0
        start = time.perf_counter()
        for _ in range(200):
            await bare_trip()
        floor_us = (time.perf_counter() - start) / 200 * 1e6 * trips
        for option in options:
            if "stream" in option:
                await option["stream"].aclose()
    return {"us_per_ask": per_ask, "commands": cmds, "trips": trips, "floor_us": floor_us}


STORES = ("memory", "redis", "redis+stream", "sqlite", "postgresql")


async def main(quick: bool, stores: list[str], out: str | None) -> None:
    asks = 20 if quick else 200
    repeats = 1 if quick else 5
    results: dict[str, Any] = {}
    print(
        f"durable path: median of {repeats} x {asks} asks; floor: the store's bare client making "
        "the same round trips"
    )
    if any(name.startswith("redis") for name in stores):
        from redis.utils import HIREDIS_AVAILABLE

        # The reply parser changes both figures (hiredis parses long replies, loads, far faster).
        print(f"redis-py reply parser: {'hiredis' if HIREDIS_AVAILABLE else 'Python'}")
    header = ("store", "rounds", "us/ask", "spread", "cmds/ask", "trips", "floor", "above floor")
    print(
        f"{header[0]:<14}{header[1]:>7}{header[2]:>10}{header[3]:>18}{header[4]:>10}"
        f"{header[5]:>7}{header[6]:>10}{header[7]:>13}"
    )
    for name in stores:
        for rounds in (1, 5, 20):
            runs = [await measure(name, rounds, asks) for _ in range(repeats)]
            per_ask = [r["us_per_ask"] for r in runs]
            median = statistics.median(per_ask)
            floor = statistics.median(r["floor_us"] for r in runs)
            cmds = statistics.median(r["commands"] for r in runs)
            trips = runs[0]["trips"]
            results[f"{name}/{rounds}"] = {
                "median_us": median,
                "min_us": min(per_ask),
                "max_us": max(per_ask),
                "commands": cmds,
                "round_trips": trips,
                "floor_us": floor,
            }
            spread = f"{min(per_ask):,.0f}-{max(per_ask):,.0f}"
            cmds_text = f"{cmds:.1f}" if name.startswith("redis") else "-"
            trips_text = str(trips) if trips else "-"
            floor_text = f"{floor:,.0f}" if trips else "-"
            above = f"{median - floor:,.0f}" if trips else "-"
            print(
                f"{name:<14}{rounds:>7}{median:>10,.0f}{spread:>18}{cmds_text:>10}"
                f"{trips_text:>7}{floor_text:>10}{above:>13}"
            )
    if out:
        with open(out, "w") as file:  # noqa: ASYNC230 (after the measurements)
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--json")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.stores.split(","), args.json)))
