"""SQL backends: how long a stored conversation takes to load, and how fast events append.

    python -m benchmarks.sql_backends            # SQLite and PostgreSQL, about half a minute
    python -m benchmarks.sql_backends --quick    # a smoke run

Targets: a 1,000-event history loads in <= 10 ms; a 10,000-event one in <= 30 ms (3 us per
event, issue 19 point 5). The conversation is realistic: asks of a user request, a model
response with two tool calls and usage, two tool results, a final response, a usage report and
the run's start and end. Loads are timed warm (pool open, schema
checked), as an agent continuing a conversation sees them; the "fetch" column is the rows
query alone, and the floors are what a load costs before any event is built: the rows plus one
JSON parse of the payloads (``pydantic_core.from_json``), and the payloads joined into one
array by the database (as the load fetches them) plus the parse. Appends are one event per
call (what the agent loop does), batches of 10, and 8 concurrent writers on one conversation.

PostgreSQL is at ``--postgres-url`` (default: the test server, ``postgresql://postgres@127.0.0.1/
test``); its tables go in a throwaway schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic_core import from_json

from baton.backends.sql import SQLHistory
from baton.events import (
    Event,
    ModelRequest,
    ModelResponse,
    RunFinished,
    RunStarted,
    Text,
    ToolCall,
    ToolCallResult,
    Usage,
    UsageLine,
    UsageReport,
)

TARGET_MS = 10.0


def conversation(n: int) -> list[Event]:
    """``n`` events of realistic asks (9 events each)."""
    events: list[Event] = []
    usage = Usage(1, 1200, 80, 1000, 0, 20, 2, 0.0031)
    ask = 0
    while len(events) < n:
        run = f"run-{ask}"
        calls = (
            ToolCall(f"call-{ask}-a", "search", '{"query": "weather in Lisbon", "limit": 5}'),
            ToolCall(f"call-{ask}-b", "lookup", '{"id": 42}'),
        )
        events += [
            RunStarted(run, "assistant", "conv"),
            ModelRequest((Text(f"Question number {ask}: what should I pack for Lisbon?"),)),
            ModelResponse("", calls, usage, "tool_calls", "gpt-5", "openai"),
            ToolCallResult(calls[0].id, "search", "Sunny, 24 C, light wind. " * 4, None),
            ToolCallResult(calls[1].id, "lookup", '{"name": "Ana", "city": "Lisbon"}', None),
            ModelResponse("Pack light clothes and sunscreen. " * 6, (), usage, "stop", "gpt-5"),
            UsageReport(usage + usage, (UsageLine("model", "openai", "gpt-5", usage + usage),)),
            RunFinished(run, "Pack light clothes and sunscreen."),
        ]
        ask += 1
    return events[:n]


async def timed(fn: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    await fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


_LOAD = "SELECT seq, type, payload FROM baton_events WHERE conversation_id = $1 ORDER BY seq"
# The payloads joined into one JSON array by the database, as ``SQLHistory.load`` fetches
# them (without the seqs and types it checks them against).
_JOINED = {
    "postgresql": "SELECT '[' || string_agg(payload::text, ',') || ']' FROM (SELECT payload "
    "FROM baton_events WHERE conversation_id = $1 ORDER BY seq) AS e",
    "sqlite": "SELECT '[' || group_concat(payload, ',') || ']' FROM baton_events "
    "WHERE conversation_id = $1",
}


async def fetch_rows(history: SQLHistory, cid: str) -> object:
    """The query alone, through the backend's own connection."""
    return await history.db.fetch(_LOAD, cid)


async def fetch_and_parse(history: SQLHistory, cid: str) -> object:
    """A floor of a load: the rows and one JSON parse of every payload (no events built)."""
    rows = await history.db.fetch(_LOAD, cid)
    return from_json("[" + ",".join([r[2] for r in rows]) + "]")


async def joined_and_parse(history: SQLHistory, cid: str) -> object:
    """The other floor: the payloads joined by the database and one JSON parse of them."""
    return from_json(await history.db.fetchval(_JOINED[history.db.dialect], cid))


async def bench(label: str, url: str, quick: bool) -> list[str]:
    lines = []
    repeat = 10 if quick else 50
    async with SQLHistory(url) as history:
        for n in (100, 1000) if quick else (100, 1000, 5000, 10_000):
            cid = f"load-{n}"
            events = conversation(n)
            for start in range(0, n, 100):
                await history.append(cid, events[start : start + 100])
            loaded = await history.load(cid)
            assert loaded == events
            load = await timed(lambda cid=cid: history.load(cid), repeat)
            fetch = await timed(lambda cid=cid: fetch_rows(history, cid), repeat)
            floor = await timed(lambda cid=cid: fetch_and_parse(history, cid), repeat)
            joined = await timed(lambda cid=cid: joined_and_parse(history, cid), repeat)
            med = statistics.median(load)
            mark = ""
            if n == 1000:
                mark = "  OK (<= 10 ms)" if med <= TARGET_MS else "  OVER the 10 ms target"
            if n == 10_000:
                mark = "  OK (<= 3 us/event)" if med <= 30 else "  OVER the 3 us/event target"
            lines.append(
                f"{label:<11} load {n:>5} events: median {med:7.2f} ms  "
                f"{med / n * 1000:5.2f} us/event  "
                f"p90 {sorted(load)[int(len(load) * 0.9)]:7.2f} ms  "
                f"(fetch {statistics.median(fetch):6.2f} ms; floor: fetch + parse "
                f"{statistics.median(floor) / n * 1000:5.2f} us/event, joined by the "
                f"database + parse {statistics.median(joined) / n * 1000:5.2f}){mark}"
            )

        count = 200 if quick else 1000
        singles = conversation(count)
        start = time.perf_counter()
        for event in singles:
            await history.append("append-1", [event])
        rate = count / (time.perf_counter() - start)
        lines.append(f"{label:<11} append one event per call:  {rate:8.0f} events/s")

        start = time.perf_counter()
        for i in range(0, count, 10):
            await history.append("append-10", singles[i : i + 10])
        rate = count / (time.perf_counter() - start)
        lines.append(f"{label:<11} append batches of 10:       {rate:8.0f} events/s")

        per_writer = count // 8

        async def writer() -> None:
            for event in singles[:per_writer]:
                await history.append("append-8", [event])

        start = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(8)))
        rate = per_writer * 8 / (time.perf_counter() - start)
        assert await history.length("append-8") == per_writer * 8
        lines.append(f"{label:<11} 8 concurrent writers:       {rate:8.0f} events/s")
    return lines


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    print(f"Python {sys.version.split()[0]}; target: 1,000-event load <= {TARGET_MS:g} ms")
    with tempfile.TemporaryDirectory() as tmp:
        for line in await bench("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.quick):
            print(line, flush=True)
    if not args.no_postgres:
        schema = f"baton_bench_{uuid.uuid4().hex[:12]}"
        try:
            lines = await bench("postgresql", f"{args.postgres_url}?schema={schema}", args.quick)
        except OSError as exc:
            print(f"postgresql  skipped: {exc}")
            return 0
        finally:
            with contextlib.suppress(OSError):
                await drop_schema(args.postgres_url, schema)
        for line in lines:
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
