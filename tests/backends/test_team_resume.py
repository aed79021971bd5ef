"""A team's conversation in a durable history (SQLite, PostgreSQL, Redis): continued by id
from a fresh team and fresh store handles (as another process would), with the turn order
going on where it stood, and a team ask cancelled mid-turn leaving it valid."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from run_procs import stores
from team_procs import asking_crew, editorial, nested_desk, review_graph
from test_durable_runs import first_line, kill

from baton import Agent, tool
from baton.conversation import new_id
from baton.errors import AskSuspended
from baton.events import ModelResponse, RunFailed, RunStarted, ToolCall, ToolCallResult
from baton.teams import (
    Graph,
    MaxTurns,
    RoundRobin,
    SpeakerSelected,
    Swarm,
    TeamFailed,
    TeamFinished,
)
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


async def test_a_graph_cancelled_mid_fan_out_leaves_the_stored_conversation_valid(
    store: str, valid_history: Any
) -> None:
    conversation_id = new_id()
    inside: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]

    def waiting(name: str, reached: asyncio.Event) -> Agent[str]:
        @tool(name=f"wait_{name}")
        async def wait() -> str:
            """Wait for ever."""
            reached.set()
            await asyncio.Event().wait()
            return "never"

        return Agent(name, config=ScriptedModel(call(f"wait_{name}")), tools=[wait])

    async with stores(store) as (history, storage):
        flow = Graph(name="fan", history=history, storage=storage)
        flow.add("plan", Agent("plan", config=ScriptedModel("the plan")))
        flow.add("left", waiting("left", inside[0])).add("right", waiting("right", inside[1]))
        flow.edge("plan", "left").edge("plan", "right")
        async with flow.run("go", conversation_id=conversation_id) as run:
            async with asyncio.timeout(30):
                for reached in inside:
                    await reached.wait()
            await run.cancel()
    async with stores(store) as (history, storage):
        events = await history.load(conversation_id)
        valid_history(events)
        assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["Cancelled"]
        assert [e.error_type for e in events if isinstance(e, RunFailed)] == ["Cancelled"] * 2
        assert [e.agent for e in events if isinstance(e, RunStarted)] == ["plan", "left", "right"]


TEAM_PROCS = Path(__file__).with_name("team_procs.py")


async def spawn_team(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(TEAM_PROCS), *args, stdout=asyncio.subprocess.PIPE
    )


async def test_a_human_members_pause_is_resumed_by_another_process(
    store: str, valid_history: Any
) -> None:
    cid = new_id()
    async with stores(store) as (history, storage):
        with pytest.raises(AskSuspended) as paused:
            await editorial(history, storage, "draft").ask("Write.", conversation_id=cid)
    child = await spawn_team("resume-editor", store, cid, paused.value.request_id, "APPROVED")
    try:
        assert await first_line(child) == "TextMention('APPROVED') APPROVED"
    finally:
        await child.wait()
    async with stores(store) as (history, storage):
        events = await history.load(cid)
        valid_history(events)
        assert [e.member for e in events if isinstance(e, SpeakerSelected)] == ["writer", "editor"]
        assert isinstance(events[-1], TeamFinished)


async def test_a_member_pausing_its_own_turn_is_resumed_by_another_process(
    store: str, valid_history: Any
) -> None:
    cid = new_id()
    async with stores(store) as (history, storage):
        with pytest.raises(AskSuspended) as paused:
            await asking_crew(history, storage, call("ask_boss")).ask("Write.", conversation_id=cid)
    child = await spawn_team("resume-writer", store, cid, paused.value.request_id, "yes")
    try:
        assert await first_line(child) == "MaxTurns(2) draft, as the boss said / looks good"
    finally:
        await child.wait()
    async with stores(store) as (history, storage):
        events = await history.load(cid)
        valid_history(events)
        assert [e.member for e in events if isinstance(e, SpeakerSelected)] == ["writer", "editor"]
        assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["yes"]
        assert isinstance(events[-1], TeamFinished)


async def test_a_graph_paused_on_a_human_node_is_resumed_by_another_process(
    store: str, valid_history: Any
) -> None:
    """The join's arrival from the draft (before the pause) is kept in the store with the pause:
    the other process's graph runs the join once the editor has answered."""
    cid = new_id()
    async with stores(store) as (history, storage):
        with pytest.raises(AskSuspended) as paused:
            await review_graph(history, storage, "v1").ask("Write.", conversation_id=cid)
    child = await spawn_team("resume-review", store, cid, paused.value.request_id, "fine")
    try:
        assert await first_line(child) == "graph done published after 2 turns"
    finally:
        await child.wait()
    async with stores(store) as (history, storage):
        events = await history.load(cid)
        valid_history(events)
        assert [e.member for e in events if isinstance(e, SpeakerSelected)] == [
            "draft",
            "editor",
            "publish",
        ]
        assert isinstance(events[-1], TeamFinished)
        assert await storage.get(f"baton:team-pause:{cid}") is None


