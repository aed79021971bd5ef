"""Cancel, failure and a dead process mid-team: the stored conversation stays valid (every
run and team ask closed once) and the next ask works."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baton import Agent, MemoryHistory, tool
from baton.errors import ModelError
from baton.events import HumanInputRequest, HumanMessage, RunFailed, RunStarted, ToolCall
from baton.history import History
from baton.teams import (
    Human,
    MaxTurns,
    RoundRobin,
    SpeakerSelected,
    TeamFailed,
    TeamFinished,
    TeamStarted,
    Timeout,
)
from baton.testing import ScriptedModel, call


def check_teams(events: Any) -> None:
    """Every team ask started is closed exactly once, innermost first."""
    open_asks: list[str] = []
    for event in events:
        if isinstance(event, TeamStarted):
            open_asks.append(event.team_id)
        elif isinstance(event, TeamFinished | TeamFailed):
            assert open_asks and open_asks[-1] == event.team_id, "team closed out of order"
            open_asks.pop()
    assert not open_asks, f"team asks never closed: {open_asks}"


async def test_cancel_mid_member_turn_leaves_a_valid_history(valid_history: Any) -> None:
    history = MemoryHistory()
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Take a long time."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    a = Agent("a", config=ScriptedModel("a says", repeat=True))
    b = Agent("b", config=ScriptedModel(call("slow"), "b says", "b says"), tools=[slow])
    team = RoundRobin([a, b], termination=MaxTurns(4), history=history)
    async with team.run("go", conversation_id="c-cancel") as run:
        async for event in run:
            if isinstance(event, ToolCall):
                break
        await started.wait()  # b's turn is inside its tool call
        await run.cancel()
    stored = await history.load("c-cancel")
    valid_history(stored)
    check_teams(stored)
    failed = [e for e in stored if isinstance(e, TeamFailed)]
    assert len(failed) == 1 and failed[0].error_type == "Cancelled"

    # The next ask on the conversation works and goes on after the last speaker (b).
    reply = await team.ask("again", conversation_id="c-cancel")
    assert [e.member for e in reply.events if isinstance(e, SpeakerSelected)][-4:] == [
        "a",
        "b",
        "a",
        "b",
    ]
    valid_history(list(reply.events))
    check_teams(reply.events)


async def test_a_failing_member_fails_the_team_ask_and_closes_it(valid_history: Any) -> None:
    history = MemoryHistory()
    a = Agent("a", config=ScriptedModel("a says"))
    b = Agent("b", config=ScriptedModel(ModelError("provider down")))
    team = RoundRobin([a, b], termination=MaxTurns(4), history=history)
    with pytest.raises(ModelError):
        await team.ask("go", conversation_id="c-fail")
    stored = await history.load("c-fail")
    valid_history(stored)
    check_teams(stored)
    assert [e.error_type for e in stored if isinstance(e, TeamFailed)] == ["ModelError"]


async def test_a_team_left_open_by_a_dead_process_is_closed_by_the_next_ask(
    valid_history: Any,
) -> None:
    history: History = MemoryHistory()
    # What a process killed inside b's turn leaves: the team started, b's run open.
    dead = [
        TeamStarted("t1", "crew", "RoundRobin", "c1", "go"),
        SpeakerSelected("t1", "crew", "a", "first in order", 0),
        RunStarted("r1", "a", "c1"),
    ]
    await history.append("c1", dead)
    team = RoundRobin(
        [
            Agent("a", config=ScriptedModel("a again", repeat=True)),
            Agent("b", config=ScriptedModel("b says", repeat=True)),
        ],
        name="crew",
        termination=MaxTurns(1),
        history=history,
    )
    reply = await team.ask("go on", conversation_id="c1")
    events = list(reply.events)
    valid_history(events)
    check_teams(events)
    assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["Interrupted"]
    assert reply.text == "b says"  # a was selected last: b goes next


async def test_a_member_team_whose_timeout_cut_its_first_turn_takes_an_empty_turn(
    valid_history: Any,
) -> None:
    """The member team ends normally with no turn of its own (its Timeout fired at once): the
    outer ask takes that as an empty answer and goes on with its next member."""

    async def hang(_: Any) -> str:
        await asyncio.Event().wait()
        return "never"

    inner = RoundRobin(
        [Agent("slow", config=ScriptedModel(hang))],
        name="inner",
        termination=Timeout(1e-6) | MaxTurns(1),  # due at once: no timer to wait for
    )
    history = MemoryHistory()
    team = RoundRobin(
        [inner, Agent("b", config=ScriptedModel("b says"))],
        termination=MaxTurns(2),
        history=history,
    )
    reply = await team.ask("go", conversation_id="c-inner-timeout")
    assert [t.member for t in reply.turns] == ["inner", "b"]
    assert reply.turns[0].text == "" and reply.text == "b says"
    stored = await history.load("c-inner-timeout")
    valid_history(stored)
    check_teams(stored)
    inner_end = [e for e in stored if isinstance(e, TeamFinished) and e.team == "inner"]
    assert [e.termination for e in inner_end] == ["Timeout(1e-06)"]


async def test_a_timeout_cuts_a_hung_turn_and_ends_the_ask_normally(valid_history: Any) -> None:
    async def hang(_: Any) -> str:
        await asyncio.Event().wait()
        return "never"

    history = MemoryHistory()
    team = RoundRobin(
        [Agent("slow", config=ScriptedModel(hang)), Agent("b", config=ScriptedModel("b"))],
        termination=Timeout(1e-6) | MaxTurns(4),  # due at once: no timer to wait for
        history=history,
    )
    reply = await team.ask("go", conversation_id="c-timeout")
    assert reply.termination == "Timeout(1e-06)"
    assert reply.text == "" and reply.turns == []
    assert reply.speaker == ""  # nobody finished a turn in this ask
    stored = await history.load("c-timeout")
    valid_history(stored)
    check_teams(stored)
    assert [e.error_type for e in stored if isinstance(e, RunFailed)] == ["Cancelled"]
    assert isinstance(stored[-1], TeamFinished)


async def test_cancel_inside_a_nested_team_closes_both_asks_inner_first(
    valid_history: Any,
) -> None:
    entered = asyncio.Event()

    async def hang(_: Any) -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    history = MemoryHistory()
    inner = RoundRobin(
        [Agent("fast", config=ScriptedModel("fast")), Agent("stuck", config=ScriptedModel(hang))],
        name="inner",
        termination=MaxTurns(2),
    )
    outer = RoundRobin(
        [Agent("lead", config=ScriptedModel("lead")), inner],
        name="outer",
        termination=MaxTurns(3),
        history=history,
    )
    asking = asyncio.create_task(outer.ask("go", conversation_id="c-nested"))
    await entered.wait()
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    stored = await history.load("c-nested")
    valid_history(stored)
    check_teams(stored)
    assert [(e.team, e.error_type) for e in stored if isinstance(e, TeamFailed)] == [
        ("inner", "Cancelled"),
        ("outer", "Cancelled"),
    ]
    # The next ask works, and goes on after the last speaker selected by the outer team.
    outer_again = RoundRobin(
        [
            Agent("lead", config=ScriptedModel("lead again")),
            Agent("inner", config=ScriptedModel("x")),
        ],
        name="outer",
        termination=MaxTurns(1),
        history=history,
    )
    reply = await outer_again.ask("again", conversation_id="c-nested")
    assert reply.text == "lead again"
    valid_history(list(reply.events))


async def test_a_human_turn_cut_by_a_timeout_or_a_cancel_closes_with_the_ask(
    valid_history: Any,
) -> None:
    history = MemoryHistory()
    asked = asyncio.Event()

    async def away(request: HumanInputRequest) -> str:
        asked.set()
        await asyncio.Event().wait()
        return "never"

    writer = Agent("writer", config=ScriptedModel("draft", repeat=True))
    timed = RoundRobin(
        [Human("editor", handler=away), writer],
        termination=Timeout(1e-6) | MaxTurns(2),  # due at once: cuts the editor's first turn
        history=history,
    )
    reply = await timed.ask("go", conversation_id="c-human-cut")
    assert reply.termination == "Timeout(1e-06)" and reply.turns == []
    asked.clear()
    cancelled = RoundRobin(
        [Human("editor", handler=away), writer], termination=MaxTurns(3), history=history
    )
    asking = asyncio.create_task(cancelled.ask("again", conversation_id="c-human-cut"))
    await asked.wait()  # the writer answered, then the editor was asked
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    stored = await history.load("c-human-cut")
    valid_history(stored)
    check_teams(stored)
    requests = [e for e in stored if isinstance(e, HumanInputRequest)]
    assert len(requests) == 2 and not [e for e in stored if isinstance(e, HumanMessage)]
    # The next ask works, going on after the last speaker selected (the cut editor).
    done = RoundRobin(
        [Human("editor", handler=lambda r: "Ship it."), writer],
        termination=MaxTurns(2),
        history=history,
    )
    reply = await done.ask("once more", conversation_id="c-human-cut")
    assert [t.member for t in reply.turns] == ["writer", "editor"] and reply.text == "Ship it."
    valid_history(await history.load("c-human-cut"))
