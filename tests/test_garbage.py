"""An ask leaves no reference cycles behind: everything it made is freed by reference counting
the moment the reply is dropped, so the cyclic collector never has to find it (at thousands of
concurrent asks, finding it is where the time goes; see benchmarks/README.md)."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from baton import Agent, Context, MemoryHistory, tool
from baton.collector import tune_collector
from baton.events import HumanMessage
from baton.testing import ScriptedModel, call, chunks


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def slow_add(a: int, b: int) -> int:
    """Add two integers, letting the other asks run meanwhile."""
    await asyncio.sleep(0)
    return a + b


@pytest.fixture
def saved_garbage() -> Iterator[Callable[[], list[str]]]:
    """With the collector off, what the asks run meanwhile left for it: the Baton objects
    among the unreachable ones a collection finds (``gc.DEBUG_SAVEALL`` keeps them). The
    objects alive before the test (an earlier test's Redis connector, say, that its event loop
    lets go of only now) are held until the end, so they can't be counted as this test's."""
    gc.collect()
    earlier = gc.get_objects()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)

    def found() -> list[str]:
        gc.collect()
        return sorted(
            {type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("baton")}
        )

    try:
        yield found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        del earlier


def scripted(*turns: Any) -> ScriptedModel:
    return ScriptedModel(*turns, repeat=True, per_conversation=True, record=False)


async def settle() -> None:
    """Let the loop drop the handles of the steps that just ran."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_asks_with_and_without_tools_leave_no_cycles(
    saved_garbage: Callable[[], list[str]],
) -> None:
    text: Agent[str] = Agent("a", config=scripted("hello"))
    tools: Agent[str] = Agent("b", config=scripted(call("add", a=1, b=2), "3"), tools=[add])
    for _ in range(5):
        assert (await text.ask("hi")).text == "hello"
        reply = await tools.ask("hi")
        assert reply.text == "3"
        assert (await reply.ask("again")).text == "3"  # a continued conversation too
    del reply
    await settle()
    assert saved_garbage() == []


async def test_concurrent_asks_with_a_history_leave_no_cycles(
    saved_garbage: Callable[[], list[str]],
) -> None:
    model = scripted(call("slow_add", a=1, b=2), "3")
    agent: Agent[str] = Agent("c", config=model, tools=[slow_add], history=MemoryHistory())
    replies = await asyncio.gather(*(agent.ask("hi") for _ in range(50)))
    assert {r.text for r in replies} == {"3"}
    assert len({r.conversation_id for r in replies}) == 50
    del replies
    await settle()
    assert saved_garbage() == []


async def test_an_ask_whose_tool_makes_the_stream_leaves_no_cycles(
    saved_garbage: Callable[[], list[str]],
) -> None:
    """The stream made mid-ask routes remarks to the conversation (the two refer to each
    other while the ask runs); the ask's end undoes it."""

    @tool
    async def watched(context: Context) -> str:
        """Touch the conversation's stream."""
        await context.stream.send(HumanMessage("a remark"))
        return "ok"

    agent: Agent[str] = Agent("e", config=scripted(call("watched"), "done"), tools=[watched])
    for _ in range(5):
        assert (await agent.ask("hi")).text == "done"
    await settle()
    assert saved_garbage() == []


async def test_a_streamed_run_read_to_its_end_leaves_no_cycles(
    saved_garbage: Callable[[], list[str]],
) -> None:
    agent: Agent[str] = Agent("d", config=scripted(chunks("a", "b", "c")))
    for _ in range(5):
        async with agent.run("hi") as run:
            seen = [type(e).__name__ async for e in run]
            assert (await run.result()).text == "abc"
        assert seen.count("TextChunk") == 3
    del run
    await settle()
    assert saved_garbage() == []


def test_tune_collector_is_opt_in_and_can_be_undone() -> None:
    original = gc.get_threshold()
    frozen = gc.get_freeze_count()
    try:
        previous = tune_collector(20_000)
        assert previous == original
        assert gc.get_threshold() == (20_000, original[1], original[2])
        assert gc.get_freeze_count() > frozen  # what was alive is out of the collector's sight
        with pytest.raises(ValueError, match="positive integer"):
            tune_collector(0)
    finally:
        gc.set_threshold(*original)
        gc.unfreeze()
    assert gc.get_threshold() == original


def test_importing_baton_leaves_the_collector_as_it_was() -> None:
    code = (
        "import gc; before = gc.get_threshold(); import baton, baton.collector; "
        "print(gc.get_threshold() == before, gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "0"]
