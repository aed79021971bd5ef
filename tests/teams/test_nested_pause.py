"""A team inside a team pauses the whole ask: a human member of the inner team, or an inner
member agent pausing its own turn, is saved as the asked team's pause (with the inner team's
inside it); ``resume`` on the team asked, with fresh objects (as another process would have),
finishes the inner team's turn, then the outer team goes on."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.backends.redis import RedisStorage, close_pools
from baton.context import Context
from baton.errors import AskSuspended, BackendUnavailable, ConversationBusy
from baton.events import HumanInputRequest, HumanMessage, ToolCallResult
from baton.teams import (
    Graph,
    Human,
    MaxTurns,
    RoundRobin,
    SpeakerSelected,
    TeamFailed,
    TeamFinished,
)
from baton.testing import ScriptedModel, call


def outer(history: Any, storage: Any, inner_members: list[Any], *writer: str) -> RoundRobin:
    """writer, then a review team (no history or storage of its own), then the writer again."""
    review = RoundRobin(inner_members, name="review", termination=MaxTurns(2))
    return RoundRobin(
        [Agent("writer", config=ScriptedModel(*writer)), review],
        name="desk",
        termination=MaxTurns(3),
        history=history,
        storage=storage,
    )


def reviewers() -> list[Any]:
    return [Agent("reviewer", config=ScriptedModel("tighten it")), Human("boss", suspend=True)]


async def test_a_human_in_a_nested_team_pauses_the_team_asked(valid_history: Any) -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended, match=r"'desk' waits in the turn of its member 'review'"):
        await outer(history, storage, reviewers(), "draft 1").ask("Write.", conversation_id="n1")
    paused = await outer(history, storage, reviewers()).paused("n1")
    assert paused is not None and (paused.team, paused.member) == ("desk", "boss")
    assert paused.run is None  # a person's turn: no member run waits
    (request,) = paused.requests
    assert isinstance(request, HumanInputRequest)
    saved = await storage.get("baton:team-pause:n1")
    assert (saved["team"], saved["member"], saved["inner"]["team"]) == ("desk", "review", "review")

    reply = await outer(history, storage, reviewers(), "draft 2").resume(
        "n1", HumanMessage("ship it", request_id=request.request_id)
    )
    assert [(t.member, t.text) for t in reply.turns] == [
        ("writer", "draft 1"),
        ("review", "ship it"),  # the inner team's last answer: the boss's
        ("writer", "draft 2"),
    ]
    assert reply.termination == "MaxTurns(3)"
    events = await history.load("n1")
    valid_history(events)
    assert [(e.team, e.member) for e in events if isinstance(e, SpeakerSelected)] == [
        ("desk", "writer"),
        ("desk", "review"),
        ("review", "reviewer"),
        ("review", "boss"),
        ("desk", "writer"),
    ]
    assert sorted(e.team for e in events if isinstance(e, TeamFinished)) == ["desk", "review"]
    assert not [e for e in events if isinstance(e, TeamFailed)]
    assert await storage.get("baton:team-pause:n1") is None


@tool
async def ask_boss(context: Context) -> str:
    """Ask the boss whether to go ahead."""
    return await context.input("Go ahead?")


async def test_an_inner_member_pausing_its_own_turn_pauses_the_team_asked(
    valid_history: Any,
) -> None:
    def inner(*turns: Any) -> list[Any]:
        asker = Agent(
            "asker", config=ScriptedModel(*turns), tools=[ask_boss], suspend_on_human=True
        )
        return [asker, Agent("checker", config=ScriptedModel("checked", repeat=True))]

    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended) as suspended:
        await outer(history, storage, inner(call("ask_boss")), "draft").ask(
            "Write.", conversation_id="n2"
        )
    (request,) = suspended.value.requests
    paused = await outer(history, storage, inner()).paused("n2")
    assert paused is not None and paused.member == "asker" and paused.requests == (request,)
    reply = await outer(history, storage, inner("asked: going ahead"), "final").resume(
        "n2", HumanMessage("yes", request_id=request.request_id)
    )
    assert [(t.member, t.text) for t in reply.turns] == [
        ("writer", "draft"),
        ("review", "checked"),
        ("writer", "final"),
    ]
    events = await history.load("n2")
    valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["yes"]
    assert [e.member for e in events if isinstance(e, SpeakerSelected)] == [
        "writer",
        "review",
        "asker",
        "checker",
        "writer",
    ]


async def test_a_nested_team_paused_twice_in_one_ask(valid_history: Any) -> None:
    """The inner team's human answers, the inner team goes on and its human pauses again: a
    second pause of the same nested turn, resumed the same way."""
    history, storage = MemoryHistory(), MemoryStorage()

    def build(*writer: str) -> RoundRobin:
        review = RoundRobin([Human("boss", suspend=True)], name="review", termination=MaxTurns(2))
        return RoundRobin(
            [Agent("writer", config=ScriptedModel(*writer)), review],
            name="desk",
            termination=MaxTurns(2),
            history=history,
            storage=storage,
        )

    with pytest.raises(AskSuspended) as first:
        await build("draft").ask("Write.", conversation_id="n3")
    with pytest.raises(AskSuspended) as second:
        await build().resume("n3", HumanMessage("one", request_id=first.value.request_id))
    assert second.value.request_id != first.value.request_id
    reply = await build().resume("n3", HumanMessage("two", request_id=second.value.request_id))
    assert [(t.member, t.text) for t in reply.turns] == [("writer", "draft"), ("review", "two")]
    valid_history(await history.load("n3"))


async def test_three_deep_the_asked_team_keeps_the_pause_and_the_next_ask_is_told_who_waits(
    valid_history: Any,
) -> None:
    history, storage = MemoryHistory(), MemoryStorage()

    def build(*writer: str) -> RoundRobin:
        inner = RoundRobin([Human("boss", suspend=True)], name="inner", termination=MaxTurns(1))
        middle = RoundRobin([inner], name="middle", termination=MaxTurns(1))
        return RoundRobin(
            [Agent("writer", config=ScriptedModel(*writer)), middle],
            name="top",
            termination=MaxTurns(2),
            history=history,
            storage=storage,
        )

    with pytest.raises(AskSuspended, match=r"'top' waits in the turn of its member 'middle'"):
        await build("draft").ask("Write.", conversation_id="n4")
    saved = await storage.get("baton:team-pause:n4")
    assert [saved["team"], saved["inner"]["team"], saved["inner"]["inner"]["team"]] == [
        "top",
        "middle",
        "inner",
    ]
    paused = await build().paused("n4")
    assert paused is not None and paused.member == "boss"
    (request,) = paused.requests
    with pytest.raises(ConversationBusy, match=rf"'boss' \(request {request.request_id}\)"):
        await build("x").ask("again", conversation_id="n4")
    reply = await build().resume("n4", HumanMessage("fine", request_id=request.request_id))
    assert [(t.member, t.text) for t in reply.turns] == [("writer", "draft"), ("middle", "fine")]
    events = await history.load("n4")
    valid_history(events)
    assert sorted(e.team for e in events if isinstance(e, TeamFinished)) == [
        "inner",
        "middle",
        "top",
    ]


async def test_a_member_teams_turn_ended_by_a_person_is_read_back_with_the_persons_answer(
    valid_history: Any,
) -> None:
    """Paused at the boss (in the member team), then at the editor: on the second resume the
    member team's turn is read back from the history with its answer, the boss's."""
    history, storage = MemoryHistory(), MemoryStorage()

    def build() -> RoundRobin:
        review = RoundRobin(reviewers(), name="review", termination=MaxTurns(2))
        return RoundRobin(
            [Agent("writer", config=ScriptedModel("draft")), review, Human("editor", suspend=True)],
            name="desk",
            termination=MaxTurns(3),
            history=history,
            storage=storage,
        )

    with pytest.raises(AskSuspended) as first:
        await build().ask("Write.", conversation_id="n5")
    with pytest.raises(AskSuspended) as second:
        await build().resume("n5", HumanMessage("ship it", request_id=first.value.request_id))
    reply = await build().resume("n5", HumanMessage("ok", request_id=second.value.request_id))
    assert [(t.member, t.text) for t in reply.turns] == [
        ("writer", "draft"),
        ("review", "ship it"),
        ("editor", "ok"),
    ]
    valid_history(await history.load("n5"))


def test_all_members_builds_a_member_graph_not_asked_yet() -> None:
    flow = Graph(name="flow").add("a", Agent("a", config=ScriptedModel("x")))
    team = RoundRobin([Agent("lead", config=ScriptedModel("y")), flow], name="outer")
    assert [m.name for m in team.all_members()] == ["lead", "flow", "a"]


async def test_a_pause_the_store_cannot_keep_fails_the_ask_and_closes_every_team_ask(
    valid_history: Any,
) -> None:
    """The pause's one write fails (storage unreachable): the asked team's ask and the member
    team's inside it are closed as failed, nothing is left paused, and the next ask (with a
    reachable storage) goes on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    history = MemoryHistory()
    unreachable = RedisStorage(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(BackendUnavailable):
            await outer(history, unreachable, reviewers(), "draft").ask(
                "Write.", conversation_id="n6"
            )
    finally:
        await close_pools()
    events = await history.load("n6")
    valid_history(events)
    assert sorted((e.team, e.error_type) for e in events if isinstance(e, TeamFailed)) == [
        ("desk", "BackendUnavailable"),
        ("review", "BackendUnavailable"),
    ]
    storage = MemoryStorage()
    team = RoundRobin(
        [Agent("writer", config=ScriptedModel("again"))],
        name="desk",
        termination=MaxTurns(1),
        history=history,
        storage=storage,
    )
    assert (await team.ask("Write.", conversation_id="n6")).text == "again"
    valid_history(await history.load("n6"))
