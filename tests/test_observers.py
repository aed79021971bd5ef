"""The built-in observers: LoopDetector and TokenMonitor, and their per-conversation state."""

import asyncio
from collections.abc import Sequence

import pytest

from baton import (
    Agent,
    ConfigError,
    Event,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
    tool,
)
from baton.errors import ObserverHalt
from baton.events import ObserverAlert, RunFailed, RunFinished
from baton.harness import LoopDetector, TokenMonitor
from baton.testing import ScriptedModel, call


@tool
def look(q: str, n: int = 1) -> str:
    """Look something up."""
    return f"{q}:{n}"


def alerts(events: Sequence[Event]) -> list[ObserverAlert]:
    return [e for e in events if isinstance(e, ObserverAlert)]


def assert_every_call_answered(messages: Sequence[Event]) -> None:
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


def answer(text: str, tokens: int, *calls: ToolCall) -> ModelResponse:
    """A scripted response that used exactly ``tokens`` tokens (half in, half out)."""
    return ModelResponse(text, calls, Usage(1, tokens // 2, tokens - tokens // 2))


# -- LoopDetector ---------------------------------------------------------------------------------


async def test_loop_detector_alerts_once_at_the_nth_repeat():
    model = ScriptedModel(*[call("look", q="x")] * 4, "done")
    agent = Agent("a", config=model, tools=[look], observers=[LoopDetector(max_repeats=3)])

    reply = await agent.ask("go")

    assert reply.text == "done"
    [alert] = alerts(reply.events)
    assert alert.observer == "loop-detector"
    assert not alert.fatal
    assert alert.severity == "warning"
    assert "'look'" in alert.message
    assert "3 times" in alert.message
    # Recorded right after the third call's result, before the fourth call.
    events = list(reply.events)
    at = events.index(alert)
    results_before = [e for e in events[:at] if isinstance(e, ToolCallResult)]
    assert len(results_before) == 3
    assert model.calls_made == 5


async def test_loop_detector_compares_arguments_as_canonical_json():
    model = ScriptedModel(
        call("look", arguments='{"q": "x", "n": 2}'),
        call("look", arguments='{"n":2,"q":"x"}'),
        call("look", arguments='{\n  "q": "x",\n  "n": 2\n}'),
        "done",
    )
    agent = Agent("a", config=model, tools=[look], observers=[LoopDetector(3)])
    reply = await agent.ask("go")
    assert len(alerts(reply.events)) == 1


async def test_loop_detector_ignores_different_arguments_and_other_tools():
    @tool
    def other(q: str) -> str:
        """Another tool."""
        return q

    model = ScriptedModel(
        call("look", q="x"),
        call("look", q="y"),
        call("look", q="x", n=2),
        call("other", q="x"),
        call("look", q="x"),  # the second time for these exact arguments
        "done",
    )
    agent = Agent("a", config=model, tools=[look, other], observers=[LoopDetector(3)])
    reply = await agent.ask("go")
    assert alerts(reply.events) == []


async def test_loop_detector_counts_parallel_calls_of_one_response_once_each():
    model = ScriptedModel([call("look", q="x"), call("look", q="x")], "done")
    agent = Agent("a", config=model, tools=[look], observers=[LoopDetector(2)])
    reply = await agent.ask("go")
    [alert] = alerts(reply.events)
    assert "2 times" in alert.message


async def test_fatal_loop_detector_halts_the_ask_with_a_valid_history():
    history = MemoryHistory()
    model = ScriptedModel(*[call("look", q="x")] * 3, "never reached", "recovered")
    detector = LoopDetector(max_repeats=3, fatal=True)
    agent = Agent("a", config=model, tools=[look], observers=[detector], history=history)

    with pytest.raises(ObserverHalt, match="loop-detector") as halted:
        await agent.ask("go", conversation_id="c")

    assert halted.value.observer == "loop-detector"
    assert model.calls_made == 3
    events = await history.load("c")
    assert_every_call_answered(events)
    assert [type(e) for e in events[-3:]] == [ToolCallResult, ObserverAlert, RunFailed]
    assert events[-2].fatal  # type: ignore[attr-defined]
    assert events[-2].severity == "error"  # type: ignore[attr-defined]
    assert events[-1].error_type == "ObserverHalt"  # type: ignore[attr-defined]

    # The conversation can go on; the alert is not raised again for the same call.
    reply = await agent.ask("something else", conversation_id="c")
    assert reply.text == "never reached"
    assert_every_call_answered(model.requests[-1].messages)


async def test_loop_detector_counts_across_the_asks_of_a_conversation():
    model = ScriptedModel(call("look", q="x"), "one", call("look", q="x"), "two")
    agent = Agent("a", config=model, tools=[look], observers=[LoopDetector(2)])
    first = await agent.ask("go")
    assert alerts(first.events) == []
    second = await first.ask("again")
    assert len(alerts(second.events)) == 1


async def test_loop_detector_state_is_per_conversation():
    both_in = asyncio.Event()
    first_calls: list[str] = []

    @tool(name="look")
    async def slow_look(q: str) -> str:
        """Look something up; the first call of each conversation waits for the other's."""
        if len(first_calls) < 2:
            first_calls.append(q)
            if len(first_calls) == 2:
                both_in.set()
            await both_in.wait()
        return q

    # Each conversation makes the same call twice; together that is four, but never three in one.
    model = ScriptedModel(call("look", q="x"), call("look", q="x"), "done", per_conversation=True)
    agent = Agent("a", config=model, tools=[slow_look], observers=[LoopDetector(3)])

    async with asyncio.timeout(5):  # a deadlock guard, not a timing assertion
        one, two = await asyncio.gather(agent.ask("first"), agent.ask("second"))

    assert one.conversation_id != two.conversation_id
    assert alerts(one.events) == []
    assert alerts(two.events) == []


def test_loop_detector_checks_its_options():
    with pytest.raises(ConfigError, match="max_repeats"):
        LoopDetector(max_repeats=1)
    assert LoopDetector(name="loops").name == "loops"


# -- TokenMonitor ---------------------------------------------------------------------------------


async def test_token_monitor_warns_once_when_a_conversation_crosses_a_threshold():
    model = ScriptedModel(answer("one", 150), answer("two", 150), answer("three", 150))
    monitor = TokenMonitor(warn_at=200)
    agent = Agent("a", config=model, observers=[monitor])

    first = await agent.ask("go")
    assert alerts(first.events) == []
    second = await first.ask("more")
    [alert] = alerts(second.events)
    assert alert.observer == "token-monitor"
    assert not alert.fatal
    assert alert.severity == "warning"
    assert "300" in alert.message
    assert "200" in alert.message
    third = await second.ask("even more")
    assert alerts(third.events) == [alert]  # not raised again


async def test_token_monitor_ask_scope_counts_each_ask_on_its_own():
    model = ScriptedModel(answer("one", 150), answer("two", 150), answer("three", 250))
    agent = Agent("a", config=model, observers=[TokenMonitor(warn_at=200, scope="ask")])
    first = await agent.ask("go")
    second = await first.ask("more")
    assert alerts(second.events) == []
    third = await second.ask("again")
    [alert] = alerts(third.events)
    assert "this ask used 250 tokens" in alert.message


async def test_token_monitor_one_alert_for_several_thresholds_crossed_at_once():
    model = ScriptedModel(answer("big", 500), answer("bigger", 500))
    agent = Agent("a", config=model, observers=[TokenMonitor(warn_at=[100, 200, 800])])
    first = await agent.ask("go")
    [alert] = alerts(first.events)
    assert "past 200" in alert.message
    second = await first.ask("more")
    assert [a.message for a in alerts(second.events)][-1].endswith("past 800")
    assert len(alerts(second.events)) == 2


async def test_token_monitor_halts_at_the_limit_with_a_valid_history():
    history = MemoryHistory()
    model = ScriptedModel(
        answer("", 100, ToolCall("c1", "look", '{"q": "x"}')),
        answer("", 200, ToolCall("c2", "look", '{"q": "y"}'), ToolCall("c3", "look", '{"q": "z"}')),
        answer("never", 10),
    )
    monitor = TokenMonitor(warn_at=50, halt_at=250)
    agent = Agent("a", config=model, tools=[look], observers=[monitor], history=history)

    with pytest.raises(ObserverHalt, match="over the limit of 250"):
        await agent.ask("go", conversation_id="c")

    assert model.calls_made == 2
    events = await history.load("c")
    assert_every_call_answered(events)
    assert isinstance(events[-1], RunFailed)
    found = alerts(events)
    assert [(a.fatal, a.severity) for a in found] == [(False, "warning"), (True, "error")]
    assert "300" in found[-1].message


async def test_token_monitor_halts_every_later_ask_of_an_over_budget_conversation():
    model = ScriptedModel(answer("one", 300), answer("two", 10), answer("three", 10))
    agent = Agent("a", config=model, observers=[TokenMonitor(halt_at=200)])
    history = MemoryHistory()
    agent.history = history
    with pytest.raises(ObserverHalt):
        await agent.ask("go", conversation_id="c")
    with pytest.raises(ObserverHalt):
        await agent.ask("again", conversation_id="c")
    events = await history.load("c")
    assert [type(e) for e in events].count(RunFailed) == 2
    assert len([a for a in alerts(events) if a.fatal]) == 2


async def test_token_monitor_counts_the_asks_already_in_history():
    model = ScriptedModel(answer("one", 150), answer("two", 100))
    agent = Agent("a", config=model)
    first = await agent.ask("go")
    # The monitor joins on the second ask and counts the first from its usage report.
    second = await first.ask("more", observers=[TokenMonitor(warn_at=200)])
    [alert] = alerts(second.events)
    assert "250" in alert.message


async def test_token_monitor_state_is_per_conversation():
    both_in = asyncio.Event()
    arrived: list[str] = []

    @tool
    async def meet(who: str) -> str:
        """Wait until both conversations are here."""
        arrived.append(who)
        if len(arrived) == 2:
            both_in.set()
        await both_in.wait()
        return who

    def turn(model_call: object) -> ModelResponse:
        return answer("", 120, ToolCall(f"c{len(arrived)}", "meet", '{"who": "x"}'))

    model = ScriptedModel(turn, answer("done", 60), per_conversation=True)
    agent = Agent("a", config=model, tools=[meet], observers=[TokenMonitor(warn_at=250)])

    async with asyncio.timeout(5):  # a deadlock guard, not a timing assertion
        one, two = await asyncio.gather(agent.ask("first"), agent.ask("second"))

    # 180 tokens each: 360 between them, but no conversation reached 250.
    assert one.usage.total_tokens == two.usage.total_tokens == 180
    assert alerts(one.events) == []
    assert alerts(two.events) == []


async def test_token_monitor_counts_subtask_usage():
    helper = Agent("helper", config=ScriptedModel(answer("helped", 400)))
    model = ScriptedModel(call("helper", task="help"), answer("done", 10))
    agent = Agent("a", config=model, tools=[helper.as_tool()], observers=[TokenMonitor(300)])
    reply = await agent.ask("go")
    assert isinstance(reply.events[-1], RunFinished)
    [alert] = alerts(reply.events)
    assert "past 300" in alert.message


def test_token_monitor_checks_its_options():
    with pytest.raises(ConfigError, match="warn_at"):
        TokenMonitor()
    with pytest.raises(ConfigError, match="positive"):
        TokenMonitor(warn_at=0)
    with pytest.raises(ConfigError, match="scope"):
        TokenMonitor(100, scope="week")  # type: ignore[arg-type]


async def test_fatal_alert_on_a_response_with_tool_calls_answers_every_call() -> None:
    from baton.harness import Observer

    ran: list[str] = []

    @tool
    def act(x: str) -> str:
        """Act."""
        ran.append(x)
        return x

    class StopOnCalls(Observer):
        name = "stop-on-calls"

        def observe(self, event, context):  # type: ignore[no-untyped-def]
            if isinstance(event, ModelResponse) and event.tool_calls:
                return ObserverAlert(self.name, "no tools today", "error", fatal=True)
            return None

    model = ScriptedModel([call("act", x="a"), call("act", x="b")], "never")
    history = MemoryHistory()
    agent = Agent("a", config=model, tools=[act], observers=[StopOnCalls()], history=history)
    with pytest.raises(ObserverHalt, match="no tools today"):
        await agent.ask("go")
    assert ran == []  # halted before the calls ran
    (conversation_id,) = history.conversation_ids()
    events = await history.load(conversation_id)
    assert_every_call_answered(events)
    assert isinstance(events[-1], RunFailed)
    assert events[-1].error_type == "ObserverHalt"
