"""Watching a conversation from another process: ``RedisWatcher`` next to a bare XREAD loop.

    python -m benchmarks.redis_watch            # about half a minute, needs Redis on loopback
    python -m benchmarks.redis_watch --quick    # a smoke run

A sender appends events to a conversation's stream with ``RedisStream.send`` (one XADD per
event, as an agent's loop does), either paced (one event, then a pause of 1 ms) or in a burst
(back to back). A reader in another process follows the stream and, for each event, notes how
long after its send it was delivered (the send time travels in the event; both processes read
the same monotonic clock). The reader is either Baton's ``RedisWatcher`` (``async for`` over
decoded events) or the floor: redis-py's own ``XREAD BLOCK`` loop reading the same entries and
parsing each one's JSON, nothing more. Readers take turns; per size the table gives p50 and
p99 of all deliveries over the repetitions.

Target (issue 19): the watcher's p99 at most 2x the bare loop's, paced and in bursts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the readers (each in a process of its own) -----------------------------------------------


async def read_with_watcher(conversation: str, prefix: str, count: int) -> list[float]:
    from baton.backends.redis import RedisWatcher
    from baton.events import HumanMessage

    latencies: list[float] = []
    watcher = RedisWatcher(conversation, URL, prefix=prefix)
    await watcher.attach()
    print("ready", flush=True)
    async for event in watcher:
        now = time.perf_counter()
        assert isinstance(event, HumanMessage)
        latencies.append((now - float(event.text)) * 1000)
        if len(latencies) == count:
            break
    return latencies


async def read_bare(conversation: str, prefix: str, count: int) -> list[float]:
    import redis.asyncio

    from baton.backends.redis.stream import stream_key

    client = redis.asyncio.Redis.from_url(URL)
    key = stream_key(conversation, prefix)
    last = await client.xrevrange(key, count=1)
    cursor = last[0][0] if last else b"0-0"
    print("ready", flush=True)
    latencies: list[float] = []
    while len(latencies) < count:
        response = await client.xread({key: cursor}, count=512, block=1000)
        for _key, entries in response or ():
            for entry_id, fields in entries:
                now = time.perf_counter()
                cursor = entry_id
                data = json.loads(fields[b"e"])
                latencies.append((now - float(data["text"])) * 1000)
    await client.aclose()
    return latencies[:count]


def reader_main(kind: str, conversation: str, prefix: str, count: int) -> None:
    read = read_with_watcher if kind == "watcher" else read_bare
    latencies = asyncio.run(read(conversation, prefix, count))
    print(json.dumps(latencies), flush=True)


# -- the sender -----------------------------------------------------------------------------


async def one_run(kind: str, pattern: str, count: int, prefix: str) -> list[float]:
    from baton.backends.redis import RedisStream
    from baton.events import HumanMessage

    conversation = uuid.uuid4().hex
    reader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.redis_watch",
        "--read",
        kind,
        "--conversation",
        conversation,
        "--prefix",
        prefix,
        "--count",
        str(count),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,  # the reader answers with one JSON line of all its latencies
    )
    assert reader.stdout is not None
    assert (await reader.stdout.readline()).strip() == b"ready"
    stream = RedisStream(conversation, URL, prefix=prefix)
    try:
        if pattern == "pipelined":  # send_many: 100 events per round trip
            for _ in range(0, count, 100):
                await stream.send_many(
                    [HumanMessage(repr(time.perf_counter())) for _ in range(100)]
                )
        else:
            for _ in range(count):
                await stream.send(HumanMessage(repr(time.perf_counter())))
                if pattern == "paced":
                    await asyncio.sleep(0.001)
        output = await asyncio.wait_for(reader.stdout.readline(), 60)
        await reader.wait()
    finally:
        await stream.delete()
        await stream.aclose()
    latencies: list[float] = json.loads(output)
    return latencies


PATTERNS = (
    ("paced", 300),
    ("burst", 1000),
    ("burst", 5000),
    ("pipelined", 1000),
    ("pipelined", 5000),
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from baton.backends.redis import close_pools

    prefix = f"baton-bench-watch:{os.getpid()}:"
    reps = 1 if args.quick else args.reps
    results: dict[str, Any] = {}
    for pattern, count in PATTERNS:
        if args.quick:
            count = min(count, 300)
        samples: dict[str, list[float]] = {"watcher": [], "bare": []}
        for rep in range(reps):
            order = ("watcher", "bare") if rep % 2 == 0 else ("bare", "watcher")
            for kind in order:
                samples[kind] += await one_run(kind, pattern, count, prefix)
        row = {
            kind: {
                "p50_ms": statistics.median(values),
                "p99_ms": percentile(values, 0.99),
            }
            for kind, values in samples.items()
        }
        results[f"{pattern} {count}"] = row
        watcher, bare = row["watcher"], row["bare"]
        print(
            f"{pattern:>6} {count:>5} events   watcher p50 {watcher['p50_ms']:7.2f} ms  "
            f"p99 {watcher['p99_ms']:7.2f} ms   bare XREAD p50 {bare['p50_ms']:7.2f} ms  "
            f"p99 {bare['p99_ms']:7.2f} ms   p99 ratio {watcher['p99_ms'] / bare['p99_ms']:.1f}x",
            flush=True,
        )
    await close_pools()
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--read", choices=["watcher", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--conversation", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        reader_main(args.read, args.conversation, args.prefix, args.count)
        return
    results = asyncio.run(main(args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    cli()
