"""A remote A2A agent (the a2a-sdk peer of ``sdk_peer.py``) as a team member: its turns go to
one remote context per team conversation, carry what the team said since its last turn, and
stream into the team's run as its text."""

from __future__ import annotations

from typing import Any

from test_a2a_remote import peer

from baton import Agent
from baton.a2a import RemoteAgent
from baton.events import ModelResponse, TextChunk
from baton.teams import MaxTurns, RoundRobin, SpeakerSelected
from baton.testing import ScriptedModel


async def test_a_remote_agent_takes_turns_in_one_remote_context(valid_history: Any) -> None:
    async with peer() as (base, log):
        remote = RemoteAgent(base)
        local_model = ScriptedModel("local one", "local two")
        team = RoundRobin(
            [Agent("local", config=local_model), remote.as_member("echo")],
            termination=MaxTurns(4),
        )
        chunks: list[str] = []
        async with team.run("hello team") as run:
            async for event in run:
                if isinstance(event, TextChunk):
                    chunks.append(event.text)
            reply = await run.result()
        await remote.aclose()
    events = list(reply.events)
    valid_history(events)
    assert [e.member for e in events if isinstance(e, SpeakerSelected)] == [
        "local",
        "echo",
        "local",
        "echo",
    ]
    # One remote context for the team's conversation; each turn sent only what was new.
    assert list(log.texts.values()) == [
        ["[user] hello team\n[local] local one", "[local] local two"]
    ]
    answers = [e.text for e in events if isinstance(e, ModelResponse) and e.agent == "echo"]
    assert answers == [
        "echo: [user] hello team\n[local] local one (message 1)",
        "echo: [local] local two (message 2)",
    ]
    # The remote answer streamed into the team's run, piece by piece.
    assert "echo: [local] local two" in chunks and " (message 2)" in chunks
    # The local member saw the remote one's turn as its named turn.
    assert local_model.seen()[-1].author == "echo"


async def test_a_remote_question_is_the_members_answer_and_its_next_turn_answers_it() -> None:
    from baton.a2a.member import latest_text

    async with peer() as (base, log):
        remote = RemoteAgent(base)
        team = RoundRobin(
            [
                remote.as_member("painter", render=latest_text),
                Agent("client", config=ScriptedModel("blue")),
            ],
            termination=MaxTurns(3),
        )
        reply = await team.ask("ask colour")
        await remote.aclose()
    answers = [e.text for e in reply.events if isinstance(e, ModelResponse)]
    assert answers == ["What colour?", "blue", "colour: blue"]
    assert list(log.texts.values()) == [["ask colour", "blue"]]  # one remote task, answered


def test_latest_text_is_the_whole_latest_message() -> None:
    from baton.a2a.member import latest_text
    from baton.events import HumanMessage, ModelRequest, Text

    events = [
        ModelRequest((Text("Paint a sign.\nIt says: [1] OPEN"),)),
        ModelResponse("sure", agent="painter"),
        ModelResponse("Make it red.\nBig letters, see [2] below.", agent="client"),
    ]
    assert latest_text(events[:1], "painter") == "Paint a sign.\nIt says: [1] OPEN"
    assert latest_text(events, "painter") == "Make it red.\nBig letters, see [2] below."
    assert latest_text([*events, HumanMessage("and quick")], "painter") == "and quick"
    assert latest_text(events[:2], "painter") == ""  # nothing new since its own turn
