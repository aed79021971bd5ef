"""Running tool calls through an Agent: results, errors, threads, timeouts, concurrency."""

import asyncio
import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from baton import (
    Agent,
    Context,
    Depends,
    ModelResponse,
    Retry,
    Tool,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Toolkit,
    ToolResult,
    tool,
)
from baton.errors import ConfigError, ToolConflictError
from baton.events import ToolThreadAbandoned
from baton.humans import CURRENT_CALL
from baton.stream import MemoryStream
from baton.testing import ScriptedModel, call, estimate_tokens
from baton.tools import ToolThreads

# A guard against hangs: a test that fails must fail, not wait forever.
GUARD = 5.0


def outcomes(reply: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]


def single_outcome(reply: Any) -> ToolCallResult | ToolCallError:
    found = outcomes(reply)
    assert len(found) == 1, found
    return found[0]


def assert_model_readable(message: str) -> None:
    assert "Traceback" not in message
    assert 'File "' not in message
    assert ".py" not in message


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def echo(text: str) -> str:
    """Echo text back."""
    return text


# --------------------------------------------------------------------------- results


async def test_tool_result_reaches_the_model():
    model = ScriptedModel(call("add", a=2, b=3), "5")
    agent = Agent("calc", prompt="You add numbers.", config=model, tools=[add])
    reply = await agent.ask("What is 2 + 3?")
    assert reply.text == "5"
    assert reply.output == "5"
    assert model.calls_made == 2
    seen = model.requests[1].messages[-1]
    assert isinstance(seen, ToolCallResult)
    assert seen.content == "5"
    assert seen.value == 5
    assert seen.name == "add"
    response = model.requests[1].messages[-2]
    assert isinstance(response, ModelResponse)
    assert seen.call_id == response.tool_calls[0].id


async def test_model_is_told_about_the_tools():
    model = ScriptedModel("hi")
    await Agent("a", config=model, tools=[add, echo]).ask("go")
    specs = {t.name: t for t in model.requests[0].tools}
    assert set(specs) == {"add", "echo"}
    assert specs["add"].description == "Add two integers."
    assert specs["add"].parameters["required"] == ["a", "b"]


async def test_non_string_results_are_sent_as_json():
    class Weather(BaseModel):
        city: str
        temp: float

    @tool
    def data() -> dict[str, Any]:
        return {"n": 1, "items": [1, 2], "ok": True, "none": None}

    @tool
    def weather() -> Weather:
        return Weather(city="Oslo", temp=-3.5)

    @tool
    def nothing() -> None:
        return None

    model = ScriptedModel(call("data"), call("weather"), call("nothing"), "done")
    reply = await Agent("a", config=model, tools=[data, weather, nothing]).ask("go")
    contents = [o.content for o in outcomes(reply)]
    assert contents == [
        '{"n":1,"items":[1,2],"ok":true,"none":null}',
        '{"city":"Oslo","temp":-3.5}',
        "null",
    ]
    assert outcomes(reply)[1].value == Weather(city="Oslo", temp=-3.5)


async def test_string_results_are_sent_as_they_are():
    model = ScriptedModel(call("echo", text='say "hi"'), "done")
    reply = await Agent("a", config=model, tools=[echo]).ask("go")
    assert single_outcome(reply).content == 'say "hi"'


async def test_several_tool_rounds_before_the_answer():
    model = ScriptedModel(call("add", a=1, b=2), call("add", a=3, b=4), "done")
    reply = await Agent("a", config=model, tools=[add]).ask("go")
    assert reply.text == "done"
    assert [o.content for o in outcomes(reply)] == ["3", "7"]
    assert model.requests[2].messages[-1].content == "7"
    assert reply.usage.requests == 3
    assert reply.usage.tool_calls == 2


# --------------------------------------------------------------------------- threads


async def test_sync_tools_run_in_a_worker_thread():
    seen: list[int] = []

    @tool
    def where() -> str:
        seen.append(threading.get_ident())
        return "ok"

    model = ScriptedModel(call("where"), "done")
    await Agent("a", config=model, tools=[where]).ask("go")
    assert seen
    assert seen[0] != threading.get_ident()


async def test_inline_sync_tools_run_on_the_loop_thread():
    seen: list[int] = []

    @tool(inline=True)
    def where() -> str:
        seen.append(threading.get_ident())
        asyncio.get_running_loop()  # raises if not on the loop's thread
        return "ok"

    model = ScriptedModel(call("where"), "done")
    reply = await Agent("a", config=model, tools=[where]).ask("go")
    assert isinstance(single_outcome(reply), ToolCallResult)
    assert seen == [threading.get_ident()]


async def test_async_tools_run_on_the_loop():
    seen: list[asyncio.AbstractEventLoop] = []

    @tool
    async def where() -> str:
        seen.append(asyncio.get_running_loop())
        return "ok"

    model = ScriptedModel(call("where"), "done")
    await Agent("a", config=model, tools=[where]).ask("go")
    assert seen == [asyncio.get_running_loop()]


