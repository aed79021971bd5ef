"""The hook system: order, agent vs per-ask middleware, short-circuits, per-conversation state,
validation, and hooks that are not overridden costing nothing."""

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from baton import (
    Agent,
    ConfigError,
    Context,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCallError,
    ToolCallResult,
    tool,
)
from baton.events import HumanInputRequest, HumanMessage, RunFailed, RunStarted, ToolCall
from baton.middleware import Chains, Middleware
from baton.testing import ScriptedModel, call
from tests.test_agent import assert_every_call_answered, kinds

ran: list[str] = []


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    ran.append("add")
    await asyncio.sleep(0)  # let concurrent conversations interleave
    return a + b


class Tracer(Middleware):
    """Records when each hook is entered and left, in a list shared by the test."""

    def __init__(self, name: str, trace: list[str]) -> None:
        self.name = name
        self.trace = trace

    async def around_ask(self, context: Context, proceed: Any) -> Any:
        self.trace.append(f"{self.name}:ask>")
        reply = await proceed()
        self.trace.append(f"{self.name}:ask<")
        return reply

    async def around_model_call(self, call: Any, context: Context, proceed: Any) -> Any:
        self.trace.append(f"{self.name}:model>")
        response = await proceed(call)
        self.trace.append(f"{self.name}:model<")
        return response

    async def around_tool_call(self, call: Any, context: Context, proceed: Any) -> Any:
        self.trace.append(f"{self.name}:tool>")
        outcome = await proceed(call)
        self.trace.append(f"{self.name}:tool<")
        return outcome


async def test_first_middleware_is_outermost_for_every_hook():
    trace: list[str] = []
    model = ScriptedModel(call("add", a=1, b=2), "3")
    agent = Agent(
        "a", config=model, tools=[add], middleware=[Tracer("a", trace), Tracer("b", trace)]
    )

    reply = await agent.ask("1 + 2?")

    assert reply.text == "3"
    model_round = ["a:model>", "b:model>", "b:model<", "a:model<"]
    assert trace == [
        "a:ask>",
        "b:ask>",
        *model_round,
        "a:tool>",
        "b:tool>",
        "b:tool<",
        "a:tool<",
        *model_round,
        "b:ask<",
        "a:ask<",
    ]


async def test_agent_middleware_wraps_per_ask_middleware():
    trace: list[str] = []
    agent = Agent("a", config=ScriptedModel("hi"), middleware=[Tracer("agent", trace)])

    await agent.ask("hello", middleware=[Tracer("ask", trace)])

    assert trace == [
        "agent:ask>",
        "ask:ask>",
        "agent:model>",
        "ask:model>",
        "ask:model<",
        "agent:model<",
        "ask:ask<",
        "agent:ask<",
    ]
    # the next ask without per-ask middleware runs only the agent's
    trace.clear()
    await agent.ask("again", config=ScriptedModel("hi"))
    assert trace == ["agent:ask>", "agent:model>", "agent:model<", "agent:ask<"]


async def test_a_middleware_can_answer_a_model_call_without_calling_the_model():
    class Cached(Middleware):
        async def around_model_call(self, call: Any, context: Context, proceed: Any) -> Any:
            return ModelResponse("from the cache")

    model = ScriptedModel("from the model")
    agent = Agent("a", config=model, middleware=[Cached()])

    reply = await agent.ask("hi")

    assert reply.text == "from the cache"
    assert model.calls_made == 0
    assert reply.events[-3] == ModelResponse("from the cache", agent="a")  # the loop names it


async def test_a_middleware_can_answer_a_tool_call_without_running_the_tool():
    class Stub(Middleware):
        async def around_tool_call(self, call: ToolCall, context: Context, proceed: Any) -> Any:
            return ToolCallResult(call.id, call.name, "42", 42)

    ran.clear()
    model = ScriptedModel(call("add", a=1, b=2), "42")
    agent = Agent("a", config=model, tools=[add], middleware=[Stub()])

    reply = await agent.ask("1 + 2?")

    assert ran == []
    results = [e for e in reply.events if isinstance(e, ToolCallResult)]
    assert [(r.name, r.content, r.value) for r in results] == [("add", "42", 42)]
    assert model.requests[1].messages[-1] == results[0]


async def test_a_middleware_can_change_the_call_and_the_response():
    class Shout(Middleware):
        async def around_model_call(self, call: Any, context: Context, proceed: Any) -> Any:
            response = await proceed(replace(call, instructions="Be loud."))
            return ModelResponse(response.text.upper(), usage=response.usage)

    model = ScriptedModel("quiet")
    agent = Agent("a", prompt="Be quiet.", config=model, middleware=[Shout()])

    reply = await agent.ask("hi")

    assert reply.text == "QUIET"
    assert model.last_request.instructions == "Be loud."


async def test_a_middleware_error_stops_the_ask_and_leaves_a_valid_history():
    class Refuse(Middleware):
        async def around_tool_call(self, call: Any, context: Context, proceed: Any) -> Any:
            raise PermissionError(f"{call.name} is not allowed")

    history = MemoryHistory()
    model = ScriptedModel([call("add", a=1, b=2), call("add", a=3, b=4)], "never")
    agent = Agent("a", config=model, tools=[add], middleware=[Refuse()], history=history)

    with pytest.raises(PermissionError, match="add is not allowed"):
        await agent.ask("hi", conversation_id="c")

    events = await history.load("c")
    assert kinds(events) == [
        RunStarted,
        ModelRequest,
        ModelResponse,
        ToolCallError,
        ToolCallError,
        RunFailed,
    ]
    assert events[-1].error_type == "PermissionError"
    assert_every_call_answered(events)


