"""Behaviour of Agent.ask and Reply: the loop, conversations, configuration, failures."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from baton import (
    Agent,
    ConfigError,
    Context,
    Data,
    Event,
    Image,
    MaxTurnsExceeded,
    MemoryHistory,
    MemoryStorage,
    MemoryStream,
    ModelRequest,
    ModelResponse,
    Text,
    ToolCallError,
    ToolCallResult,
    tool,
)
from baton.context import UsageCounter
from baton.errors import ConversationBusy, EmptyResponseError, ModelError, RateLimited
from baton.events import (
    OutputRejected,
    RunFailed,
    RunFinished,
    RunStarted,
    Usage,
    UsageLine,
    UsageReport,
)
from baton.testing import ScriptedModel, call


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def calc(*turns: object, **options: object) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(*turns)
    agent = Agent("calc", prompt="You add numbers.", config=model, tools=[add], **options)  # type: ignore[arg-type]
    return agent, model


def kinds(events: Sequence[Event]) -> list[type]:
    return [type(e) for e in events]


def assert_every_call_answered(messages: Sequence[Event]) -> None:
    """Each tool call of a response is answered exactly once before the model is called again."""
    events = list(messages)
    for i, event in enumerate(events):
        if not isinstance(event, ModelResponse) or not event.tool_calls:
            continue
        answers: list[str] = []
        for later in events[i + 1 :]:
            if isinstance(later, ModelResponse | ModelRequest):
                break
            if isinstance(later, ToolCallResult | ToolCallError):
                answers.append(later.call_id)
        assert sorted(answers) == sorted(c.id for c in event.tool_calls), (event, answers)


# -- the design example ---------------------------------------------------------------------------


async def test_design_example_reply_text_output_usage_and_events():
    agent, model = calc(call("add", a=2, b=3), "5")

    reply = await agent.ask("What is 2 + 3?")

    assert reply.text == "5"
    assert reply.output == "5"
    assert reply.usage.requests == 2
    assert reply.usage.tool_calls == 1
    assert reply.usage.input_tokens > 0
    assert reply.usage.output_tokens > 0
    assert kinds(reply.events) == [
        RunStarted,
        ModelRequest,
        ModelResponse,
        ToolCallResult,
        ModelResponse,
        UsageReport,
        RunFinished,
    ]
    started, request, first, result, final, report, finished = reply.events
    assert started.agent == "calc"
    assert started.conversation_id == reply.conversation_id
    assert started.run_id == finished.run_id == reply.run_id
    assert request.parts == (Text("What is 2 + 3?"),)
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("add", '{"a":2,"b":3}')]
    assert result.call_id == first.tool_calls[0].id
    assert (result.name, result.content, result.value) == ("add", "5", 5)
    assert final.text == "5"
    assert report.usage == reply.usage
    assert (finished.text, finished.output) == ("5", "5")
    assert reply.response is final
    # the tool result the model saw on its second call
    assert model.requests[1].messages[-1] == result


async def test_reply_ask_continues_the_conversation():
    agent, model = calc(call("add", a=2, b=3), "5", call("add", a=3, b=4), "7")
    first = await agent.ask("What is 2 + 3?")

    second = await first.ask("And 3 + 4?")

    assert second.text == "7"
    assert second.conversation_id == first.conversation_id
    assert second.run_id != first.run_id
    # the model's first request of the second ask holds the whole first exchange
    seen = list(model.requests[2].messages)
    assert seen[: len(first.events)] == list(first.events)
    assert seen[-1] == ModelRequest((Text("And 3 + 4?"),))
    assert list(second.events)[: len(first.events)] == list(first.events)
    # usage is per ask, not cumulative
    assert second.usage.requests == 2
    assert second.usage.tool_calls == 1


async def test_reply_events_stay_an_immutable_view():
    agent, _ = calc("one", "two")
    first = await agent.ask("1")
    before = list(first.events)

    second = await first.ask("2")

    assert list(first.events) == before
    assert len(first.events) == len(before)
    assert isinstance(first.events[-1], RunFinished)
    assert first.events[-1].run_id == first.run_id
    with pytest.raises(IndexError):
        first.events[len(before)]
    assert len(second.events) == 2 * len(before)
    assert second.events[-1].run_id == second.run_id


async def test_asking_an_earlier_reply_again_branches_without_touching_later_replies():
    agent, model = calc("one", "two", "three")
    first = await agent.ask("1")
    second = await first.ask("2")
    second_events = list(second.events)

    branch = await first.ask("other")

    assert branch.text == "three"
    assert list(second.events) == second_events
    texts = [e.text for e in branch.events if isinstance(e, ModelRequest)]
    assert texts == ["1", "other"]
    assert [e.text for e in model.requests[-1].messages if isinstance(e, ModelRequest)] == [
        "1",
        "other",
    ]


async def test_a_conversation_keeps_delivering_to_the_stream_it_started_with():
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    agent, _ = calc("one", "two")

    first = await agent.ask("1", stream=stream)
    second = await first.ask("2")

    assert [e for e in seen if not e.transient] == list(second.events)


async def test_reply_ask_rejects_a_stream_and_points_to_reply_stream():
    agent, _ = calc("one", "two")
    first = await agent.ask("1")
    with pytest.raises(ConfigError, match=r"reply\.stream"):
        await first.ask("2", stream=MemoryStream())
    with pytest.raises(ConfigError, match="conversation_id"):
        await first.ask("2", conversation_id="other")

    # the conversation's own stream carries the later asks
    seen: list[Event] = []
    first.stream.subscribe(seen.append)
    second = await first.ask("2")
    assert [e for e in seen if not e.transient] == list(second.events)[len(first.events) :]


# -- ask_sync -------------------------------------------------------------------------------------


def test_ask_sync_from_plain_sync_code():
    agent, model = calc(call("add", a=2, b=3), "5", "again")

    reply = agent.ask_sync("What is 2 + 3?")
    assert reply.text == "5"
    assert reply.usage.tool_calls == 1

    follow_up = reply.ask_sync("more")
    assert follow_up.text == "again"
    assert follow_up.conversation_id == reply.conversation_id
    assert len(model.requests[-1].messages) == len(reply.events) + 2


async def test_ask_sync_inside_a_running_event_loop():
    agent, _ = calc(call("add", a=2, b=3), "5", "again")

    reply = agent.ask_sync("What is 2 + 3?")
    assert reply.text == "5"
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]

    follow_up = reply.ask_sync("more")
    assert follow_up.text == "again"
    # the loop is still usable afterwards
    assert (await agent.ask("x", config=ScriptedModel("async still works"))).text == (
        "async still works"
    )


# -- prompt and input -----------------------------------------------------------------------------


async def test_static_prompt_is_in_every_requests_instructions():
    agent, model = calc(call("add", a=1, b=1), "2", "ok")
    reply = await agent.ask("1 + 1")
    await reply.ask("thanks")

    assert len(model.requests) == 3
    assert [r.instructions for r in model.requests] == ["You add numbers."] * 3


async def test_agent_without_prompt_sends_no_instructions():
    model = ScriptedModel("hi")
    await Agent("bare", config=model).ask("hello")
    assert model.requests[0].instructions is None


async def test_multimodal_prompt_reaches_the_model_request():
    model = ScriptedModel("a cat", "a dog")
    agent = Agent("eye", config=model)
    picture = Image(data=b"\x89PNG fake bytes")

    reply = await agent.ask(["look", picture])

    request = model.requests[0].messages[-1]
    assert isinstance(request, ModelRequest)
    assert request.parts == (Text("look"), picture)
    assert request.parts[1].data == b"\x89PNG fake bytes"
    assert request.parts[1].media_type == "image/png"
    assert reply.events[1] == request

    other = Image(url="https://example.com/dog.png")
    await agent.ask(other)
    assert model.requests[1].messages[-1].parts == (other,)


@dataclass
class Trip:
    city: str
    days: int


class Budget(BaseModel):
    limit: float
    currency: str = "EUR"


async def test_any_json_able_value_is_sent_as_one_data_part():
    """Issue 11, point 1: a dict, a dataclass, a pydantic model, a number or a list of values
    is one Data part (the model gets JSON); a list with text or parts converts each item."""
    model = ScriptedModel("ok", repeat=True)
    agent = Agent("eye", config=model)
    cases: list[tuple[Any, tuple[Any, ...]]] = [
        ({"city": "Paris", "days": 3}, (Data({"city": "Paris", "days": 3}),)),
        (Trip("Rome", 2), (Data({"city": "Rome", "days": 2}),)),
        (Budget(limit=99.5), (Data({"limit": 99.5, "currency": "EUR"}),)),
        (42, (Data(42),)),
        ([1, 2, 3], (Data([1, 2, 3]),)),
        (["plan this", Trip("Oslo", 1)], (Text("plan this"), Data({"city": "Oslo", "days": 1}))),
    ]
    for value, parts in cases:
        reply = await agent.ask(value)
        assert model.requests[-1].messages[-1].parts == parts
        assert reply.text == "ok"


async def test_a_value_that_is_not_json_is_a_config_error_before_the_model_is_called():
    model = ScriptedModel("never")
    agent = Agent("eye", config=model)
    for value, named in [(object(), "object"), (None, "None"), (b"raw", "bytes")]:
        with pytest.raises(ConfigError, match=named):
            await agent.ask(value)
    assert model.calls_made == 0


# -- max_turns ------------------------------------------------------------------------------------


async def test_max_turns_exceeded_names_the_limit_and_how_to_raise_it():
    model = ScriptedModel(call("add", a=1, b=1), repeat=True)
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    agent = Agent("looper", config=model, tools=[add], max_turns=3)

    with pytest.raises(MaxTurnsExceeded) as caught:
        await agent.ask("loop", stream=stream)

    message = str(caught.value)
    assert "max_turns=3" in message
    assert "Agent(..., max_turns=N)" in message
    assert "ask(..., max_turns=N)" in message
    assert model.calls_made == 3
    persistent = [e for e in seen if not e.transient]
    assert isinstance(persistent[-1], RunFailed)
    assert persistent[-1].error_type == "MaxTurnsExceeded"
    assert_every_call_answered(persistent)


async def test_max_turns_per_ask_override():
    model = ScriptedModel(call("add", a=1, b=1), repeat=True)
    agent = Agent("looper", config=model, tools=[add])  # default max_turns=20

    with pytest.raises(MaxTurnsExceeded, match="max_turns=2"):
        await agent.ask("loop", max_turns=2)
    assert model.calls_made == 2

    strict, strict_model = calc(call("add", a=1, b=2), "3", max_turns=1)
    reply = await strict.ask("1 + 2", max_turns=2)
    assert reply.text == "3"
    assert strict_model.calls_made == 2


async def test_max_turns_default_is_enforced_by_the_agent():
    strict, model = calc(call("add", a=1, b=2), "3", max_turns=1)
    with pytest.raises(MaxTurnsExceeded, match="max_turns=1"):
        await strict.ask("1 + 2")
    assert model.calls_made == 1


# -- configuration errors -------------------------------------------------------------------------


class NotASchema:
    def __init__(self, anything):
        self.anything = anything


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"name": ""}, ["non-empty name"]),
        ({"name": "   "}, ["non-empty name"]),
        ({"max_turns": 0}, ["max_turns", "at least 1", "0"]),
        ({"output_retries": -1}, ["output_retries", "at least 0", "-1"]),
        ({"tool_concurrency": 0}, ["tool_concurrency", "at least 1"]),
        ({"tool_timeout": 0}, ["tool_timeout", "positive"]),
        ({"tool_timeout": -2.5}, ["tool_timeout", "positive"]),
        ({"tool_timeout": "5"}, ["tool_timeout"]),
        ({"max_turns": 2.5}, ["max_turns", "integer"]),
        ({"prompt": 123}, ["prompt", "string or a function"]),
        ({"tools": [42]}, ["not a tool", "42"]),
        ({"config": 42}, ["ModelConfig", "provider:model", "int"]),
        ({"config": "no-colon"}, ["provider:model"]),
        ({"response_schema": NotASchema}, ["response_schema", "JSON schema", "pydantic model"]),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else "",
)
def test_invalid_agent_configuration_raises_config_error(kwargs, fragments):
    options = {"name": "agent", "config": ScriptedModel("x"), **kwargs}
    name = options.pop("name")
    with pytest.raises(ConfigError) as caught:
        Agent(name, **options)
    for fragment in fragments:
        assert fragment in str(caught.value)


async def test_missing_config_is_reported_at_ask_time():
    agent = Agent("nomodel")  # constructing is fine

    with pytest.raises(ConfigError) as caught:
        await agent.ask("hi")
    message = str(caught.value)
    assert "'nomodel'" in message
    assert "config=" in message
    assert "ScriptedModel" in message

    # a per-ask config fills the gap
    assert (await agent.ask("hi", config=ScriptedModel("there"))).text == "there"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"max_turns": 0}, "max_turns"),
        ({"output_retries": -1}, "output_retries"),
        ({"response_schema": NotASchema}, "JSON schema"),
        ({"config": 3.5}, "ModelConfig"),
    ],
)
async def test_invalid_per_ask_options_raise_config_error(options, fragment):
    model = ScriptedModel("never")
    agent = Agent("agent", config=model)
    with pytest.raises(ConfigError, match=fragment):
        await agent.ask("hi", **options)
    assert model.calls_made == 0


async def test_conversation_id_without_history_explains_what_is_needed():
    agent = Agent("agent", config=ScriptedModel("x"))
    with pytest.raises(ConfigError, match="history"):
        await agent.ask("hi", conversation_id="abc")


# -- model failures -------------------------------------------------------------------------------


async def test_model_exception_propagates_with_attributes_and_is_recorded():
    error = RateLimited("slow down", retry_after=2)
    model = ScriptedModel(error, "recovered")
    history = MemoryHistory()
    agent = Agent("agent", config=model, history=history)

    with pytest.raises(RateLimited) as caught:
        await agent.ask("hi", conversation_id="conv")

    assert caught.value is error
    assert isinstance(caught.value, ModelError)
    assert caught.value.retry_after == 2
    assert caught.value.retryable is True
    assert str(caught.value) == "slow down"
    events = await history.load("conv")
    assert kinds(events) == [RunStarted, ModelRequest, RunFailed]
    assert events[-1].error_type == "RateLimited"
    assert events[-1].message == "slow down"
    assert events[-1].run_id == events[0].run_id

    # the conversation goes on after the failure
    reply = await agent.ask("again", conversation_id="conv")
    assert reply.text == "recovered"
    assert [e.text for e in model.requests[-1].messages if isinstance(e, ModelRequest)] == [
        "hi",
        "again",
    ]


async def test_model_exception_after_a_tool_call_leaves_the_calls_answered():
    history = MemoryHistory()
    model = ScriptedModel(call("add", a=1, b=2), RateLimited("slow down", retry_after=1))
    agent = Agent("agent", config=model, tools=[add], history=history)

    with pytest.raises(RateLimited):
        await agent.ask("hi", conversation_id="c")

    events = await history.load("c")
    assert kinds(events) == [RunStarted, ModelRequest, ModelResponse, ToolCallResult, RunFailed]
    assert_every_call_answered(events)


async def test_empty_answer_is_sent_back_and_retried():
    model = ScriptedModel("", "   ", "finally")
    agent = Agent("agent", config=model)

    reply = await agent.ask("hi")

    assert reply.text == "finally"
    assert model.calls_made == 3
    rejections = [e for e in reply.events if isinstance(e, OutputRejected)]
    assert len(rejections) == 2
    assert "empty" in rejections[0].message
    assert isinstance(model.requests[1].messages[-1], OutputRejected)
    assert isinstance(model.requests[2].messages[-1], OutputRejected)


async def test_repeated_empty_answers_raise_empty_response_error():
    model = ScriptedModel("", "", "", "never reached")
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)

    with pytest.raises(EmptyResponseError) as caught:
        await Agent("mute", config=model).ask("hi", stream=stream)

    assert "empty" in str(caught.value)
    assert "3 attempts (3 empty)" in str(caught.value)
    assert model.calls_made == 3
    assert isinstance(seen[-1], RunFailed)
    assert seen[-1].error_type == "EmptyResponseError"


async def test_empty_answer_with_no_retries_fails_at_once():
    model = ScriptedModel("", "never reached")
    with pytest.raises(EmptyResponseError):
        await Agent("mute", config=model, output_retries=0).ask("hi")
    assert model.calls_made == 1


# -- concurrency ----------------------------------------------------------------------------------


async def test_fifty_concurrent_asks_keep_their_own_conversations():
    count = 50
    arrived = 0
    all_in = asyncio.Event()

    @tool
    async def double(n: int) -> int:
        """Double a number."""
        nonlocal arrived
        arrived += 1
        if arrived == count:
            all_in.set()
        await all_in.wait()  # every ask is in flight at the same time
        return n * 2

    def ask_tool(c):
        return call("double", n=int(c.last.text))

    def answer(c):
        return f"{c.last.call_id}:{c.last.content}"

    model = ScriptedModel(ask_tool, answer, per_conversation=True)
    agent = Agent("doubler", config=model, tools=[double])

    async with asyncio.timeout(10):
        replies = await asyncio.gather(*(agent.ask(str(i)) for i in range(count)))

    assert len({r.conversation_id for r in replies}) == count
    call_ids = set()
    for i, reply in enumerate(replies):
        call_id, _, value = reply.text.partition(":")
        assert value == str(2 * i)
        call_ids.add(call_id)
        requests = [e for e in reply.events if isinstance(e, ModelRequest)]
        assert [r.text for r in requests] == [str(i)]
        assert {e.conversation_id for e in reply.events if isinstance(e, RunStarted)} == {
            reply.conversation_id
        }
        assert reply.usage.requests == 2
    assert len(call_ids) == count
    assert model.calls_made == 2 * count


async def test_concurrent_conversations_have_their_own_variables():
    both = asyncio.Event()
    waiting = 0

    @tool
    async def bump(context: Context) -> int:
        """Count."""
        nonlocal waiting
        context.variables["count"] += 1
        waiting += 1
        if waiting == 2:
            both.set()
        await both.wait()
        return context.variables["count"]

    model = ScriptedModel(call("bump"), "done", per_conversation=True)
    agent = Agent("counter", config=model, tools=[bump], variables={"count": 0})

    async with asyncio.timeout(5):
        first, second = await asyncio.gather(agent.ask("a"), agent.ask("b"))

    assert first.variables["count"] == 1
    assert second.variables["count"] == 1
    assert agent.variables["count"] == 0
    assert [e.value for e in first.events if isinstance(e, ToolCallResult)] == [1]


def _gated_tool():
    started = asyncio.Event()
    gate = asyncio.Event()

    @tool
    async def wait_for_gate() -> str:
        """Wait until released."""
        started.set()
        await gate.wait()
        return "released"

    return wait_for_gate, started, gate


async def test_continuing_a_reply_while_its_next_ask_runs_branches_instead_of_mixing():
    wait_for_gate, started, gate = _gated_tool()
    model = ScriptedModel("hello", call("wait_for_gate"), "b done", "a done")
    agent = Agent("agent", config=model, tools=[wait_for_gate])
    hello = await agent.ask("hi")

    async with asyncio.timeout(5):
        task_a = asyncio.create_task(hello.ask("a"))
        await started.wait()
        reply_b = await hello.ask("b")
        gate.set()
        reply_a = await task_a

    assert (reply_a.text, reply_b.text) == ("a done", "b done")
    assert reply_a.conversation_id == hello.conversation_id
    assert reply_b.conversation_id != hello.conversation_id
    assert [e.text for e in reply_a.events if isinstance(e, ModelRequest)] == ["hi", "a"]
    assert [e.text for e in reply_b.events if isinstance(e, ModelRequest)] == ["hi", "b"]
    assert_every_call_answered(reply_a.events)
    assert list(reply_b.events)[: len(hello.events)] == list(hello.events)


async def test_concurrent_asks_on_one_stored_conversation_raise_conversation_busy():
    wait_for_gate, started, gate = _gated_tool()
    history = MemoryHistory()
    model = ScriptedModel(call("wait_for_gate"), "first done", "second done")
    agent = Agent("agent", config=model, tools=[wait_for_gate], history=history)

    async with asyncio.timeout(5):
        first = asyncio.create_task(agent.ask("one", conversation_id="shared"))
        await started.wait()
        try:
            with pytest.raises(ConversationBusy):
                await agent.ask("two", conversation_id="shared")
        finally:
            gate.set()
            await first

    events = await history.load("shared")
    assert kinds(events) == [
        RunStarted,
        ModelRequest,
        ModelResponse,
        ToolCallResult,
        ModelResponse,
        UsageReport,
        RunFinished,
    ]


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelled_ask_leaves_a_valid_history_and_the_conversation_continues():
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
    model = ScriptedModel(call("slow"), "recovered")
    agent = Agent("agent", config=model, tools=[slow], history=history)

    task = asyncio.create_task(agent.ask("go", conversation_id="conv"))
    async with asyncio.timeout(5):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert tool_saw_cancel.is_set()
    events = await history.load("conv")
    assert kinds(events) == [RunStarted, ModelRequest, ModelResponse, ToolCallError, RunFailed]
    response, error, failed = events[2], events[3], events[4]
    assert error.call_id == response.tool_calls[0].id
    assert error.name == "slow"
    assert "cancelled" in error.message
    assert failed.error_type == "Cancelled"
    assert failed.run_id == events[0].run_id

    reply = await agent.ask("try again", conversation_id="conv")

    assert reply.text == "recovered"
    seen = model.requests[-1].messages
    assert_every_call_answered(seen)
    assert [e.call_id for e in seen if isinstance(e, ToolCallError)] == [error.call_id]
    assert isinstance(seen[-1], ModelRequest)
    assert seen[-1].text == "try again"


async def test_cancelling_parallel_calls_answers_only_the_unfinished_ones():
    slow_started = asyncio.Event()
    never = asyncio.Event()

    @tool
    async def fast() -> str:
        """Quick."""
        return "fast result"

    @tool
    async def slow() -> str:
        """Take forever."""
        slow_started.set()
        await never.wait()
        return "unreachable"

    history = MemoryHistory()
    model = ScriptedModel([call("fast"), call("slow")], "next")
    agent = Agent("agent", config=model, tools=[fast, slow], history=history)
    stream = MemoryStream()
    fast_recorded = asyncio.Event()
    stream.where(ToolCallResult).subscribe(lambda e: fast_recorded.set())

    task = asyncio.create_task(agent.ask("go", conversation_id="c", stream=stream))
    async with asyncio.timeout(5):
        await slow_started.wait()
        await fast_recorded.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    events = await history.load("c")
    assert_every_call_answered(events)
    outcomes = {type(e): e for e in events if isinstance(e, ToolCallResult | ToolCallError)}
    assert outcomes[ToolCallResult].content == "fast result"
    assert outcomes[ToolCallError].name == "slow"
    assert "cancelled" in outcomes[ToolCallError].message
    assert isinstance(events[-1], RunFailed)

    reply = await agent.ask("continue", conversation_id="c")
    assert reply.text == "next"
    assert_every_call_answered(model.requests[-1].messages)


async def test_cancelling_during_the_model_call_records_run_failed():
    entered = asyncio.Event()
    never = asyncio.Event()

    async def hang(c):
        entered.set()
        await never.wait()

    history = MemoryHistory()
    agent = Agent("agent", config=ScriptedModel(hang, "fine"), history=history)
    task = asyncio.create_task(agent.ask("go", conversation_id="c"))
    async with asyncio.timeout(5):
        await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    events = await history.load("c")
    assert kinds(events) == [RunStarted, ModelRequest, RunFailed]
    assert events[-1].error_type == "Cancelled"
    assert (await agent.ask("again", conversation_id="c")).text == "fine"


def test_a_usage_breakdown_keeps_each_lines_tool_calls_when_the_kind_changes_mid_ask():
    """A counter keeps no lines while one kind, provider and model is counted: the first
    addition under another turns the total so far into the first line, its tool calls
    included, and later additions under the first go on adding to it."""
    counter = UsageCounter()
    counter.add(Usage(requests=1, input_tokens=10, cost=0.25), "model", "p", "m", tool_calls=2)
    counter.add(Usage(requests=1, input_tokens=5), "model", "p", "m", tool_calls=1)
    [alone] = counter.breakdown()
    assert alone == UsageLine("model", "p", "m", Usage(2, 15, tool_calls=3, cost=0.25))
    counter.add(Usage(requests=1, input_tokens=7), "subtask", "p", "small", tool_calls=1)
    counter.add(Usage(requests=1, input_tokens=1), "model", "p", "m")
    total = counter.snapshot()
    assert (
        counter.breakdown(total)
        == counter.breakdown()
        == (
            UsageLine("model", "p", "m", Usage(3, 16, tool_calls=3, cost=0.25)),
            UsageLine("subtask", "p", "small", Usage(1, 7, tool_calls=1)),
        )
    )
    assert total == Usage(4, 23, tool_calls=4, cost=0.25)


async def test_conversation_usage_sums_every_ask_also_one_loaded_from_a_history():
    """Issue 11, point 13: ``reply.usage`` is the ask's; ``reply.conversation_usage`` sums the
    conversation's asks up to that reply, per provider and model too."""
    history = MemoryHistory()
    agent = Agent("u", config=ScriptedModel("one", "two", "three"), history=history)
    first = await agent.ask("a")
    second = await first.ask("b")
    assert second.conversation_usage.usage == first.usage + second.usage
    assert first.conversation_usage.usage == first.usage  # up to that reply, not later ones
    [line] = second.conversation_usage.breakdown
    assert (line.kind, line.provider, line.model) == ("model", "scripted", "scripted")
    assert line.usage == first.usage + second.usage
    other = Agent("u", config=ScriptedModel("three"), history=history)
    third = await other.ask("c", conversation_id=first.conversation_id)
    assert third.conversation_usage.usage == first.usage + second.usage + third.usage


