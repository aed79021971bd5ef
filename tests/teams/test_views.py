"""What each member sees: All, LastN, OwnAndAddressed, Nothing, Summary (checked on what each
member's ScriptedModel was shown, author by author)."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent, tool
from baton.errors import ConfigError
from baton.events import ModelResponse
from baton.teams import (
    All,
    LastN,
    MaxTurns,
    Member,
    Nothing,
    OwnAndAddressed,
    RoundRobin,
    Summary,
)
from baton.testing import ScriptedModel, call


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"notes on {topic}"


def researcher() -> tuple[Agent[str], ScriptedModel]:
    model = ScriptedModel(call("lookup", topic="tea"), "tea is a drink", repeat=True)
    return Agent("researcher", config=model, tools=[lookup]), model


def member(name: str, *turns: Any) -> tuple[Agent[str], ScriptedModel]:
    model = ScriptedModel(*turns, repeat=True)
    return Agent(name, config=model), model


async def test_all_is_the_default_and_shows_other_members_tool_traffic_named() -> None:
    r, _ = researcher()
    w, w_model = member("writer", "an article")
    await RoundRobin([r, Member(w, view=All())], termination=MaxTurns(2)).ask("Tea?")
    assert [(s.author, s.text) for s in w_model.seen()] == [
        ("user", "Tea?"),
        ("researcher", '[researcher] calls tool lookup({"topic":"tea"})'),
        ("researcher", "[researcher] tool lookup answered: notes on tea"),
        ("researcher", "[researcher] tea is a drink"),
    ]


async def test_last_n_shows_the_task_and_the_last_messages_never_tool_traffic() -> None:
    r, _ = researcher()
    a, _ = member("a", "a one", "a two")
    w, w_model = member("writer", "w one", "w two")
    team = RoundRobin([r, a, Member(w, view=LastN(2))], termination=MaxTurns(6))
    await team.ask("Tea?")
    # The writer's second turn: the task, then the last two messages before it.
    assert [(s.role, s.author, s.text) for s in w_model.seen()] == [
        ("user", "user", "Tea?"),
        ("user", "researcher", "[researcher] tea is a drink"),
        ("user", "a", "[a] a two"),
    ]
    first_turn = w_model.seen(0)
    assert [s.author for s in first_turn] == ["user", "researcher", "a"]
    assert not any("lookup" in s.text for s in first_turn)


async def test_last_n_keeps_the_members_own_running_turn_whole() -> None:
    a, _ = member("a", "a says")
    r_model = ScriptedModel(call("lookup", topic="x"), "found")
    r = Agent("researcher", config=r_model, tools=[lookup])
    await RoundRobin([a, Member(r, view=LastN(1))], termination=MaxTurns(2)).ask("go")
    # Its second call (inside its turn) still sees its own call and the result.
    assert [(s.role, s.author) for s in r_model.seen()] == [
        ("user", "user"),
        ("user", "a"),
        ("assistant", "researcher"),
        ("tool", "researcher"),
    ]


async def test_own_and_addressed() -> None:
    a, _ = member("a", "hello @writer, please draft", "nothing for you")
    b, _ = member("b", "b talks to a")
    w, w_model = member("writer", "a draft")
    team = RoundRobin([a, b, Member(w, view=OwnAndAddressed())], termination=MaxTurns(6))
    await team.ask("Write.")
    assert [(s.author, s.text) for s in w_model.seen()] == [
        ("user", "Write."),
        ("a", "[a] hello @writer, please draft"),
        ("writer", "a draft"),
    ]


async def test_nothing_shows_only_the_latest_task() -> None:
    a, _ = member("a", "a says")
    w, w_model = member("writer", "ok")
    team = RoundRobin([a, Member(w, view=Nothing())], termination=MaxTurns(2))
    reply = await team.ask("first")
    await reply.ask("second")
    assert w_model.seen() == [("user", "user", "second")]


async def test_summary_shows_the_task_and_a_summary_of_the_rest() -> None:
    summarizer = ScriptedModel("a said hi; b agreed", repeat=True)
    a, _ = member("a", "hi")
    b, _ = member("b", "agreed")
    w, w_model = member("writer", "ok")
    team = RoundRobin([a, b, Member(w, view=Summary(summarizer))], termination=MaxTurns(3))
    reply = await team.ask("Plan it.")
    # The summary is spent on the writer's turn: in its usage and the ask's total.
    assert reply.usage.requests == 3 + 1
    assert reply.usage_by_member["writer"].requests == 2
    seen = w_model.seen()
    assert [s.author for s in seen] == ["baton", "user"]
    assert "a said hi; b agreed" in seen[0].text and seen[1].text == "Plan it."
    # The summarizer read the members' words, named.
    asked = summarizer.last_request.messages[-1].text  # type: ignore[attr-defined]
    assert "[a] hi" in asked and "[b] agreed" in asked


async def test_a_view_never_changes_the_stored_conversation() -> None:
    a, _ = member("a", "a says")
    w, _ = member("writer", "ok")
    reply = await RoundRobin([a, Member(w, view=Nothing())], termination=MaxTurns(2)).ask("go")
    assert [e.agent for e in reply.events if isinstance(e, ModelResponse)] == ["a", "writer"]


def test_bad_views_are_config_errors() -> None:
    a, _ = member("a", "x")
    with pytest.raises(ConfigError, match="view="):
        Member(a, view="all")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="LastN"):
        LastN(0)


async def test_a_summary_is_made_once_per_turn_however_many_calls_the_turn_makes() -> None:
    summarizer = ScriptedModel("a said hi")  # one answer: a second summary would fail
    a, _ = member("a", "hi")
    r_model = ScriptedModel(call("lookup", topic="tea"), "found it")
    r = Agent("researcher", config=r_model, tools=[lookup])
    team = RoundRobin([a, Member(r, view=Summary(summarizer))], termination=MaxTurns(2))
    reply = await team.ask("Go.")
    assert reply.text == "found it" and summarizer.calls_made == 1
    assert [s.author for s in r_model.seen()] == ["baton", "user", "researcher", "researcher"]


def test_a_view_on_a_team_member_is_set_on_its_own_members() -> None:
    a, _ = member("a", "x")
    inner = RoundRobin([a], name="inner")
    with pytest.raises(ConfigError, match="set on them"):
        Member(inner, view=LastN(2))
