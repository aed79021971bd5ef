"""Workers over Redis Streams: tasks/s with 1, 2 and 4 worker processes next to the floor, and
the end-to-end latency of one task.

    python -m benchmarks.workers            # about a minute
    python -m benchmarks.workers --quick    # a smoke run

Each worker process is ``baton worker run`` (``python -m baton.cli``) with ``--concurrency 16``
on the loopback Redis (``$BATON_REDIS_URL``), under a key prefix of its own, deleted after. Two
kinds of task:

- ``noop``: an agent that answers ``{}`` at once without a model: what the runner itself costs
  (the read, the input schema check, the lease, the outcome written with the acknowledgement);
- ``scripted``: ``spec.agent(config=ScriptedModel(...))``, a whole ask with structured output.

The floor is the bare redis-py loop the runner is built on, in as many processes: each reads up
to 16 entries with ``XREADGROUP`` and acknowledges each one (``XACK`` and ``XDEL`` pipelined,
one round trip per task). Tasks are enqueued before the clock starts; it stops when the stream
is empty (every task acknowledged). Targets (issue 14): noop >= 50 % of the floor, and
throughput that grows with processes up to the cores available.

Latency: one task at a time through ``WorkerClient.run`` (XADD, the worker's read, its run, the
outcome, the client woken by its ``BLPOP``), p50 and p99, with one worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from baton.events import Usage
from baton.testing import ScriptedModel
from baton.worker import WorkerSpec
from baton.worker.redis_client import GROUP, RedisKeys, WorkerClient

URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent
SPEC = WorkerSpec("bench", timeout_seconds=30)


class _Reply:
    output: dict[str, Any] = {}  # noqa: RUF012 (read only)
    usage = Usage()


class NoOpAgent:
    """Answers ``{}`` at once, without a model: the runner's own cost."""

    name = "noop"
    history = None
    storage = None

    async def ask(self, prompt: Any, **options: Any) -> _Reply:
        return _Reply()


noop = NoOpAgent()
scripted = SPEC.agent(config=ScriptedModel('{"answer": "ok"}', repeat=True, record=False))


def payload(i: int) -> dict[str, Any]:
    return {"run_id": f"t{i}", "task": "Do it.", "context": {"i": i}}


async def enqueue(client: Any, stream: str, count: int, offset: int = 0) -> None:
    """``count`` tasks on ``stream``, pipelined (the producer is not what is measured)."""
    for start in range(0, count, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(start + 1000, count)):
            data = payload(offset + i)
            pipe.xadd(stream, {"run_id": data["run_id"], "payload": json.dumps(data)})
        await pipe.execute()


async def drained(client: Any, stream: str) -> None:
    """Until every task of ``stream`` is acknowledged and deleted."""
    while await client.xlen(stream):  # noqa: ASYNC110 (another process's work: polled)
        await asyncio.sleep(0.005)


def start_workers(kind: str, processes: int, prefix: str, spec_path: Path) -> list[Any]:
    args = [sys.executable, "-m", "baton.cli", "worker", "run", str(spec_path)]
    args += ["--agent", f"benchmarks.workers:{kind}", "--redis", URL, "--prefix", prefix]
    args += ["--concurrency", "16"]
    workers = []
    for _ in range(processes):
        worker = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        if "ready" not in worker.stdout.readline():
            raise RuntimeError("a worker process did not start")
        workers.append(worker)
    return workers


