"""Continuing an old reply: what a fork costs as the conversation grows (issue 19, point 4).

    python -m benchmarks.forks               # 10 / 100 / 1,000 / 5,000 events
    python -m benchmarks.forks --quick       # a smoke run (10 / 1,000 events, fewer rounds)
    python -m benchmarks.forks --profile N   # cProfile of asks on a fork at N events
    python -m benchmarks.forks --adapters openai,gemini   # the adapters measured (default: all)

A conversation is grown to N events by asks (an agent whose ScriptedModel answers text); the
reply at N is kept, and one more ask moves the conversation on. Then, per size:

- ``fork``: ``old_reply.claim_next(...)`` and the release of the branch it claims: the fork
  itself (a new conversation starting with the old reply's events), without an ask;
- ``ask on fork (scripted)``: ``await old_reply.ask("hi")``, a whole ask on a new branch each
  time, answered by the ScriptedModel (which counts the input tokens of what it is shown);
- ``ask on latest (scripted)``: the floor: ``await latest.ask("hi")`` continuing the newest
  reply of a conversation of N events (every cache warm);
- the same two asks through each provider adapter's request building (``--adapters``): the
  model builds the adapter's request for each call (the conversion of the events to wire
  messages, offline: nothing is sent) before the script answers: ``openai`` (Chat
  Completions), ``responses``, ``anthropic``, ``gemini``, ``ollama``.

Each operation is timed alone (its set-up untimed), the variants interleaved; a repetition is
the median of ``OPS`` operations, and the table shows the median of the repetitions and their
min-max. Targets: the fork's own cost flat across sizes (5,000 / 10 events <= 1.5x), an ask on a
fork within 1.5x of an ask on the latest reply at every size, scripted and through each adapter.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from baton import Agent
from baton.events import ModelResponse
from baton.models.base import EmitChunk, ModelCall
from baton.reply import Reply
from baton.testing import ScriptedModel

SIZES = (10, 100, 1_000, 5_000)
QUICK_SIZES = (10, 1_000)
TARGET_FORK_GROWTH = 1.5
TARGET_FORK_OVER_LATEST = 1.5


ADAPTERS = ("openai", "responses", "anthropic", "gemini", "ollama")
OFFLINE = "http://127.0.0.1:9"


def adapter_client(adapter: str) -> Any:
    """The adapter's client (offline: its requests are built, never sent)."""
    if adapter == "openai":
        from baton.providers.openai import OpenAIConfig

        return OpenAIConfig("gpt-bench", api_key="sk-bench", base_url=f"{OFFLINE}/v1").client()
    if adapter == "responses":
        from baton.providers.openai_responses import OpenAIResponsesConfig

        return OpenAIResponsesConfig("m", api_key="sk-bench", base_url=f"{OFFLINE}/v1").client()
    if adapter == "anthropic":
        from baton.providers.anthropic import AnthropicConfig

        return AnthropicConfig("m", api_key="sk-ant-bench", base_url=OFFLINE).client()
    if adapter == "gemini":
        from baton.providers.gemini import GeminiConfig

        return GeminiConfig("m", api_key="bench-key", base_url=OFFLINE).client()
    if adapter == "ollama":
        from baton.providers.ollama import OllamaConfig

        return OllamaConfig("m", base_url=OFFLINE).client()
    raise ValueError(f"unknown adapter {adapter!r}; one of {', '.join(ADAPTERS)}")


class BuildingModel(ScriptedModel):
    """A ScriptedModel that first builds an adapter's request for each call (the adapter's own
    conversion and caches; nothing is sent), as a real model would."""

    def __init__(self, adapter: str = "openai") -> None:
        super().__init__("ok", repeat=True, record=False)
        self._client: Any = adapter_client(adapter)

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        self._client.build_request(call)
        return await super().respond(call, emit)


class OpenAIBuildingModel(BuildingModel):
    """``BuildingModel`` for OpenAI's Chat Completions."""

    def __init__(self) -> None:
        super().__init__("openai")


def agent_for(model: ScriptedModel) -> Agent[str]:
    return Agent("bench", prompt="You answer.", config=model)


async def grown(agent: Agent[str], size: int) -> Reply[str]:
    """A reply at (about) ``size`` events, reached by asks on one conversation."""
    reply = await agent.ask("hi")
    while len(reply.events) < size:
        reply = await reply.ask("hi")
    return reply


class Sizes:
    """The replies one size's variants continue."""

    def __init__(self, agent: Agent[str], old: Reply[str]) -> None:
        self.agent = agent
        self.old = old  # an earlier reply: the conversation moved on after it
        self.latest: Reply[str] | None = None
        self.chained = 0

    async def next_latest(self) -> Reply[str]:
        """The newest reply of a conversation of about the old reply's size: a branch made
        from the old reply (untimed), continued a few times before a new branch is made, so
        the size stays about the same."""
        if self.latest is None or self.chained >= 8:
            self.latest = await self.old.ask("hi")
            self.chained = 0
        return self.latest


