"""Context assembly policies: windows, token budgets, filters and working memory change what a
model call sees, never the stored history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from baton import (
    Agent,
    ConfigError,
    Context,
    Event,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCallError,
    ToolCallResult,
    tool,
)
from baton.events import (
    CompactionSummary,
    HumanMessage,
    OutputRejected,
    RunFinished,
    RunStarted,
    UsageReport,
)
from baton.harness import (
    AlertPolicy,
    ContextPolicy,
    ConversationalOnly,
    LoopDetector,
    SlidingWindow,
    TokenBudget,
    WorkingMemory,
)
from baton.harness.tokens import events_tokens
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call

SENT = (
    ModelRequest,
    ModelResponse,
    ToolCallResult,
    ToolCallError,
    OutputRejected,
    CompactionSummary,
)
USER_SIDE = (ModelRequest, OutputRejected, CompactionSummary, HumanMessage)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def fetch(words: int) -> str:
    """Fetch a document of the given length."""
    return "word " * words


def sent(messages: Sequence[Event]) -> list[Event]:
    return [
        e
        for e in messages
        if isinstance(e, SENT) or (isinstance(e, HumanMessage) and e.request_id is None and e.text)
    ]


def assert_safe_window(messages: Sequence[Event], request: str) -> None:
    """No tool result without its call, no call without its results, the ask's request kept,
    and the first message the model reads is the user's side."""
    events = sent(messages)
    assert events, "the model got no messages"
    assert isinstance(events[0], USER_SIDE), f"window opens with {events[0]!r}"
    assert any(isinstance(e, ModelRequest) and e.text == request for e in events)
    pending: set[str] = set()
    for event in events:
        if isinstance(event, ModelResponse):
            assert not pending, f"calls {pending} left unanswered"
            pending = {c.id for c in event.tool_calls}
        elif isinstance(event, ToolCallResult | ToolCallError):
            assert event.call_id in pending, f"result {event.call_id} without its call"
            pending.discard(event.call_id)
    assert not pending


# A conversation with parallel calls, a failing call, several steps per ask and plain answers.
SCRIPT: tuple[Any, ...] = (
    [call("add", a=1, b=2), call("add", a=3, b=4)],
    call("add", a=3, b=7),
    "10",
    "plain",
    call("missing"),
    [call("add", a=5, b=5), call("add", a=6, b=6), call("add", a=7, b=7)],
    "done",
    call("add", a=0, b=0),
    "zero",
)
ASKS = 4  # the script answers four asks


async def converse(policy: ContextPolicy, history: MemoryHistory | None = None) -> Any:
    model = ScriptedModel(*SCRIPT)
    agent = Agent("calc", config=model, tools=[add], policies=[policy], history=history)
    reply = None
    for i in range(ASKS):
        first = len(model.requests)
        reply = await (agent.ask(f"q{i}") if reply is None else reply.ask(f"q{i}"))
        for request in model.requests[first:]:
            assert_safe_window(request.messages, f"q{i}")
    return reply, model


async def test_sliding_window_keeps_the_latest_messages_and_all_of_history() -> None:
    history = MemoryHistory()
    reply, model = await converse(SlidingWindow(4), history)
    last = model.requests[-1].messages
    assert len(sent(last)) <= 4
    assert [type(e) for e in sent(last)] == [ModelRequest, ModelResponse, ToolCallResult]
    # The stored conversation keeps every event.
    assert len(reply.events) > len(last)
    requests = [e.text for e in reply.events if isinstance(e, ModelRequest)]
    assert requests == [f"q{i}" for i in range(ASKS)]
    assert await history.load(reply.conversation_id) == list(reply.events)
    assert sum(isinstance(e, RunStarted) for e in reply.events) == ASKS


async def test_a_window_large_enough_leaves_the_call_untouched() -> None:
    reply, model = await converse(SlidingWindow(1000))
    for request in model.requests:
        assert list(request.messages) == list(reply.events)[: len(request.messages)]