# --------------------------------------------------------------------------- model mistakes


async def test_unknown_tool_is_reported_with_the_available_tools():
    model = ScriptedModel(call("subtract", a=1, b=2), "sorry")
    reply = await Agent("a", config=model, tools=[add, echo]).ask("go")
    assert reply.text == "sorry"
    err = model.requests[1].messages[-1]
    assert isinstance(err, ToolCallError)
    assert err.name == "subtract"
    assert "'subtract'" in err.message
    assert "add" in err.message
    assert "echo" in err.message
    assert err.error_type == "UnknownTool"


async def test_unknown_tool_with_no_tools_at_all():
    model = ScriptedModel(call("anything"), "ok")
    reply = await Agent("a", config=model).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "without tools" in err.message


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        ('{"a": 1, "b": ', "JSON"),
        ("not json at all", "JSON"),
        ('{"a": "seven", "b": 2}', "a"),
        ('{"a": 1}', "b"),
        ('{"a": 1, "b": 2, "c": 3}', "c"),
        ("[1, 2]", "object"),
    ],
    ids=["truncated-json", "not-json", "wrong-type", "missing-arg", "extra-arg", "not-object"],
)
async def test_invalid_arguments_are_sent_back_without_running_the_tool(arguments, mentions):
    ran: list[int] = []

    @tool
    def add(a: int, b: int) -> int:
        ran.append(1)
        return a + b

    model = ScriptedModel(call("add", arguments=arguments), "retrying")
    reply = await Agent("a", config=model, tools=[add]).ask("go")
    assert reply.text == "retrying"
    assert ran == []
    err = model.requests[1].messages[-1]
    assert isinstance(err, ToolCallError)
    assert err.error_type == "InvalidArguments"
    assert err.message.startswith("Invalid arguments for tool 'add'")
    assert mentions in err.message
    assert_model_readable(err.message)