def start_floor(processes: int, stream: str) -> list[Any]:
    args = [sys.executable, "-m", "benchmarks.workers", "--floor-consumer", stream]
    floors = []
    for i in range(processes):
        floor = subprocess.Popen([*args, f"c{i}"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert floor.stdout is not None
        if "ready" not in floor.stdout.readline():
            raise RuntimeError("a floor consumer did not start")
        floors.append(floor)
    return floors


def stop(processes: list[Any]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


async def floor_consumer(stream: str, name: str) -> None:
    """The bare loop: XREADGROUP up to 16 entries, then XACK + XDEL each (one round trip)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(URL)
    print("ready", flush=True)
    while True:
        answer: Any = await client.xreadgroup(GROUP, name, {stream: ">"}, count=16, block=1000)
        for _stream, entries in answer or ():
            for entry_id, _fields in entries:
                pipe = client.pipeline(transaction=False)
                pipe.xack(stream, GROUP, entry_id)
                pipe.xdel(stream, entry_id)
                await pipe.execute()


async def throughput(kind: str, processes: int, tasks: int) -> float:
    """Tasks/s of ``kind`` (``floor``, ``noop`` or ``scripted``) with ``processes``."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(URL)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    keys = RedisKeys(SPEC.id, prefix)
    await client.xgroup_create(keys.tasks, GROUP, id="0", mkstream=True)
    with tempfile.TemporaryDirectory() as directory:
        spec_path = Path(directory) / "bench.worker.md"
        spec_path.write_text(SPEC.to_markdown())
        workers = (
            start_floor(processes, keys.tasks)
            if kind == "floor"
            else start_workers(kind, processes, prefix, spec_path)
        )
        try:
            await enqueue(client, keys.tasks, tasks // 10, offset=tasks)  # warm up
            await drained(client, keys.tasks)
            await enqueue(client, keys.tasks, tasks)
            start = time.perf_counter()
            await drained(client, keys.tasks)
            elapsed = time.perf_counter() - start
        finally:
            stop(workers)
            await _delete(client, prefix)
            await client.aclose()
    return tasks / elapsed


async def latency(samples: int) -> tuple[float, float]:
    """p50 and p99 (ms) of one noop task, submit to result, with one worker process."""
    import redis.asyncio

    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    client = WorkerClient(URL, SPEC.id, prefix=prefix)
    raw = redis.asyncio.Redis.from_url(URL)
    with tempfile.TemporaryDirectory() as directory:
        spec_path = Path(directory) / "bench.worker.md"
        spec_path.write_text(SPEC.to_markdown())
        workers = start_workers("noop", 1, prefix, spec_path)
        try:
            times = []
            for i in range(samples + 20):
                start = time.perf_counter()
                output = await client.run(payload(i), timeout=30)
                if i >= 20:  # the first ones warm up
                    times.append((time.perf_counter() - start) * 1000)
                assert output["status"] == "ok", output
        finally:
            stop(workers)
            await _delete(raw, prefix)
            await raw.aclose()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def _delete(client: Any, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(f"{prefix}*")]
    for start in range(0, len(keys), 500):
        await client.delete(*keys[start : start + 500])


async def main(quick: bool, repeat: int) -> None:
    tasks = 500 if quick else 4000
    counts = (1, 2) if quick else (1, 2, 4)
    runs: dict[str, dict[int, list[float]]] = {}
    for _ in range(1 if quick else repeat):  # the kinds take turns: load changes hit all alike
        for processes in counts:
            for kind in ("floor", "noop", "scripted"):
                figure = await throughput(kind, processes, tasks)
                runs.setdefault(kind, {}).setdefault(processes, []).append(figure)
    rows = {k: {n: statistics.median(v) for n, v in by.items()} for k, by in runs.items()}
    print(
        f"\ntasks/s, median of {1 if quick else repeat} ({tasks} tasks, --concurrency 16 per "
        f"process; {os.cpu_count()} cores)\n"
    )
    print("| task | " + " | ".join(f"{n} process{'es' * (n > 1)}" for n in counts) + " |")
    print("|---|" + "--:|" * len(counts))
    for kind, by_count in rows.items():
        cells = []
        for n in counts:
            share = by_count[n] / rows["floor"][n]
            cells.append(f"{by_count[n]:,.0f}" + ("" if kind == "floor" else f" ({share:.0%})"))
        print(f"| {kind} | " + " | ".join(cells) + " |")
    p50, p99 = await latency(50 if quick else 300)
    print(f"\nlatency of one noop task, submit to result: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor-consumer", nargs=2, metavar=("STREAM", "NAME"))
    options = parser.parse_args()
    if options.floor_consumer:
        asyncio.run(floor_consumer(*options.floor_consumer))
    else:
        asyncio.run(main(options.quick, options.repeat))
