"""Core benchmarks: what Baton's agent loop costs, next to a hand-written asyncio floor.

    python3 -m benchmarks.core                      # full run (about a minute)
    python3 -m benchmarks.core --quick              # smoke run (a few seconds)
    python3 -m benchmarks.core --only A,C --json benchmarks/results/core.json
    python3 -m benchmarks.core --only E --profile   # cProfile top-10 of Baton's side instead

Scenarios (the model is ``ScriptedModel(..., record=False)``; tools are ``async def``, so no
worker-thread hop):

A         one ask, text reply                                        µs per ask
B         one ask with one tool round (``add(a=1, b=2)``), then text µs per ask
C10/C100  one ask with 10 / 100 sequential tool rounds, then text    µs per round (ask / rounds)
D         1000 concurrent asks on one agent, B's script per conv.    asks/s; heap per conversation
DS        D in steady state at 100 / 1,000 / 10,000 concurrent:      asks/s; % of time in the
          batches back to back, the collector never forced           collector; objects it freed
                                                                     per ask; tracked objects per
                                                                     ask in flight
E         a 1000-chunk streamed reply read through ``agent.run``     µs per chunk (ask / 1000)
T200      B on an agent with 200 tools, against the same with 1      ratio of µs per ask

Every scenario also runs on the *floor* (F): the same steps written by hand with plain Python
objects (a fake model coroutine returning a fresh dict, the same tool coroutine, a list as
history, a list of callbacks as the stream; for E an async generator whose chunks reach the
reader through a deque + future handoff). It is what any asyncio program doing this work pays;
"x floor" is Baton's cost divided by the floor's.

Method: each variant is warmed up and calibrated to about ``--rep-time`` seconds per repetition,
then the variants of a scenario run interleaved (so drift hits them alike), ``--reps`` times. The
table shows the median and the min-max spread over the repetitions; per-repetition ratios are
used for the C100/C10 and T200/T1 rows. ``gc.collect()`` runs between repetitions and scenarios;
the collector stays on while timing (garbage is part of the cost). D's memory is measured in
separate passes under ``tracemalloc``, never while timing.

DS measures what a server running asks all day sees: no ``gc.collect()`` between batches, so
every collection the asks cause (and every reference cycle they leave) is paid inside the
timing. Each side runs one session per size (one untimed batch first, then ``--reps`` samples
of at least ``--rep-time`` seconds of whole batches); ``gc.callbacks`` time the collector and
``gc.get_stats()`` count its full collections and the objects it freed (objects reference
counting frees never reach it). Tracked objects per ask in flight are counted with
``gc.get_objects()`` while 1,000 asks wait in a gated tool, the collector off: a collection of
the old generation walks every one of them, so they (with cycles) set the collector's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import traceback
import tracemalloc
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import baton
from baton import Agent, Tool, tool
from baton.collector import tune_collector
from baton.events import TextChunk, ToolCallResult
from baton.testing import ScriptedModel, call, chunks

CONCURRENT = 1000  # asks in flight in D
STREAM_CHUNKS = 1000  # chunks in E's reply
MANY_TOOLS = 200  # tools on T200's agent
KB = 1000  # bytes (SI, the stricter reading of "25 KB")
SCENARIOS = ("A", "B", "C", "D", "DS", "E", "T200")
ALIASES = {"C10": "C", "C100": "C", "T": "T200", "T1": "T200", "F": None}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Config:
    reps: int
    rep_time: float  # seconds per repetition of one variant
    mem_reps: int  # tracemalloc passes for D's memory
    profile: bool = False
    top: int = 10


@dataclass
class Stats:
    median: float
    low: float
    high: float
    samples: list[float]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        values = list(samples)
        return cls(statistics.median(values), min(values), max(values), values)

    def map(self, fn: Callable[[float], float]) -> Stats:
        return Stats.of([fn(x) for x in self.samples])


@dataclass(frozen=True)
class Target:
    op: str  # "<=" or ">="
    value: float

    def met(self, x: float) -> bool:
        return x <= self.value if self.op == "<=" else x >= self.value


@dataclass
class Row:
    scenario: str
    unit: str
    baton: Stats | None
    floor: Stats | None = None
    target: Target | None = None
    kind: str = "cost"  # "cost": lower is better; "rate": higher is better; "ratio" of costs
    extra: bool = False  # a labelled extra row, not one of the scenarios
    error: str | None = None

    @property
    def vs_floor(self) -> float | None:
        """Baton's cost over the floor's (for rates: the floor's rate over Baton's)."""
        if self.baton is None or self.floor is None or self.kind == "ratio":
            return None
        if not self.floor.median or not self.baton.median:
            return None  # e.g. no garbage on the floor: a ratio would mean nothing
        if self.kind == "rate":
            return self.floor.median / self.baton.median
        return self.baton.median / self.floor.median

    @property
    def passed(self) -> bool | None:
        if self.error is not None:
            return False
        if self.target is None or self.baton is None:
            return None
        return self.target.met(self.baton.median)

    def as_json(self) -> dict[str, Any]:
        def stats(s: Stats | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"median": s.median, "min": s.low, "max": s.high, "samples": s.samples}

        return {
            "scenario": self.scenario,
            "unit": self.unit,
            "kind": self.kind,
            "extra": self.extra,
            "baton": stats(self.baton),
            "floor": stats(self.floor),
            "vs_floor": self.vs_floor,
            "target": None if self.target is None else vars(self.target),
            "passed": self.passed,
            "error": self.error,
        }


class BenchError(AssertionError):
    """Baton (or the floor) did something other than what the scenario scripts."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