async def test_settings_given_as_a_dict_are_refused_with_the_spelling() -> None:
    with pytest.raises(ConfigError, match=r"settings=ModelSettings\(temperature=0\.2\)"):
        Agent("a", config=ScriptedModel("hi"), settings={"temperature": 0.2})  # type: ignore[arg-type]
    agent = Agent("a", config=ScriptedModel("hi", "again"))
    with pytest.raises(ConfigError, match=r"takes a ModelSettings, got dict"):
        await agent.ask("hi", settings={"temperature": 0.2})  # type: ignore[arg-type]
    assert (await agent.ask("hi")).text == "hi"  # the refused ask left nothing behind


async def test_a_mistake_in_the_arguments_of_ask_is_raised_when_the_ask_is_awaited() -> None:
    agent: Agent[str] = Agent("a", config=ScriptedModel("hi"))
    asking = agent.ask("hello", max_turns=0)  # a new conversation's run is made at once
    with pytest.raises(ConfigError, match="max_turns"):
        await asking
    assert (await agent.ask("hello")).text == "hi"  # nothing was left claimed or broken


class _NoClient(ScriptedModel):
    """A model whose client can't be made (as a provider's without credentials)."""

    def client(self) -> Any:
        raise ConfigError("no client for this model")


async def test_an_ask_whose_model_client_cannot_be_made_gives_its_conversation_back() -> None:
    history = MemoryHistory()
    agent: Agent[str] = Agent("a", config=ScriptedModel("one", "two"), history=history)
    first = await agent.ask("hello")
    broken: Agent[str] = Agent("a", config=_NoClient("never"), history=history)
    for asking in (
        broken.ask("new"),
        broken.ask("again", conversation_id=first.conversation_id),
    ):
        with pytest.raises(ConfigError, match="no client"):
            await asking
    # Nothing holds the conversation: the next ask on it runs.
    again = await agent.ask("more", conversation_id=first.conversation_id)
    assert again.text == "two"