@pytest.mark.parametrize("size", range(1, 16))
async def test_sliding_window_never_splits_a_tool_call_from_its_result(size: int) -> None:
    _, model = await converse(SlidingWindow(size))
    for request in model.requests:
        messages = sent(request.messages)
        if len(messages) > size:
            # Only the smallest safe window may exceed the size: the request and one step.
            assert isinstance(messages[0], ModelRequest)
            assert isinstance(messages[1], ModelResponse) and messages[1].tool_calls
            assert all(isinstance(e, ToolCallResult | ToolCallError) for e in messages[2:])


@pytest.mark.parametrize("budget", range(5, 200, 9))
async def test_token_budget_never_splits_a_tool_call_from_its_result(budget: int) -> None:
    _, model = await converse(TokenBudget(budget))
    for request in model.requests:
        messages = sent(request.messages)
        if events_tokens(messages) > budget:
            assert isinstance(messages[0], ModelRequest)
            assert isinstance(messages[1], ModelResponse) and messages[1].tool_calls


async def test_the_request_is_pinned_when_a_long_ask_outgrows_the_window() -> None:
    steps = [call("add", a=i, b=i) for i in range(6)]
    model = ScriptedModel(*steps, "done")
    agent = Agent("calc", config=model, tools=[add], policies=[SlidingWindow(3)])
    reply = await agent.ask("add them all")
    for request in model.requests[2:]:
        messages = sent(request.messages)
        assert isinstance(messages[0], ModelRequest) and messages[0].text == "add them all"
        assert [type(e) for e in messages[1:]] == [ModelResponse, ToolCallResult]
    # The last call saw the latest step, not an earlier one.
    assert (
        model.requests[-1].messages[-1]
        == [e for e in reply.events if isinstance(e, ToolCallResult)][-1]
    )


async def long_or_short(words: int) -> list[Event]:
    model = ScriptedModel(call("fetch", words=words), "read it", "ok", "fine")
    agent = Agent("reader", config=model, tools=[fetch], policies=[TokenBudget(120)])
    reply = await agent.ask("fetch a document")
    reply = await reply.ask("thanks")
    await reply.ask("bye")
    return list(model.requests[-1].messages)


async def test_token_budget_counts_real_content() -> None:
    short = await long_or_short(5)
    long = await long_or_short(2000)
    # A short tool result fits in the budget with its call; a long one pushes them out.
    assert any(isinstance(e, ToolCallResult) for e in short)
    assert not any(isinstance(e, ToolCallResult) for e in long)
    assert len(sent(long)) < len(sent(short))
    assert events_tokens(long) <= 120


