"""A team's conversation in a durable history (SQLite, PostgreSQL, Redis): continued by id
from a fresh team and fresh store handles (as another process would), with the turn order
going on where it stood, and a team ask cancelled mid-turn leaving it valid."""

from __future__ import annotations

import asyncio
from typing import Any

from run_procs import stores

from baton import Agent, tool
from baton.conversation import new_id
from baton.events import ModelResponse, ToolCall
from baton.teams import MaxTurns, RoundRobin, SpeakerSelected, Swarm, TeamFailed, TeamFinished
from baton.testing import ScriptedModel, call


def crew(history: Any, storage: Any) -> RoundRobin:
    return RoundRobin(
        [Agent(n, config=ScriptedModel(f"{n} says", repeat=True)) for n in ("a", "b", "c")],
        name="crew",
        termination=MaxTurns(2),
        history=history,
        storage=storage,
    )


async def test_a_round_robin_goes_on_from_another_process(store: str, valid_history: Any) -> None:
    async with stores(store) as (history, storage):
        first = await crew(history, storage).ask("one")
    async with stores(store) as (history, storage):
        second = await crew(history, storage).ask("two", conversation_id=first.conversation_id)
        events = await history.load(first.conversation_id)
    assert [e.member for e in events if isinstance(e, SpeakerSelected)] == ["a", "b", "c", "a"]
    assert second.text == "a says"
    valid_history(events)
    assert [e.termination for e in events if isinstance(e, TeamFinished)] == ["MaxTurns(2)"] * 2


async def test_a_swarm_continues_with_the_member_who_answered(store: str) -> None:
    def desk(history: Any, storage: Any) -> Swarm:
        triage = Agent("triage", config=ScriptedModel(call("transfer_to_billing")))
        billing = Agent("billing", config=ScriptedModel("billing here", repeat=True))
        return Swarm([triage, billing], history=history, storage=storage)

    async with stores(store) as (history, storage):
        first = await desk(history, storage).ask("charged twice")
    async with stores(store) as (history, storage):
        second = await desk(history, storage).ask("and?", conversation_id=first.conversation_id)
    assert [e.member for e in second.events if isinstance(e, SpeakerSelected)][-1] == "billing"
    assert [e.agent for e in second.events if isinstance(e, ModelResponse)] == [
        "triage",
        "billing",
        "billing",
    ]


async def test_a_cancelled_team_ask_leaves_the_stored_conversation_valid(
    store: str, valid_history: Any
) -> None:
    started = asyncio.Event()
    conversation_id = new_id()

    @tool
    async def slow() -> str:
        """Take a long time."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    async with stores(store) as (history, storage):
        a = Agent("a", config=ScriptedModel("a says", repeat=True))
        b = Agent("b", config=ScriptedModel(call("slow"), "b says"), tools=[slow])
        team = RoundRobin([a, b], termination=MaxTurns(4), history=history, storage=storage)
        async with team.run("go", conversation_id=conversation_id) as run:
            async for event in run:
                if isinstance(event, ToolCall):
                    break
            await started.wait()
            await run.cancel()
    async with stores(store) as (history, storage):
        events = await history.load(conversation_id)
        valid_history(events)
        assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["Cancelled"]
        a = Agent("a", config=ScriptedModel("a says", repeat=True))
        b = Agent("b", config=ScriptedModel("b says", repeat=True))
        reply = await RoundRobin(
            [a, b], termination=MaxTurns(1), history=history, storage=storage
        ).ask("again", conversation_id=conversation_id)
        assert reply.text == "a says"  # b's turn was cut: a goes next after b
        valid_history(await history.load(conversation_id))
