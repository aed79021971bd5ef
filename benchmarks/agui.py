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

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

SIZES = (100, 1_000, 10_000)


def _agent(chunks_count: int) -> Any:
    from baton import Agent
    from baton.testing import ScriptedModel, chunks

    answer = chunks(*(f"t{i} " for i in range(chunks_count)))
    return Agent("bench", config=ScriptedModel(answer, repeat=True, record=False))


def _serve(port: int, sizes: tuple[int, ...]) -> None:
    """The child process: one AG-UI endpoint per size, at /<size>."""
    import uvicorn

    from baton.agui import AGUIApp

    apps = {f"/{n}": AGUIApp(_agent(n), no_token=True, path=f"/{n}") for n in sizes}

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await apps[scope["path"]](scope, receive, send)

    uvicorn.run(dispatch, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the AG-UI server did not start")


async def _endpoint_once(client: Any, url: str, n: int) -> tuple[float, int]:
    body = {
        "threadId": f"bench-{time.perf_counter_ns()}",
        "runId": "r",
        "messages": [{"id": "u", "role": "user", "content": "go"}],
    }
    events = 0
    start = time.perf_counter()
    async with client.stream("POST", f"{url}/{n}", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                json.loads(line[5:])
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


def _cell(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two repetitions, sizes 100/1,000")
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    sizes = SIZES[:2] if options.quick else SIZES
    repeat = 2 if options.quick else options.repeat
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(port, sizes), daemon=True
    )
    server.start()
    try:
        _wait_listening(port)
        rows = asyncio.run(_measure(f"http://127.0.0.1:{port}", sizes, repeat))
    finally:
        server.terminate()
        server.join(10)
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
            f"| {row['chunks']:,} | {_cell(row['rates']['endpoint'])} "
            f"| {_cell(row['rates']['in_process'])} "
            f"| {ms['endpoint']:.1f} / {ms['in_process']:.1f} |"
        )
    print("events per answer:", {r["chunks"]: r["events"] for r in rows})


if __name__ == "__main__":
    main()
