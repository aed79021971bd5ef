"""MemoryStream: subscribing, filtering, failure isolation, iteration, next() and back-pressure."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from baton import Agent, Context, tool
from baton.errors import ConfigError, StreamClosed, StreamOverflow
from baton.events import (
    Event,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    ReasoningChunk,
    RunFailed,
    RunFinished,
    RunStarted,
    SubscriberFailed,
    TextChunk,
    ToolCall,
    ToolCallResult,
    UsageReport,
)
from baton.stream import EventFilter, MemoryStream, Stream, in_thread
from baton.testing import ScriptedModel, call, chunks

GUARD = 2.0  # seconds; only a guard against hangs, never a performance assertion


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def calc_agent(model: ScriptedModel) -> Agent:
    return Agent("calc", prompt="You add numbers.", config=model, tools=[add])


def names(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_memory_stream_is_a_stream():
    assert isinstance(MemoryStream(), Stream)


def test_max_buffer_must_be_positive():
    with pytest.raises(ValueError):
        MemoryStream(max_buffer=0)


# -- subscribers -------------------------------------------------------------------------------


async def test_sync_and_async_subscribers_get_every_event_in_order():
    stream = MemoryStream()
    sync_seen: list[Event] = []
    async_seen: list[Event] = []

    async def record(event: Event) -> None:
        await asyncio.sleep(0)
        async_seen.append(event)

    stream.subscribe(sync_seen.append)
    stream.subscribe(record)
    sent = [TextChunk("a"), ToolCall("1", "add"), TextChunk("b"), RunFinished("r", "done")]
    for event in sent:
        await stream.send(event)
    assert sync_seen == sent
    assert async_seen == sent


async def test_send_returns_after_async_subscriber_finished():
    stream = MemoryStream()
    done: list[str] = []

    async def slow(event: Event) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        done.append(event.text)

    stream.subscribe(slow)
    await stream.send(TextChunk("x"))
    assert done == ["x"]


async def test_sync_subscriber_returning_an_awaitable_is_awaited():
    stream = MemoryStream()
    seen: list[str] = []

    async def later(event: Event) -> None:
        seen.append(event.text)

    stream.subscribe(lambda event: later(event))
    await stream.send(TextChunk("x"))
    assert seen == ["x"]


async def test_subscribers_are_called_in_subscription_order():
    stream = MemoryStream()
    order: list[str] = []
    stream.subscribe(lambda e: order.append("first"))
    stream.where(TextChunk).subscribe(lambda e: order.append("second"))
    stream.subscribe(lambda e: order.append("third"))
    await stream.send(TextChunk("x"))
    assert order == ["first", "second", "third"]


async def test_sending_with_no_subscribers_is_fine():
    stream = MemoryStream()
    await stream.send(TextChunk("x"))
    assert stream.subscriber_count == 0


# -- where -------------------------------------------------------------------------------------

MIXED: list[Event] = [
    TextChunk("hello"),
    ToolCall("c1", "add", '{"a": 1}'),
    ReasoningChunk("hmm"),
    ToolCall("c2", "mul"),
    RunStarted("r1", "calc", "conv"),
    TextChunk("world"),
    RunFinished("r1", "done"),
]


async def deliver(stream: MemoryStream, events=MIXED) -> None:
    for event in events:
        await stream.send(event)


async def test_subscribing_to_base_event_gets_everything():
    stream = MemoryStream()
    via_where: list[Event] = []
    plain: list[Event] = []
    stream.where(Event).subscribe(via_where.append)
    stream.subscribe(plain.append)
    await deliver(stream)
    assert via_where == MIXED
    assert plain == MIXED


async def test_where_with_a_union_of_types():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(TextChunk | ToolCall).subscribe(got.append)
    await deliver(stream)
    assert got == [e for e in MIXED if isinstance(e, TextChunk | ToolCall)]
    assert names(got) == ["TextChunk", "ToolCall", "ToolCall", "TextChunk"]


async def test_where_with_several_types():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(ReasoningChunk, RunStarted, RunFinished).subscribe(got.append)
    await deliver(stream)
    assert names(got) == ["ReasoningChunk", "RunStarted", "RunFinished"]


async def test_where_with_a_type_and_a_field_value():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(ToolCall, name="mul").subscribe(got.append)
    await deliver(stream)
    assert got == [ToolCall("c2", "mul")]


async def test_where_field_on_events_without_that_field_does_not_match():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(name="add").subscribe(got.append)
    await deliver(stream)
    assert got == [ToolCall("c1", "add", '{"a": 1}')]


async def test_where_with_a_predicate():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(predicate=lambda e: "o" in getattr(e, "text", "")).subscribe(got.append)
    await deliver(stream)
    assert got == [TextChunk("hello"), TextChunk("world"), RunFinished("r1", "done")]


async def test_where_combines_type_field_and_predicate():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(TextChunk | ToolCall, predicate=lambda e: len(getattr(e, "id", "xx")) == 2).where(
        ToolCall
    ).subscribe(got.append)
    await deliver(stream)
    assert got == [ToolCall("c1", "add", '{"a": 1}'), ToolCall("c2", "mul")]


async def test_chained_where_narrows_types():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(TextChunk | ToolCall).where(ToolCall).subscribe(got.append)
    await deliver(stream)
    assert got == [e for e in MIXED if isinstance(e, ToolCall)]


async def test_chained_where_adds_field_and_predicate_filters():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(ToolCall).where(name="add").subscribe(got.append)
    stream.where(predicate=lambda e: isinstance(e, TextChunk)).where(
        predicate=lambda e: e.text.startswith("w")
    ).subscribe(got.append)
    await deliver(stream)
    assert got == [ToolCall("c1", "add", '{"a": 1}'), TextChunk("world")]


async def test_chained_where_on_base_event_then_type():
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(predicate=lambda e: True).where(RunStarted | RunFinished).subscribe(got.append)
    await deliver(stream)
    assert names(got) == ["RunStarted", "RunFinished"]


async def test_chained_where_with_disjoint_types_matches_nothing():
    # Both filters must match: a TextChunk is never a ToolCall, so nothing gets through.
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(TextChunk).where(ToolCall).subscribe(got.append)
    await deliver(stream)
    assert got == []


async def test_chained_where_with_conflicting_field_values_matches_nothing():
    # Both filters must match: no ToolCall is named both "add" and "mul".
    stream = MemoryStream()
    got: list[Event] = []
    stream.where(ToolCall, name="add").where(name="mul").subscribe(got.append)
    await deliver(stream)
    assert got == []


def test_where_rejects_non_event_types():
    stream = MemoryStream()
    with pytest.raises(TypeError):
        stream.where(int)
    with pytest.raises(TypeError):
        stream.where("TextChunk")
    with pytest.raises(TypeError):
        stream.where(TextChunk | int)


# -- unsubscribing -----------------------------------------------------------------------------


async def test_unsubscribe_stops_delivery():
    stream = MemoryStream()
    first: list[Event] = []
    second: list[Event] = []
    sub = stream.subscribe(first.append)
    stream.subscribe(second.append)
    await stream.send(TextChunk("a"))
    sub.unsubscribe()
    assert stream.subscriber_count == 1
    await stream.send(TextChunk("b"))
    sub.unsubscribe()  # a second call is harmless
    assert first == [TextChunk("a")]
    assert second == [TextChunk("a"), TextChunk("b")]


async def test_unsubscribe_removes_only_that_subscription_of_a_function():
    stream = MemoryStream()
    seen: list[Event] = []
    one = stream.subscribe(seen.append)
    stream.subscribe(seen.append)
    one.unsubscribe()
    await stream.send(TextChunk("a"))
    assert seen == [TextChunk("a")]


async def test_subscription_as_context_manager():
    stream = MemoryStream()
    seen: list[Event] = []
    with stream.where(TextChunk).subscribe(seen.append) as sub:
        assert stream.subscriber_count == 1
        await stream.send(TextChunk("inside"))
    assert sub is not None
    assert stream.subscriber_count == 0
    await stream.send(TextChunk("outside"))
    assert seen == [TextChunk("inside")]


async def test_subscribing_after_events_were_sent_only_sees_later_ones():
    stream = MemoryStream()
    seen: list[Event] = []
    await stream.send(TextChunk("early"))
    stream.where(TextChunk).subscribe(seen.append)
    await stream.send(TextChunk("late"))
    assert seen == [TextChunk("late")]


# -- causal order through an agent -------------------------------------------------------------


async def test_agent_events_arrive_in_causal_order():
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    model = ScriptedModel([call("add", a=2, b=3), call("add", a=1, b=1)], "5 and 2")
    reply = await calc_agent(model).ask("2+3 and 1+1?", stream=stream)
    assert reply.text == "5 and 2"

    persistent = [e for e in seen if not e.transient]
    assert names(persistent) == [
        "RunStarted",
        "ModelRequest",
        "ModelResponse",
        "ToolCallResult",
        "ToolCallResult",
        "ModelResponse",
        "UsageReport",
        "RunFinished",
    ]
    # what the stream delivered (minus chunks and notices) is exactly the conversation's history
    assert persistent == list(reply.events)

    # each tool call is announced before its result, and both come after the response asking
    first_response = seen.index(persistent[2])
    for result in (e for e in seen if isinstance(e, ToolCallResult)):
        notice = next(e for e in seen if isinstance(e, ToolCall) and e.id == result.call_id)
        assert first_response < seen.index(notice) < seen.index(result)
    assert {r.content for r in seen if isinstance(r, ToolCallResult)} == {"5", "2"}
    # the streamed chunk of the final answer precedes the response it belongs to
    chunk = next(e for e in seen if isinstance(e, TextChunk))
    assert seen.index(chunk) < seen.index(persistent[5])


async def test_subscriber_sees_the_request_before_the_model_is_called():
    stream = MemoryStream()
    model = ScriptedModel(call("add", a=2, b=3), "5")
    calls_at: dict[str, list[int]] = {"ModelRequest": [], "ModelResponse": [], "RunFinished": []}
    seen: list[str] = []

    def watch(event: Event) -> None:
        seen.append(type(event).__name__)
        calls_at[type(event).__name__].append(model.calls_made)

    stream.where(ModelRequest | ModelResponse | RunFinished).subscribe(watch)
    await calc_agent(model).ask("2+3?", stream=stream)
    assert seen == ["ModelRequest", "ModelResponse", "ModelResponse", "RunFinished"]
    assert calls_at == {"ModelRequest": [0], "ModelResponse": [1, 2], "RunFinished": [2]}


async def test_async_subscriber_runs_before_the_loop_moves_on():
    stream = MemoryStream()
    model = ScriptedModel("hi")
    observed: list[int] = []

    async def on_request(event: Event) -> None:
        await asyncio.sleep(0)
        observed.append(model.calls_made)

    stream.where(ModelRequest).subscribe(on_request)
    await Agent("a", config=model).ask("hello", stream=stream)
    assert observed == [0]


# -- failing subscribers -----------------------------------------------------------------------


async def test_failing_subscribers_do_not_break_an_ask():
    stream = MemoryStream()

    def sync_boom(event: Event) -> None:
        raise RuntimeError("sync boom")

    async def async_boom(event: Event) -> None:
        await asyncio.sleep(0)
        raise ValueError("async boom")

    seen: list[Event] = []
    stream.where(ModelResponse).subscribe(sync_boom)
    stream.where(RunStarted | RunFinished).subscribe(async_boom)
    stream.subscribe(seen.append)
    model = ScriptedModel(call("add", a=2, b=3), "5")
    reply = await calc_agent(model).ask("2+3?", stream=stream)

    assert reply.text == "5"
    assert reply.output == "5"
    persistent = [e for e in seen if not e.transient]
    assert persistent == list(reply.events)
    assert not any(isinstance(e, SubscriberFailed) for e in reply.events)

    failures = [e for e in seen if isinstance(e, SubscriberFailed)]
    assert sorted((f.event_type, f.error_type, f.message) for f in failures) == [
        ("ModelResponse", "RuntimeError", "sync boom"),
        ("ModelResponse", "RuntimeError", "sync boom"),
        ("RunFinished", "ValueError", "async boom"),
        ("RunStarted", "ValueError", "async boom"),
    ]
    by_error = {f.error_type: f.subscriber for f in failures}
    assert by_error["RuntimeError"].endswith("sync_boom")
    assert by_error["ValueError"].endswith("async_boom")


async def test_other_subscribers_get_every_event_despite_a_failing_one():
    stream = MemoryStream()
    before: list[Event] = []
    after: list[Event] = []
    stream.subscribe(before.append)

    def boom(event: Event) -> None:
        raise RuntimeError(f"cannot handle {type(event).__name__}")

    stream.where(TextChunk | ToolCall).subscribe(boom)
    stream.subscribe(after.append)
    await deliver(stream)
    for seen in (before, after):
        assert [e for e in seen if not isinstance(e, SubscriberFailed)] == MIXED
        failures = [e for e in seen if isinstance(e, SubscriberFailed)]
        assert [(f.event_type, f.message) for f in failures] == [
            ("TextChunk", "cannot handle TextChunk"),
            ("ToolCall", "cannot handle ToolCall"),
            ("ToolCall", "cannot handle ToolCall"),
            ("TextChunk", "cannot handle TextChunk"),
        ]
        assert all(f.subscriber.endswith("boom") for f in failures)


async def test_failure_report_comes_after_the_event_it_is_about():
    # Causal order: a subscriber must not hear that some subscriber failed on an event before it
    # has itself received that event.
    stream = MemoryStream()
    seen: list[Event] = []

    def boom(event: Event) -> None:
        raise RuntimeError("boom")

    stream.where(TextChunk).subscribe(boom)
    stream.subscribe(seen.append)
    await stream.send(TextChunk("x"))
    assert names(seen) == ["TextChunk", "SubscriberFailed"]


async def test_a_failing_failure_handler_does_not_loop():
    stream = MemoryStream()
    handler_calls: list[SubscriberFailed] = []
    reports: list[SubscriberFailed] = []

    def boom(event: Event) -> None:
        raise RuntimeError("first")

    def bad_handler(event: SubscriberFailed) -> None:
        handler_calls.append(event)
        raise RuntimeError("handler also fails")

    async def async_bad_handler(event: SubscriberFailed) -> None:
        raise ValueError("async handler fails too")

    stream.where(TextChunk).subscribe(boom)
    stream.where(SubscriberFailed).subscribe(bad_handler)
    stream.where(SubscriberFailed).subscribe(async_bad_handler)
    stream.where(SubscriberFailed).subscribe(reports.append)
    async with asyncio.timeout(GUARD):
        await stream.send(TextChunk("x"))
        await stream.send(TextChunk("y"))
    assert len(handler_calls) == 2
    assert [(r.event_type, r.message) for r in reports] == [
        ("TextChunk", "first"),
        ("TextChunk", "first"),
    ]


async def test_a_subscriber_failing_on_everything_does_not_loop():
    stream = MemoryStream()
    calls: list[Event] = []

    def always_fails(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("nope")

    stream.subscribe(always_fails)
    async with asyncio.timeout(GUARD):
        await stream.send(TextChunk("x"))
    assert names(calls) == ["TextChunk", "SubscriberFailed"]


# -- async iteration ---------------------------------------------------------------------------


async def test_async_for_yields_live_events():
    stream = MemoryStream()
    watcher = aiter(stream.where(TextChunk | RunFinished))
    got: list[Event] = []

    async def consume() -> None:
        async for event in watcher:
            got.append(event)
            if isinstance(event, RunFinished):
                break

    task = asyncio.create_task(consume())
    await deliver(stream)
    async with asyncio.timeout(GUARD):
        await task
    assert got == [TextChunk("hello"), TextChunk("world"), RunFinished("r1", "done")]


async def test_async_for_over_a_whole_stream_sees_an_agent_ask():
    stream = MemoryStream()
    watcher = aiter(stream)
    model = ScriptedModel(chunks("Hel", "lo"))
    reply = await Agent("a", config=model).ask("hi", stream=stream)
    stream.close()
    got: list[Event] = []
    async with asyncio.timeout(GUARD):
        async for event in watcher:
            got.append(event)
    assert [e.text for e in got if isinstance(e, TextChunk)] == ["Hel", "lo"]
    assert [e for e in got if not e.transient] == list(reply.events)


async def test_close_ends_async_for_after_buffered_events():
    stream = MemoryStream()
    watcher = aiter(stream)
    got: list[Event] = []

    async def consume() -> None:
        async for event in watcher:
            got.append(event)

    task = asyncio.create_task(consume())
    await stream.send(TextChunk("a"))
    await stream.send(TextChunk("b"))
    stream.close()
    async with asyncio.timeout(GUARD):
        await task
    assert got == [TextChunk("a"), TextChunk("b")]
    assert stream.closed
    assert stream.subscriber_count == 0


async def test_close_ends_a_waiting_iteration():
    stream = MemoryStream()
    started = asyncio.Event()

    async def consume() -> list[Event]:
        out = []
        watcher = aiter(stream.where(TextChunk))
        started.set()
        async for event in watcher:
            out.append(event)
        return out

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0)  # let it block waiting for an event
    stream.close()
    async with asyncio.timeout(GUARD):
        assert await task == []


async def test_watcher_close_stops_watching():
    stream = MemoryStream()
    watcher = aiter(stream)
    await stream.send(TextChunk("a"))
    watcher.close()
    assert stream.subscriber_count == 0
    await stream.send(TextChunk("b"))
    async with asyncio.timeout(GUARD):
        assert [e async for e in watcher] == [TextChunk("a")]


# -- next() ------------------------------------------------------------------------------------


async def test_next_returns_the_next_matching_event():
    stream = MemoryStream()

    async def produce() -> None:
        await asyncio.sleep(0)
        await stream.send(TextChunk("skip me"))
        await stream.send(ToolCall("c1", "add"))
        await stream.send(ToolCall("c2", "mul"))

    producer = asyncio.create_task(produce())
    event = await stream.where(ToolCall, name="mul").next(timeout=GUARD)
    await producer
    assert event == ToolCall("c2", "mul")
    assert stream.subscriber_count == 0


async def test_next_listens_from_the_call_not_the_await():
    stream = MemoryStream()
    pending = stream.where(TextChunk).next(timeout=GUARD)
    await stream.send(TextChunk("sent before the await"))
    await stream.send(TextChunk("later"))
    assert await pending == TextChunk("sent before the await")
    assert stream.subscriber_count == 0


async def test_next_does_not_see_events_sent_before_the_call():
    stream = MemoryStream()
    await stream.send(TextChunk("old"))
    pending = stream.where(TextChunk).next(timeout=GUARD)
    await stream.send(TextChunk("new"))
    assert await pending == TextChunk("new")


async def test_next_timeout_raises_timeout_error_and_unsubscribes():
    stream = MemoryStream()
    view = stream.where(TextChunk)
    pending = view.next(timeout=0.01)
    await stream.send(ToolCall("c", "add"))  # not a match
    with pytest.raises(TimeoutError):
        await pending
    assert stream.subscriber_count == 0


async def test_close_makes_pending_next_raise_stream_closed():
    stream = MemoryStream()
    waiter = asyncio.ensure_future(stream.where(TextChunk).next())
    await asyncio.sleep(0)
    assert not waiter.done()
    stream.close()
    async with asyncio.timeout(GUARD):
        with pytest.raises(StreamClosed):
            await waiter


async def test_close_makes_pending_next_with_timeout_raise_stream_closed():
    stream = MemoryStream()
    pending = stream.where(TextChunk).next(timeout=GUARD)
    stream.close()
    with pytest.raises(StreamClosed):
        await pending


async def test_closed_stream_refuses_new_waits_and_delivers_nothing():
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    stream.close()
    await stream.send(TextChunk("x"))
    assert seen == []
    with pytest.raises(StreamClosed):
        stream.where(TextChunk).next(timeout=GUARD)
    with pytest.raises(StreamClosed):
        stream.subscribe(seen.append)


async def test_next_during_an_agent_ask():
    stream = MemoryStream()
    model = ScriptedModel(call("add", a=4, b=5), "9")
    pending = stream.where(ToolCallResult, name="add").next(timeout=GUARD)
    reply = await calc_agent(model).ask("4+5?", stream=stream)
    result = await pending
    assert result.content == "9"
    assert result in list(reply.events)


# -- back-pressure -----------------------------------------------------------------------------


async def test_stalled_watcher_overflows_without_blocking_the_sender():
    stream = MemoryStream(max_buffer=5)
    watcher = aiter(stream)
    sent = [TextChunk(str(i)) for i in range(10)]
    async with asyncio.timeout(GUARD):  # the sender must never wait for the watcher
        for event in sent:
            await stream.send(event)
    assert stream.subscriber_count == 0  # the watcher was detached

    got: list[Event] = []
    with pytest.raises(StreamOverflow):
        async with asyncio.timeout(GUARD):
            async for event in watcher:
                got.append(event)
    assert got == sent[:5]


async def test_overflow_of_one_watcher_does_not_affect_others():
    stream = MemoryStream(max_buffer=3)
    stalled = aiter(stream)
    seen: list[Event] = []
    stream.subscribe(seen.append)
    sent = [TextChunk(str(i)) for i in range(6)]
    for event in sent:
        await stream.send(event)
    assert seen == sent
    with pytest.raises(StreamOverflow):
        async with asyncio.timeout(GUARD):
            async for _ in stalled:
                pass


async def test_filtered_watcher_only_counts_matching_events():
    stream = MemoryStream(max_buffer=2)
    watcher = aiter(stream.where(RunFinished))
    for i in range(10):
        await stream.send(TextChunk(str(i)))
    await stream.send(RunFinished("r", "done"))
    stream.close()
    async with asyncio.timeout(GUARD):
        assert [e async for e in watcher] == [RunFinished("r", "done")]


async def test_watcher_abandoned_by_break_is_unsubscribed():
    stream = MemoryStream()

    async def first_event() -> Event:
        async for event in stream:
            return event
        raise AssertionError("unreachable")

    async def break_early() -> None:
        async for _ in stream.where(TextChunk):
            break

    first = asyncio.create_task(first_event())
    second = asyncio.create_task(break_early())
    await asyncio.sleep(0)
    assert stream.subscriber_count == 2
    await stream.send(TextChunk("a"))
    await stream.send(TextChunk("b"))
    async with asyncio.timeout(GUARD):
        assert await first == TextChunk("a")
        await second
    gc.collect()
    assert stream.subscriber_count == 0
    await stream.send(TextChunk("c"))  # nothing left to deliver to
    assert stream.subscriber_count == 0


async def test_usage_report_is_delivered_once_per_ask():
    stream = MemoryStream()
    reports: list[Event] = []
    stream.where(UsageReport).subscribe(reports.append)
    agent = Agent("a", config=ScriptedModel("one", "two"))
    first = await agent.ask("1", stream=stream)
    await agent.ask("2", stream=stream)
    assert len(reports) == 2
    assert reports[0].usage == first.usage


# -- slow and stuck subscribers ----------------------------------------------------------------


async def test_a_subscriber_that_never_returns_is_detached_and_reported():
    stream = MemoryStream(delivery_timeout=0.05)
    never = asyncio.Event()
    stuck_saw: list[str] = []
    seen: list[Event] = []

    async def stuck(event: Event) -> None:
        stuck_saw.append(type(event).__name__)
        await never.wait()

    stream.where(ModelRequest).subscribe(stuck)
    stream.subscribe(seen.append)
    reply = await asyncio.wait_for(calc_agent(ScriptedModel("hi")).ask("x", stream=stream), GUARD)

    assert reply.text == "hi"
    assert stuck_saw == ["ModelRequest"]  # detached: it gets nothing after the timeout
    assert stream.subscriber_count == 1
    failures = [e for e in seen if isinstance(e, SubscriberFailed)]
    assert [(f.event_type, f.error_type) for f in failures] == [
        ("ModelRequest", "SubscriberTimeout")
    ]
    assert failures[0].subscriber.endswith("stuck")
    assert "0.05 seconds" in failures[0].message
    # The report follows the event it is about, and the ask goes on after it.
    assert names(seen).index("SubscriberFailed") == names(seen).index("ModelRequest") + 1
    assert names(seen)[-1] == "RunFinished"


async def test_a_subscriber_that_ignores_cancellation_is_still_detached():
    stream = MemoryStream(delivery_timeout=0.05)
    refused: list[int] = []

    async def stubborn(event: Event) -> None:
        while True:
            try:
                await asyncio.sleep(GUARD)
                return
            except asyncio.CancelledError:
                refused.append(1)  # refuses to stop

    stream.where(ModelRequest).subscribe(stubborn)
    seen: list[Event] = []
    stream.subscribe(seen.append)
    reply = await asyncio.wait_for(calc_agent(ScriptedModel("hi")).ask("x", stream=stream), GUARD)
    assert reply.text == "hi"
    assert refused == [1]
    assert [f.error_type for f in seen if isinstance(f, SubscriberFailed)] == ["SubscriberTimeout"]


async def test_a_subscriber_that_does_not_wait_is_never_timed_out():
    # No timer on the fast path: even a tiny delivery timeout never fires on a subscriber that
    # finishes without waiting.
    stream = MemoryStream(delivery_timeout=1e-9)
    got: list[Event] = []

    async def quick(event: Event) -> None:
        got.append(event)

    stream.subscribe(quick)
    reply = await calc_agent(ScriptedModel(call("add", a=1, b=2), "3")).ask("x", stream=stream)
    assert [e for e in got if not e.transient] == list(reply.events)
    assert not any(isinstance(e, SubscriberFailed) for e in got)


@pytest.mark.parametrize("delivery_timeout", [GUARD, None])
async def test_a_subscribers_own_timeout_error_is_a_failure_not_a_detach(
    delivery_timeout: float | None,
):
    stream = MemoryStream(delivery_timeout=delivery_timeout)
    calls: list[str] = []

    async def impatient(event: Event) -> None:
        calls.append(type(event).__name__)
        await asyncio.sleep(0)
        raise TimeoutError("upstream too slow")

    stream.where(TextChunk).subscribe(impatient)
    seen: list[Event] = []
    stream.subscribe(seen.append)
    await stream.send(TextChunk("a"))
    await stream.send(TextChunk("b"))
    assert calls == ["TextChunk", "TextChunk"]  # still subscribed
    failures = [e for e in seen if isinstance(e, SubscriberFailed)]
    assert [(f.error_type, f.message) for f in failures] == [
        ("TimeoutError", "upstream too slow")
    ] * 2


async def test_a_slow_subscriber_within_its_timeout_sees_every_event():
    stream = MemoryStream(delivery_timeout=GUARD)
    got: list[str] = []

    async def slow(event: Event) -> None:
        await asyncio.sleep(0.001)
        got.append(type(event).__name__)

    stream.subscribe(slow)
    await deliver(stream)
    assert got == [type(e).__name__ for e in MIXED]


async def test_cancelling_an_ask_does_not_wait_on_a_subscriber_that_ignores_it(valid_history):
    # No delivery timeout at all: only the cancellation can end the wait.
    stream = MemoryStream(delivery_timeout=None)
    entered = asyncio.Event()
    seen: list[Event] = []

    async def stubborn(event: Event) -> None:
        entered.set()
        while True:
            try:
                await asyncio.sleep(GUARD)
                return
            except asyncio.CancelledError:
                pass

    stream.subscribe(seen.append)
    stream.where(ToolCallResult).subscribe(stubborn)
    agent = calc_agent(ScriptedModel(call("add", a=1, b=2), "3"))
    task = asyncio.create_task(agent.ask("x", stream=stream))
    await asyncio.wait_for(entered.wait(), GUARD)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=GUARD)
    assert task in done and task.cancelled()
    assert stream.subscriber_count == 1  # the stubborn one is detached
    assert names(seen)[-1] == "RunFailed"  # the run was closed and the others heard it
    valid_history([e for e in seen if not e.transient])


async def test_cleanup_after_a_failed_ask_does_not_wait_on_a_stuck_subscriber(
    monkeypatch: pytest.MonkeyPatch, valid_history
):
    import baton.stream

    monkeypatch.setattr(baton.stream, "CLEANUP_DELIVERY_TIMEOUT", 0.05)
    stream = MemoryStream(delivery_timeout=None)  # only the cleanup bound applies
    never = asyncio.Event()
    seen: list[Event] = []

    async def stuck_on_the_end(event: Event) -> None:
        await never.wait()

    @tool
    def broken() -> str:
        """Fails in a way the ask cannot survive (a configuration mistake)."""
        raise ConfigError("the tool is not set up")

    stream.where(RunFailed).subscribe(stuck_on_the_end)
    stream.subscribe(seen.append)
    agent = Agent("a", config=ScriptedModel(call("broken"), "unreachable"), tools=[broken])
    with pytest.raises(ConfigError, match="not set up"):
        await asyncio.wait_for(agent.ask("x", stream=stream), GUARD)
    assert names(seen)[-2:] == ["RunFailed", "SubscriberFailed"]
    assert seen[-1].error_type == "SubscriberTimeout"  # type: ignore[attr-defined]
    valid_history([e for e in seen if not e.transient])


def test_delivery_timeout_must_be_finite_and_positive():
    for bad in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ConfigError, match="delivery_timeout"):
            MemoryStream(delivery_timeout=bad)  # type: ignore[arg-type]
    assert MemoryStream(delivery_timeout=None).delivery_timeout is None


async def test_in_thread_runs_a_sync_subscriber_off_the_loop_in_order():
    stream = MemoryStream()
    got: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    def record(event: Event) -> None:
        got.append((type(event).__name__, threading.get_ident() != loop_thread))

    stream.subscribe(in_thread(record))
    await deliver(stream)
    assert got == [(type(e).__name__, True) for e in MIXED]


async def test_a_blocking_sync_subscriber_in_a_thread_cannot_hang_the_ask():
    stream = MemoryStream(delivery_timeout=0.05)
    release = threading.Event()
    seen: list[Event] = []

    def blocking(event: Event) -> None:
        release.wait(GUARD)  # set at the end of the test, so the thread never leaks

    stream.where(ModelRequest).subscribe(in_thread(blocking))
    stream.subscribe(seen.append)
    try:
        reply = await asyncio.wait_for(
            calc_agent(ScriptedModel("hi")).ask("x", stream=stream), GUARD
        )
    finally:
        release.set()
    assert reply.text == "hi"
    failures = [e for e in seen if isinstance(e, SubscriberFailed)]
    assert [(f.subscriber, f.error_type) for f in failures] == [
        (f"in_thread({blocking.__qualname__})", "SubscriberTimeout")
    ]


async def test_cleanup_after_a_cancelled_ask_does_not_wait_on_a_stuck_subscriber(
    monkeypatch: pytest.MonkeyPatch, valid_history
):
    import baton.stream

    monkeypatch.setattr(baton.stream, "CLEANUP_DELIVERY_TIMEOUT", 0.05)
    stream = MemoryStream(delivery_timeout=None)  # only the cancel and the cleanup bound apply
    never = asyncio.Event()
    entered = asyncio.Event()
    seen: list[Event] = []
    stuck_saw: list[str] = []

    async def stuck(event: Event) -> None:  # honours cancellation, but never returns
        stuck_saw.append(type(event).__name__)
        entered.set()
        await never.wait()

    stream.subscribe(seen.append)
    stream.where(ToolCallResult | RunFailed).subscribe(stuck)
    agent = calc_agent(ScriptedModel(call("add", a=1, b=2), "3"))
    task = asyncio.create_task(agent.ask("x", stream=stream))
    await asyncio.wait_for(entered.wait(), GUARD)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=GUARD)
    assert task in done and task.cancelled()
    assert stuck_saw == ["ToolCallResult", "RunFailed"]
    assert stream.subscriber_count == 1  # detached on the closing event it got stuck on
    assert names(seen)[-2:] == ["RunFailed", "SubscriberFailed"]
    assert seen[-1].error_type == "SubscriberTimeout"  # type: ignore[attr-defined]
    valid_history([e for e in seen if not e.transient])


async def test_a_remark_sent_while_an_ask_runs_reaches_the_model_at_its_next_call():
    """Issue 11, point 9: a HumanMessage answering no request, sent on the conversation's
    stream (or with run.send) while the ask runs, is recorded and read by the model next."""
    stream = MemoryStream()

    @tool
    async def search(city: str) -> str:
        """Search a city."""
        await stream.send(HumanMessage("also check Oslo"))  # a UI, while the tool runs
        return f"sunny in {city}"

    model = ScriptedModel(call("search", city="Rome"), "Rome and Oslo are sunny")
    reply = await Agent("a", config=model, tools=[search]).ask("weather?", stream=stream)
    second = list(model.requests[1].messages)
    assert isinstance(second[-1], HumanMessage) and second[-1].text == "also check Oslo"
    assert isinstance(second[-2], ToolCallResult)
    assert [e for e in reply.events if isinstance(e, HumanMessage)] == [second[-1]]

    go = asyncio.Event()

    @tool
    async def confirm() -> str:
        """Wait for the user's go."""
        await go.wait()
        return "confirmed"

    paris = ScriptedModel(call("confirm"), "ok")
    agent = Agent("a", config=paris, tools=[confirm])
    async with agent.run("weather?", stream=MemoryStream()) as run:
        async for event in run:
            if isinstance(event, ToolCall):
                run.send("in Celsius, please")
                go.set()
    last = paris.requests[1].messages[-1]
    assert isinstance(last, HumanMessage) and last.text == "in Celsius, please"


