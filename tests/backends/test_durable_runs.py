"""Durable runs on every real backend (SQLite, PostgreSQL, Redis), with real processes where a
crash or a second process is the point: a process killed with SIGKILL in the middle of a tool
call, two processes asking on one conversation, asks paused with a finished sibling call and
resumed in another process, and an ask cancelled after each of its events. After every case the
stored conversation is valid and the next ask works."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from run_procs import LEASE, ops_agent, stores

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.errors import AskSuspended, ConversationBusy
from baton.events import Event, RunFailed, RunFinished, ToolCallError, ToolCallResult, to_dict
from baton.history import History, Storage
from baton.testing import ScriptedModel, call, chunks

HistoryCheck = Callable[..., None]  # the valid_history fixture (tests/conftest.py)
PROCS = Path(__file__).with_name("run_procs.py")


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(PROCS), *args, stdout=asyncio.subprocess.PIPE
    )


async def first_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()


async def kill(process: asyncio.subprocess.Process) -> None:
    process.kill()  # SIGKILL: no clean-up of any kind runs in the child
    await process.wait()


async def test_a_process_killed_in_a_tool_call_is_repaired_by_the_next_process(
    store: str, valid_history: HistoryCheck
) -> None:
    child = await spawn("die-in-tool", store, "k")
    try:
        assert await first_line(child) == "in tool"
    finally:
        await kill(child)
    async with stores(store) as (history, storage):
        model = ScriptedModel("I am back.")
        agent = Agent("a", config=model, history=history, storage=storage)
        reply = await agent.ask("still there?", conversation_id="k", wait_busy=30)
        assert reply.text == "I am back."
        events = await history.load("k")
        assert list(reply.events) == events
        valid_history(events)
        outcomes = {
            e.name: e.error_type if isinstance(e, ToolCallError) else e.content
            for e in events
            if isinstance(e, ToolCallResult | ToolCallError)
        }
        assert outcomes == {"quick": "quick done", "slow": "Interrupted"}
        dead = next(e for e in events if isinstance(e, RunFailed))
        assert dead.error_type == "Interrupted"
        # the model was sent a conversation whose every call is answered
        valid_history([*model.requests[0].messages, RunFailed(reply.run_id, "", "")])


async def test_two_processes_never_run_an_ask_on_one_conversation_at_once(
    store: str, valid_history: HistoryCheck
) -> None:
    child = await spawn("hold", store, "h")
    try:
        assert await first_line(child) == "holding"
        await asyncio.sleep(LEASE * 3)  # the holder's lease is renewed, not merely long
        async with stores(store) as (history, storage):
            agent = Agent("a", config=ScriptedModel("mine"), history=history, storage=storage)
            with pytest.raises(ConversationBusy, match="another process"):
                await agent.ask("me too", conversation_id="h")
            await kill(child)
            # the dead holder's lease runs out; its open run is closed before this ask
            reply = await agent.ask("now me", conversation_id="h", wait_busy=30)
            assert reply.text == "mine"
            valid_history(await history.load("h"))
    finally:
        if child.returncode is None:
            await kill(child)


async def test_paused_asks_resumed_in_another_process_run_each_call_exactly_once(
    store: str, tmp_path: Path, valid_history: HistoryCheck
) -> None:
    log = tmp_path / "tools.log"
    cids = [f"s{i}" for i in range(50)]
    async with stores(store) as (history, storage):
        for cid in cids:
            model = ScriptedModel([call("fetch"), call("deploy", env="prod")])
            with pytest.raises(AskSuspended):
                await ops_agent(model, history, storage, log).ask("ship", conversation_id=cid)
    child = await spawn("resume", store, str(log), *cids)
    try:
        assert await first_line(child) == "resumed 50"
    finally:
        await child.wait()
    runs = Counter(tuple(line.split()) for line in log.read_text().splitlines())
    assert runs == Counter({(tool_, cid): 1 for cid in cids for tool_ in ("fetch", "deploy")})
    async with stores(store) as (history, storage):
        for cid in cids:
            events = await history.load(cid)
            valid_history(events)
            assert isinstance(events[-1], RunFinished)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def three_rounds() -> ScriptedModel:
    return ScriptedModel(
        chunks("Adding ", "one.", call("add", a=1, b=2)),
        [call("add", a=3, b=4), call("add", a=5, b=6)],
        chunks("Last ", "one.", call("add", a=7, b=8)),
        chunks("All ", "done."),
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
def any_store(request: pytest.FixtureRequest) -> str:
    """``store``, and the in-memory history and storage ("memory")."""
    if request.param == "memory":
        return "memory"
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}#{request.getfixturevalue('prefix')}"
    return str(request.getfixturevalue(f"{request.param}_url"))


@asynccontextmanager
async def opened(spec: str) -> AsyncIterator[tuple[History, Storage]]:
    if spec == "memory":
        yield MemoryHistory(), MemoryStorage()
        return
    async with stores(spec) as both:
        yield both


async def test_cancelling_after_each_event_leaves_a_valid_conversation(
    any_store: str, valid_history: HistoryCheck
) -> None:
    async with opened(any_store) as (history, storage):
        await cancel_after_each_event(
            Agent("a", tools=[add], history=history, storage=storage), history, valid_history
        )


async def cancel_after_each_event(
    agent: Agent, history: History, valid_history: HistoryCheck
) -> None:
    seen: list[Event] = []
    async with agent.run("sums", config=three_rounds(), conversation_id="all") as run:
        seen = [event async for event in run]
    assert isinstance(seen[-1], RunFinished)
    for k in range(1, len(seen)):
        cid = f"cut{k}"
        async with agent.run("sums", config=three_rounds(), conversation_id=cid) as run:
            count = 0
            async for _ in run:
                count += 1
                if count == k:
                    await run.cancel()
                    break
        stored = await history.load(cid)
        valid_history(stored)
        assert isinstance(stored[-1], RunFailed | RunFinished), (k, stored[-1])
        reply = await agent.ask("go on", config=ScriptedModel("ok"), conversation_id=cid)
        assert reply.text == "ok"
        valid_history(await history.load(cid))


async def test_two_asks_at_once_through_two_history_objects_never_interleave(
    store: str, valid_history: HistoryCheck
) -> None:
    gate = asyncio.Event()

    async def slow(_: object) -> str:
        await gate.wait()
        return "first"

    async with stores(store) as (history_a, storage_a), stores(store) as (history_b, storage_b):
        first_agent = Agent("a", config=ScriptedModel(slow), history=history_a, storage=storage_a)
        second_agent = Agent(
            "a", config=ScriptedModel("second"), history=history_b, storage=storage_b
        )
        first = asyncio.create_task(first_agent.ask("1", conversation_id="x"))
        second = asyncio.create_task(second_agent.ask("2", conversation_id="x"))
        await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
        gate.set()
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == ["ConversationBusy", "Reply"]
        events = await history_a.load("x")
        assert [type(e) for e in events].count(RunFinished) == 1
        valid_history(events)


async def test_nan_and_infinities_are_stored_and_the_conversation_goes_on(
    any_store: str, valid_history: HistoryCheck
) -> None:
    """Issue 10, point 13: JSON has no NaN; they are stored as "NaN"/"Infinity" strings."""

    @tool
    def ratio() -> dict[str, float]:
        """A ratio that divides by zero."""
        return {"ratio": float("nan"), "big": float("inf"), "small": float("-inf"), "ok": 0.5}

    async with opened(any_store) as (history, storage):
        agent = Agent("a", tools=[ratio], history=history, storage=storage)
        reply = await agent.ask(
            "go", config=ScriptedModel(call("ratio"), "done"), conversation_id="n"
        )
        assert reply.text == "done"
        stored = await history.load("n")
        [result] = [e for e in stored if isinstance(e, ToolCallResult)]
        # in memory the value is the tool's own; stored as JSON, the non-finite floats are strings
        encoded = json.loads(json.dumps(to_dict(result), allow_nan=False))["value"]
        assert encoded == {"ratio": "NaN", "big": "Infinity", "small": "-Infinity", "ok": 0.5}
        again = await agent.ask("more", config=ScriptedModel("still fine"), conversation_id="n")
        assert again.text == "still fine"
        valid_history(await history.load("n"))