class CountPerConversation(Middleware):
    """Keeps, per conversation, the conversation ids and turns it saw (state must not leak)."""

    async def around_model_call(self, call: Any, context: Context, proceed: Any) -> Any:
        seen = context.state(self, list)
        seen.append((call.conversation_id, context.turn))
        await asyncio.sleep(0)  # interleave with the other conversations mid-call
        seen.append((context.conversation_id, context.turn))
        return await proceed(call)

    async def around_tool_call(self, call: Any, context: Context, proceed: Any) -> Any:
        context.state(self, list).append((context.conversation_id, "tool"))
        return await proceed(call)


async def test_state_is_per_conversation_across_twenty_concurrent_conversations():
    counter = CountPerConversation()
    model = ScriptedModel(call("add", a=1, b=2), "3", per_conversation=True, repeat=True)
    agent = Agent("a", config=model, tools=[add], middleware=[counter])

    replies = await asyncio.gather(*(agent.ask(f"question {i}") for i in range(20)))

    assert len({r.conversation_id for r in replies}) == 20
    states = []
    for reply in replies:
        # the state lives with the conversation, not on the (shared) middleware
        conversation = reply._conversation
        state = conversation.states[id(counter)][1]
        cid = reply.conversation_id
        assert state == [(cid, 0), (cid, 0), (cid, "tool"), (cid, 1), (cid, 1)]
        states.append(state)
    assert len({id(s) for s in states}) == 20
    assert vars(counter) == {}  # nothing kept on the shared middleware object

    # a conversation's later ask finds the same state again
    again = await replies[0].ask("more")
    state = again._conversation.states[id(counter)][1]
    assert len(state) == 10


async def test_middleware_must_be_middleware_instances():
    class NotMiddleware:
        async def around_model_call(self, call: Any, context: Context, proceed: Any) -> Any:
            return await proceed(call)

    with pytest.raises(ConfigError, match=r"baton\.middleware\.Middleware subclass"):
        Agent("a", config=ScriptedModel("hi"), middleware=[NotMiddleware()])  # type: ignore[list-item]

    agent = Agent("a", config=ScriptedModel("hi"))
    with pytest.raises(ConfigError, match="NotMiddleware"):
        await agent.ask("hi", middleware=[NotMiddleware()])  # type: ignore[list-item]


async def _model_terminal(call: Any, context: Any) -> Any:
    return ModelResponse("terminal")


async def _tool_terminal(call: Any, context: Any) -> Any:
    return ToolCallResult(call.id, call.name, "terminal")


async def _input_terminal(request: Any, context: Any) -> Any:
    return HumanMessage("terminal", request_id=request.request_id)


def test_a_hook_not_overridden_adds_nothing_to_its_chain():
    class ToolsOnly(Middleware):
        async def around_tool_call(self, call: Any, context: Context, proceed: Any) -> Any:
            return await proceed(call)

    chains = Chains([ToolsOnly(), Middleware()], _model_terminal, _tool_terminal, _input_terminal)

    assert chains.model is _model_terminal
    assert chains.human_input is _input_terminal
    assert chains.ask is None  # no around_ask: the loop runs without an ask wrapper
    assert chains.tool is not _tool_terminal

    empty = Chains([], _model_terminal, _tool_terminal, _input_terminal)
    assert (empty.model, empty.tool, empty.human_input, empty.ask) == (
        _model_terminal,
        _tool_terminal,
        _input_terminal,
        None,
    )


async def test_human_input_chain_runs_in_order_and_can_answer_itself():
    trace: list[str] = []

    class Wrap(Middleware):
        def __init__(self, name: str) -> None:
            self.name = name

        async def around_human_input(self, request: Any, context: Any, proceed: Any) -> Any:
            trace.append(self.name)
            if request.prompt == "auto":
                return HumanMessage("auto-approved", request_id=request.request_id)
            return await proceed(request)

    chains = Chains([Wrap("a"), Wrap("b")], _model_terminal, _tool_terminal, _input_terminal)

    answer = await chains.human_input(HumanInputRequest("r1", "name?"), None)  # type: ignore[arg-type]
    assert (answer.text, answer.request_id, trace) == ("terminal", "r1", ["a", "b"])
    trace.clear()
    answer = await chains.human_input(HumanInputRequest("r2", "auto"), None)  # type: ignore[arg-type]
    assert (answer.text, trace) == ("auto-approved", ["a"])  # "a" answered: "b" never ran


async def test_one_middleware_list_is_composed_once_per_agent_and_per_ask_list():
    mw = Tracer("t", [])
    agent = Agent("a", config=ScriptedModel("hi", repeat=True))
    extra = [mw]

    await agent.ask("one", middleware=extra)
    await agent.ask("two", middleware=extra)

    assert len(agent._plans) == 1
    (plan,) = agent._plans.values()
    assert plan.chains.middleware == (mw,)
