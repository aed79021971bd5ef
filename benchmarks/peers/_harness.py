"""What every framework's module shares: the scenarios' scripts, the checks, and one timed
repetition of every scenario in this process (``python -m benchmarks.peers.worker``).

A framework module defines a ``Framework``: how to make an asker for a ``Script`` (an agent with
some tools whose scripted model makes ``rounds`` tool calls and then answers ``answer``), how to
read an answer back (``Outcome``), and how to stream a reply of N chunks. The scenarios, their
checks and their timing are the same for all of them and live here.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.core import (
    CONCURRENT,
    KB,
    MANY_TOOLS,
    STREAM_CHUNKS,
    BenchError,
    add,
    expect,
    heap_per_conversation,
    numbered_tool,
    yielding_add,
)

ToolFn = Callable[..., Awaitable[int]]
PROMPT = "hi"
ARGS_JSON = '{"a":1,"b":2}'
RESULT = "3"
PIECE = "tok "

# scenario key -> (unit, units of work per ask)
SCENARIOS: dict[str, tuple[str, int]] = {
    "A": ("µs/ask", 1),
    "B": ("µs/ask", 1),
    "C10": ("µs/round", 10),
    "C100": ("µs/round", 100),
    "D": ("µs/ask", 1),  # timed per ask in flight; reported as asks/s
    "E": ("µs/chunk", STREAM_CHUNKS),
    "T200": ("µs/ask", 1),
}


class NotApplicable(Exception):
    """The framework cannot do this scenario meaningfully with its scripted model."""


@dataclass(frozen=True)
class Script:
    """An ask's script: ``rounds`` model calls each requesting ``tool(a=1, b=2)``, one at a
    time, then a model call answering ``answer``. Every framework's scripted model plays it."""

    tool: str
    rounds: int
    answer: str


@dataclass
class Outcome:
    """What an ask did, read back from the framework's own result (untimed)."""

    text: str
    tool_results: list[str]
    model_calls: int


@dataclass
class Asker:
    ask: Callable[[], Awaitable[Any]]  # one ask, returning the framework's own result
    reset: Callable[[], None] | None = None  # untimed, between runs (a script's state)


@dataclass
class Streamer:
    ask: Callable[[], Awaitable[Any]]  # one streamed ask, its chunks read as they come
    read: Callable[[Any], tuple[int, str]]  # (chunks the reader saw, final text)
    reset: Callable[[], None] | None = None


class Framework:
    """One framework under test. Subclasses implement ``asker``, ``outcome``, ``streamer``."""

    name = ""
    distributions: tuple[str, ...] = ()  # reported with their installed versions
    notes: tuple[str, ...] = ()  # how its scripted model and agent are set up

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        raise NotImplementedError

    def outcome(self, result: Any) -> Outcome | Awaitable[Outcome]:
        raise NotImplementedError

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        raise NotApplicable("no token streaming")


# --------------------------------------------------------------------------- checks


async def check_outcome(framework: Framework, key: str, result: Any, script: Script) -> None:
    got = framework.outcome(result)
    if not isinstance(got, Outcome):
        got = await got
    expect(
        got.text == script.answer
        and got.tool_results == [RESULT] * script.rounds
        and got.model_calls == script.rounds + 1,
        f"{framework.name} {key}: expected {script.rounds} {script.tool}() round(s) with result "
        f"{RESULT!r}, {script.rounds + 1} model calls and the answer {script.answer!r}; got "
        f"{len(got.tool_results)} result(s) {got.tool_results[:2]}, {got.model_calls} model "
        f"calls, answer {got.text[:40]!r}",
    )


def named(fn: ToolFn, name: str) -> ToolFn:
    """Every framework names a tool after its function."""
    fn.__name__ = fn.__qualname__ = name
    return fn


def numbered_tools(count: int) -> list[ToolFn]:
    """T200's distinct tools (``tool_0`` ... ``tool_{count-1}``), the same functions as core's."""
    return [numbered_tool(i).function for i in range(count)]


# --------------------------------------------------------------------------- timing


@dataclass
class Job:
    key: str
    batch: Callable[[int], Awaitable[None]]  # runs n iterations
    units: int  # units of work per iteration (asks, rounds or chunks)
    reset: Callable[[], None] | None = None


def settle(job: Job) -> None:
    if job.reset is not None:
        job.reset()
    gc.collect()


async def timed(job: Job, n: int) -> float:
    start = time.perf_counter()
    await job.batch(n)
    elapsed = time.perf_counter() - start
    settle(job)
    return elapsed