async def test_wrong_type_error_names_the_field_and_the_value():
    model = ScriptedModel(call("add", a="seven", b=2), "ok")
    reply = await Agent("a", config=model, tools=[add]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "a:" in err.message
    assert "'seven'" in err.message
    assert "b:" not in err.message


async def test_model_can_correct_its_arguments():
    model = ScriptedModel(call("add", a=1), call("add", a=1, b=1), "2")
    reply = await Agent("a", config=model, tools=[add]).ask("go")
    first, second = outcomes(reply)
    assert isinstance(first, ToolCallError)
    assert isinstance(second, ToolCallResult)
    assert second.content == "2"
    assert reply.text == "2"


# --------------------------------------------------------------------------- tool failures


async def test_tool_exception_becomes_a_tool_call_error():
    @tool
    def explode(x: int) -> int:
        raise ValueError(f"bad value {x}")

    model = ScriptedModel(call("explode", x=3), "it failed")
    reply = await Agent("a", config=model, tools=[explode]).ask("go")
    assert reply.text == "it failed"
    err = model.requests[1].messages[-1]
    assert isinstance(err, ToolCallError)
    assert err.error_type == "ValueError"
    assert "ValueError" in err.message
    assert "bad value 3" in err.message
    assert "'explode'" in err.message
    assert_model_readable(err.message)


async def test_async_tool_exception_becomes_a_tool_call_error():
    class QuotaExceeded(Exception):
        pass

    @tool
    async def fetch() -> str:
        raise QuotaExceeded("no more calls today")

    model = ScriptedModel(call("fetch"), "ok")
    reply = await Agent("a", config=model, tools=[fetch]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert err.error_type == "QuotaExceeded"
    assert "QuotaExceeded: no more calls today" in err.message


async def test_exception_without_message_still_says_something():
    @tool
    def fail() -> None:
        raise RuntimeError

    model = ScriptedModel(call("fail"), "ok")
    reply = await Agent("a", config=model, tools=[fail]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "RuntimeError" in err.message


async def test_very_long_error_messages_are_shortened():
    @tool
    def fail() -> None:
        raise RuntimeError("x" * 10_000)

    model = ScriptedModel(call("fail"), "ok")
    reply = await Agent("a", config=model, tools=[fail]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "RuntimeError" in err.message
    assert len(err.message) < 2_000


async def test_retry_sends_exactly_its_message():
    @tool
    def lookup(city: str) -> str:
        if city != "Oslo":
            raise Retry(f"Unknown city {city!r}; try one of: Oslo")
        return "cold"

    model = ScriptedModel(call("lookup", city="Olso"), call("lookup", city="Oslo"), "cold")
    reply = await Agent("a", config=model, tools=[lookup]).ask("go")
    err = model.requests[1].messages[-1]
    assert isinstance(err, ToolCallError)
    assert err.message == "Unknown city 'Olso'; try one of: Oslo"
    assert err.error_type == "Retry"
    assert model.requests[2].messages[-1].content == "cold"
    assert reply.text == "cold"


async def test_retry_from_an_async_tool():
    @tool
    async def check() -> str:
        raise Retry("msg")

    model = ScriptedModel(call("check"), "ok")
    reply = await Agent("a", config=model, tools=[check]).ask("go")
    assert model.requests[1].messages[-1].message == "msg"
    assert reply.text == "ok"


async def test_tool_raising_its_own_timeout_error_keeps_its_message():
    # A tool's own TimeoutError (e.g. from a network client) is an ordinary failure: the model
    # must see what the tool said, not a generic "timed out".
    @tool
    async def upstream() -> str:
        raise TimeoutError("the weather service did not answer")

    model = ScriptedModel(call("upstream"), "ok")
    reply = await Agent("a", config=model, tools=[upstream]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "the weather service did not answer" in err.message


async def test_tool_raising_timeout_error_is_not_reported_as_baton_timeout():
    # The tool fails at once with its own TimeoutError, well inside its 60 s budget: saying it
    # "did not finish within 60 seconds" would mislead the model.
    @tool(timeout=60)
    async def upstream() -> str:
        raise TimeoutError("the weather service did not answer")

    model = ScriptedModel(call("upstream"), "ok")
    reply = await Agent("a", config=model, tools=[upstream]).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "did not finish within" not in err.message
    assert "the weather service did not answer" in err.message


# --------------------------------------------------------------------------- timeouts


async def test_per_tool_timeout_stops_a_hanging_async_tool():
    never = asyncio.Event()

    @tool(timeout=0.05)
    async def hang() -> str:
        await never.wait()
        return "unreachable"

    model = ScriptedModel(call("hang"), "gave up")
    reply = await Agent("a", config=model, tools=[hang]).ask("go")
    assert reply.text == "gave up"
    err = model.requests[1].messages[-1]
    assert isinstance(err, ToolCallError)
    assert "did not finish within 0.05 seconds" in err.message
    assert "'hang'" in err.message
    assert err.error_type == "ToolTimeout"


async def test_per_tool_timeout_stops_waiting_for_a_hanging_sync_tool():
    release = threading.Event()

    @tool(timeout=0.05)
    def hang() -> str:
        release.wait(GUARD)
        return "unreachable"

    model = ScriptedModel(call("hang"), "gave up")
    try:
        reply = await Agent("a", config=model, tools=[hang]).ask("go")
    finally:
        release.set()  # let the worker thread finish
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "did not finish within" in err.message


async def test_agent_tool_timeout_applies_to_tools_without_their_own():
    never = asyncio.Event()

    @tool
    async def hang() -> str:
        await never.wait()
        return "unreachable"

    model = ScriptedModel(call("hang"), "gave up")
    reply = await Agent("a", config=model, tools=[hang], tool_timeout=0.05).ask("go")
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError)
    assert "did not finish within 0.05 seconds" in err.message


async def test_per_tool_timeout_overrides_the_agents():
    # `slow` outlives the agent's 0.05 s default but has its own, longer timeout.
    done = asyncio.Event()

    @tool(timeout=GUARD)
    async def slow() -> str:
        await asyncio.wait_for(done.wait(), GUARD)
        return "finished"

    @tool(timeout=GUARD)
    async def finisher() -> str:
        await asyncio.sleep(0.2)
        done.set()
        return "set"

    model = ScriptedModel([call("slow"), call("finisher")], "done")
    reply = await Agent("a", config=model, tools=[slow, finisher], tool_timeout=0.05).ask("go")
    by_name = {o.name: o for o in outcomes(reply)}
    assert isinstance(by_name["slow"], ToolCallResult), by_name["slow"]
    assert by_name["slow"].content == "finished"


async def test_a_timed_out_call_does_not_stop_its_siblings():
    never = asyncio.Event()

    @tool(timeout=0.05)
    async def hang() -> str:
        await never.wait()
        return "unreachable"

    model = ScriptedModel([call("hang"), call("add", a=1, b=1)], "done")
    reply = await Agent("a", config=model, tools=[hang, add]).ask("go")
    by_name = {o.name: o for o in outcomes(reply)}
    assert isinstance(by_name["hang"], ToolCallError)
    assert isinstance(by_name["add"], ToolCallResult)
    assert by_name["add"].content == "2"


# --------------------------------------------------------------------------- concurrency


def rendezvous_tools() -> tuple[Tool, Tool]:
    """Two tools that can only both succeed if each runs while the other is running."""
    started = {"left": asyncio.Event(), "right": asyncio.Event()}

    async def meet(me: str, other: str) -> str:
        started[me].set()
        try:
            await asyncio.wait_for(started[other].wait(), GUARD)
        except TimeoutError:
            return f"{me} never met {other}"
        return f"{me} met {other}"

    @tool
    async def left() -> str:
        return await meet("left", "right")

    @tool
    async def right() -> str:
        return await meet("right", "left")

    return left, right


async def test_parallel_calls_of_one_response_run_concurrently():
    left, right = rendezvous_tools()
    model = ScriptedModel([call("left"), call("right")], "done")
    reply = await Agent("a", config=model, tools=[left, right]).ask("go")
    assert sorted(o.content for o in outcomes(reply)) == ["left met right", "right met left"]
    # Both results are in the next request, each answering its own call.
    response = model.requests[1].messages[-3]
    assert isinstance(response, ModelResponse)
    answered = {e.call_id for e in list(model.requests[1].messages)[-2:]}
    assert answered == {c.id for c in response.tool_calls}


async def test_parallel_sync_calls_run_in_separate_threads_concurrently():
    barrier = threading.Barrier(2, timeout=GUARD)

    @tool
    def meet(who: str) -> str:
        barrier.wait()  # raises BrokenBarrierError if the other never arrives
        return f"{who} met"

    model = ScriptedModel([call("meet", who="a"), call("meet", who="b")], "done")
    reply = await Agent("a", config=model, tools=[meet]).ask("go")
    assert sorted(o.content for o in outcomes(reply)) == ["a met", "b met"]


class Tracker:
    """Records when tool calls start and end, and how many ran at once."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.log: list[str] = []

    async def run(self, name: str) -> str:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.log.append(f"start {name}")
        for _ in range(5):  # give every other ready task the chance to start
            await asyncio.sleep(0)
        self.log.append(f"end {name}")
        self.active -= 1
        return name


async def test_tool_concurrency_one_serializes_calls():
    tracker = Tracker()

    @tool
    async def work(n: int) -> str:
        return await tracker.run(f"w{n}")

    model = ScriptedModel([call("work", n=1), call("work", n=2), call("work", n=3)], "done")
    agent = Agent("a", config=model, tools=[work], tool_concurrency=1)
    reply = await agent.ask("go")
    assert len(outcomes(reply)) == 3
    assert tracker.peak == 1
    for i in range(0, 6, 2):
        assert tracker.log[i].startswith("start")
        assert tracker.log[i + 1] == tracker.log[i].replace("start", "end")


async def test_per_ask_tool_concurrency_and_timeout_override_the_agents():
    tracker = Tracker()
    never = asyncio.Event()

    @tool
    async def work(n: int) -> str:
        return await tracker.run(f"w{n}")

    @tool
    async def hang() -> str:
        await never.wait()
        return "unreachable"

    model = ScriptedModel(
        [call("work", n=1), call("work", n=2), call("work", n=3)], "done", call("hang"), "late"
    )
    agent = Agent("a", config=model, tools=[work, hang], tool_concurrency=8)
    reply = await agent.ask("go", tool_concurrency=1)
    assert tracker.peak == 1
    second = await reply.ask("again", tool_timeout=0.05)
    err = [e for e in second.events if isinstance(e, ToolCallError)][-1]
    assert "did not finish within 0.05 seconds" in err.message
    with pytest.raises(ConfigError, match="tool_concurrency"):
        await agent.ask("go", tool_concurrency=0)


async def test_tool_concurrency_bounds_parallel_calls():
    tracker = Tracker()

    @tool
    async def work(n: int) -> str:
        return await tracker.run(f"w{n}")

    model = ScriptedModel([call("work", n=i) for i in range(5)], "done")
    reply = await Agent("a", config=model, tools=[work], tool_concurrency=2).ask("go")
    assert len(outcomes(reply)) == 5
    assert tracker.peak == 2


async def test_without_a_bound_all_calls_overlap():
    tracker = Tracker()

    @tool
    async def work(n: int) -> str:
        return await tracker.run(f"w{n}")

    model = ScriptedModel([call("work", n=i) for i in range(4)], "done")
    await Agent("a", config=model, tools=[work]).ask("go")
    assert tracker.peak == 4


async def test_sequential_tool_never_overlaps_with_others():
    tracker = Tracker()

    @tool
    async def work(n: int) -> str:
        return await tracker.run(f"w{n}")

    @tool(sequential=True)
    async def alone() -> str:
        assert tracker.active == 0, "another tool is running"
        return await tracker.run("alone")

    model = ScriptedModel(
        [call("work", n=1), call("work", n=2), call("alone"), call("work", n=3), call("work", n=4)],
        "done",
    )
    reply = await Agent("a", config=model, tools=[work, alone]).ask("go")
    found = outcomes(reply)
    assert all(isinstance(o, ToolCallResult) for o in found), found
    log = tracker.log
    start, end = log.index("start alone"), log.index("end alone")
    assert end == start + 1  # nothing started or ended while it ran
    # The calls before it finished first, the calls after it started after.
    assert {"end w1", "end w2"} <= set(log[:start])
    assert {"start w3", "start w4"} <= set(log[end:])
    # The others still ran in parallel with each other.
    assert tracker.peak == 2


async def test_sequential_sync_tool_never_overlaps_with_others():
    # Each side waits briefly for the other to show up; only an overlap makes one appear.
    exclusive_started = threading.Event()
    second_started = threading.Event()
    overlaps: list[str] = []

    @tool
    def normal(n: int) -> int:
        if n == 2:
            second_started.set()
        if exclusive_started.wait(0.2) and n == 1:
            overlaps.append("normal 1 still running when exclusive started")
        return n

    @tool(sequential=True)
    def exclusive() -> str:
        exclusive_started.set()
        if second_started.wait(0.2):
            overlaps.append("normal 2 started while exclusive ran")
        return "ok"

    model = ScriptedModel([call("normal", n=1), call("exclusive"), call("normal", n=2)], "done")
    reply = await Agent("a", config=model, tools=[normal, exclusive]).ask("go")
    assert len(outcomes(reply)) == 3
    assert overlaps == []


# --------------------------------------------------------------------------- ToolResult


async def test_final_tool_result_ends_the_ask_with_its_value():
    @tool
    def finish(answer: int) -> ToolResult:
        return ToolResult({"answer": answer}, final=True)

    model = ScriptedModel(call("finish", answer=42), "must not be used")
    reply = await Agent("a", config=model, tools=[finish]).ask("go")
    assert reply.output == {"answer": 42}
    assert reply.text == '{"answer":42}'
    assert model.calls_made == 1
    assert model.remaining == 1


async def test_final_tool_result_with_a_response_schema():
    class Answer(BaseModel):
        value: int

    @tool
    def finish(value: int) -> ToolResult:
        return ToolResult(Answer(value=value), final=True)

    model = ScriptedModel(call("finish", value=7))
    reply = await Agent("a", config=model, tools=[finish], response_schema=Answer).ask("go")
    assert reply.output == Answer(value=7)
    assert model.calls_made == 1


async def test_tool_result_content_changes_what_the_model_sees():
    @tool
    def rows() -> ToolResult:
        return ToolResult([1, 2, 3], content="3 rows found")

    model = ScriptedModel(call("rows"), "done")
    reply = await Agent("a", config=model, tools=[rows]).ask("go")
    seen = model.requests[1].messages[-1]
    assert isinstance(seen, ToolCallResult)
    assert seen.content == "3 rows found"
    assert seen.value == [1, 2, 3]
    assert seen.final is False
    assert reply.text == "done"


async def test_non_final_tool_result_without_content_shows_the_value():
    @tool
    def rows() -> ToolResult:
        return ToolResult({"a": 1})

    model = ScriptedModel(call("rows"), "done")
    await Agent("a", config=model, tools=[rows]).ask("go")
    assert model.requests[1].messages[-1].content == '{"a":1}'


# --------------------------------------------------------------------------- toolkits and names


async def test_toolkit_prefix_lets_same_named_tools_live_together():
    def make_lookup(source: str) -> Tool:
        @tool
        def lookup(key: str) -> str:
            return f"{source}:{key}"

        return lookup

    first = Toolkit(make_lookup("a"), prefix="a")
    second = Toolkit(make_lookup("b"), prefix="b")
    model = ScriptedModel([call("a_lookup", key="k"), call("b_lookup", key="k")], "done")
    reply = await Agent("a", config=model, tools=[first, second]).ask("go")
    assert sorted(model.requests[0].tool_names) == ["a_lookup", "b_lookup"]
    assert {o.name: o.content for o in outcomes(reply)} == {"a_lookup": "a:k", "b_lookup": "b:k"}


def test_duplicate_tool_names_across_tools_are_rejected():
    @tool(name="add")
    def other_add(a: int, b: int) -> int:
        return a - b

    with pytest.raises(ToolConflictError) as info:
        Agent("a", config=ScriptedModel("x"), tools=[add, other_add])
    message = str(info.value)
    assert "'add'" in message
    assert "@tool(name=...)" in message
    assert "prefix" in message


def test_duplicate_tool_names_across_toolkits_are_rejected():
    first = Toolkit(add, name="first")
    second = Toolkit(add, name="second")
    with pytest.raises(ToolConflictError, match="prefix"):
        Agent("a", config=ScriptedModel("x"), tools=[first, second])


def test_same_tool_twice_is_a_conflict():
    with pytest.raises(ToolConflictError, match="'add'"):
        Agent("a", config=ScriptedModel("x"), tools=[add, add])


async def test_per_ask_tools_add_to_the_agents():
    model = ScriptedModel(call("echo", text="hi"), "done", "plain")
    agent = Agent("a", config=model, tools=[add])
    reply = await agent.ask("go", tools=[echo])
    assert sorted(model.requests[0].tool_names) == ["add", "echo"]
    assert single_outcome(reply).content == "hi"
    # Only for that ask: the agent's own tools are unchanged.
    await agent.ask("again")
    assert model.requests[2].tool_names == ["add"]
    assert list(agent.tools) == ["add"]


async def test_per_ask_toolkit_and_function():
    def shout(text: str) -> str:
        return text.upper()

    model = ScriptedModel(call("k_echo", text="x"), call("shout", text="y"), "done")
    agent = Agent("a", config=model, tools=[add])
    reply = await agent.ask("go", tools=[Toolkit(echo, prefix="k"), shout])
    assert sorted(model.requests[0].tool_names) == ["add", "k_echo", "shout"]
    assert [o.content for o in outcomes(reply)] == ["x", "Y"]


async def test_conflicting_per_ask_tool_is_rejected():
    @tool(name="add")
    def other_add(a: int, b: int) -> int:
        return a - b

    model = ScriptedModel("never")
    agent = Agent("a", config=model, tools=[add])
    with pytest.raises(ToolConflictError, match="'add'"):
        await agent.ask("go", tools=[other_add])
    assert model.calls_made == 0


# --------------------------------------------------------------------------- agents as tools


async def test_agent_as_tool_delegates_and_adds_usage():
    child_model = ScriptedModel("the child's answer")
    child = Agent("research bot", config=child_model, description="Researches things.")
    delegate = child.as_tool()
    assert delegate.name == "research_bot"
    assert delegate.description == "Researches things."
    assert list(delegate.parameters["properties"]) == ["task"]

    parent_model = ScriptedModel(call("research_bot", task="find X"), "parent done")
    parent = Agent("parent", config=parent_model, tools=[delegate])
    reply = await parent.ask("go")

    assert reply.text == "parent done"
    assert child_model.calls_made == 1
    [request] = [e for e in child_model.requests[0].messages if type(e).__name__ == "ModelRequest"]
    assert request.parts[0].text == "find X"
    assert parent_model.requests[1].messages[-1].content == "the child's answer"

    own = [e.usage for e in reply.events if isinstance(e, ModelResponse)]
    assert reply.usage.requests == sum(u.requests for u in own) + 1 == 3
    child_output = estimate_tokens("the child's answer")
    assert reply.usage.output_tokens == sum(u.output_tokens for u in own) + child_output
    assert reply.usage.input_tokens > sum(u.input_tokens for u in own)


async def test_agent_as_tool_name_and_description_overrides():
    child = Agent("child", config=ScriptedModel("x"))
    t = child.as_tool(name="helper", description="Helps.")
    assert t.name == "helper"
    assert t.description == "Helps."
    default = Agent("child", config=ScriptedModel("x")).as_tool()
    assert default.name == "child"
    assert "child" in default.description


async def test_agent_as_tool_child_can_use_its_own_tools():
    child_model = ScriptedModel(call("add", a=20, b=22), "42")
    child = Agent("math", config=child_model, tools=[add])
    parent_model = ScriptedModel(call("math", task="add 20 and 22"), "it is 42")
    reply = await Agent("p", config=parent_model, tools=[child.as_tool()]).ask("go")
    assert reply.text == "it is 42"
    assert parent_model.requests[1].messages[-1].content == "42"
    # 2 parent calls + 2 child calls; the child's tool call is counted too.
    assert reply.usage.requests == 4


# --------------------------------------------------------------------------- stream notices


async def test_each_call_is_announced_on_the_stream_before_its_result():
    seen: list[Any] = []
    model = ScriptedModel([call("add", a=1, b=1), call("echo", text="x")], "done")
    agent = Agent("a", config=model, tools=[add, echo])
    async with agent.run("go") as run:
        async for event in run:
            seen.append(event)
        reply = await run.result()
    assert reply.text == "done"
    for result in outcomes(reply):
        announced = [i for i, e in enumerate(seen) if isinstance(e, ToolCall)]
        finished = next(i for i, e in enumerate(seen) if e == result)
        assert any(seen[i].id == result.call_id for i in announced if i < finished), (
            "a ToolCall notice precedes each result"
        )
    # Notices are transient: not part of the history.
    assert not any(isinstance(e, ToolCall) for e in reply.events)


async def test_context_is_available_to_delegating_tools():
    # A tool can run another agent itself and count its usage toward the ask.
    child = Agent("child", config=ScriptedModel("sub answer"))

    @tool
    async def consult(question: str, context: Context) -> str:
        sub = await child.ask(question)
        context.add_usage(sub.usage)
        return sub.text

    model = ScriptedModel(call("consult", question="q"), "done")
    reply = await Agent("a", config=model, tools=[consult]).ask("go")
    assert single_outcome(reply).content == "sub answer"
    assert reply.usage.requests == 3


# -- bad outcomes that must still reach the model (issue 10) -----------------------------------


async def test_a_tool_raising_cancelled_error_itself_is_a_tool_error_and_the_ask_goes_on() -> None:
    @tool
    async def flaky() -> str:
        """Fails in an odd way."""
        raise asyncio.CancelledError()

    @tool
    def fine() -> str:
        """Works."""
        return "ok"

    model = ScriptedModel([call("flaky"), call("fine")], "done")
    reply = await Agent("a", config=model, tools=[flaky, fine]).ask("go")
    assert reply.text == "done"
    outcomes = {e.name: e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)}
    assert isinstance(outcomes["flaky"], ToolCallError)
    assert outcomes["flaky"].error_type == "CancelledError"
    assert isinstance(outcomes["fine"], ToolCallResult)


async def test_a_result_that_cannot_be_shown_is_a_tool_error_naming_the_tool() -> None:
    class Opaque:
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

        __repr__ = __str__

    @tool
    def weird() -> Any:
        """Returns something odd."""
        return Opaque()

    model = ScriptedModel(call("weird"), "done")
    reply = await Agent("a", config=model, tools=[weird]).ask("go")
    assert reply.text == "done"
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert error.error_type == "UnconvertibleResult" and "'weird'" in error.message


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0, -1])
def test_timeouts_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(ConfigError, match="finite, positive"):
        Agent("a", tool_timeout=bad)

    def f() -> None:
        """F."""

    with pytest.raises(ConfigError, match="finite, positive"):
        tool(timeout=bad)(f)


# --------------------------------------------------------------------------- sync tool threads


def stuck_tool(release: threading.Event, started: threading.Semaphore | None = None) -> Tool:
    """A sync tool that blocks its thread until the test sets ``release`` (so none leaks)."""

    @tool
    def stuck() -> str:
        """Wait for a release that comes too late."""
        if started is not None:
            started.release()
        release.wait(GUARD)
        return "too late"

    return stuck


async def test_stuck_sync_tools_past_their_timeout_do_not_starve_other_agents():
    # Eight calls stuck past their timeout on a pool of two threads: the pool replaces the
    # abandoned threads, so another agent's instant sync tool still gets a thread.
    release = threading.Event()
    pool = ToolThreads(2)

    @tool(timeout=GUARD)
    def instant(a: int) -> int:
        """Return a number."""
        return a

    stuck_model = ScriptedModel([call("stuck") for _ in range(8)], "gave up")
    stuck_agent = Agent("stuck", config=stuck_model, tools=[stuck_tool(release)], tool_timeout=0.05)
    quick_agent = Agent(
        "quick", config=ScriptedModel(call("instant", a=7), "done"), tools=[instant]
    )
    try:
        stuck_reply = await stuck_agent.ask("go", tool_threads=pool)
        assert {o.error_type for o in outcomes(stuck_reply)} == {"ToolTimeout"}
        assert pool.abandoned >= 1
        quick_reply = await quick_agent.ask("go", tool_threads=pool)
    finally:
        release.set()
    result = single_outcome(quick_reply)
    assert isinstance(result, ToolCallResult), result
    assert result.value == 7


async def test_an_abandoned_thread_is_reported_as_an_event():
    release = threading.Event()
    pool = ToolThreads(4)
    stream = MemoryStream()
    seen: list[ToolThreadAbandoned] = []
    stream.where(ToolThreadAbandoned).subscribe(seen.append)
    agent = Agent(
        "a",
        config=ScriptedModel(call("stuck"), "gave up"),
        tools=[stuck_tool(release)],
        tool_timeout=0.05,
        tool_threads=pool,
    )
    try:
        reply = await agent.ask("go", stream=stream)
    finally:
        release.set()
    err = single_outcome(reply)
    assert isinstance(err, ToolCallError) and err.error_type == "ToolTimeout"
    assert len(seen) == 1
    assert (seen[0].call_id, seen[0].name, seen[0].timeout) == (err.call_id, "stuck", 0.05)
    assert seen[0].abandoned == 1
    # Transient: streamed live, never part of the conversation.
    assert not any(isinstance(e, ToolThreadAbandoned) for e in reply.events)


async def test_an_abandoned_thread_rejoins_its_pool_when_the_call_returns():
    release = threading.Event()
    pool = ToolThreads(1)
    agent = Agent(
        "a",
        config=ScriptedModel(call("stuck"), "gave up", call("stuck"), "again"),
        tools=[stuck_tool(release)],
        tool_timeout=0.05,
        tool_threads=pool,
    )
    try:
        reply = await agent.ask("go")
        assert pool.abandoned == 1
    finally:
        release.set()
    for _ in range(int(GUARD / 0.01)):  # the stuck call returns on its own thread
        if pool.abandoned == 0:
            break
        await asyncio.sleep(0.01)
    assert pool.abandoned == 0
    assert single_outcome(reply).error_type == "ToolTimeout"  # type: ignore[union-attr]


async def test_past_max_abandoned_a_stuck_thread_keeps_its_place():
    # With no room for abandoned threads, a one-thread pool stays full while the call is
    # stuck: the next call waits for the thread and times out too (threads stay bounded).
    release = threading.Event()
    started = threading.Semaphore(0)
    pool = ToolThreads(1, max_abandoned=0)
    agent = Agent(
        "a",
        config=ScriptedModel([call("stuck"), call("stuck")], "gave up"),
        tools=[stuck_tool(release, started)],
        tool_timeout=0.05,
        tool_threads=pool,
        tool_concurrency=1,
    )
    try:
        reply = await agent.ask("go")
    finally:
        release.set()
    assert [o.error_type for o in outcomes(reply)] == ["ToolTimeout", "ToolTimeout"]
    assert pool.abandoned == 0
    # Only the first call ever started: the second was dropped from the queue on its timeout.
    assert started.acquire(blocking=False)
    assert not started.acquire(timeout=0.2)


async def test_sync_tools_see_the_callers_context_variables_on_pool_threads():
    seen: list[tuple[str, bool]] = []

    @tool
    def where_am_i() -> str:
        """Report the current call."""
        current = CURRENT_CALL.get(None)
        seen.append((current.name if current else "", threading.current_thread().daemon))
        return "here"

    model = ScriptedModel(call("where_am_i"), "ok")
    await Agent("a", config=model, tools=[where_am_i], tool_threads=ToolThreads(1)).ask("go")
    assert seen == [("where_am_i", True)]


@pytest.mark.parametrize("inner_calls", [1, 2])
async def test_a_tool_that_asks_another_agent_still_sees_its_own_call_afterwards(
    inner_calls: int,
):
    """The current call is set back when a call ends: a tool awaiting another agent's ask
    (whose one call runs in the same task, or whose several calls run in tasks of their own)
    sees its own call again afterwards, and the caller of the outer ask sees none."""
    seen: list[tuple[str, str]] = []

    def current() -> str:
        found = CURRENT_CALL.get()
        return found.name if found is not None else ""

    @tool
    async def look(i: int) -> str:
        """Report the current call."""
        seen.append(("inner", current()))
        return "looked"

    inner = Agent(
        "inner",
        config=ScriptedModel([call("look", i=i) for i in range(inner_calls)], "inner done"),
        tools=[look],
    )

    @tool
    async def delegate() -> str:
        """Ask the inner agent."""
        seen.append(("before", current()))
        text = (await inner.ask("go")).text
        seen.append(("after", current()))
        return text

    outer = Agent("outer", config=ScriptedModel(call("delegate"), "done"), tools=[delegate])
    assert (await outer.ask("go")).text == "done"
    assert seen == [
        ("before", "delegate"),
        *[("inner", "look")] * inner_calls,
        ("after", "delegate"),
    ]
    assert CURRENT_CALL.get() is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_tool_threads_must_be_a_positive_whole_number(bad: Any):
    with pytest.raises(ConfigError, match="max_threads"):
        ToolThreads(bad)


def test_tool_threads_option_takes_a_pool():
    with pytest.raises(ConfigError, match="ToolThreads"):
        Agent("a", tool_threads=4)  # type: ignore[arg-type]


async def test_a_tool_thread_pool_bounds_how_many_sync_calls_run_at_once():
    lock = threading.Lock()
    running = [0]
    most = [0]
    # A barrier for two: the first two calls meet, proving two threads run at once.
    both = threading.Barrier(2, timeout=GUARD)

    @tool
    def work(i: int) -> int:
        """Count how many calls run together."""
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if i < 2:
            both.wait()
        with lock:
            running[0] -= 1
        return i

    model = ScriptedModel([call("work", i=i) for i in range(6)], "done")
    agent = Agent("a", config=model, tools=[work], tool_threads=ToolThreads(2))
    reply = await agent.ask("go")
    assert sorted(o.value for o in outcomes(reply)) == list(range(6))  # type: ignore[union-attr]
    assert most[0] == 2


@pytest.mark.parametrize(("value", "expected"), [("3", "3"), ("", "32"), ("many", "ConfigError")])
def test_the_process_pool_is_sized_by_an_environment_variable(value: str, expected: str):
    # A fresh interpreter: the process-wide pool is made once, at its first use.
    script = (
        "from baton.errors import ConfigError\n"
        "from baton.tools import default_tool_threads\n"
        "try:\n    print(default_tool_threads().max_threads)\n"
        "except ConfigError as exc:\n    print('ConfigError', exc)\n"
    )
    env = {**os.environ, "BATON_TOOL_THREADS": value}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split()[0] == expected, done
    if expected == "ConfigError":
        assert "BATON_TOOL_THREADS" in done.stdout


async def test_a_timed_out_sync_tools_generator_dependency_is_cleaned_up_once_its_thread_returns():
    """Python can't stop the abandoned thread, which still uses the dependency's value: its
    clean-up (the code after ``yield``) waits until that thread's call has returned."""
    log: list[str] = []
    release = threading.Event()
    closed = asyncio.Event()

    def connection():
        log.append("open")
        try:
            yield "conn"
        finally:
            log.append("close")
            closed.set()

    @tool(timeout=0.05)
    def slow(conn: str = Depends(connection)) -> str:
        """Use the connection for a long time."""
        release.wait(GUARD)
        log.append(f"still using {conn}")
        return "late"

    reply = await Agent("a", config=ScriptedModel(call("slow"), "done"), tools=[slow]).ask("go")
    [outcome] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert outcome.error_type == "ToolTimeout"
    assert log == ["open"]  # the thread runs on with the connection: not closed under it
    release.set()
    await asyncio.wait_for(closed.wait(), GUARD)
    assert log == ["open", "still using conn", "close"]