async def test_a_stream_first_asked_for_while_the_ask_runs_takes_its_remarks_too():
    """A conversation makes its stream on first use: one a tool asks for mid-ask routes the
    remarks sent on it to the running ask, and lets go of them when the ask ends."""
    streams: list[Stream] = []

    @tool
    async def search(city: str, context: Context) -> str:
        """Search a city."""
        streams.append(context.stream)
        await context.stream.send(HumanMessage("also check Oslo"))
        return f"sunny in {city}"

    model = ScriptedModel(call("search", city="Rome"), "Rome and Oslo are sunny")
    reply = await Agent("a", config=model, tools=[search]).ask("weather?")
    last = model.requests[1].messages[-1]
    assert isinstance(last, HumanMessage) and last.text == "also check Oslo"
    assert reply.stream is streams[0]  # the same stream, kept by the conversation
    assert getattr(streams[0], "remarks", "missing") is None  # the ask let go of it


async def test_a_remark_sent_after_the_last_model_call_is_kept_for_the_next_ask():
    stream = MemoryStream()

    async def answering(_: object) -> str:
        await stream.send(HumanMessage("by the way, I am in Oslo"))  # a UI, mid-answer
        return "first answer"

    model = ScriptedModel(answering, "second answer")
    first = await Agent("a", config=model).ask("one", stream=stream)
    kinds = [type(e).__name__ for e in first.events]
    assert kinds[-3:] == ["HumanMessage", "UsageReport", "RunFinished"]  # kept in the run
    await first.ask("two")
    assert any(
        isinstance(e, HumanMessage) and e.text == "by the way, I am in Oslo"
        for e in model.requests[1].messages
    )