# --------------------------------------------------------------------------- measuring

Batch = Callable[[int], Awaitable[None]]


@dataclass
class Variant:
    name: str
    batch: Batch  # runs `n` iterations
    units: int  # units of work per iteration: asks, rounds or chunks
    reset: Callable[[], None] | None = None  # untimed, between repetitions
    side: str = "baton"  # or "floor"
    iterations: int = 0


async def _timed(batch: Batch, n: int) -> int:
    start = time.perf_counter_ns()
    await batch(n)
    return time.perf_counter_ns() - start


def _settle(variant: Variant) -> None:
    if variant.reset is not None:
        variant.reset()
    gc.collect()


async def _calibrate(variant: Variant, rep_time: float) -> int:
    """Iterations for one repetition of about ``rep_time`` seconds."""
    goal = rep_time * 1e9
    n = 1
    while True:
        elapsed = await _timed(variant.batch, n)
        _settle(variant)
        if elapsed >= goal / 5:
            break
        n *= 10 if elapsed < goal / 100 else 2
    return max(1, round(n * goal / elapsed))


async def _profile(variant: Variant, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await variant.batch(variant.iterations)
    profiler.disable()
    _settle(variant)
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        body = out.getvalue()
        body = body[body.find("   ncalls") :] if "   ncalls" in body else body
        print(
            f"\n--- cProfile {variant.name}: {variant.iterations} iteration(s) "
            f"x {variant.units} unit(s), top {top} by {key}"
        )
        print(body.rstrip())


async def measure(variants: Sequence[Variant], cfg: Config) -> dict[str, list[float]]:
    """µs per unit of work, one value per repetition, for each variant (run interleaved)."""
    for v in variants:
        await v.batch(1)  # warm-up: first-use caches, lazy imports
        _settle(v)
        v.iterations = await _calibrate(v, cfg.rep_time)
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    if cfg.profile:
        for v in variants:
            if v.side == "baton":
                await _profile(v, cfg.top)
            samples[v.name].append(1.0)
        return samples
    for _ in range(cfg.reps):
        for v in variants:
            elapsed = await _timed(v.batch, v.iterations)
            _settle(v)
            samples[v.name].append(elapsed / (v.iterations * v.units) / 1000)
    return samples


def ratios(top: Sequence[float], bottom: Sequence[float]) -> Stats:
    """Per-repetition ratios (the repetitions ran interleaved, so pairs ran side by side)."""
    return Stats.of([a / b for a, b in zip(top, bottom, strict=True)])


# --------------------------------------------------------------------------- the tools


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def yielding_add(gauge: list[int] | None = None) -> Callable[..., Awaitable[int]]:
    """D's tool: ``add`` that yields to the loop once, so the concurrent asks really interleave
    (otherwise each task would run start to finish in one step). ``gauge`` = [in flight, peak]
    is for the correctness check only."""
    if gauge is None:

        async def add(a: int, b: int) -> int:
            """Add two integers."""
            await asyncio.sleep(0)
            return a + b

        return add

    async def counting_add(a: int, b: int) -> int:
        """Add two integers."""
        gauge[0] += 1
        gauge[1] = max(gauge[1], gauge[0])
        await asyncio.sleep(0)
        gauge[0] -= 1
        return a + b

    return counting_add


def numbered_tool(i: int) -> Tool:
    """One of T200's distinct tools."""

    async def fn(a: int, b: int) -> int:
        return a + b

    fn.__name__ = fn.__qualname__ = f"tool_{i}"
    fn.__doc__ = f"Tool number {i}: adds two integers."
    return Tool(fn, name=f"tool_{i}")


# --------------------------------------------------------------------------- the floor


class FloorConversation:
    __slots__ = ("cursor", "history")

    def __init__(self) -> None:
        self.cursor = 0
        self.history: list[Any] = []


class FloorReply:
    __slots__ = ("history", "text")

    def __init__(self, text: str, history: list[Any]) -> None:
        self.text = text
        self.history = history


def publish(subscribers: list[Callable[[Any], None]], event: Any) -> None:
    for fn in subscribers:
        fn(event)


class FloorModel:
    """The floor's model: a coroutine answering each call with a fresh dict, from a script of
    text turns (``str``) and tool-call turns (``(name, arguments_json)``)."""

    def __init__(self, *turns: str | tuple[str, str]) -> None:
        self.turns = turns
        self.ids = itertools.count(1)

    async def __call__(
        self, conversation: FloorConversation, subscribers: list[Callable[[Any], None]]
    ) -> dict[str, Any]:
        turn = self.turns[conversation.cursor % len(self.turns)]
        conversation.cursor += 1
        if isinstance(turn, str):
            publish(subscribers, ("chunk", turn))
            return {"role": "assistant", "text": turn, "tool_calls": ()}
        name, arguments = turn
        tool_call = {"id": f"call_{next(self.ids)}", "name": name, "arguments": arguments}
        return {"role": "assistant", "text": "", "tool_calls": (tool_call,)}


async def floor_ask(
    model: FloorModel,
    tools: dict[str, Callable[..., Awaitable[Any]]],
    prompt: str,
    subscribers: list[Callable[[Any], None]],
    max_turns: int = 200,
) -> FloorReply:
    """A's to D's steps by hand: history list, model call, tool calls, results, final text."""
    conversation = FloorConversation()
    history = conversation.history
    request = {"role": "user", "text": prompt}
    history.append(request)
    publish(subscribers, request)
    for _ in range(max_turns):
        response = await model(conversation, subscribers)
        history.append(response)
        publish(subscribers, response)
        calls = response["tool_calls"]
        if not calls:
            return FloorReply(response["text"], history)
        for c in calls:
            value = await tools[c["name"]](**json.loads(c["arguments"]))
            result = {"role": "tool", "id": c["id"], "name": c["name"], "content": str(value)}
            history.append(result)
            publish(subscribers, result)
    raise BenchError("floor: max_turns exceeded")


class FloorRun:
    """E's reader side: a deque, and a future the reader waits on while it is empty."""

    __slots__ = ("buffer", "closed", "waiter")

    def __init__(self) -> None:
        self.buffer: deque[Any] = deque()
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None

    def push(self, event: Any) -> None:
        self.buffer.append(event)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> FloorRun:
        return self

    async def __anext__(self) -> Any:
        while not self.buffer:
            if self.closed:
                raise StopAsyncIteration
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        return self.buffer.popleft()


async def floor_stream_model(pieces: Sequence[str]) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece


async def floor_stream_ask(pieces: Sequence[str], prompt: str, run: FloorRun) -> FloorReply:
    try:
        history: list[Any] = [{"role": "user", "text": prompt}]
        run.push(history[0])
        text: list[str] = []
        async for piece in floor_stream_model(pieces):
            text.append(piece)
            run.push(("chunk", piece))
        answer = "".join(text)
        response = {"role": "assistant", "text": answer, "tool_calls": ()}
        history.append(response)
        run.push(response)
        return FloorReply(answer, history)
    finally:
        run.close()


async def floor_run(pieces: Sequence[str], prompt: str, seen: list[int] | None = None) -> Any:
    """E on the floor: the ask runs in its own task; the caller reads its events as they come."""
    run = FloorRun()
    task = asyncio.create_task(floor_stream_ask(pieces, prompt, run))
    count = 0
    async for _ in run:
        count += 1
    if seen is not None:
        seen.append(count)
    return await task


# --------------------------------------------------------------------------- scenarios


def scripted(*turns: Any) -> ScriptedModel:
    return ScriptedModel(*turns, repeat=True, per_conversation=True, record=False)


def forget(model: ScriptedModel) -> Callable[[], None]:
    """Drop the script's per-conversation cursors and token tallies between repetitions
    (untimed).

    ScriptedModel keeps one cursor per conversation id it has seen and a tally per call,
    record=False or not, so a benchmark running N asks would otherwise grow dicts of N entries
    (reported under D)."""
    return model.forget_conversations


def asks(agent: Agent[Any], prompt: str = "hi") -> Batch:
    async def batch(n: int) -> None:
        ask = agent.ask
        for _ in range(n):
            await ask(prompt)

    return batch


def floor_asks(model: FloorModel, tools: dict[str, Any], max_turns: int = 200) -> Batch:
    async def batch(n: int) -> None:
        subscribers: list[Callable[[Any], None]] = []
        for _ in range(n):
            await floor_ask(model, tools, "hi", subscribers, max_turns)

    return batch


def results_of(reply: Any) -> list[ToolCallResult]:
    return [e for e in reply.events if isinstance(e, ToolCallResult)]


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    steady: dict[int | str, Any] = field(default_factory=dict)


async def scenario_a(cfg: Config, report: Report) -> None:
    model = scripted("hello")
    agent: Agent[str] = Agent("bench", config=model)
    reply = await agent.ask("hi")
    expect(reply.text == "hello", f"A: expected 'hello', got {reply!r}")
    fmodel = FloorModel("hello")
    expect((await floor_ask(fmodel, {}, "hi", [])).text == "hello", "A: floor answer")
    s = await measure(
        [
            Variant("A", asks(agent), 1, forget(model)),
            Variant("A floor", floor_asks(fmodel, {}), 1, side="floor"),
        ],
        cfg,
    )
    report.rows.append(
        Row("A  text reply", "µs/ask", Stats.of(s["A"]), Stats.of(s["A floor"]), Target("<=", 40))
    )


async def scenario_b(cfg: Config, report: Report) -> None:
    model = scripted(call("add", a=1, b=2), "3")
    agent: Agent[str] = Agent("bench", config=model, tools=[add])
    reply = await agent.ask("hi")
    results = results_of(reply)
    expect(
        reply.text == "3" and len(results) == 1 and results[0].content == "3",
        f"B: expected one add() round then '3', got {reply!r} with results {results!r}",
    )

    # Extra row: the same with a sync function run inline on the loop (@tool(inline=True)).
    def add_sync(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    inline_model = scripted(call("add", a=1, b=2), "3")
    inline_agent: Agent[str] = Agent(
        "bench", config=inline_model, tools=[tool(name="add", inline=True)(add_sync)]
    )
    expect((await inline_agent.ask("hi")).text == "3", "B inline: expected '3'")

    fmodel = FloorModel(("add", '{"a":1,"b":2}'), "3")
    ftools: dict[str, Callable[..., Awaitable[Any]]] = {"add": add}
    freply = await floor_ask(fmodel, ftools, "hi", [])
    expect(freply.text == "3" and freply.history[2]["content"] == "3", "B: floor answer")
    s = await measure(
        [
            Variant("B", asks(agent), 1, forget(model)),
            Variant("B inline", asks(inline_agent), 1, forget(inline_model)),
            Variant("B floor", floor_asks(fmodel, ftools), 1, side="floor"),
        ],
        cfg,
    )
    floor = Stats.of(s["B floor"])
    report.rows.append(
        Row("B  one tool round", "µs/ask", Stats.of(s["B"]), floor, Target("<=", 80))
    )
    report.rows.append(
        Row(
            "B+ extra: sync @tool(inline=True)",
            "µs/ask",
            Stats.of(s["B inline"]),
            floor,
            extra=True,
        )
    )


async def scenario_c(cfg: Config, report: Report) -> None:
    variants: list[Variant] = []
    for rounds in (10, 100):
        model = scripted(*[call("add", a=1, b=2)] * rounds, "done")
        agent: Agent[str] = Agent("bench", config=model, tools=[add], max_turns=rounds + 1)
        reply = await agent.ask("hi")
        expect(
            reply.text == "done" and len(results_of(reply)) == rounds,
            f"C{rounds}: expected {rounds} rounds then 'done', got {reply!r} "
            f"with {len(results_of(reply))} results",
        )
        fmodel = FloorModel(*[("add", '{"a":1,"b":2}')] * rounds, "done")
        freply = await floor_ask(fmodel, {"add": add}, "hi", [])
        expect(len(freply.history) == 2 * rounds + 2, f"C{rounds}: floor history")
        variants.append(Variant(f"C{rounds}", asks(agent), rounds, forget(model)))
        variants.append(
            Variant(f"C{rounds} floor", floor_asks(fmodel, {"add": add}), rounds, side="floor")
        )
    s = await measure(variants, cfg)
    report.rows.append(
        Row("C10  10 tool rounds", "µs/round", Stats.of(s["C10"]), Stats.of(s["C10 floor"]))
    )
    report.rows.append(
        Row(
            "C100  100 tool rounds",
            "µs/round",
            Stats.of(s["C100"]),
            Stats.of(s["C100 floor"]),
            Target("<=", 40),
        )
    )
    report.rows.append(
        Row(
            "C100/C10  per-round ratio",
            "ratio",
            ratios(s["C100"], s["C10"]),
            ratios(s["C100 floor"], s["C10 floor"]),
            Target("<=", 1.2),
            kind="ratio",
        )
    )


async def drop_handles() -> None:
    """Let the loop drop the handle that resumed us, then collect.

    The handle that woke this coroutine from ``await gather(...)`` holds the gathering future
    (and so every result) until the coroutine yields back to the loop."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gc.collect()


async def heap_per_conversation(
    ask: Callable[[], Awaitable[Any]], reset: Callable[[], None], n: int
) -> dict[str, float]:
    """Bytes per conversation, measured with tracemalloc around ``n`` concurrent asks whose
    replies are kept alive: retained by the replies, kept by the script model, peak in flight,
    and what stays after the replies are dropped."""
    replies: list[Any] | None = list(await asyncio.gather(*(ask() for _ in range(n))))
    replies = None  # the warm-up pass's caches are not the conversations' cost
    reset()
    await drop_handles()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        replies = list(await asyncio.gather(*(ask() for _ in range(n))))
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        reset()
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
        expect(len(replies) == n, "D: lost replies")
        replies = None
        await drop_handles()
        released = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {
        "retained": (retained - before) / n,
        "script_state": (kept - retained) / n,
        "peak": (peak - before) / n,
        "residual": (released - before) / n,
    }


async def scenario_d(cfg: Config, report: Report) -> None:
    # Correctness first: every conversation replays call -> text, and the asks do interleave.
    gauge = [0, 0]
    check_model = scripted(call("add", a=1, b=2), "3")
    check_agent: Agent[str] = Agent(
        "bench", config=check_model, tools=[Tool(yielding_add(gauge), name="add")]
    )
    replies = await asyncio.gather(*(check_agent.ask("hi") for _ in range(CONCURRENT)))
    bad = [r for r in replies if r.text != "3" or len(results_of(r)) != 1]
    expect(not bad, f"D: {len(bad)} of {CONCURRENT} conversations went wrong, e.g. {bad[:1]!r}")
    expect(len({r.conversation_id for r in replies}) == CONCURRENT, "D: shared conversations")
    expect(gauge[1] == CONCURRENT, f"D: only {gauge[1]} asks were in flight at once")
    del replies

    tool_fn = yielding_add()
    model = scripted(call("add", a=1, b=2), "3")
    agent: Agent[str] = Agent("bench", config=model, tools=[Tool(tool_fn, name="add")])
    fmodel = FloorModel(("add", '{"a":1,"b":2}'), "3")
    ftools = {"add": tool_fn}
    freplies = await asyncio.gather(*(floor_ask(fmodel, ftools, "hi", []) for _ in range(10)))
    expect(all(r.text == "3" for r in freplies), "D: floor answers")

    async def baton_batch(n: int) -> None:
        for _ in range(n):
            await asyncio.gather(*(agent.ask("hi") for _ in range(CONCURRENT)))

    async def floor_batch(n: int) -> None:
        subscribers: list[Callable[[Any], None]] = []
        for _ in range(n):
            await asyncio.gather(
                *(floor_ask(fmodel, ftools, "hi", subscribers) for _ in range(CONCURRENT))
            )

    s = await measure(
        [
            Variant("D", baton_batch, CONCURRENT, forget(model)),
            Variant("D floor", floor_batch, CONCURRENT, side="floor"),
        ],
        cfg,
    )
    per_second = 1e6  # samples are µs per ask
    report.rows.append(
        Row(
            f"D  {CONCURRENT} concurrent asks",
            "asks/s",
            Stats.of(s["D"]).map(lambda us: per_second / us),
            Stats.of(s["D floor"]).map(lambda us: per_second / us),
            Target(">=", 8000),
            kind="rate",
        )
    )
    if cfg.profile:
        return

    gc.collect()
    baton_mem = [
        await heap_per_conversation(lambda: agent.ask("hi"), forget(model), CONCURRENT)
        for _ in range(cfg.mem_reps)
    ]
    floor_mem = [
        await heap_per_conversation(
            lambda: floor_ask(fmodel, ftools, "hi", []), lambda: None, CONCURRENT
        )
        for _ in range(cfg.mem_reps)
    ]
    report.memory = {"baton": baton_mem, "floor": floor_mem, "unit": "bytes per conversation"}
    report.rows.append(
        Row(
            "D  heap kept per conversation",
            "KB/conv",
            Stats.of([m["retained"] / KB for m in baton_mem]),
            Stats.of([m["retained"] / KB for m in floor_mem]),
            Target("<=", 25),
        )
    )

    def med(ms: list[dict[str, float]], key: str) -> float:
        return statistics.median(m[key] for m in ms) / KB

    report.notes.append(
        f"D heap (tracemalloc, {CONCURRENT} replies kept alive, median of {cfg.mem_reps}): "
        f"Baton {med(baton_mem, 'retained'):.2f} KB retained / {med(baton_mem, 'peak'):.2f} KB "
        f"peak per conversation, {med(baton_mem, 'residual'):.3f} KB left after the replies "
        f"are dropped; floor {med(floor_mem, 'retained'):.2f} KB retained / "
        f"{med(floor_mem, 'peak'):.2f} KB peak. KB = 1000 bytes."
    )
    report.notes.append(
        "ScriptedModel (a test utility) keeps a token tally per conversation, bounded to its "
        f"{ScriptedModel.max_tracked_conversations:,} newest: "
        f"{med(baton_mem, 'script_state') * KB:.0f} bytes per conversation, not counted above "
        "(the benchmark clears it between repetitions)."
    )


async def scenario_e(cfg: Config, report: Report) -> None:
    model = scripted(chunks(*["tok "] * STREAM_CHUNKS))
    agent: Agent[str] = Agent("bench", config=model)
    async with agent.run("hi") as run:
        kinds = [type(e).__name__ async for e in run]
        reply = await run.result()
    got = kinds.count(TextChunk.__name__)
    expect(
        got == STREAM_CHUNKS and reply.text == "tok " * STREAM_CHUNKS,
        f"E: expected {STREAM_CHUNKS} TextChunks, got {got} (events: {len(kinds)})",
    )
    pieces = ["tok "] * STREAM_CHUNKS
    seen: list[int] = []
    freply = await floor_run(pieces, "hi", seen)
    expect(freply.text == "tok " * STREAM_CHUNKS and seen == [STREAM_CHUNKS + 2], "E: floor")

    async def baton_batch(n: int) -> None:
        for _ in range(n):
            async with agent.run("hi") as run:
                async for _ in run:
                    pass

    async def floor_batch(n: int) -> None:
        for _ in range(n):
            await floor_run(pieces, "hi")

    s = await measure(
        [
            Variant("E", baton_batch, STREAM_CHUNKS, forget(model)),
            Variant("E floor", floor_batch, STREAM_CHUNKS, side="floor"),
        ],
        cfg,
    )
    report.rows.append(
        Row(
            f"E  {STREAM_CHUNKS}-chunk stream via run()",
            "µs/chunk",
            Stats.of(s["E"]),
            Stats.of(s["E floor"]),
            Target("<=", 3),
        )
    )


async def scenario_t200(cfg: Config, report: Report) -> None:
    variants: list[Variant] = []
    for count in (1, MANY_TOOLS):
        tools = [numbered_tool(i) for i in range(count)]
        last = f"tool_{count - 1}"
        model = scripted(call(last, a=1, b=2), "3")
        agent: Agent[str] = Agent("bench", config=model, tools=tools)
        expect(len(agent.tools) == count, f"T{count}: agent has {len(agent.tools)} tools")
        reply = await agent.ask("hi")
        results = results_of(reply)
        expect(
            reply.text == "3" and [(r.name, r.content) for r in results] == [(last, "3")],
            f"T{count}: expected one {last}() round then '3', got {reply!r} / {results!r}",
        )
        fmodel = FloorModel((last, '{"a":1,"b":2}'), "3")
        ftools = {t.name: t.function for t in tools}
        variants.append(Variant(f"T{count}", asks(agent), 1, forget(model)))
        variants.append(Variant(f"T{count} floor", floor_asks(fmodel, ftools), 1, side="floor"))
    s = await measure(variants, cfg)
    many = f"T{MANY_TOOLS}"
    report.rows.append(
        Row("T1  B with 1 tool", "µs/ask", Stats.of(s["T1"]), Stats.of(s["T1 floor"]))
    )
    report.rows.append(
        Row(
            f"{many}  B with {MANY_TOOLS} tools",
            "µs/ask",
            Stats.of(s[many]),
            Stats.of(s[f"{many} floor"]),
        )
    )
    report.rows.append(
        Row(
            f"{many}/T1  per-ask ratio",
            "ratio",
            ratios(s[many], s["T1"]),
            ratios(s[f"{many} floor"], s["T1 floor"]),
            Target("<=", 1.2),
            kind="ratio",
        )
    )


# --------------------------------------------------------------------------- D in steady state

STEADY_SIZES = (100, 1000, 10_000)  # asks in flight in DS
STEADY_TARGET = 12_000  # asks/s at 10,000 in flight


class GcClock:
    """CPU time spent in the cyclic collector (``gc.callbacks``) and its collections by
    generation (``gc.get_stats()`` deltas), while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections: list[int] = []
        self._start = 0.0
        self._stats: list[dict[str, int]] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start

    def __enter__(self) -> GcClock:
        self._stats = gc.get_stats()
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)
        pairs = zip(gc.get_stats(), self._stats, strict=True)
        self.collections = [a["collections"] - b["collections"] for a, b in pairs]


def collected() -> int:
    """Objects the collector has freed in this process so far."""
    return sum(s["collected"] for s in gc.get_stats())


@dataclass
class Steady:
    """One side's steady-state session at one size: asks/s per sample, the collector's share
    of the CPU time and its full collections over the timed samples, and the objects it
    (not reference counting) freed per ask over the whole session."""

    rates: list[float]
    gc_share: float
    full_per_10k: float  # generation-2 collections per 10,000 asks
    freed_per_ask: float


async def steady_session(
    batch: Callable[[], Awaitable[None]], asks: int, cfg: Config, between: Callable[[], None]
) -> Steady:
    """Batches of ``asks`` concurrent asks back to back, the collector on and never forced:
    one untimed batch to reach steady state, then ``cfg.reps`` samples of at least
    ``cfg.rep_time`` seconds (whole batches) each. ``between`` runs untimed after each sample
    (it drops ScriptedModel's per-conversation cursors: the test model's state, not Baton's).

    Times are the process's CPU time: these asks never wait on I/O, so on a quiet machine it
    is the wall time, and on a shared one it leaves out other processes' turns."""
    gc.collect()  # the other side's leftovers are not this side's cost
    freed_before = collected()
    await batch()
    rates: list[float] = []
    timed = 0.0
    done = 0
    with GcClock() as clock:
        for _ in range(cfg.reps):
            start = time.process_time()
            n = 0
            while True:
                await batch()
                n += 1
                elapsed = time.process_time() - start
                if elapsed >= cfg.rep_time:
                    break
            rates.append(n * asks / elapsed)
            timed += elapsed
            done += n * asks
            between()
    await drop_handles()  # counts the cycles still waiting for a collection too
    freed = collected() - freed_before
    return Steady(
        rates,
        clock.seconds / timed,
        clock.collections[2] * 10_000 / done,
        freed / (done + asks),
    )


async def tracked_in_flight(
    start: Callable[[], Awaitable[Any]], gate: asyncio.Event, n: int
) -> float:
    """GC-tracked objects each ask holds while it waits in its tool (``n`` asks in flight,
    the collector off while counting): what every collection of the old generation walks."""
    gate.clear()
    await drop_handles()
    gc.disable()
    try:
        before = len(gc.get_objects())
        pending = asyncio.gather(*(start() for _ in range(n)))
        for _ in range(20):  # every ask reaches the tool's wait
            await asyncio.sleep(0)
        held = len(gc.get_objects()) - before
        gate.set()
        await pending
    finally:
        gc.enable()
    del pending
    await drop_handles()
    return held / n


async def scenario_ds(cfg: Config, report: Report) -> None:
    tool_fn = yielding_add()
    model = scripted(call("add", a=1, b=2), "3")
    agent: Agent[str] = Agent("bench", config=model, tools=[Tool(tool_fn, name="add")])
    fmodel = FloorModel(("add", '{"a":1,"b":2}'), "3")
    ftools = {"add": tool_fn}
    reply = await agent.ask("hi")
    expect(reply.text == "3" and len(results_of(reply)) == 1, f"DS: got {reply!r}")
    subscribers: list[Callable[[Any], None]] = []
    clear = forget(model)
    sizes = STEADY_SIZES if not cfg.profile else (STEADY_SIZES[-1],)
    for size in sizes:

        async def baton_batch(size: int = size) -> None:
            await asyncio.gather(*(agent.ask("hi") for _ in range(size)))

        async def floor_batch(size: int = size) -> None:
            await asyncio.gather(
                *(floor_ask(fmodel, ftools, "hi", subscribers) for _ in range(size))
            )

        if cfg.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await baton_batch()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(
                cfg.top
            )
            print(f"\n--- cProfile DS{size}: one batch, top {cfg.top} by tottime\n{out.getvalue()}")
            clear()
            return
        clear()
        baton = await steady_session(baton_batch, size, cfg, clear)
        floor = await steady_session(floor_batch, size, cfg, lambda: None)
        label = f"{size:,}"
        report.rows.append(
            Row(
                f"DS{label}  steady, {label} concurrent",
                "asks/s CPU",
                Stats.of(baton.rates),
                Stats.of(floor.rates),
                Target(">=", STEADY_TARGET) if size == STEADY_SIZES[-1] else None,
                kind="rate",
            )
        )
        report.rows.append(
            Row(
                f"DS{label}  time in the collector",
                "% of CPU",
                Stats.of([baton.gc_share * 100]),
                Stats.of([floor.gc_share * 100]),
            )
        )
        if size == STEADY_SIZES[-1]:
            report.rows.append(
                Row(
                    f"DS{label}  garbage the collector found",
                    "per ask",
                    Stats.of([baton.freed_per_ask]),
                    Stats.of([floor.freed_per_ask]),
                )
            )
        report.notes.append(
            f"DS{label}: full collections per 10,000 asks: Baton {baton.full_per_10k:.1f}, floor "
            f"{floor.full_per_10k:.1f}; unreachable objects the collector found per ask: Baton "
            f"{baton.freed_per_ask:.1f}, floor {floor.freed_per_ask:.1f}"
        )
        report.steady[size] = {"baton": vars(baton), "floor": vars(floor)}
        if size == STEADY_SIZES[-1]:
            # The opt-in setting for servers (baton.collector), both sides under it, then undone.
            previous = tune_collector()
            try:
                tuned = await steady_session(baton_batch, size, cfg, clear)
                ftuned = await steady_session(floor_batch, size, cfg, lambda: None)
            finally:
                gc.set_threshold(*previous)
                gc.unfreeze()
            report.rows.append(
                Row(
                    f"DS{label}+ extra: tune_collector()",
                    "asks/s CPU",
                    Stats.of(tuned.rates),
                    Stats.of(ftuned.rates),
                    kind="rate",
                    extra=True,
                )
            )
            report.steady["tuned"] = {"baton": vars(tuned), "floor": vars(ftuned)}
            report.notes.append(
                f"DS{label} with tune_collector() (gen0 threshold 50,000, gc.freeze()): time in "
                f"the collector Baton {tuned.gc_share:.0%}, floor {ftuned.gc_share:.0%}"
            )
    clear()

    gate = asyncio.Event()

    async def gated_add(a: int, b: int) -> int:
        """Add two integers."""
        await gate.wait()
        return a + b

    gmodel = scripted(call("add", a=1, b=2), "3")
    gagent: Agent[str] = Agent("bench", config=gmodel, tools=[Tool(gated_add, name="add")])
    gftools = {"add": gated_add}
    gate.set()
    expect((await gagent.ask("hi")).text == "3", "DS: gated agent")
    gmodel.forget_conversations()
    held = [
        await tracked_in_flight(lambda: gagent.ask("hi"), gate, CONCURRENT)
        for _ in range(cfg.mem_reps)
    ]
    gmodel.forget_conversations()
    fheld = [
        await tracked_in_flight(lambda: floor_ask(fmodel, gftools, "hi", []), gate, CONCURRENT)
        for _ in range(cfg.mem_reps)
    ]
    report.rows.append(
        Row(
            "DS  GC-tracked objects per ask in flight",
            "objects",
            Stats.of(held),
            Stats.of(fheld),
        )
    )


RUNNERS: dict[str, Callable[[Config, Report], Awaitable[None]]] = {
    "A": scenario_a,
    "B": scenario_b,
    "C": scenario_c,
    "D": scenario_d,
    "DS": scenario_ds,
    "E": scenario_e,
    "T200": scenario_t200,
}


async def run_all(selected: Sequence[str], cfg: Config) -> Report:
    report = Report()
    for name in selected:
        gc.collect()
        if cfg.profile:
            print(f"\n===== scenario {name} (profiled: Baton side only, one repetition)")
        try:
            await RUNNERS[name](cfg, report)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            report.rows.append(Row(f"{name}  (failed)", "", None, error=detail))
            print(f"[bench] scenario {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
        gc.collect()
    return report


# --------------------------------------------------------------------------- output


def _encodable(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


UNICODE = _encodable("µ×≤≥–")


def sym(text: str) -> str:
    if UNICODE:
        return text
    for a, b in (("µ", "u"), ("×", "x"), ("≤", "<="), ("≥", ">="), ("–", "-")):
        text = text.replace(a, b)
    return text


def fmt(x: float, ratio: bool = False) -> str:
    if ratio:
        return f"{x:.2f}"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


COLUMNS = (
    "scenario",
    "unit",
    "Baton median",
    "spread (min–max)",
    "floor median",
    "× floor",
    "target",
    "result",
)


def cells(row: Row) -> list[str]:
    ratio = row.kind == "ratio"
    if row.error is not None:
        return [row.scenario, row.unit, "-", "-", "-", "-", "-", "ERROR"]
    b, f = row.baton, row.floor
    assert b is not None
    vs = row.vs_floor
    target = ""
    if row.target is not None:
        target = f"{'≤' if row.target.op == '<=' else '≥'} {fmt(row.target.value, ratio)}"
    result = {True: "pass", False: "FAIL", None: "extra" if row.extra else "-"}[row.passed]
    return [
        row.scenario,
        row.unit,
        fmt(b.median, ratio),
        f"{fmt(b.low, ratio)}–{fmt(b.high, ratio)}",
        "-" if f is None else fmt(f.median, ratio),
        "-" if vs is None else f"{vs:.1f}×",
        target,
        result,
    ]


def git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def metadata() -> dict[str, Any]:
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "baton": baton.__version__,
        "git": git_revision(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def print_report(meta: dict[str, Any], cfg: Config, report: Report) -> None:
    cpus = f"{meta['cpu_count']}" + (
        f" ({meta['cpus_usable']} usable)" if meta["cpus_usable"] is not None else ""
    )
    git = f" (git {meta['git']})" if meta["git"] else ""
    lines = [
        "Baton core benchmarks",
        f"Python {meta['python']} ({meta['implementation']}, {meta['platform']})  "
        f"CPUs: {cpus}  Baton {meta['baton']}{git}",
        f"{cfg.reps} repetitions of ~{cfg.rep_time:g} s per variant; median and min–max over "
        "repetitions; × floor = Baton's cost / the hand-written floor's (rates: floor / Baton)",
    ]
    print(sym("\n".join(lines)))
    table = [[sym(c) for c in cells(r)] for r in report.rows]
    headers = [sym(c) for c in COLUMNS]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(r[i]) for r in [headers, *table]) for i in range(len(headers))]

        def line(values: Sequence[str]) -> str:
            return "  ".join(
                v.ljust(w) if i < 2 else v.rjust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            )

        print(line(headers))
        print("  ".join("-" * w for w in widths))
        for values in table:
            print(line(values))
    else:
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
        rich_table = Table(*headers, show_lines=False)
        for col in rich_table.columns[2:]:
            col.justify = "right"
        style = {"pass": "green", "FAIL": "bold red", "ERROR": "bold red"}
        for values in table:
            result = values[-1]
            rich_table.add_row(
                *values[:-1], f"[{style[result]}]{result}[/]" if result in style else result
            )
        console.print(rich_table)
    for row in report.rows:
        if row.error is not None:
            print(sym(f"error in {row.scenario}: {row.error}"))
    for note in report.notes:
        print(sym(f"note: {note}"))
    missed = [r.scenario for r in report.rows if r.passed is False]
    print(sym(f"targets missed: {', '.join(missed)}" if missed else "all targets met"))


def write_json(path: Path, meta: dict[str, Any], cfg: Config, report: Report) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "config": vars(cfg),
        "rows": [r.as_json() for r in report.rows],
        "memory": report.memory,
        "steady": report.steady,
        "notes": report.notes,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- CLI


def parse_only(text: str) -> list[str]:
    wanted: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        key = next((s for s in SCENARIOS if s.lower() == name.lower()), None)
        if key is None and name.upper() in ALIASES:
            key = ALIASES[name.upper()]
            if key is None:  # the floor runs alongside every scenario
                continue
        if key is None:
            raise argparse.ArgumentTypeError(
                f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}"
            )
        if key not in wanted:
            wanted.append(key)
    return [s for s in SCENARIOS if s in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.core",
        description="Baton's core benchmarks: agent-loop overhead next to a hand-written floor.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: few, short reps")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument(
        "--only",
        type=parse_only,
        metavar="A,B,...",
        help=f"scenarios to run, from {','.join(SCENARIOS)} (C10/C100 select C; default: all)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per variant (default 7, quick 3)")
    parser.add_argument(
        "--rep-time", type=float, metavar="S", help="seconds per repetition (0.3, quick 0.03)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of Baton's side of each selected scenario instead of timing it",
    )
    parser.add_argument("--top", type=int, default=10, help="rows per profile (default 10)")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    cfg = Config(
        reps=max(1, args.reps or (3 if args.quick else 7)),
        rep_time=args.rep_time or (0.03 if args.quick else 0.3),
        mem_reps=1 if args.quick else 3,
        profile=args.profile,
        top=args.top,
    )
    selected = args.only or list(SCENARIOS)
    meta = metadata()
    report = asyncio.run(run_all(selected, cfg))
    if cfg.profile:
        return 0
    print_report(meta, cfg, report)
    if args.json is not None:
        write_json(args.json, meta, cfg, report)
        print(f"results written to {args.json}")
    if args.check and any(r.passed is False for r in report.rows):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