def test_a_forgotten_await_is_reported_with_the_name_the_user_called() -> None:
    agent = Agent("a", config=ScriptedModel("x"))
    pending = agent.ask("hi")  # a new conversation: the loop's own coroutine
    stored = agent.ask("hi", conversation_id="c")  # a stored one
    wrong = agent.ask("hi", max_turns=0)  # an argument raised when awaited
    for coroutine in (pending, stored, wrong):
        assert coroutine.__qualname__ == "Agent.ask"
        coroutine.close()  # what the RuntimeWarning "coroutine ... was never awaited" names


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"temperature": 0.0}, "it is a model setting: settings=ModelSettings(temperature=...)"),
        ({"temprature": 0.0}, "settings=ModelSettings(temperature=...)"),
        ({"conversationid": "abc"}, "did you mean conversation_id=?"),
        ({"max_turn": 3}, "did you mean max_turns=?"),
        ({"model": "openai:gpt-5"}, "Baton calls it config"),
    ],
)
async def test_an_option_an_ask_does_not_take_is_refused_with_what_was_meant(
    options: dict[str, Any], says: str
) -> None:
    # It used to be ignored: the ask ran without it (a mistyped conversation_id started a new
    # conversation, a temperature was never sent).
    agent = Agent("a", config=ScriptedModel("x", repeat=True))
    name = next(iter(options))
    with pytest.raises(ConfigError) as refused:
        await agent.ask("hi", **options)
    assert str(refused.value).startswith(f"an ask has no option {name}=")
    assert says in str(refused.value)
    with pytest.raises(ConfigError, match=f"has no option {name}="):
        async with agent.run("hi", **options):
            pass
    assert (await agent.ask("hi", max_turns=3)).text == "x"  # the agent is unharmed


