"""A claimed ask's writes on the connection its claim holds: a cancel that lands while Redis has
not answered a write doesn't tear it (memory ends as the store is), a server that forgot the
scripts is sent them again, and the connection goes back to the pool however the ask ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis_support import OwnRedis

from baton import Agent, tool
from baton.backends.redis import RedisHistory, RedisStorage, close_pools, connect
from baton.errors import ConversationBusy
from baton.events import RunFailed, RunFinished, ToolCallResult
from baton.testing import ScriptedModel, call

HistoryCheck = Any  # the valid_history fixture (tests/conftest.py)


def in_use(url: str) -> int:
    """Connections of the shared pool checked out right now."""
    counts = connect(url).connection_pool.get_connection_count()
    return int(counts[1][0])


async def blocked_clients(url: str) -> int:
    return int((await connect(url).info("clients"))["blocked_clients"])


async def test_a_cancel_while_redis_holds_a_write_keeps_it_once_and_memory_equal(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    url = own_redis.url
    ran = asyncio.Event()

    @tool(inline=True)
    async def add(a: int, b: int) -> int:
        """Add two numbers (and hold Redis's writes until the test lets them go)."""
        await connect(url).execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        ran.set()
        return a + b

    history = RedisHistory(url, prefix="cw:")
    agent = Agent("a", tools=[add], history=history, storage=RedisStorage(url, prefix="cw:"))
    try:
        task = asyncio.create_task(
            agent.ask("sum", config=ScriptedModel(call("add", a=1, b=2), "3"), conversation_id="c")
        )
        await ran.wait()
        for _ in range(1000):  # until the result's RPUSH is sent (and held, not answered)
            if await blocked_clients(url):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # the ask waits for the write a cancel can't take back
        await connect(url).execute_command("CLIENT", "UNPAUSE")
        with pytest.raises(asyncio.CancelledError):
            await task
        stored = await history.load("c")
        assert sum(isinstance(e, ToolCallResult) for e in stored) == 1
        assert isinstance(stored[-1], RunFailed) and stored[-1].error_type == "Cancelled"
        valid_history(stored)
        assert in_use(url) == 0
        reply = await agent.ask("again", config=ScriptedModel("ok"), conversation_id="c")
        assert list(reply.events) == await history.load("c")  # memory is the store
        assert isinstance(reply.events[-1], RunFinished)
    finally:
        await close_pools()


async def test_scripts_flushed_from_redis_are_sent_again(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    url = own_redis.url
    history = RedisHistory(url, prefix="cw:")
    agent = Agent("a", history=history, storage=RedisStorage(url, prefix="cw:"))
    try:
        await agent.ask("one", config=ScriptedModel("1"), conversation_id="c")
        await connect(url).script_flush()  # EVALSHA now answers NOSCRIPT
        reply = await agent.ask("two", config=ScriptedModel("2"), conversation_id="c")
        assert reply.text == "2"
        stored = await history.load("c")
        assert list(reply.events) == stored
        assert sum(isinstance(e, RunFinished) for e in stored) == 2
        valid_history(stored)
        assert await connect(url).exists("cw:claim:c") == 0
        assert in_use(url) == 0
    finally:
        await close_pools()


async def test_the_held_connection_goes_back_when_an_ask_fails_or_is_refused(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    url = own_redis.url
    history = RedisHistory(url, prefix="cw:")
    agent = Agent("a", history=history, storage=RedisStorage(url, prefix="cw:"))
    try:
        with pytest.raises(RuntimeError):
            await agent.ask(
                "x", config=ScriptedModel(RuntimeError("model down")), conversation_id="f"
            )
        assert in_use(url) == 0
        valid_history(await history.load("f"))
        # Another holder has the conversation: the claim is refused, nothing stays checked out.
        await connect(url).set("cw:claim:busy", b"someone", px=10_000)
        with pytest.raises(ConversationBusy):
            await agent.ask("y", config=ScriptedModel("no"), conversation_id="busy")
        assert in_use(url) == 0
        reply = await agent.ask("z", config=ScriptedModel("ok"), conversation_id="f")
        assert reply.text == "ok" and in_use(url) == 0
    finally:
        await close_pools()


async def test_a_cancel_while_redis_holds_the_claim_gives_the_claim_back(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    """The claim is sent from the asking task: cancelled before Redis answers, the ask leaves
    the claim (and the run it started) to be closed and given back once the answer comes."""
    url = own_redis.url
    history = RedisHistory(url, prefix="cw:")
    agent = Agent("a", history=history, storage=RedisStorage(url, prefix="cw:"))
    try:
        await agent.ask("warm", config=ScriptedModel("ok"), conversation_id="warm")
        await connect(url).execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        task = asyncio.create_task(
            agent.ask("hi", config=ScriptedModel("never"), conversation_id="c")
        )
        for _ in range(1000):  # until the claim's script is sent (and held, not answered)
            if await blocked_clients(url):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await connect(url).execute_command("CLIENT", "UNPAUSE")
        for _ in range(1000):  # given back in the background once Redis answers
            if not await connect(url).exists("cw:claim:c") and in_use(url) == 0:
                break
            await asyncio.sleep(0.01)
        assert await connect(url).exists("cw:claim:c") == 0
        assert in_use(url) == 0
        stored = await history.load("c")
        valid_history(stored)
        assert isinstance(stored[-1], RunFailed) and stored[-1].error_type == "Cancelled"
        reply = await agent.ask("again", config=ScriptedModel("ok"), conversation_id="c")
        assert reply.text == "ok"
        assert list(reply.events) == await history.load("c")
    finally:
        await close_pools()


async def test_a_cancel_while_redis_holds_the_last_write_gives_the_connection_back(
    own_redis: OwnRedis, valid_history: HistoryCheck
) -> None:
    """The run's last events go with the release: a cancel while Redis holds that write leaves
    it to finish, and the held connection still goes back to the pool afterwards."""
    url = own_redis.url
    history = RedisHistory(url, prefix="cw:")
    agent = Agent("a", history=history, storage=RedisStorage(url, prefix="cw:"))

    async def answer(_call: Any) -> str:
        await connect(url).execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
        return "done"

    try:
        await agent.ask("warm", config=ScriptedModel("ok"), conversation_id="warm")
        task = asyncio.create_task(
            agent.ask("hi", config=ScriptedModel(answer), conversation_id="c")
        )
        for _ in range(1000):  # until the last write is sent (and held, not answered)
            if await blocked_clients(url):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.05)
        await connect(url).execute_command("CLIENT", "UNPAUSE")
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):  # anything left runs in the background: let it end
            if in_use(url) == 0:
                break
            await asyncio.sleep(0.01)
        assert in_use(url) == 0
        assert await connect(url).exists("cw:claim:c") == 0
        stored = await history.load("c")
        valid_history(stored)
        reply = await agent.ask("again", config=ScriptedModel("ok"), conversation_id="c")
        assert reply.text == "ok"
        assert list(reply.events) == await history.load("c")
        assert in_use(url) == 0
    finally:
        await close_pools()
