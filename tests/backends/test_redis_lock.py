"""TurnLock and ConversationLock against a real Redis: one turn per conversation at a time,
waiting or ConversationBusy, release by the holder only, and catching up on a conversation that
another process continued."""

from __future__ import annotations

import asyncio

import pytest

from baton import Agent
from baton.backends.redis import RedisHistory, TurnLock, connect
from baton.errors import ConfigError, ConversationBusy
from baton.events import ModelResponse
from baton.testing import ScriptedModel


async def test_one_holder_at_a_time(redis_url: str, prefix: str) -> None:
    lock = TurnLock(redis_url, prefix=prefix, lease=5)
    lease = await lock.acquire("c1")
    with pytest.raises(ConversationBusy, match="c1"):
        await lock.acquire("c1", wait=0)
    other = await lock.acquire("c2")  # other conversations are not affected
    waiting = asyncio.create_task(lock.acquire("c1", wait=10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await lease.release()
    second = await waiting
    assert await lock.holder("c1") == second.token
    await lease.release()  # releasing again (no longer the holder) leaves the new one alone
    assert await lock.holder("c1") == second.token
    await second.release()
    await other.release()
    assert await lock.holder("c1") is None


async def test_a_lease_is_renewed_while_held(redis_url: str, prefix: str) -> None:
    lock = TurnLock(redis_url, prefix=prefix, lease=0.3)
    async with lock.hold("c1") as lease:
        await asyncio.sleep(1.0)  # several leases long
        assert await lock.holder("c1") == lease.token
        assert not lease.lost


async def test_a_lost_lease_stops_its_holder(redis_url: str, prefix: str) -> None:
    lock = TurnLock(redis_url, prefix=prefix, lease=0.3)

    async def turn() -> None:
        async with lock.hold("c1"):
            client = lock.connector.client()
            await client.set(lock.key("c1"), b"someone else")  # e.g. it expired, then taken
            await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await turn()
    assert await lock.holder("c1") == b"someone else"  # the lost lease deleted nothing


def test_lease_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="lease"):
        TurnLock(lease=0)


async def test_asks_on_one_conversation_take_turns_across_agents(
    redis_url: str, prefix: str
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(call: object) -> str:
        started.set()
        await release.wait()
        return "first"

    # No ConversationLock: RedisHistory claims each conversation in Redis before loading it.
    def make(answer: object) -> Agent[str]:
        return Agent(
            "a",
            config=ScriptedModel(answer),
            history=RedisHistory(redis_url, prefix=prefix),  # a new object: as another process
        )

    first = asyncio.create_task(make(slow).ask("1", conversation_id="c1"))
    await started.wait()
    with pytest.raises(ConversationBusy, match="another process"):
        await make("never").ask("2", conversation_id="c1")
    # a patient second ask waits for the first, then continues the conversation it left
    second = asyncio.create_task(make("second").ask("2", conversation_id="c1", wait_busy=10))
    await asyncio.sleep(0.1)
    assert not second.done()
    release.set()
    assert (await first).text == "first"
    reply = await second
    assert reply.text == "second"
    texts = [e.text for e in reply.events if isinstance(e, ModelResponse)]
    assert texts == ["first", "second"]  # it caught up with the first ask's events
    history = await RedisHistory(redis_url, prefix=prefix).load("c1")
    assert list(reply.events) == history
    assert await TurnLock(redis_url, prefix=prefix).holder("c1") is None
    assert not await connect(redis_url).exists(f"{prefix}claim:c1")  # the claim was given back
