"""Behaviour of Run: the live view of one ask (`async with agent.run(...) as run`)."""

import asyncio

import pytest

from baton import (
    Agent,
    ConfigError,
    Event,
    MemoryHistory,
    MemoryStream,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    TextChunk,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    tool,
)
from baton.errors import RateLimited
from baton.events import (
    ReasoningChunk,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCallDelta,
    UsageReport,
)
from baton.testing import ScriptedModel, call, chunks, reasoning


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def collect(run) -> list[Event]:
    return [event async for event in run]


async def test_run_yields_every_event_in_order_then_the_reply():
    model = ScriptedModel(
        chunks(reasoning("need "), reasoning("a tool"), "calling ", call("add", a=1, b=2)),
        chunks("the ", "answer ", "is 3"),
    )
    agent = Agent("calc", config=model, tools=[add])

    async with asyncio.timeout(5):
        async with agent.run("1 + 2?") as run:
            events = await collect(run)
            reply = await run.result()

    assert [type(e) for e in events] == [
        RunStarted,
        ModelRequest,
        ReasoningChunk,
        ReasoningChunk,
        TextChunk,
        ToolCallDelta,  # the streamed call's arguments, as they come
        ModelResponse,
        ToolCall,
        ToolCallResult,
        TextChunk,
        TextChunk,
        TextChunk,
        ModelResponse,
        UsageReport,
        RunFinished,
    ]
    assert [e.text for e in events if isinstance(e, ReasoningChunk)] == ["need ", "a tool"]
    assert [e.text for e in events if isinstance(e, TextChunk)] == [
        "calling ",
        "the ",
        "answer ",
        "is 3",
    ]
    delta, first_response, notice = events[5], events[6], events[7]
    assert notice == first_response.tool_calls[0]
    assert (delta.call_id, delta.delta) == (notice.id, notice.arguments)
    assert first_response.reasoning == "need a tool"
    assert events[8].call_id == notice.id
    assert events[8].value == 3

    assert reply.text == "the answer is 3"
    assert reply.output == "the answer is 3"
    # the persistent events streamed are exactly the reply's history
    assert [e for e in events if not e.transient] == list(reply.events)
    assert run.done


async def test_run_streams_plain_text_turns_as_a_chunk():
    agent = Agent("echo", config=ScriptedModel("hello there"))
    async with agent.run("hi") as run:
        events = await collect(run)
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["hello there"]


async def test_run_without_streaming_has_no_chunks():
    agent = Agent("echo", config=ScriptedModel(chunks("a", "b")))
    async with agent.run("hi", settings=ModelSettings(stream=False)) as run:
        events = await collect(run)
        reply = await run.result()
    assert not [e for e in events if isinstance(e, TextChunk)]
    assert reply.text == "ab"


async def test_result_without_iterating():
    model = ScriptedModel(call("add", a=2, b=3), "5")
    agent = Agent("calc", config=model, tools=[add])

    async with asyncio.timeout(5), agent.run("2 + 3") as run:
        reply = await run.result()

    assert reply.text == "5"
    assert reply.usage.requests == 2
    assert run.done
    assert model.calls_made == 2


async def test_result_without_iterating_a_long_stream_does_not_stall():
    pieces = [f"{i} " for i in range(10_000)]
    agent = Agent("talker", config=ScriptedModel(chunks(*pieces)))
    async with asyncio.timeout(10), agent.run("talk") as run:
        reply = await run.result()
    assert reply.text == "".join(pieces)


async def test_leaving_the_block_early_cancels_the_ask():
    started = asyncio.Event()
    never = asyncio.Event()
    tool_saw_cancel = asyncio.Event()

    @tool
    async def slow() -> str:
        """Take forever."""
        started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            tool_saw_cancel.set()
            raise
        return "unreachable"

    history = MemoryHistory()
    model = ScriptedModel(call("slow"), "after")
    agent = Agent("agent", config=model, tools=[slow], history=history)

    async with asyncio.timeout(5):
        async with agent.run("go", conversation_id="c") as run:
            async for event in run:
                if isinstance(event, ToolCall):
                    break
            await started.wait()
        # no exception: leaving early is a normal way to stop
        assert run.done

    assert tool_saw_cancel.is_set()
    events = await history.load("c")
    assert isinstance(events[-2], ToolCallError)
    assert "cancelled" in events[-2].message
    assert isinstance(events[-1], RunFailed)
    assert events[-1].error_type == "Cancelled"

    reply = await agent.ask("again", conversation_id="c")
    assert reply.text == "after"


async def test_failed_ask_raises_from_result():
    agent = Agent("agent", config=ScriptedModel(RateLimited("slow down", retry_after=3)))

    async with asyncio.timeout(5):
        with pytest.raises(RateLimited) as caught:
            async with agent.run("hi") as run:
                events = await collect(run)
                await run.result()

    assert caught.value.retry_after == 3
    assert isinstance(events[-1], RunFailed)
    assert events[-1].error_type == "RateLimited"
    assert events[-1].message == "slow down"


async def test_failed_ask_raises_from_the_block_exit_when_result_was_never_awaited():
    agent = Agent("agent", config=ScriptedModel(RateLimited("slow down", retry_after=3)))
    reached_end_of_block = False

    async with asyncio.timeout(5):
        with pytest.raises(RateLimited, match="slow down"):
            async with agent.run("hi") as run:
                events = await collect(run)
                reached_end_of_block = True

    assert reached_end_of_block
    assert isinstance(events[-1], RunFailed)


