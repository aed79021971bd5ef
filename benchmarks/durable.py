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
only client; a Lua script counts with the commands it runs, a pipeline with each command). The
floor for a store is one round trip of its client doing nothing (``PING``, ``SELECT 1``).

Targets (issue 9): B with ``RedisHistory`` <= 400 us and on SQLite <= 1,500 us; at most one store
round trip per recorded step.
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


@asynccontextmanager
async def store(name: str) -> AsyncIterator[tuple[History, Storage, Any, Callable[[], Any]]]:
    """(history, storage, stream factory or None, floor round trip) for one store."""
    if name == "memory":

        async def nothing() -> None:
            return None

        yield MemoryHistory(), MemoryStorage(), None, nothing
        return
    if name.startswith("redis"):
        from baton.backends.redis import (
            RedisHistory,
            RedisStorage,
            RedisStream,
            close_pools,
            connect,
        )

        prefix = f"baton-bench:{uuid.uuid4().hex[:8]}:"
        client = connect(REDIS_URL)
        streams = (
            (lambda cid: RedisStream(cid, REDIS_URL, prefix=prefix))
            if name == "redis+stream"
            else None
        )
        try:
            yield (
                RedisHistory(REDIS_URL, prefix=prefix),
                RedisStorage(REDIS_URL, prefix=prefix),
                streams,
                client.ping,
            )
        finally:
            keys = [k async for k in client.scan_iter(f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await close_pools()
        return
    from baton.backends.sql import SQLHistory, SQLStorage
    from baton.backends.sql.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        schema = f"baton_bench_{uuid.uuid4().hex[:8]}"
        url = (
            f"sqlite:///{Path(tmp) / 'bench.db'}"
            if name == "sqlite"
            else f"{POSTGRES_URL}?schema={schema}"
        )
        database = Database.shared(url)
        history, storage = SQLHistory(database), SQLStorage(database)

        async def select_one() -> Any:
            return await database.fetchval("SELECT 1")

        try:
            yield history, storage, None, select_one
        finally:
            if name == "postgresql":
                await database.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await database.aclose()


async def redis_commands() -> int:
    from baton.backends.redis import connect

    stats = await connect(REDIS_URL).info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


async def measure(name: str, rounds: int, asks: int) -> dict[str, float]:
    async with store(name) as (history, storage, streams, floor):
        agent = Agent("bench", tools=[add], history=history, storage=storage, max_turns=50)
        run = uuid.uuid4().hex[:8]
        cids = [f"bench-{run}-{i}" for i in range(asks + 3)]
        options = [
            {"conversation_id": cid, **({"stream": streams(cid)} if streams else {})}
            for cid in cids
        ]
        for i in range(3):  # warm up: connections, schema, caches
            await agent.ask("go", config=ScriptedModel(*script(rounds)), **options[asks + i])
        commands = await redis_commands() if name.startswith("redis") else 0
        models = [ScriptedModel(*script(rounds)) for _ in range(asks)]
        start = time.perf_counter()
        for model, option in zip(models, options, strict=False):
            await agent.ask("go", config=model, **option)
        per_ask = (time.perf_counter() - start) / asks * 1e6
        trips = (await redis_commands() - commands - 1) / asks if name.startswith("redis") else 0
        start = time.perf_counter()
        for _ in range(200):
            await floor()
        floor_us = (time.perf_counter() - start) / 200 * 1e6
        for option in options:
            if "stream" in option:
                await option["stream"].aclose()
    return {"us_per_ask": per_ask, "round_trips": trips, "floor_us": floor_us}


STORES = ("memory", "redis", "redis+stream", "sqlite", "postgresql")


async def main(quick: bool, stores: list[str], out: str | None) -> None:
    asks = 20 if quick else 200
    repeats = 1 if quick else 5
    results: dict[str, Any] = {}
    print(f"durable path: median of {repeats} x {asks} asks; commands per ask: Redis's own counter")
    header = ("store", "rounds", "us/ask", "spread", "cmds/ask", "store floor")
    print(
        f"{header[0]:<14}{header[1]:>7}{header[2]:>10}{header[3]:>18}{header[4]:>11}{header[5]:>13}"
    )
    for name in stores:
        for rounds in (1, 5, 20):
            runs = [await measure(name, rounds, asks) for _ in range(repeats)]
            per_ask = [r["us_per_ask"] for r in runs]
            median = statistics.median(per_ask)
            trips = statistics.median(r["round_trips"] for r in runs)
            floor = statistics.median(r["floor_us"] for r in runs)
            results[f"{name}/{rounds}"] = {
                "median_us": median,
                "min_us": min(per_ask),
                "max_us": max(per_ask),
                "round_trips": trips,
                "floor_us": floor,
            }
            spread = f"{min(per_ask):,.0f}-{max(per_ask):,.0f}"
            trips_text = f"{trips:.1f}" if name.startswith("redis") else "-"
            print(
                f"{name:<14}{rounds:>7}{median:>10,.0f}{spread:>18}{trips_text:>11}{floor:>11.0f}us"
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