async def one_repetition(job: Job, rep_time: float) -> tuple[float, int]:
    """Warm up, calibrate to about ``rep_time`` seconds, then time one run: (µs per unit, n).

    An iteration that alone takes longer than ``rep_time`` is timed once more after the
    warm-up (so slow frameworks don't cost minutes)."""
    elapsed = await timed(job, 1)  # warm-up: first-use caches, lazy imports
    n = 1
    while elapsed < rep_time / 5:
        n *= 10 if elapsed < rep_time / 100 else 2
        elapsed = await timed(job, n)
    n = max(1, round(n * rep_time / elapsed))
    elapsed = await timed(job, n)
    return elapsed / (n * job.units) * 1e6, n


def asks_batch(ask: Callable[[], Awaitable[Any]]) -> Callable[[int], Awaitable[None]]:
    async def batch(n: int) -> None:
        for _ in range(n):
            await ask()

    return batch


def gathered_batch(ask: Callable[[], Awaitable[Any]]) -> Callable[[int], Awaitable[None]]:
    async def batch(n: int) -> None:
        for _ in range(n):
            await asyncio.gather(*(ask() for _ in range(CONCURRENT)))

    return batch


# --------------------------------------------------------------------------- scenarios


def script_for(key: str) -> tuple[list[ToolFn], Script]:
    if key == "A":
        return [add], Script("add", 0, "hello")
    if key == "B":
        return [add], Script("add", 1, RESULT)
    if key in ("C10", "C100"):
        return [add], Script("add", int(key[1:]), "done")
    if key == "T200":
        return numbered_tools(MANY_TOOLS), Script(f"tool_{MANY_TOOLS - 1}", 1, RESULT)
    raise KeyError(key)


async def prepare(framework: Framework, key: str) -> Job:
    """The scenario's job, after checking that the framework does what the script says."""
    if key == "E":
        pieces = [PIECE] * STREAM_CHUNKS
        streamer = framework.streamer(pieces)
        seen, text = streamer.read(await streamer.ask())
        expect(
            seen == STREAM_CHUNKS and text == PIECE * STREAM_CHUNKS,
            f"{framework.name} E: the reader saw {seen} chunks (expected {STREAM_CHUNKS}) "
            f"and the answer has {len(text)} characters (expected {len(PIECE) * STREAM_CHUNKS})",
        )
        return Job(key, asks_batch(streamer.ask), STREAM_CHUNKS, streamer.reset)
    if key == "D":
        script = Script("add", 1, RESULT)
        gauge = [0, 0]  # asks in flight, peak
        check = framework.asker([named(yielding_add(), "add")], script)

        async def counted() -> Any:
            gauge[0] += 1
            gauge[1] = max(gauge[1], gauge[0])
            try:
                return await check.ask()
            finally:
                gauge[0] -= 1

        results = await asyncio.gather(*(counted() for _ in range(CONCURRENT)))
        for result in results:
            await check_outcome(framework, key, result, script)
        expect(
            gauge[1] == CONCURRENT,
            f"{framework.name} D: only {gauge[1]} of {CONCURRENT} asks were in flight at once",
        )
        asker = framework.asker([named(yielding_add(), "add")], script)
        return Job(key, gathered_batch(asker.ask), CONCURRENT, asker.reset)
    tools, script = script_for(key)
    asker = framework.asker(tools, script)
    for _ in range(2):  # twice: a script replays for each ask
        await check_outcome(framework, key, await asker.ask(), script)
    if asker.reset is not None:
        asker.reset()
    return Job(key, asks_batch(asker.ask), SCENARIOS[key][1], asker.reset)


@dataclass
class Measured:
    values: dict[str, float] = field(default_factory=dict)  # µs per unit
    iterations: dict[str, int] = field(default_factory=dict)
    na: dict[str, str] = field(default_factory=dict)  # scenario -> reason
    errors: dict[str, str] = field(default_factory=dict)


async def time_all(framework: Framework, keys: Sequence[str], rep_time: float) -> Measured:
    out = Measured()
    for key in keys:
        gc.collect()
        try:
            job = await prepare(framework, key)
            # the slow peers' C100, D and E are long per iteration: don't spend longer on them
            out.values[key], out.iterations[key] = await one_repetition(job, rep_time)
        except NotApplicable as exc:
            out.na[key] = str(exc)
        except BenchError as exc:
            out.errors[key] = str(exc)
        except Exception as exc:
            out.errors[key] = f"{type(exc).__name__}: {exc}"
        gc.collect()
    return out


async def memory(framework: Framework) -> dict[str, float]:
    """D's heap per conversation: ``CONCURRENT`` asks of B under tracemalloc, replies kept."""
    asker = framework.asker([named(yielding_add(), "add")], Script("add", 1, RESULT))
    reset = asker.reset or (lambda: None)
    measured = await heap_per_conversation(asker.ask, reset, CONCURRENT)
    return {k: v / KB for k, v in measured.items()}
