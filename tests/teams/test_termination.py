"""Termination: each condition, how they compose, and that every limit ends the ask normally
(``TeamFinished`` names it, the reply holds the last answer)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from baton import Agent, tool
from baton.errors import ConfigError
from baton.events import Usage
from baton.models.base import ModelCall
from baton.teams import (
    CostLimit,
    FunctionCondition,
    HandoffTo,
    MaxTurns,
    RoundRobin,
    Sequential,
    StopTool,
    Swarm,
    TeamFinished,
    TeamState,
    TextMention,
    Timeout,
    TokenLimit,
)
from baton.teams.state import Turn
from baton.teams.termination import checked_only, checked_parts, first_fired
from baton.testing import ScriptedModel, call


def pair(*, a: Any = "a", b: Any = "b", **options: Any) -> RoundRobin:
    return RoundRobin(
        [
            Agent("a", config=ScriptedModel(a, repeat=True)),
            Agent("b", config=ScriptedModel(b, repeat=True)),
        ],
        **options,
    )


def finished(reply: Any) -> TeamFinished:
    last = list(reply.events)[-1]
    assert isinstance(last, TeamFinished)
    return last


async def test_max_turns_counts_member_turns_not_the_task() -> None:
    reply = await pair(termination=MaxTurns(3)).ask("go")
    assert len(reply.turns) == 3 and reply.text == "a"
    assert finished(reply).termination == "MaxTurns(3)"


async def test_text_mention_never_fires_on_the_task_text() -> None:
    # The task says DONE; the members don't until b's second turn.
    b_turns = iter(["not yet", "DONE now"])
    team = pair(b=lambda _: next(b_turns), termination=TextMention("DONE"))
    reply = await team.ask("Say DONE when DONE.")
    assert [t.member for t in reply.turns] == ["a", "b", "a", "b"]
    assert reply.text == "DONE now" and reply.termination == "TextMention('DONE')"


async def test_text_mention_never_fires_on_a_humans_remark_either() -> None:
    team = pair(termination=TextMention("STOP") | MaxTurns(2))
    reply = await team.ask("STOP is what I will never say")
    assert reply.termination == "MaxTurns(2)"


async def test_token_and_cost_limits() -> None:
    reply = await pair(a="a" * 400, termination=TokenLimit(50)).ask("go")
    assert reply.termination == "TokenLimit(50)" and len(reply.turns) == 1

    def priced(text: str) -> Any:
        from baton.events import ModelResponse

        return lambda c: ModelResponse(text, usage=Usage(1, 10, 10, cost=0.4), agent=c.agent)

    reply = await pair(a=priced("a"), b=priced("b"), termination=CostLimit(1.0)).ask("go")
    assert reply.termination == "CostLimit(1.0)" and len(reply.turns) == 3


async def test_timeout_is_checked_after_each_turn() -> None:
    team: RoundRobin

    def late(c: ModelCall) -> str:
        state = team.running(c.conversation_id)
        assert state is not None
        state.started -= 60  # as if the turn had taken a minute (no timers in tests)
        return "late"

    team = pair(a=late, termination=Timeout(30))
    reply = await team.ask("go")
    assert reply.termination == "Timeout(30)" and len(reply.turns) == 1


async def test_stop_tool_and_function_condition() -> None:
    @tool
    def finish(summary: str) -> str:
        """Finish the work."""
        return "finished"

    a = Agent("a", config=ScriptedModel("a", repeat=True))
    b = Agent("b", config=ScriptedModel(call("finish", summary="x"), "b done"), tools=[finish])
    reply = await RoundRobin([a, b], termination=StopTool("finish")).ask("go")
    assert reply.termination == "StopTool('finish')" and reply.text == "b done"

    async def three_turns(state: TeamState) -> bool:
        return len(state.turns) == 3

    reply = await pair(termination=FunctionCondition(three_turns)).ask("go")
    assert reply.termination == "FunctionCondition(three_turns)" and len(reply.turns) == 3


async def test_or_fires_on_either_and_and_once_both_fired_at_some_point() -> None:
    says = iter(["X", "nothing", "nothing", "Y", "Y"])
    team = pair(
        a=lambda _: next(says),
        b=lambda _: next(says),
        termination=TextMention("X") & TextMention("Y"),
    )
    reply = await team.ask("go")
    # X fired on turn 1, Y on turn 4: both have fired then, though never on the same turn.
    assert len(reply.turns) == 4
    assert reply.termination == "TextMention('X') & TextMention('Y')"

    reply = await pair(termination=TextMention("b") | MaxTurns(5)).ask("go")
    assert reply.termination == "TextMention('b')" and len(reply.turns) == 2


async def test_and_state_does_not_leak_between_asks() -> None:
    says = iter(["X", "-", "Y", "-"])
    cond = TextMention("X") & TextMention("Y")
    team = pair(a=lambda _: next(says), b=lambda _: next(says), termination=cond | MaxTurns(2))
    first = await team.ask("one")
    assert first.termination == "MaxTurns(2)"
    second = await first.ask("two")  # X fired in the first ask only: Y alone is not enough
    assert second.termination == "MaxTurns(2)" and len(second.turns) == 2


async def test_handoff_to_a_non_member_ends_a_swarm() -> None:
    a = Agent("a", config=ScriptedModel(call("transfer_to_user", reason="need input")))
    swarm = Swarm([a], handoffs={"a": ["user"]}, termination=HandoffTo("user"))
    reply = await swarm.ask("help")
    assert reply.termination == "HandoffTo('user')"
    assert reply.turns[-1].handoff == "user"


async def test_the_team_hard_limit_is_configurable_and_validated() -> None:
    reply = await pair(max_turns=3).ask("go")
    assert reply.termination == "MaxTurns(3)"
    with pytest.raises(ConfigError):
        pair(termination="DONE")
    with pytest.raises(ConfigError):
        TextMention("")
    with pytest.raises(ConfigError):
        TokenLimit(0)
    with pytest.raises(ConfigError):
        MaxTurns(3) | "x"  # type: ignore[operator]


def test_a_max_turns_beyond_the_hard_limit_is_refused_when_made() -> None:
    # MaxTurns(50) alone would stop at the hard limit's 20 turns, never at 50.
    with pytest.raises(ConfigError, match=r"MaxTurns\(50\) can never fire.*max_turns=50"):
        pair(termination=MaxTurns(50))
    with pytest.raises(ConfigError, match=r"MaxTurns\(30\) can never fire"):
        pair(termination=TextMention("DONE") & MaxTurns(30), max_turns=25)
    assert pair(termination=MaxTurns(50), max_turns=50).max_turns.n == 50
    with pytest.raises(ConfigError, match="combine with other conditions"):
        "DONE" | MaxTurns(3)  # type: ignore[operator]
    with pytest.raises(ConfigError, match="combine with other conditions"):
        "DONE" & MaxTurns(3)  # type: ignore[operator]


def test_functions_of_the_state_are_checked_when_given() -> None:
    # A function that can't take the state failed with a TypeError at the first ask.
    with pytest.raises(ConfigError, match=r"FunctionCondition takes .*<lambda>\(\) is not"):
        FunctionCondition(lambda: True)  # type: ignore[arg-type,misc]
    with pytest.raises(ConfigError, match=r"FunctionCondition\(fn\)"):
        pair(termination=lambda state: True)  # type: ignore[arg-type]


def test_a_decorated_function_is_checked_as_it_is_called() -> None:
    # The wrapper is what is called: judged by what it wraps, a working wrapper was refused.
    def enough(state: Any, limit: int) -> bool:
        return len(state.turns) >= limit

    @functools.wraps(enough)
    def three(state: Any) -> bool:
        return enough(state, 3)

    FunctionCondition(three)
    with pytest.raises(ConfigError, match=r"FunctionCondition takes .*enough\(state, limit\)"):
        FunctionCondition(enough)  # type: ignore[arg-type]


def test_a_sequential_takes_a_max_turns_beyond_its_steps() -> None:
    # A Sequential ends after its last step anyway: MaxTurns(3) beside two steps loses nothing.
    a, b = (Agent(n, config=ScriptedModel("x")) for n in "ab")
    Sequential([a, b], termination=TextMention("x") | MaxTurns(3))
    with pytest.raises(ConfigError, match=r"MaxTurns\(30\) can never fire"):
        RoundRobin([a, b], termination=TextMention("x") | MaxTurns(30))


async def test_sync_checks_name_what_fired_as_the_awaited_path_does():
    # Conditions decided by `check` alone are checked without awaiting (a team's every turn);
    # a FunctionCondition anywhere in the tree keeps the awaited path. Both name the same part.
    mention, turns = TextMention("DONE"), MaxTurns(3)
    either_one = turns | mention
    both = MaxTurns(1) & mention
    assert checked_only(either_one) and checked_only(both) and checked_only(turns | both)
    assert not checked_only(turns | FunctionCondition(lambda state: False))
    for texts in ([], ["go on"], ["DONE"], ["a", "b", "c"], ["a", "DONE now"]):
        state = TeamState("t", "id", "task", [], {})
        for text in texts:
            state.add(Turn("m", text, text, Usage()))
        for condition in (either_one, both, turns | both):
            fresh = TeamState("t", "id", "task", [], {}, turns=list(state.turns))
            # What a team checks on every turn: the parts of the `|`, in order.
            named = next((repr(c) for c in checked_parts(condition) if c.check(fresh)), None)
            assert named == await first_fired(condition, state)