async def test_an_error_in_the_block_is_not_masked_by_the_asks_error():
    agent = Agent("agent", config=ScriptedModel(RateLimited("slow down")))
    with pytest.raises(KeyError):
        async with agent.run("hi") as run:
            await collect(run)
            raise KeyError("mine")


async def test_configuration_errors_surface_when_entering_the_block():
    run = Agent("nomodel").run("hi")
    with pytest.raises(ConfigError, match="config="):
        async with run:
            pass


async def test_run_must_be_used_inside_async_with():
    model = ScriptedModel("hi")
    run = Agent("agent", config=model).run("hi")
    with pytest.raises(RuntimeError, match="async with"):
        await run.result()
    with pytest.raises(RuntimeError, match="async with"):
        await anext(run)
    assert model.calls_made == 0


async def test_reply_run_continues_the_conversation():
    model = ScriptedModel(call("add", a=2, b=3), "5", chunks("and ", "7"))
    agent = Agent("calc", config=model, tools=[add])
    first = await agent.ask("2 + 3?")

    async with asyncio.timeout(5):
        async with first.run("and 3 + 4?") as run:
            events = await collect(run)
            second = await run.result()

    assert second.text == "and 7"
    assert second.conversation_id == first.conversation_id
    assert isinstance(events[0], RunStarted)
    assert events[0].conversation_id == first.conversation_id
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["and ", "7"]
    # only this ask's events are streamed; the reply holds the whole conversation
    assert [e for e in events if not e.transient] == list(second.events)[len(first.events) :]
    assert list(second.events)[: len(first.events)] == list(first.events)
    seen = [e.text for e in model.requests[-1].messages if isinstance(e, ModelRequest)]
    assert seen == ["2 + 3?", "and 3 + 4?"]


@pytest.mark.parametrize("count", [1000, 10_000])
async def test_long_streamed_answer_arrives_complete_and_in_order(count):
    pieces = [f"<{i}>" for i in range(count)]
    agent = Agent("talker", config=ScriptedModel(chunks(*pieces)))

    async with asyncio.timeout(20):
        async with agent.run("talk") as run:
            received = [e.text async for e in run if isinstance(e, TextChunk)]
            reply = await run.result()

    assert received == pieces
    assert reply.text == "".join(pieces)


async def test_run_on_a_shared_stream_yields_only_its_own_asks_events():
    shared = MemoryStream()
    other_may_go = asyncio.Event()
    other_finished = asyncio.Event()

    async def other_turn(c):
        await other_may_go.wait()
        return chunks("B1", "B2")

    async def my_turn(c):
        other_may_go.set()  # the other conversation now talks on the same stream ...
        await other_finished.wait()  # ... while this ask is still in flight
        return chunks("A1", "A2")

    other = Agent("other", config=ScriptedModel(other_turn))
    mine = Agent("mine", config=ScriptedModel(my_turn))

    async def run_other():
        try:
            return await other.ask("x", stream=shared)
        finally:
            other_finished.set()

    async with asyncio.timeout(5):
        other_task = asyncio.create_task(run_other())
        async with mine.run("y", stream=shared) as run:
            events = await collect(run)
            reply = await run.result()
        other_reply = await other_task

    assert other_reply.text == "B1B2"
    assert reply.text == "A1A2"
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["A1", "A2"]
    assert [e.agent for e in events if isinstance(e, RunStarted)] == ["mine"]
    assert [e for e in events if not e.transient] == list(reply.events)


async def _let_the_ask_run(steps: int = 50) -> None:
    # Yield to the event loop without reading the run: no clock involved.
    for _ in range(steps):
        await asyncio.sleep(0)


async def test_concurrent_tools_blocked_on_a_full_run_buffer_all_resume() -> None:
    from baton import Context, tool
    from baton.events import TaskProgress

    @tool
    async def spam(n: int, context: Context) -> str:
        for half in range(2):
            for i in range(2500):
                await context.emit(TaskProgress(f"t{n}", "x", f"{half}-{i}"))
            await asyncio.sleep(0)
        return "ok"

    agent = Agent(
        "a", config=ScriptedModel([call("spam", n=1), call("spam", n=2)], "done"), tools=[spam]
    )
    async with asyncio.timeout(10), agent.run("go") as run:
        await _let_the_ask_run()  # both tools now wait for room in the run's buffer
        progress = 0
        async for event in run:
            progress += isinstance(event, TaskProgress)
        reply = await run.result()
    assert progress == 10_000
    assert reply.text == "done"


async def test_cancel_returns_while_the_run_buffer_is_full() -> None:
    from baton import Context, tool
    from baton.events import RunFailed, TaskProgress

    @tool
    async def spam(context: Context) -> str:
        for i in range(6000):
            await context.emit(TaskProgress("t", "x", str(i)))
        return "ok"

    agent = Agent("a", config=ScriptedModel(call("spam"), "done"), tools=[spam])
    async with asyncio.timeout(10), agent.run("go") as run:
        await _let_the_ask_run()  # nobody reads: the buffer fills and the tool waits
        await run.cancel()
        events = [e async for e in run]
    assert isinstance(events[-1], RunFailed) and events[-1].error_type == "Cancelled"
