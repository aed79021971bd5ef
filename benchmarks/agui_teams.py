"""A team through the AG-UI endpoint, next to the same team read in process.

A ``RoundRobin`` of two scripted agents runs T member turns per ask (T = 2, 10, 50; a
``MaxTurns(T)``), each turn streaming an answer of 20 text chunks. Two readers:

- ``endpoint``: ``AGUIApp(team)`` served by uvicorn in a child process on 127.0.0.1 (no token:
  loopback only), read by an ``httpx`` streaming client here that parses every SSE event's
  JSON. Each member turn is a step (``STEP_STARTED`` / ``STEP_FINISHED``) with its message.
- ``in process`` (the floor): the same team's ``team.run(...)``, iterating every Baton event
  (the chunks, every member's recorded events and the team's own).

Cells are the milliseconds per member turn, median over the repetitions with the min-max
spread; flat across T means the cost grows linearly with the turns.

    .venv/bin/python -m benchmarks.agui_teams [--quick] [--repeat N]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from ._serving import agui_input, by_path, options, run_server, server_process, sse_data

TURNS = (2, 10, 50)
CHUNKS = 20


def _team(turns: int) -> Any:
    from baton import Agent
    from baton.teams import MaxTurns, RoundRobin
    from baton.testing import ScriptedModel, chunks

    def member(name: str) -> Any:
        answer = chunks(*(f"{name}{i} " for i in range(CHUNKS)))
        return Agent(name, config=ScriptedModel(answer, repeat=True, record=False))

    return RoundRobin([member("a"), member("b")], termination=MaxTurns(turns), max_turns=turns)


def _serve(port: int, sizes: tuple[int, ...]) -> None:
    """The child process: one AG-UI endpoint per team size, at /<turns>."""
    from baton.agui import AGUIApp

    run_server(
        port, by_path({f"/{t}": AGUIApp(_team(t), no_token=True, path=f"/{t}") for t in sizes})
    )


async def _endpoint_once(client: Any, url: str, turns: int) -> tuple[float, int]:
    body = agui_input()
    steps = 0
    start = time.perf_counter()
    async for event in sse_data(client, "POST", f"{url}/{turns}", json=body):
        if event["type"] == "STEP_STARTED":
            steps += 1
    return time.perf_counter() - start, steps


async def _in_process_once(team: Any) -> tuple[float, int]:
    from baton.events import RunStarted

    steps = 0
    start = time.perf_counter()
    async with team.run("go") as run:
        async for event in run:
            if isinstance(event, RunStarted):
                steps += 1
        await run.result()
    return time.perf_counter() - start, steps


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


async def _measure(url: str, sizes: tuple[int, ...], repeat: int) -> list[dict[str, Any]]:
    import httpx

    rows: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for turns in sizes:
            team = _team(turns)
            runners = {
                "endpoint": lambda t=turns: _endpoint_once(client, url, t),
                "in_process": lambda team=team: _in_process_once(team),
            }
            for runner in runners.values():  # warm-up
                await runner()
            per_turn: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(repeat):
                for name, runner in runners.items():
                    took, steps = await runner()
                    if steps != turns:
                        raise RuntimeError(f"{name}: {steps} member turns, expected {turns}")
                    per_turn[name].append(took * 1000 / turns)
            rows.append({"turns": turns, "ms": per_turn})
    return rows


def main() -> None:
    repeat, quick = options(__doc__, "two repetitions, T = 2 and 10")
    sizes = TURNS[:2] if quick else TURNS
    with server_process(_serve, sizes) as url:
        rows = asyncio.run(_measure(url, sizes, repeat))
    print(f"a team over AG-UI vs team.run in process, {CHUNKS} chunks a turn, {repeat} reps")
    print("| member turns | endpoint ms/turn | in process ms/turn | ratio |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        ms = row["ms"]
        ratio = statistics.median(ms["endpoint"]) / statistics.median(ms["in_process"])
        print(
            f"| {row['turns']} | {_cell(ms['endpoint'])} | {_cell(ms['in_process'])} "
            f"| {ratio:.1f} |"
        )


if __name__ == "__main__":
    main()
