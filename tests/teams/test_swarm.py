"""Swarm: generated transfer tools, the first hand-off of a turn honoured, input filters, a
text answer ending the ask, and the next ask continuing with that member."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent
from baton.errors import ConfigError
from baton.events import Event, ModelResponse, ToolCallError, ToolCallResult
from baton.teams import (
    Handoff,
    HandoffTo,
    MaxTurns,
    SpeakerSelected,
    Swarm,
    Transfer,
    text_only,
)
from baton.testing import ScriptedModel, call, chunks, reasoning


def handoffs(events: Any) -> list[tuple[str, str, str]]:
    return [(e.source, e.target, e.reason) for e in events if isinstance(e, Handoff)]


async def test_a_handoff_passes_the_turn_and_a_text_answer_ends_the_ask(valid_history: Any) -> None:
    triage_model = ScriptedModel(call("transfer_to_billing", reason="a charge"))
    billing_model = ScriptedModel("Refund issued.", "It will arrive in 3 days.")
    triage = Agent("triage", config=triage_model, description="routes requests")
    billing = Agent("billing", config=billing_model, description="handles charges")
    desk = Swarm([triage, billing], start="triage")

    reply = await desk.ask("I was charged twice.")
    assert reply.text == "Refund issued." and reply.termination == "answered"
    assert handoffs(reply.events) == [("triage", "billing", "a charge")]
    selected = [(e.member, e.reason) for e in reply.events if isinstance(e, SpeakerSelected)]
    assert selected == [("triage", "start"), ("billing", "handoff from triage: a charge")]
    valid_history(list(reply.events))
    # The triage turn ended at the hand-off: its model was called once.
    assert triage_model.calls_made == 1
    assert triage_model.last_request.tool_names == ["transfer_to_billing"]
    assert billing_model.last_request.tool_names == ["transfer_to_triage"]
    # Billing saw the triage's hand-off as triage's named turn.
    assert [s.author for s in billing_model.seen()] == ["user", "triage", "triage"]

    later = await reply.ask("When will it arrive?")  # the member who answered goes on
    assert later.text == "It will arrive in 3 days."
    assert [e.member for e in later.events if isinstance(e, SpeakerSelected)][-1] == "billing"


async def test_only_the_first_handoff_of_a_response_is_honoured(valid_history: Any) -> None:
    a = Agent("a", config=ScriptedModel([call("transfer_to_b"), call("transfer_to_c")]))
    b = Agent("b", config=ScriptedModel("b answers"))
    c = Agent("c", config=ScriptedModel("c never speaks"))
    reply = await Swarm([a, b, c]).ask("go")
    assert reply.text == "b answers"
    assert handoffs(reply.events) == [("a", "b", "")]
    events = list(reply.events)
    valid_history(events)
    errors = [e for e in events if isinstance(e, ToolCallError)]
    assert len(errors) == 1 and errors[0].name == "transfer_to_c"
    assert "only the first hand-off" in errors[0].message and "goes to b" in errors[0].message
    assert [e.name for e in events if isinstance(e, ToolCallResult)] == ["transfer_to_b"]


async def test_a_handoff_after_reasoning_never_shows_the_reasoning_to_the_target() -> None:
    a_model = ScriptedModel(chunks(reasoning("secret thoughts"), call("transfer_to_b")))
    b_model = ScriptedModel("b answers")
    reply = await Swarm([Agent("a", config=a_model), Agent("b", config=b_model)]).ask("go")
    stored = [e for e in reply.events if isinstance(e, ModelResponse) and e.agent == "a"]
    assert stored[0].reasoning == "secret thoughts"  # kept in the history...
    seen = b_model.seen()
    assert all("secret" not in s.text for s in seen)  # ...never shown to another member
    assert all(s.role == "user" for s in seen)  # a's turn is not b's own assistant turn
    # And the events b's model got hold no ModelResponse of another agent at all.
    from baton.transcript import transcript

    shown = [e for _, e in transcript(b_model.last_request.messages, "b")]
    assert not any(isinstance(e, ModelResponse) for e in shown)


async def test_an_input_filter_decides_what_the_target_sees_for_that_turn() -> None:
    def last_two(events: Any) -> list[Event]:
        return text_only(events)[-2:]

    a_model = ScriptedModel(["I looked it up", call("transfer_to_b")])
    b_model = ScriptedModel("b answers", "b again")
    swarm = Swarm(
        [Agent("a", config=a_model), Agent("b", config=b_model)],
        handoffs={"a": [Transfer("b", input_filter=last_two)], "b": []},
    )
    reply = await swarm.ask("first question")
    # b saw the task and a's text, without a's tool call or its result.
    assert b_model.seen() == [
        ("user", "user", "first question"),
        ("user", "a", "[a] I looked it up"),
    ]
    # The filter was for that turn only: b's next turn sees everything again.
    await reply.ask("next question")
    authors = [s.author for s in b_model.seen()]
    assert authors == ["user", "a", "a", "b", "user"]


async def test_swarm_configuration_errors() -> None:
    a = Agent("a", config=ScriptedModel("x"))
    with pytest.raises(ConfigError, match="start"):
        Swarm([a], start="nobody")
    with pytest.raises(ConfigError, match="non-members"):
        Swarm([a], handoffs={"zed": ["a"]})
    lone = Agent("lone", config=ScriptedModel(call("transfer_to_user")))
    with pytest.raises(ConfigError, match="HandoffTo"):
        await Swarm([lone], handoffs={"lone": ["user"]}).ask("go")


def test_a_handoffs_table_is_checked_when_the_swarm_is_made() -> None:
    a, b = Agent("a", config=ScriptedModel("x")), Agent("billing", config=ScriptedModel("y"))
    with pytest.raises(ConfigError, match="handoffs= takes a dict"):
        Swarm([a, b], handoffs=["billing"])  # type: ignore[arg-type]
    # One name alone would be read as its letters: transfer_to_b, transfer_to_i, ...
    with pytest.raises(ConfigError, match=r"handoffs\['a'\] takes a list .* e\.g\. \['billing'\]"):
        Swarm([a, b], handoffs={"a": "billing"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"e\.g\. \['billing', Transfer\('support'\)\], got \{"):
        Swarm([a, b], handoffs={"a": {"billing"}})  # type: ignore[dict-item]
    # A target that is no member ends the ask only with a HandoffTo naming it: refused now,
    # not when a member first hands off to it.
    with pytest.raises(ConfigError, match=r"'user', which is not a member.*HandoffTo\('user'\)"):
        Swarm([a, b], handoffs={"a": ["billing", "user"]})
    Swarm([a, b], handoffs={"a": ["user"]}, termination=HandoffTo("user") | MaxTurns(4))
    with pytest.raises(ConfigError, match=r"input_filter= takes a function .*got 'text_only'"):
        Transfer("billing", input_filter="text_only")  # type: ignore[arg-type]


def test_a_member_that_hands_off_cannot_have_a_response_schema() -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    typed = Agent("typed", config=ScriptedModel("{}"), response_schema=Answer)
    plain = Agent("plain", config=ScriptedModel("x"))
    with pytest.raises(ConfigError, match="response_schema"):
        Swarm([typed, plain])
    Swarm([typed, plain], handoffs={"typed": [], "plain": ["typed"]})  # no hand-off: fine
