"""Testing utilities beyond the script: raise_tool_errors, agent.override(tools=...) and
RecordingModel (issue 11, points 18 and 19)."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import pytest

from baton import Agent, Context, ModelResponse, TextChunk, ToolCallError, ToolCallResult, tool
from baton.errors import ConfigError, RateLimited, Retry
from baton.events import ModelRequest, RunFailed, Text
from baton.history import MemoryHistory
from baton.testing import RecordingModel, ScriptedModel, call, chunks


class CardDeclined(Exception):
    pass


def payment_tools(charged: list[int], raised: list[BaseException]) -> list[Any]:
    @tool
    async def charge(amount: int) -> str:
        """Charge the customer's card."""
        if amount > 100:
            error = CardDeclined(f"card declined for {amount}")
            raised.append(error)
            raise error
        charged.append(amount)
        return f"charged {amount}"

    @tool
    def refund(amount: int) -> str:
        """Refund the customer."""
        if amount > 100:
            error = ValueError(f"refund of {amount} is over the limit")
            raised.append(error)
            raise error
        return f"refunded {amount}"

    return [charge, refund]


def tool_errors(events: Any) -> list[ToolCallError]:
    return [e for e in events if isinstance(e, ToolCallError)]


# -- raise_tool_errors (point 18) ------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [("charge", CardDeclined), ("refund", ValueError)])
async def test_a_tools_exception_fails_the_ask_as_itself(name: str, kind: type) -> None:
    raised: list[BaseException] = []
    model = ScriptedModel(call(name, amount=500), "done")
    agent = Agent("shop", config=model, tools=payment_tools([], raised), raise_tool_errors=True)

    with pytest.raises(kind) as caught:
        await agent.ask("pay")

    assert caught.value is raised[0]  # the tool's own exception object, not a generic error
    assert "500" in str(caught.value)
    frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
    assert name in frames  # its traceback reaches into the tool (an async one, or a thread)
    assert any(name in note for note in getattr(caught.value, "__notes__", []))
    assert model.remaining == 1  # the model never read it as an error


async def test_without_the_setting_the_model_reads_the_error() -> None:
    model = ScriptedModel(call("charge", amount=500), "sorry")
    agent = Agent("shop", config=model, tools=payment_tools([], []))
    reply = await agent.ask("pay")
    [error] = tool_errors(reply.events)
    assert error.error_type == "CardDeclined" and reply.text == "sorry"


async def test_the_stored_conversation_is_closed_and_usable_after_the_raise() -> None:
    history = MemoryHistory()
    model = ScriptedModel(call("charge", amount=500), call("charge", amount=5), "paid")
    agent = Agent(
        "shop", config=model, tools=payment_tools([], []), history=history, raise_tool_errors=True
    )
    with pytest.raises(CardDeclined):
        await agent.ask("pay", conversation_id="c1")
    stored = await history.load("c1")
    assert isinstance(stored[-1], RunFailed)
    # the call that raised is answered once, so the next ask can go on
    assert [e.call_id for e in tool_errors(stored)] == [stored[2].tool_calls[0].id]
    reply = await agent.ask("try 5", conversation_id="c1")
    assert reply.text == "paid"


async def test_one_of_parallel_calls_raising_fails_the_ask() -> None:
    charged: list[int] = []
    model = ScriptedModel([call("charge", amount=5), call("refund", amount=900)], "done")
    agent = Agent("shop", config=model, tools=payment_tools(charged, []), raise_tool_errors=True)
    with pytest.raises(ValueError, match="refund of 900"):
        await agent.ask("pay")


async def test_the_setting_per_ask_leaves_other_asks_alone() -> None:
    model = ScriptedModel(call("charge", amount=500), "sorry", per_conversation=True)
    agent = Agent("shop", config=model, tools=payment_tools([], []))
    with pytest.raises(CardDeclined):
        await agent.ask("pay", raise_tool_errors=True)
    reply = await agent.ask("pay")  # the agent's own setting again
    assert tool_errors(reply.events)[0].error_type == "CardDeclined"


async def test_a_tools_own_timeout_error_counts() -> None:
    @tool
    async def fetch() -> str:
        """Fetch."""
        raise TimeoutError("upstream took too long")

    agent = Agent(
        "a", config=ScriptedModel(call("fetch"), "x"), tools=[fetch], raise_tool_errors=True
    )
    with pytest.raises(TimeoutError, match="upstream took too long"):
        await agent.ask("go")