class Twin(ContextPolicy):
    """Applies a window kept across calls and a brand new one; both must agree."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.kept = make()

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        kept = await self.kept.apply(call, context)
        fresh = await self.make().apply(call, context)
        assert list(kept.messages) == list(fresh.messages)
        return kept  # type: ignore[no-any-return]


@pytest.mark.parametrize("make", [lambda: TokenBudget(60), lambda: SlidingWindow(5)])
async def test_incremental_windows_match_windows_chosen_afresh(make: Any) -> None:
    await converse(Twin(make))


async def test_conversational_only_drops_bookkeeping() -> None:
    reply, model = await converse(ConversationalOnly())
    bookkeeping = (RunStarted, RunFinished, UsageReport)
    for request in model.requests:
        assert not any(isinstance(e, bookkeeping) for e in request.messages)
        assert len(sent(request.messages)) == len(request.messages)
    assert any(isinstance(e, bookkeeping) for e in reply.events)
    # Each call's messages extend the previous call's (providers convert only the new ones).
    for before, after in zip(model.requests, model.requests[1:], strict=False):
        assert list(after.messages)[: len(before.messages)] == list(before.messages)


async def test_policies_compose_in_order() -> None:
    model2 = ScriptedModel(*SCRIPT)
    agent = Agent(
        "calc", config=model2, tools=[add], policies=[ConversationalOnly(), SlidingWindow(3)]
    )
    reply = await agent.ask("q0")
    for i in range(1, ASKS):
        reply = await reply.ask(f"q{i}")
    for request in model2.requests:
        messages = list(request.messages)
        assert messages == sent(messages)
        if len(messages) > 3:  # only the smallest safe window may be larger
            assert isinstance(messages[0], ModelRequest) and isinstance(messages[1], ModelResponse)
            assert all(isinstance(e, ToolCallResult | ToolCallError) for e in messages[2:])


async def test_working_memory_appends_a_section_to_the_instructions() -> None:
    model = ScriptedModel("ok", "ok", "ok")
    agent = Agent(
        "helper",
        "Be brief.",
        config=model,
        policies=[WorkingMemory(lambda ctx: ctx.variables.get("notes"))],
    )
    reply = await agent.ask("hi")
    assert model.requests[0].instructions == "Be brief."  # nothing to add yet
    reply.variables["notes"] = "The user's name is Ann."
    await reply.ask("who am I?")
    assert model.requests[1].instructions == (
        "Be brief.\n\n## Working memory\nThe user's name is Ann."
    )
    assert not any("Working memory" in str(e) for e in reply.events)


async def test_working_memory_takes_async_sources_and_a_title() -> None:
    async def notes(context: Context) -> str:
        return f"turn {context.turn}"

    model = ScriptedModel(call("add", a=1, b=1), "2")
    agent = Agent(
        "helper", config=model, tools=[add], policies=[WorkingMemory(notes, title="Scratchpad")]
    )
    await agent.ask("1 + 1?")
    assert [r.instructions for r in model.requests] == [
        "## Scratchpad\nturn 0",
        "## Scratchpad\nturn 1",
    ]


async def test_policies_given_per_ask_add_to_the_agents() -> None:
    model = ScriptedModel("ok")
    agent = Agent("a", "Base.", config=model, policies=[WorkingMemory(lambda _: "one")])
    await agent.ask("hi", policies=[WorkingMemory(lambda _: "two", title="More")])
    assert model.requests[0].instructions == "Base.\n\n## Working memory\none\n\n## More\ntwo"


def test_bad_policy_arguments_are_refused() -> None:
    with pytest.raises(ConfigError):
        SlidingWindow(0)
    with pytest.raises(ConfigError):
        TokenBudget(-5)
    with pytest.raises(ConfigError):
        WorkingMemory("notes")  # type: ignore[arg-type]


async def test_a_policy_sees_the_call_the_loop_prepared() -> None:
    seen: list[ModelCall] = []

    class Spy(ContextPolicy):
        async def apply(self, call: ModelCall, context: Context) -> ModelCall:
            seen.append(call)
            return call

    model = ScriptedModel("ok")
    await Agent("a", config=model, policies=[SlidingWindow(1), Spy()]).ask("hi")
    assert seen[0].messages is model.requests[0].messages


async def test_a_window_lowers_the_input_tokens_the_model_reports() -> None:
    async def input_tokens(policies: list[ContextPolicy]) -> int:
        model = ScriptedModel(call("fetch", words=400), "read", "ok", "fine")
        agent = Agent("reader", config=model, tools=[fetch], policies=policies)
        reply = await agent.ask("fetch a document")
        reply = await reply.ask("thanks")
        return (await reply.ask("bye")).usage.input_tokens

    assert await input_tokens([SlidingWindow(3)]) < await input_tokens([])


async def test_alert_policy_shows_the_model_what_observers_noticed_since_its_last_answer():
    """Issue 11, point 10: opt-in; the loop detector's warning reaches the next call's
    instructions (and only that call's: the model's answer after it starts a new step)."""

    @tool
    def look() -> str:
        """Look around."""
        return "nothing new"

    model = ScriptedModel(call("look"), call("look"), "I will stop looking", "bye")
    agent = Agent(
        "a",
        "Be useful.",
        config=model,
        tools=[look],
        observers=[LoopDetector(max_repeats=2)],
        policies=[AlertPolicy()],
    )
    reply = await agent.ask("go")
    assert reply.text == "I will stop looking"
    first, second, third = (r.instructions or "" for r in model.requests)
    assert first == second == "Be useful."
    assert third.startswith("Be useful.\n\n## Notes from the run's monitors\n- loop-detector")
    await reply.ask("thanks")
    assert model.requests[-1].instructions == "Be useful."  # shown once, not for ever
    plain = ScriptedModel(call("look"), call("look"), "done")
    await Agent("a", "Be useful.", config=plain, tools=[look], observers=[LoopDetector(2)]).ask(
        "go"
    )
    assert {r.instructions for r in plain.requests} == {"Be useful."}  # off unless asked for
