"""A member agent that pauses its own turn (``suspend_on_human``, ``ApprovalPolicy(suspend=
True)``) pauses the whole team's ask; ``team.resume`` continues that member's run where it
stood, then the team goes on (fresh team and agent objects, as another process would)."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.context import Context
from baton.errors import AskSuspended, ConfigError, ConversationBusy, NotSuspended
from baton.events import (
    ApprovalRequest,
    HumanInputRequest,
    HumanMessage,
    RunFailed,
    ToolCallError,
    ToolCallResult,
)
from baton.hitl import ApprovalPolicy
from baton.teams import MaxTurns, RoundRobin, SpeakerSelected, TeamFailed, TeamFinished
from baton.testing import ScriptedModel, call


@tool
async def ask_boss(context: Context) -> str:
    """Ask the boss whether to go ahead."""
    return await context.input("Go ahead?")


@tool
async def publish(title: str) -> str:
    """Publish an article."""
    return f"published {title}"


def crew(history: Any, storage: Any, *writer_turns: Any, **writer: Any) -> RoundRobin:
    w = Agent(
        "writer",
        config=ScriptedModel(*writer_turns),
        tools=[ask_boss, publish],
        suspend_on_human=True,
        **writer,
    )
    editor = Agent("editor", config=ScriptedModel("looks good", repeat=True))
    return RoundRobin(
        [w, editor], name="crew", termination=MaxTurns(2), history=history, storage=storage
    )


async def test_a_member_asking_a_human_pauses_the_team_and_resumes_its_turn(
    valid_history: Any,
) -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended) as paused:
        await crew(history, storage, call("ask_boss")).ask("Write.", conversation_id="m1")
    (request,) = paused.value.requests
    assert isinstance(request, HumanInputRequest) and request.prompt == "Go ahead?"
    assert "team.resume" in str(paused.value)
    assert await crew(history, storage).pending_request("m1") == request
    with pytest.raises(ConversationBusy, match=r"team\.resume"):
        await crew(history, storage, "x").ask("again", conversation_id="m1")
    with pytest.raises(ConfigError, match="paused requests"):
        await crew(history, storage).resume("m1", HumanMessage("?", request_id="wrong"))

    # Another team and agent objects (as another process would have): the writer's tool call
    # runs again and gets the answer (no model call again for the turn it paused in), the
    # writer answers, then the editor takes its turn.
    resumed = crew(history, storage, "draft, as the boss said")
    reply = await resumed.resume("m1", HumanMessage("yes", request_id=request.request_id))
    assert reply.text == "looks good" and reply.termination == "MaxTurns(2)"
    assert [t.member for t in reply.turns] == ["writer", "editor"]
    assert reply.turns[0].text == "draft, as the boss said"
    assert reply.turns[0].tools == ("ask_boss",)  # called before the pause
    assert reply.usage_by_member["writer"].requests == 2  # the whole turn: before and after
    events = await history.load("m1")
    valid_history(events)
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [r.content for r in results] == ["yes"]
    assert [e.member for e in events if isinstance(e, SpeakerSelected)] == ["writer", "editor"]
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    assert not [e for e in events if isinstance(e, TeamFailed)]


async def test_an_approval_policy_that_suspends_pauses_the_team(valid_history: Any) -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    policy = ApprovalPolicy(lambda c: c.name == "publish", suspend=True)
    with pytest.raises(AskSuspended) as paused:
        await crew(history, storage, call("publish", title="Tea"), middleware=[policy]).ask(
            "Write.", conversation_id="m2"
        )
    (request,) = paused.value.requests
    assert isinstance(request, ApprovalRequest) and request.call.name == "publish"
    reply = await crew(history, storage, "done", middleware=[policy]).resume(
        "m2", HumanMessage(approved=True, request_id=request.request_id)
    )
    assert reply.turns[0].text == "done"
    events = await history.load("m2")
    valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["published Tea"]


async def test_a_team_that_cannot_pause_fails_with_a_clear_error(valid_history: Any) -> None:
    history = MemoryHistory()
    team = crew(history, None, call("ask_boss"))
    with pytest.raises(ConfigError, match=r"writer.*crew.*history= and storage="):
        await team.ask("Write.", conversation_id="m3")
    events = await history.load("m3")
    valid_history(events)
    assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["ConfigError"]


async def test_paused_gives_every_request_a_member_waits_for(valid_history: Any) -> None:
    """Two tool calls to approve in one answer: ``team.paused`` has both approval requests as
    recorded (not one request of the wrong kind), from fresh objects; answering both finishes."""
    history, storage = MemoryHistory(), MemoryStorage()
    policy = ApprovalPolicy(lambda c: c.name == "publish", suspend=True)
    two = [call("publish", title="Tea"), call("publish", title="Coffee")]
    with pytest.raises(AskSuspended) as suspended:
        await crew(history, storage, two, middleware=[policy]).ask("Write.", conversation_id="m4")
    assert len(suspended.value.requests) == 2
    fresh = crew(history, storage, middleware=[policy])
    paused = await fresh.paused("m4")
    assert paused is not None
    assert (paused.team, paused.member) == ("crew", "writer")
    assert paused.requests == suspended.value.requests
    assert all(isinstance(r, ApprovalRequest) for r in paused.requests)
    assert [r.call.arguments for r in paused.requests] == ['{"title":"Tea"}', '{"title":"Coffee"}']
    assert paused.run is not None  # the member's paused run, which goes on when answered
    saved = await storage.get("baton:team-pause:m4")
    assert (paused.run.run_id, paused.run.agent) == (saved["run_id"], "writer")
    assert await fresh.pending_request("m4") == paused.requests[0]
    answers = [HumanMessage(approved=True, request_id=r.request_id) for r in paused.requests]
    reply = await crew(history, storage, "done", middleware=[policy]).resume("m4", *answers)
    assert reply.turns[0].text == "done"
    assert await fresh.paused("m4") is None
    events = await history.load("m4")
    valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == [
        "published Tea",
        "published Coffee",
    ]


async def test_paused_is_none_without_a_pause_or_a_store() -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    reply = await crew(history, storage, "draft").ask("Write.", conversation_id="m5")
    assert reply.text == "looks good"
    assert await crew(history, storage).paused("m5") is None
    assert await crew(history, None).paused("m5") is None


async def test_cancel_paused_ends_a_member_teams_paused_run_unanswered(
    valid_history: Any,
) -> None:
    """A member's run paused inside a member team: ``cancel_paused`` (fresh objects, as another
    process) answers its open call as cancelled without running it, closes the run and both
    asks (innermost first), and the conversation takes the next ask."""
    history, storage = MemoryHistory(), MemoryStorage()

    def outer(*writer_turns: Any) -> RoundRobin:
        inner = crew(history, storage, *writer_turns)
        lead = Agent("lead", config=ScriptedModel("brief", repeat=True))
        return RoundRobin(
            [lead, inner], name="desk", termination=MaxTurns(2), history=history, storage=storage
        )

    with pytest.raises(AskSuspended):
        await outer(call("ask_boss")).ask("Write.", conversation_id="m6")
    await outer().cancel_paused("m6", reason="nobody will answer")
    assert await outer().paused("m6") is None
    with pytest.raises(NotSuspended):
        await outer().cancel_paused("m6")
    events = await history.load("m6")
    valid_history(events)
    assert not [e for e in events if isinstance(e, HumanMessage | ToolCallResult)]
    [error] = [e for e in events if isinstance(e, ToolCallError)]
    assert (error.name, error.error_type) == ("ask_boss", "Cancelled")
    [failed] = [e for e in events if isinstance(e, RunFailed)]
    assert (failed.error_type, failed.message) == ("Cancelled", "nobody will answer")
    closed = [(e.team, e.error_type) for e in events if isinstance(e, TeamFailed)]
    assert closed == [("crew", "Cancelled"), ("desk", "Cancelled")]
    reply = await outer("draft").ask("Again.", conversation_id="m6")
    assert reply.termination == "MaxTurns(2)"
    valid_history(await history.load("m6"))