async def test_a_human_in_a_nested_team_is_resumed_by_another_process(
    store: str, valid_history: Any
) -> None:
    cid = new_id()
    async with stores(store) as (history, storage):
        with pytest.raises(AskSuspended) as paused:
            await nested_desk(history, storage, "draft 1").ask("Write.", conversation_id=cid)
    child = await spawn_team("resume-nested", store, cid, paused.value.request_id, "ship it")
    try:
        line = await first_line(child)
        assert line == "writer: draft 1 / review: ship it / writer: draft 2"
    finally:
        await child.wait()
    async with stores(store) as (history, storage):
        events = await history.load(cid)
        valid_history(events)
        assert sorted(e.team for e in events if isinstance(e, TeamFinished)) == ["desk", "review"]
        assert await storage.get(f"baton:team-pause:{cid}") is None


async def test_a_process_killed_mid_team_is_repaired_by_the_next_team_ask(
    store: str, valid_history: Any
) -> None:
    cid = new_id()
    child = await spawn_team("die-in-turn", store, cid)
    try:
        assert await first_line(child) == "in turn"
    finally:
        await kill(child)  # SIGKILL inside b's turn: nothing of the child's clean-up runs
    async with stores(store) as (history, storage):
        team = RoundRobin(
            [
                Agent("a", config=ScriptedModel("a again")),
                Agent("b", config=ScriptedModel("b now")),
            ],
            name="crew",
            termination=MaxTurns(1),
            history=history,
            storage=storage,
        )
        reply = await team.ask("go on", conversation_id=cid, wait_busy=30)
        events = await history.load(cid)
        valid_history(events)
        assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["Interrupted"]
        assert [e.error_type for e in events if isinstance(e, RunFailed)] == ["Interrupted"]
        assert reply.text == "a again"  # b was selected last (its turn died): a goes next


async def test_a_team_is_watched_on_a_redis_stream(redis_url: str, prefix: str) -> None:
    from baton.backends.redis import RedisStream, RedisWatcher

    cid = new_id()
    stream = RedisStream(cid, redis_url, prefix=prefix)
    team = RoundRobin(
        [Agent(n, config=ScriptedModel(f"{n} says")) for n in ("a", "b")],
        termination=MaxTurns(2),
    )
    reply = await team.ask("go", stream=stream)
    watcher = RedisWatcher(cid, redis_url, prefix=prefix, from_id="0")
    seen: list[Any] = []
    async with asyncio.timeout(10):
        async for event in watcher:
            seen.append(event)
            if isinstance(event, TeamFinished):
                break
    await stream.aclose()
    kept = [type(e).__name__ for e in seen if not e.transient]
    assert kept == [type(e).__name__ for e in reply.events]
    assert [e.member for e in seen if isinstance(e, SpeakerSelected)] == ["a", "b"]