async def test_failures_the_tool_did_not_raise_still_go_to_the_model() -> None:
    gate = asyncio.Event()

    @tool
    def careful(n: int) -> str:
        """Needs a positive n."""
        raise Retry("n must be positive")

    @tool(timeout=0.05)
    async def slow() -> str:
        """Never finishes in time."""
        await gate.wait()
        return "late"

    @tool(requires_approval=True)
    def wipe() -> str:
        """Wipe everything."""
        return "wiped"

    model = ScriptedModel(
        [
            call("careful", n=1),
            call("careful", arguments='{"n": "many"}'),
            call("nope"),
            call("slow"),
            call("wipe"),
        ],
        "done",
    )
    agent = Agent(
        "a",
        config=model,
        tools=[careful, slow, wipe],
        hitl=lambda request, context: False,
        raise_tool_errors=True,
    )
    reply = await agent.ask("go")
    assert reply.text == "done"
    kinds = sorted(e.error_type for e in tool_errors(reply.events))
    assert kinds == ["ApprovalDenied", "InvalidArguments", "Retry", "ToolTimeout", "UnknownTool"]


# -- agent.override(tools=...) (point 19) ----------------------------------------------------


def shop(model: ScriptedModel, charged: list[int] | None = None) -> Agent:
    return Agent("shop", config=model, tools=payment_tools([] if charged is None else charged, []))


def results(events: Any) -> list[str]:
    return [e.content for e in events if isinstance(e, ToolCallResult)]


async def test_override_replaces_what_runs_but_not_what_the_model_sees() -> None:
    charged: list[int] = []
    faked: list[int] = []
    model = ScriptedModel(call("charge", amount=7), "ok", repeat=True)
    agent = shop(model, charged)

    def fake_charge(amount: int) -> str:
        faked.append(amount)
        return f"fake charge of {amount}"

    with agent.override(tools={"charge": fake_charge}):
        reply = await agent.ask("pay")
    assert results(reply.events) == ["fake charge of 7"]
    assert faked == [7] and charged == []
    [charge_spec, _] = model.requests[0].tools
    assert charge_spec == agent.tools["charge"].spec  # the real tool's name, docs and schema

    reply = await agent.ask("pay")  # undone on exit
    assert results(reply.events) == ["charged 7"] and charged == [7]


async def test_async_override_with_injection_and_validated_arguments() -> None:
    seen: list[tuple[int, str]] = []

    async def fake_charge(amount: int, context: Context) -> str:
        seen.append((amount, context.agent_name))
        return "ok"

    model = ScriptedModel(call("charge", amount=3), call("charge", amount="lots"), "done")
    agent = shop(model)
    async with agent.override(tools={"charge": fake_charge}):
        reply = await agent.ask("pay")
    assert seen == [(3, "shop")]  # the invalid call never reached the fake
    assert [e.error_type for e in tool_errors(reply.events)] == ["InvalidArguments"]


async def test_override_taking_kwargs_gets_every_argument() -> None:
    got: list[dict[str, Any]] = []
    agent = shop(ScriptedModel(call("refund", amount=4), "done"))
    with agent.override(tools={"refund": lambda **arguments: got.append(arguments) or "r"}):
        reply = await agent.ask("refund")
    assert got == [{"amount": 4}] and results(reply.events) == ["r"]


async def test_override_by_a_tool_keeps_the_real_tools_approval() -> None:
    ran: list[int] = []

    @tool(requires_approval=True)
    def charge(amount: int) -> str:
        """Charge the card."""
        return "real"

    @tool
    def fake_charge(amount: int) -> str:
        """A fake."""
        ran.append(amount)
        return "fake"

    asked: list[str] = []

    def hook(request: Any, context: Context) -> bool:
        asked.append(request.call.name)
        return len(asked) == 1  # the first is approved, the second denied

    model = ScriptedModel(call("charge", amount=1), call("charge", amount=2), "ok")
    agent = Agent("a", config=model, tools=[charge], hitl=hook)
    with agent.override(tools={"charge": fake_charge}):
        reply = await agent.ask("pay")
    assert asked == ["charge", "charge"] and ran == [1]
    assert results(reply.events) == ["fake"]
    assert [e.error_type for e in tool_errors(reply.events)] == ["ApprovalDenied"]


async def test_override_is_undone_after_an_error() -> None:
    charged: list[int] = []
    agent = shop(ScriptedModel(call("charge", amount=2), "ok"), charged)
    with pytest.raises(RuntimeError), agent.override(tools={"charge": lambda amount: "fake"}):
        raise RuntimeError("test body failed")
    reply = await agent.ask("pay")
    assert results(reply.events) == ["charged 2"]


async def test_override_applies_to_this_agent_only() -> None:
    tools = payment_tools([], [])
    one = Agent("one", config=ScriptedModel(call("charge", amount=1), "ok"), tools=tools)
    two = Agent("two", config=ScriptedModel(call("charge", amount=1), "ok"), tools=tools)
    with one.override(tools={"charge": lambda amount: "fake"}):
        assert results((await one.ask("pay")).events) == ["fake"]
        assert results((await two.ask("pay")).events) == ["charged 1"]


