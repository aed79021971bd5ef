"""The Redis backends on a loopback Redis: append throughput, watcher latency, history load.

    python -m benchmarks.redis_backends            # a few seconds
    python -m benchmarks.redis_backends --quick    # a smoke run

Targets (the issue): appending events through the Redis stream >= 20,000 events/s from one
process with pipelining (``RedisStream.send_many``); watcher latency from append to delivery
p50 <= 2 ms (a ``RedisWatcher`` in the same process, on its own connection); a 1,000-event
history loads in <= 10 ms (``RedisHistory.load``, decoding included), a 10,000-event one in
<= 30 ms (3 us per event, issue 19 point 5). ``send`` one at a time
(one round trip per event, as an agent's loop does) is shown for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from baton.backends.redis import RedisHistory, RedisStream, RedisWatcher, close_pools, connect
from baton.events import Event, HumanMessage, ModelRequest, ModelResponse, Text, Usage

URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")


def sample_events(n: int) -> list[Event]:
    """A conversation-like mix: requests, responses with usage, human messages."""
    out: list[Event] = []
    for i in range(n):
        if i % 3 == 0:
            out.append(ModelRequest((Text(f"question number {i} about the weather"),)))
        elif i % 3 == 1:
            out.append(ModelResponse(f"answer {i}: sunny, 21 degrees", usage=Usage(1, 40, 12)))
        else:
            out.append(HumanMessage(f"thanks {i}"))
    return out


async def append_throughput(prefix: str, total: int, batch: int) -> dict[str, float]:
    stream = RedisStream("append", URL, prefix=prefix)
    events = sample_events(batch)
    start = time.perf_counter()
    for _ in range(total // batch):
        await stream.send_many(events)
    pipelined = total / (time.perf_counter() - start)
    single = RedisStream("single", URL, prefix=prefix)
    count = min(total, 5_000)
    start = time.perf_counter()
    for event in events * (count // batch):
        await single.send(event)
    one_by_one = count / (time.perf_counter() - start)
    await stream.aclose()
    await single.aclose()
    return {"pipelined_events_per_s": pipelined, "send_events_per_s": one_by_one}


async def watcher_latency(prefix: str, samples: int) -> dict[str, float]:
    import redis.asyncio

    stream = RedisStream("latency", URL, prefix=prefix)
    own = redis.asyncio.Redis.from_url(URL)
    watcher = RedisWatcher("latency", own, prefix=prefix)
    await watcher.attach()
    latencies: list[float] = []
    for i in range(samples):
        reading = asyncio.create_task(watcher.__anext__())
        await asyncio.sleep(0.0005)  # the watcher is blocked in XREAD, as a live one would be
        start = time.perf_counter()
        await stream.send(HumanMessage(str(i)))
        await reading
        latencies.append((time.perf_counter() - start) * 1000)
    await own.aclose()
    await stream.aclose()
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


async def history_load(prefix: str, size: int, rounds: int) -> dict[str, float]:
    history = RedisHistory(URL, prefix=prefix)
    conversation = f"load-{size}"
    await history.append(conversation, sample_events(size))
    timings: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        loaded = await history.load(conversation)
        timings.append((time.perf_counter() - start) * 1000)
        assert len(loaded) == size
    # The floor: redis-py's LRANGE and one JSON parse of the payloads, no events built.
    client = connect(URL)
    key = history.key(conversation)
    floor: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        payloads = await client.lrange(key, 0, -1)
        from_json(b"[" + b",".join(payloads) + b"]")
        floor.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": statistics.median(timings),
        "best_ms": min(timings),
        "floor_ms": statistics.median(floor),
    }


async def run(quick: bool) -> dict[str, Any]:
    prefix = f"baton-bench:{os.getpid()}:"
    client = connect(URL)
    try:
        await client.ping()
        results = {
            "append": await append_throughput(prefix, 20_000 if quick else 200_000, 500),
            "watcher": await watcher_latency(prefix, 200 if quick else 2_000),
            "history_1000": await history_load(prefix, 1_000, 20 if quick else 200),
            "history_10000": await history_load(prefix, 10_000, 5 if quick else 30),
        }
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await close_pools()
    return results


def report(results: dict[str, Any]) -> bool:
    append, watcher, load = results["append"], results["watcher"], results["history_1000"]
    load_10k = results["history_10000"]
    rows = [
        ("append, pipelined (send_many)", append["pipelined_events_per_s"], ">=", 20_000, "ev/s"),
        ("append, one send at a time", append["send_events_per_s"], "", None, "ev/s"),
        ("watcher latency p50", watcher["p50_ms"], "<=", 2.0, "ms"),
        ("watcher latency p99", watcher["p99_ms"], "", None, "ms"),
        ("load 1,000-event history (median)", load["median_ms"], "<=", 10.0, "ms"),
        ("load 10,000-event history (median)", load_10k["median_ms"], "<=", 30.0, "ms"),
        ("  per event", load_10k["median_ms"] / 10, "<=", 3.0, "us"),
        ("  floor: LRANGE + parse, 1,000", load["floor_ms"], "", None, "ms"),
        ("  floor: LRANGE + parse, 10,000", load_10k["floor_ms"], "", None, "ms"),
    ]
    ok = True
    for name, value, op, target, unit in rows:
        verdict = ""
        if target is not None:
            met = value >= target if op == ">=" else value <= target
            ok = ok and met
            verdict = f"target {op} {target:,} {unit}: {'met' if met else 'MISSED'}"
        print(f"{name:<36} {value:>12,.2f} {unit:<5} {verdict}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.quick))
    ok = report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"results written to {args.json}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
