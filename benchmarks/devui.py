"""Events per second delivered to the dev page, next to the bare AG-UI endpoint (the floor).

A scripted model streams an answer of N text chunks (N = 100, 1,000, 10,000). Both servers run
under uvicorn in one child process on 127.0.0.1; the client is ``httpx`` in this process and
parses every event's JSON, as the page does.

- ``bare AG-UI`` (the floor): ``AGUIApp`` alone (no token: loopback only). One POST, its
  AG-UI events read to the end (N content events and 5 others).
- ``dev page``: ``DevApp`` (token, cookie gate, the recorder middleware and observer on every
  ask). What the page does for one message: its timeline stream
  (``/api/conversations/<id>/timeline``) is open, then it POSTs the message to ``/agui/`` and
  reads that stream too. Timed from the POST to the last of both streams; counted are the
  timeline's entries (N ``TextChunk`` entries and the run's 5 stored events), and, beside them,
  the AG-UI events of the same answer.

Each repetition times one whole answer per reader (they take turns); cells are the median over
the repetitions with the min-max spread.

    .venv/bin/python -m benchmarks.devui [--quick] [--repeat N]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from ._serving import agui_input, options, rate_cell, run_server, server_process, sse_data
from .agui import _agent

SIZES = (100, 1_000, 10_000)
TOKEN = "bench-token-0123456789abcdef"


def _serve(port: int, sizes: tuple[int, ...]) -> None:
    """The child process: at /bare/<n> a bare AG-UI endpoint, at /dev/<n>/... a dev server."""
    from baton.agui import AGUIApp
    from baton.devui import DevApp
    from baton.history import MemoryHistory, MemoryStorage

    bare = {f"/bare/{n}": AGUIApp(_agent(n), no_token=True, path=f"/bare/{n}") for n in sizes}
    dev: dict[str, Any] = {}
    for n in sizes:
        agent = _agent(n)
        agent.history, agent.storage = MemoryHistory(), MemoryStorage()
        dev[f"/dev/{n}"] = DevApp(agent, token=TOKEN)

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        if path in bare:
            await bare[path](scope, receive, send)
            return
        prefix = "/".join(path.split("/", 3)[:3])  # /dev/<n>
        inner = {**scope, "path": path[len(prefix) :], "raw_path": None}
        await dev[prefix](inner, receive, send)

    run_server(port, dispatch)


async def _bare_once(client: Any, url: str, n: int) -> tuple[float, int]:
    events = 0
    start = time.perf_counter()
    body = agui_input()
    async for _ in sse_data(client, "POST", f"{url}/bare/{n}", json=body):
        events += 1
    return time.perf_counter() - start, events


async def _dev_once(client: Any, url: str, n: int) -> tuple[float, int, int]:
    base = f"{url}/dev/{n}"
    headers = {"authorization": f"Bearer {TOKEN}"}
    thread = f"bench-{time.perf_counter_ns()}"
    opened = asyncio.Event()

    async def timeline() -> int:
        entries = 0
        path = f"{base}/api/conversations/{thread}/timeline"
        async with client.stream("GET", path, headers=headers) as response:
            kind = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if kind == "snapshot":
                        opened.set()
                        continue
                    entries += 1
                    if data["event"]["type"] == "RunFinished":
                        return entries
        return entries

    async def chat() -> int:
        events = 0
        answer = sse_data(client, "POST", f"{base}/agui/", json=agui_input(thread), headers=headers)
        async for _ in answer:
            events += 1
        return events

    watching = asyncio.create_task(timeline())
    await opened.wait()
    start = time.perf_counter()
    agui_events, entries = await asyncio.gather(chat(), watching)
    return time.perf_counter() - start, entries, agui_events


async def _measure(url: str, sizes: tuple[int, ...], repeat: int) -> list[dict[str, Any]]:
    import httpx

    rows: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for n in sizes:
            await _bare_once(client, url, n)  # warm-up
            await _dev_once(client, url, n)
            bare: list[float] = []
            timeline: list[float] = []
            agui: list[float] = []
            seconds: dict[str, list[float]] = {"bare": [], "dev": []}
            counts: dict[str, int] = {}
            for _ in range(repeat):
                took, events = await _bare_once(client, url, n)
                bare.append(events / took)
                seconds["bare"].append(took)
                took, entries, agui_events = await _dev_once(client, url, n)
                timeline.append(entries / took)
                agui.append(agui_events / took)
                seconds["dev"].append(took)
                counts = {"bare": events, "timeline": entries, "dev agui": agui_events}
            rows.append(
                {
                    "chunks": n,
                    "bare": bare,
                    "timeline": timeline,
                    "agui": agui,
                    "seconds": seconds,
                    "counts": counts,
                }
            )
    return rows


def main() -> None:
    repeat, quick = options(__doc__, "two repetitions, sizes 100/1,000")
    sizes = SIZES[:2] if quick else SIZES
    with server_process(_serve, sizes) as url:
        rows = asyncio.run(_measure(url, sizes, repeat))
    print(f"dev page vs bare AG-UI endpoint, {repeat} repetitions, events/s median (min-max)")
    print(
        "| chunks | bare AG-UI events/s | dev page: timeline entries/s | dev page: AG-UI events/s "
        "| ms per answer: bare / dev page |"
    )
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        ms = {k: statistics.median(v) * 1000 for k, v in row["seconds"].items()}
        print(
            f"| {row['chunks']:,} | {rate_cell(row['bare'])} | {rate_cell(row['timeline'])} "
            f"| {rate_cell(row['agui'])} | {ms['bare']:.1f} / {ms['dev']:.1f} |"
        )
    print("events per answer:", {r["chunks"]: r["counts"] for r in rows})


if __name__ == "__main__":
    main()
