"""Events per second through the AG-UI endpoint, next to the same answer read in process.

A scripted model streams an answer of N text chunks (N = 100, 1,000, 10,000). Two readers:

- ``endpoint``: ``AGUIApp`` served by uvicorn in a child process on 127.0.0.1 (no token:
  loopback only), read by an ``httpx`` streaming client in this process that parses every
  SSE event's JSON (what a real UI does). Events counted are AG-UI events (N content events
  plus RUN_STARTED, TEXT_MESSAGE_START/END, RUN_FINISHED).
- ``in process`` (the floor): the same agent's ``agent.run(...)``, iterating every Baton
  event (N ``TextChunk``s and the run's recorded events).

Each repetition times one whole answer per reader (the readers take turns); cells are the
median over the repetitions with the min-max spread. The endpoint column pays for
everything between the agent and a UI: translation to AG-UI events, pydantic models, JSON,
SSE framing, HTTP on loopback, and the client's parsing.

    .venv/bin/python -m benchmarks.agui [--quick] [--repeat N]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from ._serving import agui_input, by_path, options, rate_cell, run_server, server_process, sse_data

SIZES = (100, 1_000, 10_000)


def _agent(chunks_count: int) -> Any:
    from baton import Agent
    from baton.testing import ScriptedModel, chunks

    answer = chunks(*(f"t{i} " for i in range(chunks_count)))
    return Agent("bench", config=ScriptedModel(answer, repeat=True, record=False))


def _serve(port: int, sizes: tuple[int, ...]) -> None:
    """The child process: one AG-UI endpoint per size, at /<size>."""
    from baton.agui import AGUIApp

    run_server(
        port, by_path({f"/{n}": AGUIApp(_agent(n), no_token=True, path=f"/{n}") for n in sizes})
    )


async def _endpoint_once(client: Any, url: str, n: int) -> tuple[float, int]:
    body = agui_input()
    events = 0
    start = time.perf_counter()
    async for _ in sse_data(client, "POST", f"{url}/{n}", json=body):
        events += 1
    return time.perf_counter() - start, events


async def _in_process_once(agent: Any) -> tuple[float, int]:
    events = 0
    start = time.perf_counter()
    async with agent.run("go") as run:
        async for _ in run:
            events += 1
        await run.result()
    return time.perf_counter() - start, events


async def _measure(url: str, sizes: tuple[int, ...], repeat: int) -> list[dict[str, Any]]:
    import httpx

    rows: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for n in sizes:
            agent = _agent(n)
            runners: dict[str, Callable[[], Any]] = {
                "endpoint": lambda n=n: _endpoint_once(client, url, n),
                "in_process": lambda agent=agent: _in_process_once(agent),
            }
            for runner in runners.values():  # warm-up
                await runner()
            rates: dict[str, list[float]] = {name: [] for name in runners}
            seconds: dict[str, list[float]] = {name: [] for name in runners}
            counts: dict[str, int] = {}
            for _ in range(repeat):
                for name, runner in runners.items():
                    took, events = await runner()
                    rates[name].append(events / took)
                    seconds[name].append(took)
                    counts[name] = events
            rows.append({"chunks": n, "rates": rates, "seconds": seconds, "events": counts})
    return rows


def main() -> None:
    repeat, quick = options(__doc__, "two repetitions, sizes 100/1,000")
    sizes = SIZES[:2] if quick else SIZES
    with server_process(_serve, sizes) as url:
        rows = asyncio.run(_measure(url, sizes, repeat))
    print(
        f"AG-UI endpoint vs agent.run in process, {repeat} repetitions, events/s median (min-max)"
    )
    print(
        "| chunks | endpoint events/s | in process events/s "
        "| ms per answer: endpoint / in process |"
    )
    print("|---:|---:|---:|---:|")
    for row in rows:
        ms = {k: statistics.median(v) * 1000 for k, v in row["seconds"].items()}
        print(
            f"| {row['chunks']:,} | {rate_cell(row['rates']['endpoint'])} "
            f"| {rate_cell(row['rates']['in_process'])} "
            f"| {ms['endpoint']:.1f} / {ms['in_process']:.1f} |"
        )
    print("events per answer:", {r["chunks"]: r["events"] for r in rows})


if __name__ == "__main__":
    main()