async def fork_only(size: Sizes) -> float:
    start = time.perf_counter()
    branch = await size.old.claim_next({})
    await branch.release()
    return time.perf_counter() - start


async def ask_on_fork(size: Sizes) -> float:
    start = time.perf_counter()
    await size.old.ask("hi")
    return time.perf_counter() - start


async def ask_on_latest(size: Sizes) -> float:
    latest = await size.next_latest()
    start = time.perf_counter()
    size.latest = await latest.ask("hi")
    elapsed = time.perf_counter() - start
    size.chained += 1
    return elapsed


async def prepare(size_events: int, model: ScriptedModel) -> Sizes:
    agent = agent_for(model)
    old = await grown(agent, size_events)
    await old.ask("hi")  # the conversation moves on
    return Sizes(agent, old)


Op = Callable[[Sizes], Awaitable[float]]


async def measure(
    variants: list[tuple[str, Sizes, Op]], reps: int, ops: int
) -> dict[str, list[float]]:
    for _, size, op in variants:  # warm up
        for _ in range(3):
            await op(size)
    medians: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for _ in range(reps):
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        gc.collect()
        for _ in range(ops):
            for name, size, op in variants:
                times[name].append(await op(size))
        for name, values in times.items():
            medians[name].append(statistics.median(values) * 1e6)
    return medians


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


async def run(sizes: tuple[int, ...], reps: int, ops: int, adapters: tuple[str, ...]) -> int:
    print(f"Python {sys.version.split()[0]}; µs per operation, median of {reps} repetitions")
    print(f"(each the median of {ops} operations), min-max in brackets\n")
    kinds = ["scripted", *(f"{adapter} request" for adapter in adapters)]
    names = ["fork"]
    for kind in kinds:
        names += [f"ask on fork ({kind})", f"ask on latest ({kind})"]
    results: dict[int, dict[str, list[float]]] = {}
    for n in sizes:
        scripted = await prepare(n, ScriptedModel("ok", repeat=True, record=False))
        variants: list[tuple[str, Sizes, Op]] = [
            ("fork", scripted, fork_only),
            ("ask on fork (scripted)", scripted, ask_on_fork),
            ("ask on latest (scripted)", scripted, ask_on_latest),
        ]
        for adapter in adapters:
            building = await prepare(n, BuildingModel(adapter))
            variants += [
                (f"ask on fork ({adapter} request)", building, ask_on_fork),
                (f"ask on latest ({adapter} request)", building, ask_on_latest),
            ]
        results[n] = await measure(variants, reps, ops)
        print(f"{len(scripted.old.events)} events measured", file=sys.stderr)
    width = 26
    print(f"{'events':<36}" + "".join(f"{n:>{width},}" for n in sizes))
    for name in names:
        print(f"{name:<36}" + "".join(f"{cell(results[n][name]):>{width}}" for n in sizes))
    ok = True
    first, last = sizes[0], sizes[-1]
    growth = statistics.median(results[last]["fork"]) / statistics.median(results[first]["fork"])
    print(
        f"\nfork at {last:,} / at {first:,} events: {growth:.2f}x (target <= {TARGET_FORK_GROWTH})"
    )
    ok &= growth <= TARGET_FORK_GROWTH
    for n in sizes:
        for kind in kinds:
            ratio = statistics.median(results[n][f"ask on fork ({kind})"]) / statistics.median(
                results[n][f"ask on latest ({kind})"]
            )
            print(
                f"ask on fork / ask on latest ({kind}) at {n:,} events: {ratio:.2f}x "
                f"(target <= {TARGET_FORK_OVER_LATEST})"
            )
            ok &= ratio <= TARGET_FORK_OVER_LATEST
    return 0 if ok else 1


async def profile(n: int, adapter: str) -> None:
    size = await prepare(n, BuildingModel(adapter))
    for _ in range(3):
        await ask_on_fork(size)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(200):
        await ask_on_fork(size)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", type=int, metavar="EVENTS")
    parser.add_argument(
        "--adapters", default=None, help=f"comma-separated, of {','.join(ADAPTERS)}"
    )
    args = parser.parse_args(argv)
    adapters = tuple(args.adapters.split(",")) if args.adapters else None
    for adapter in adapters or ():
        if adapter not in ADAPTERS:
            parser.error(f"unknown adapter {adapter!r}; one of {', '.join(ADAPTERS)}")
    if args.profile:
        asyncio.run(profile(args.profile, (adapters or ("openai",))[0]))
        return 0
    if args.quick:
        return asyncio.run(run(QUICK_SIZES, reps=3, ops=20, adapters=adapters or ("openai",)))
    return asyncio.run(run(SIZES, reps=5, ops=20, adapters=adapters or ADAPTERS))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