@tool
def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"model": "openai:gpt-5"}, "Agent(...) has no option model=; Baton calls it config"),
        ({"instructions": "Be brief."}, "Baton calls it prompt (the agent's instructions)"),
        ({"output_type": int}, "Baton calls it response_schema"),
        (
            {"tools": _add},
            "tools= takes a list of tools, toolkits or tool sources, e.g. tools=[_add]",
        ),
        ({"variables": [1]}, "variables= takes a dict"),
        ({"dependencies": "db"}, "dependencies= takes a dict"),
        ({"hitl": "yes"}, "hitl= takes a function (request, context) -> answer"),
        ({"hitl": lambda request: None}, "must take two arguments, (request, context)"),
    ],
)
def test_a_wrong_agent_option_is_refused_when_the_agent_is_made(
    options: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        Agent("a", config=ScriptedModel("x"), **options)
    assert says in str(refused.value)


async def test_one_tool_given_alone_to_an_ask_is_refused_with_the_list_spelling() -> None:
    agent = Agent("a", config=ScriptedModel("x"))
    with pytest.raises(ConfigError, match=r"tools= takes a list .* e\.g\. tools=\[_add\]"):
        await agent.ask("hi", tools=_add)  # type: ignore[arg-type]


def test_a_decorated_hitl_handler_is_checked_as_it_is_called() -> None:
    import functools

    def answering(fn: Any) -> Any:  # adapts a one-argument function to (request, context)
        @functools.wraps(fn)
        def wrapper(request: Any, context: Any) -> Any:
            return fn(request)

        return wrapper

    @answering
    def approve(request: Any) -> None:
        return None

    def passing(fn: Any) -> Any:  # takes anything: what it wraps is what is checked
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    Agent("a", config=ScriptedModel("x"), hitl=approve)
    Agent("a", config=ScriptedModel("x"), hitl=passing(lambda request, context: None))
    with pytest.raises(ConfigError, match="must take two arguments"):
        Agent("a", config=ScriptedModel("x"), hitl=passing(lambda request: None))


async def test_an_asks_variables_that_are_no_dict_are_refused_by_name() -> None:
    # It was Python's "'int' object is not iterable", from the conversation's update.
    agent = Agent("a", config=ScriptedModel("x", repeat=True), history=MemoryHistory())
    with pytest.raises(ConfigError, match=r"variables= takes a dict .* got int"):
        await agent.ask("hi", variables=3)  # type: ignore[arg-type]
    reply = await agent.ask("hi", variables={"user": 1}, conversation_id="c")
    with pytest.raises(ConfigError, match=r"variables= takes a dict .* got list"):
        await reply.ask("again", variables=[1])  # type: ignore[arg-type]
    assert (await reply.ask("again", variables={"user": 2})).text == "x"


async def test_resume_refuses_an_option_it_does_not_take() -> None:
    agent = Agent("a", config=ScriptedModel("x"), history=MemoryHistory(), storage=MemoryStorage())
    with pytest.raises(ConfigError, match=r"agent\.resume\(\) has no option wait_bussy="):
        await agent.resume("c", wait_bussy=1)  # type: ignore[call-arg]
