"""A team served over A2A (``A2AApp(team)``) to the a2a-sdk's own Python client: a task is one
ask of the team (every member takes its turn; the answer is the last member's), a context the
team's conversation; and the members a served team can't wait for are refused, named (its
pauses: ``test_a2a_team_pause.py``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from a2a.types.a2a_pb2 import TaskState
from a2a_support import TOKEN, a2a_client, publish, send, user_message
from serving import uvicorn_serving

from baton import Agent
from baton.a2a import A2AApp
from baton.errors import ConfigError
from baton.events import RunStarted
from baton.history import MemoryHistory, MemoryStorage
from baton.hitl import ApprovalPolicy
from baton.teams import Human, MaxTurns, RoundRobin, SpeakerSelected, TeamFinished
from baton.testing import ScriptedModel, chunks


def crew() -> RoundRobin:
    writer = Agent("writer", config=ScriptedModel(chunks("A haiku ", "on tea."), "Coffee haiku."))
    critic = Agent("critic", config=ScriptedModel("Too short.", "Fine."))
    return RoundRobin(
        [writer, critic],
        name="crew",
        description="Writes and reviews haiku.",
        termination=MaxTurns(2),
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )


@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
async def test_a_task_is_one_team_ask_and_a_context_its_conversation(
    streaming: bool, valid_history: Any
) -> None:
    team = crew()
    async with (
        uvicorn_serving(A2AApp(team, token=TOKEN)) as base,
        a2a_client(base, streaming=streaming) as client,
    ):
        async with httpx.AsyncClient() as http:
            card = (await http.get(f"{base}/.well-known/agent-card.json")).json()
        assert card["name"] == "crew" and card["description"] == "Writes and reviews haiku."
        assert [s["id"] for s in card["skills"]] == ["crew"]
        first = await send(client, user_message("A haiku about tea."))
        assert first.state == TaskState.TASK_STATE_COMPLETED
        assert first.text == "Too short."  # the last member's answer
        if streaming:  # every member's text streamed as it came
            assert "".join(first.chunks) == "A haiku on tea.Too short."
        second = await send(client, user_message("Coffee now.", context_id=first.context_id))
        assert second.text == "Fine."
    stored = await team.history.load(first.context_id)  # type: ignore[union-attr]
    valid_history(stored)
    assert [e.agent for e in stored if isinstance(e, RunStarted)] == [
        "writer",
        "critic",
        "writer",
        "critic",
    ]
    assert [e.member for e in stored if isinstance(e, SpeakerSelected)][2] == "writer"
    assert len([e for e in stored if isinstance(e, TeamFinished)]) == 2


def test_members_a_served_team_cannot_wait_for_are_refused() -> None:
    def stores() -> dict[str, Any]:
        return {"history": MemoryHistory(), "storage": MemoryStorage()}

    writer = Agent("writer", config=ScriptedModel("x"))
    on_stream = RoundRobin([writer, Human("editor")], **stores())
    with pytest.raises(
        ConfigError, match=r"member 'editor' is a Human without handler= and without suspend"
    ):
        A2AApp(on_stream, token=TOKEN)
    unkept = RoundRobin([writer, Human("editor", suspend=True)])
    with pytest.raises(ConfigError, match=r"member 'editor' is a Human\(suspend=True\).*history="):
        A2AApp(unkept, token=TOKEN)
    publisher = Agent("publisher", config=ScriptedModel("x"), tools=[publish])
    nested = RoundRobin([writer, RoundRobin([publisher], name="inner")])
    with pytest.raises(
        ConfigError, match=r"over A2A: its member 'publisher' has tools requiring approval"
    ):
        A2AApp(nested, token=TOKEN)
    waits = Agent(
        "publisher", config=ScriptedModel("x"), tools=[publish], middleware=[ApprovalPolicy()]
    )
    with pytest.raises(ConfigError, match=r"member 'publisher' has an ApprovalPolicy that waits"):
        A2AApp(RoundRobin([waits], **stores()), token=TOKEN)
    # What can pause is served (it does: test_a2a_team_pause.py).
    A2AApp(RoundRobin([writer, Human("editor", suspend=True)], **stores()), token=TOKEN)
    A2AApp(RoundRobin([writer, RoundRobin([publisher])], **stores()), token=TOKEN)
    answered = RoundRobin([writer, Human("editor", handler=lambda request: "ok")], **stores())
    A2AApp(answered, token=TOKEN)  # a human member with a handler answers in the process
    with pytest.raises(ConfigError, match="history= and storage="):
        A2AApp(RoundRobin([writer]), token=TOKEN)