async def test_a_remark_too_late_for_the_ask_is_recorded_by_the_next_one_and_not_sent_twice():
    stream = MemoryStream()
    seen: list[str] = []
    stream.subscribe(lambda e: seen.append(e.text), where=EventFilter(HumanMessage))
    model = ScriptedModel("first", "second")
    agent = Agent("a", config=model)
    async with agent.run("one", stream=stream) as run:
        async for event in run:
            if isinstance(event, ModelResponse):  # the answer is written: the ask is ending
                run.send("too late for this one")
        first = await run.result()
    assert not any(isinstance(e, HumanMessage) for e in first.events)
    second = await first.ask("two")
    remarks = [e for e in second.events if isinstance(e, HumanMessage)]
    assert [r.text for r in remarks] == ["too late for this one"]
    assert any(isinstance(e, HumanMessage) for e in model.requests[1].messages)
    assert seen == []  # recorded, never published again on the stream it came from


async def test_subscribe_takes_event_classes_as_its_filter() -> None:
    stream = MemoryStream()
    calls: list[object] = []
    texts: list[object] = []
    stream.subscribe(calls.append, where=ToolCall)
    stream.subscribe(texts.append, where=TextChunk | HumanMessage)
    await stream.send(TextChunk("hi"))
    await stream.send(HumanMessage("yes"))
    await stream.send(ToolCall("c1", "add", {"a": 1}))
    assert [type(e).__name__ for e in calls] == ["ToolCall"]
    assert [type(e).__name__ for e in texts] == ["TextChunk", "HumanMessage"]
    with pytest.raises(TypeError, match="event classes"):
        stream.subscribe(calls.append, where=str)  # type: ignore[arg-type]
