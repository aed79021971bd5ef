"""What an ask on a stored conversation sends to its store: the claim carries the run's first
events, the last write gives the claim back, nothing is loaded that the claim showed to be
current, and the last write is refused once another holder has the conversation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from redis_support import OwnRedis
from run_procs import stores

from baton import Agent, MemoryHistory, MemoryStream, tool
from baton.backends.redis import RedisHistory, RedisStorage, close_pools, connect
from baton.backends.sql import SQLHistory
from baton.errors import ClaimLost
from baton.events import RunFailed, RunFinished, RunStarted, to_dict
from baton.history import History
from baton.middleware import Middleware
from baton.testing import ScriptedModel, call

HistoryCheck = Any  # the valid_history fixture (tests/conftest.py)


@tool(inline=True)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def command_counts(url: str) -> dict[str, int]:
    stats = await connect(url).info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


async def commands_of(url: str, work: Any) -> dict[str, int]:
    """The commands (by name, Lua's own included) the server ran for ``work``."""
    before = await command_counts(url)
    await work
    after = await command_counts(url)
    return {
        name: calls - before.get(name, 0)
        for name, calls in after.items()
        if name != "info" and calls != before.get(name, 0)
    }


async def test_an_ask_costs_one_redis_round_trip_per_step(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    """Claim + RunStarted + request in one script, the tool call, its result, then the answer
    + RunFinished + release in one script: four round trips, no load of a new conversation."""
    url = own_redis.url
    history = RedisHistory(url, prefix="rt:")
    agent = Agent("a", tools=[add], history=history, storage=RedisStorage(url, prefix="rt:"))
    try:
        first = await commands_of(
            url,
            agent.ask("sum", config=ScriptedModel(call("add", a=1, b=2), "3"), conversation_id="c"),
        )
        # Two scripts (claim, finish); LLEN, SET and the start's RPUSH run inside the first, the
        # answer's RPUSH, GET and DEL inside the second: two plain RPUSHes are the other trips.
        assert first == {"eval": 2, "set": 1, "llen": 1, "rpush": 4, "get": 1, "del": 1}
        # The next ask in this process knows the conversation: it is not loaded again either.
        # The pool sent both scripts whole once; from then on they go by SHA.
        second = await commands_of(
            url, agent.ask("more", config=ScriptedModel("ok"), conversation_id="c")
        )
        assert second == {"evalsha": 2, "set": 1, "llen": 1, "rpush": 2, "get": 1, "del": 1}
        assert await connect(url).exists("rt:claim:c") == 0
        valid_history(await history.load("c"))
    finally:
        await close_pools()


async def test_a_conversation_that_moved_on_elsewhere_is_loaded_and_started_after(
    store: str, valid_history: HistoryCheck
) -> None:
    """Memory behind the store (another process asked since): the claim's start is not
    written, the conversation is reloaded, and the run starts after what the store holds."""
    async with (
        stores(store) as (history, storage),
        stores(store) as (
            other,
            other_storage,
        ),
    ):
        here = Agent("a", history=history, storage=storage)
        there = Agent("a", history=other, storage=other_storage)
        await here.ask("one", config=ScriptedModel("1"), conversation_id="m")
        await there.ask("two", config=ScriptedModel("2"), conversation_id="m")
        reply = await here.ask("three", config=ScriptedModel("3"), conversation_id="m")
        assert reply.text == "3"
        stored = await history.load("m")
        assert [e.text for e in stored if isinstance(e, RunFinished)] == ["1", "2", "3"]
        assert list(reply.events) == stored  # memory is the store's, in order
        valid_history(stored)


async def test_the_last_write_is_refused_once_another_holder_has_the_conversation(
    store: str, valid_history: HistoryCheck
) -> None:
    """The answer and RunFinished go in only while this ask holds the claim: taken over (its
    lease ran out while the process stalled), the ask raises ClaimLost and writes nothing
    more; once the other holder is gone, the next ask repairs the run and goes on."""
    async with stores(store) as (history, storage):

        @tool
        async def stall() -> str:
            """Stall past the lease: another process takes the conversation over."""
            await take_over(store, history, "t")
            return "back"

        agent = Agent("a", tools=[stall], history=history, storage=storage)
        with pytest.raises(ClaimLost, match="no longer holds the claim"):
            await agent.ask("go", config=ScriptedModel(call("stall"), "done"), conversation_id="t")
        stored = await history.load("t")
        assert not any(isinstance(e, RunFinished | RunFailed) for e in stored)
        await give_back(store, history, "t")
        reply = await agent.ask("again", config=ScriptedModel("fine"), conversation_id="t")
        assert reply.text == "fine"
        stored = await history.load("t")
        assert [type(e) for e in stored].count(RunStarted) == 2
        assert [e.error_type for e in stored if isinstance(e, RunFailed)] == ["Interrupted"]
        valid_history(stored)


async def test_around_ask_middleware_and_shared_streams_keep_separate_writes(
    own_redis: OwnRedis, prefix: str, valid_history: HistoryCheck
) -> None:
    """around_ask middleware runs before the run starts (so the start is not written with the
    claim) and after it ends (so the claim is released after it): the conversation is the same."""
    seen: list[str] = []

    class Around(Middleware):
        async def around_ask(self, context: Any, proceed: Any) -> Any:
            seen.append("before")
            reply = await proceed()
            seen.append("after")
            return reply

    redis_url = own_redis.url  # a server of its own: it counts the commands the server ran
    history = RedisHistory(redis_url, prefix=prefix)
    try:
        agent = Agent("a", history=history, middleware=[Around()])
        counts = await commands_of(
            redis_url, agent.ask("hi", config=ScriptedModel("yo"), conversation_id="w")
        )
        assert seen == ["before", "after"]
        assert counts.get("rpush", 0) == 2 and counts.get("eval") == 2  # start, end; claim, release
        reply = await Agent("a", history=history).ask(
            "again", config=ScriptedModel("yes"), conversation_id="w", stream=MemoryStream()
        )
        assert reply.text == "yes"
        valid_history(await history.load("w"))
    finally:
        await close_pools()


async def take_over(spec: str, history: History, conversation_id: str) -> None:
    """Make the claim on ``conversation_id`` another holder's (as if this one's lease ran out
    and another process claimed it)."""
    if isinstance(history, RedisHistory):
        url = spec.split("#", 1)[0]
        await connect(url).set(f"{history.prefix}claim:{conversation_id}", "other")
        return
    assert isinstance(history, SQLHistory)
    await history.db.execute(
        "UPDATE baton_claims SET holder = 'other' WHERE conversation_id = $1", conversation_id
    )


async def give_back(spec: str, history: History, conversation_id: str) -> None:
    """The other holder lets go."""
    if isinstance(history, RedisHistory):
        url = spec.split("#", 1)[0]
        await connect(url).delete(f"{history.prefix}claim:{conversation_id}")
        return
    assert isinstance(history, SQLHistory)
    await history.db.execute("DELETE FROM baton_claims WHERE conversation_id = $1", conversation_id)


async def test_a_postgres_claim_that_waited_for_the_last_holder_sees_all_it_wrote(
    postgresql_url: str, valid_history: HistoryCheck
) -> None:
    """A claim statement that waited for another holder's transaction (which appended a run
    and gave the claim back) began before that commit; the ask must still continue from the
    run that holder wrote, not from the length its own statement could see."""
    import asyncpg

    server, schema = postgresql_url.split("?schema=")
    async with stores(postgresql_url) as (history, storage):
        agent = Agent("a", history=history, storage=storage)
        await agent.ask("one", config=ScriptedModel("1"), conversation_id="p")
        elsewhere = await Agent("a").ask("two", config=ScriptedModel("2"))
        other = await asyncpg.connect(server, server_settings={"search_path": schema})
        try:
            holder = other.transaction()
            await holder.start()
            await other.execute(
                "INSERT INTO baton_claims (conversation_id, holder, expires_at) "
                "VALUES ('p', 'other', 1e12)"
            )
            asking = asyncio.create_task(
                agent.ask("three", config=ScriptedModel("3"), conversation_id="p")
            )
            while not await other.fetchval(  # noqa: ASYNC110 - polls the server: no event to wait on
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO baton_claims%'"
            ):
                await asyncio.sleep(0.01)
            start = int(await other.fetchval("SELECT length FROM baton_conversations"))
            for seq, event in enumerate(list(elsewhere.events), start):
                data = to_dict(event)
                await other.execute(
                    "INSERT INTO baton_events (conversation_id, seq, type, payload) "
                    "VALUES ('p', $1, $2, $3::json)",
                    seq,
                    data["type"],
                    json.dumps(data),
                )
            await other.execute(
                "UPDATE baton_conversations SET length = $1", start + len(elsewhere.events)
            )
            await other.execute("DELETE FROM baton_claims WHERE conversation_id = 'p'")
            await holder.commit()
            reply = await asking
        finally:
            await other.close()
        stored = await history.load("p")
        assert [e.text for e in stored if isinstance(e, RunFinished)] == ["1", "2", "3"]
        assert list(reply.events) == stored
        valid_history(stored)


async def test_a_run_cancelled_before_its_loop_began_is_closed_in_the_store(
    store: str, valid_history: HistoryCheck
) -> None:
    """Its start went in with the claim: the cancel records the run's end as cancelled, so
    nobody reading the store sees it running, and the next ask goes on."""
    async with stores(store) as (history, storage):
        agent = Agent("a", history=history, storage=storage)
        await agent.ask("one", config=ScriptedModel("1"), conversation_id="k")
        async with agent.run("two", config=ScriptedModel("2"), conversation_id="k") as run:
            await run.cancel()
        stored = await history.load("k")
        after = [type(e).__name__ for e in stored][
            [type(e) for e in stored].index(RunFinished) + 1 :
        ]
        # Stored with the claim (Redis, PostgreSQL): closed as cancelled; else nothing stored.
        with_claim = not store.startswith("sqlite")
        assert after == (["RunStarted", "ModelRequest", "RunFailed"] if with_claim else [])
        assert [e.error_type for e in stored if isinstance(e, RunFailed)] == (
            ["Cancelled"] if after else []
        )
        reply = await agent.ask("three", config=ScriptedModel("3"), conversation_id="k")
        assert reply.text == "3"
        valid_history(await history.load("k"))


class Unreachable:
    """A tool source whose server is down."""

    async def list_tools(self, context: Any) -> list[Any]:
        raise ConnectionError("the tool server is down")

    async def aclose(self) -> None:
        return None


async def test_a_tool_source_that_fails_to_list_closes_a_started_run_the_same_everywhere(
    store: str, valid_history: HistoryCheck
) -> None:
    """The run's start is delivered (and stored) before tool sources are listed, on every
    history: a listing that fails ends the run with RunFailed after it, never before."""
    async with stores(store) as (history, storage):
        for agent_history, cid in ((history, "s"), (MemoryHistory(), "m")):
            agent = Agent("a", tools=[Unreachable()], history=agent_history, storage=storage)
            seen: list[str] = []
            stream = MemoryStream()
            stream.subscribe(lambda event, seen=seen: seen.append(type(event).__name__))
            with pytest.raises(ConnectionError):
                await agent.ask("go", config=ScriptedModel("x"), conversation_id=cid, stream=stream)
            assert seen == ["RunStarted", "ModelRequest", "RunFailed"]
            stored = await agent_history.load(cid)
            assert [type(e).__name__ for e in stored] == seen
            valid_history(stored)