async def test_override_applies_to_asks_started_inside_it() -> None:
    agent = shop(ScriptedModel(call("charge", amount=1), "ok", repeat=True))
    outside = asyncio.create_task(agent.ask("pay"))  # started before: not overridden
    with agent.override(tools={"charge": lambda amount: "fake"}):
        inside = asyncio.create_task(agent.ask("pay"))
        outside_reply, inside_reply = await outside, await inside
    assert results(outside_reply.events) == ["charged 1"]
    assert results(inside_reply.events) == ["fake"]


async def test_overrides_nest() -> None:
    model = ScriptedModel([call("charge", amount=1), call("refund", amount=1)], "ok", repeat=True)
    agent = shop(model)
    with agent.override(tools={"charge": lambda amount: "fake charge"}):
        with agent.override(tools={"refund": lambda amount: "fake refund"}):
            assert sorted(results((await agent.ask("x")).events)) == ["fake charge", "fake refund"]
        assert sorted(results((await agent.ask("x")).events)) == ["fake charge", "refunded 1"]
    assert sorted(results((await agent.ask("x")).events)) == ["charged 1", "refunded 1"]


async def test_override_can_raise_tool_errors() -> None:
    agent = shop(ScriptedModel(call("charge", amount=1), "ok", per_conversation=True))

    def broken(amount: int) -> str:
        raise KeyError("no such card")

    with (
        agent.override(tools={"charge": broken}, raise_tool_errors=True),
        pytest.raises(KeyError, match="no such card"),
    ):
        await agent.ask("pay")
    with agent.override(tools={"charge": broken}):
        assert tool_errors((await agent.ask("pay")).events)[0].error_type == "KeyError"


def test_override_covers_ask_sync() -> None:
    agent = shop(ScriptedModel(call("charge", amount=1), "ok"))
    with agent.override(tools={"charge": lambda amount: "fake"}):
        reply = agent.ask_sync("pay")
    assert results(reply.events) == ["fake"]


def test_overriding_a_tool_the_agent_lacks_names_its_tools() -> None:
    agent = shop(ScriptedModel("ok"))
    with pytest.raises(ConfigError, match=r"no tool 'chrage'.*: charge, refund"):
        agent.override(tools={"chrage": lambda amount: "x"})


def test_a_replacement_that_cannot_take_the_arguments_is_refused() -> None:
    agent = shop(ScriptedModel("ok"))
    with pytest.raises(ConfigError, match="must take the tool's parameters \\(amount\\)"):
        agent.override(tools={"charge": lambda total: "x"})
    with pytest.raises(ConfigError, match="must take"):
        agent.override(tools={"charge": lambda amount, currency: "x"})


# -- RecordingModel (point 19) ---------------------------------------------------------------


async def test_recording_model_records_what_was_sent_and_received() -> None:
    inner = ScriptedModel(call("charge", amount=5), chunks("pa", "id"))
    model = RecordingModel(inner)
    agent = Agent("shop", config=model, tools=payment_tools([], []))
    streamed: list[str] = []
    async with agent.run("pay 5") as run:
        async for event in run:
            if isinstance(event, TextChunk):
                streamed.append(event.text)
        reply = await run.result()

    assert reply.text == "paid"
    assert (model.provider, model.model_name) == ("scripted", "scripted")
    first, second = model.calls
    assert isinstance(first.call.messages[-1], ModelRequest)
    assert first.call.messages[-1].parts == (Text("pay 5"),)
    assert first.call.tool_names == ["charge", "refund"]
    assert first.response is not None and first.response.tool_calls[0].name == "charge"
    assert second.call.messages[-1].content == "charged 5"  # the result the model was sent
    assert [c.text for c in second.chunks if isinstance(c, TextChunk)] == ["pa", "id"]
    assert streamed == ["pa", "id"]  # still delivered to the run
    assert model.requests == inner.requests  # the wrapped model got the very same calls
    assert [r.text for r in model.responses] == ["", "paid"]
    assert all(isinstance(r, ModelResponse) for r in model.responses)


async def test_recording_model_records_a_failed_call() -> None:
    model = RecordingModel(ScriptedModel(RateLimited("slow down")))
    with pytest.raises(RateLimited):
        await Agent("a", config=model).ask("hi")
    assert isinstance(model.last.error, RateLimited) and model.last.response is None
    assert model.responses == []


def test_recording_model_needs_a_model_config() -> None:
    with pytest.raises(ConfigError):
        RecordingModel(42)  # type: ignore[arg-type]
