"""Redis backends across real separate processes: a live conversation watched and answered
from another process, a lock holder killed, concurrent writers, a shared rate limit, and a
Redis restart in the middle of a stream."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_support import OwnRedis

from baton.backends.redis import (
    RedisHistory,
    RedisStream,
    RedisWatcher,
    TurnLock,
    close_pools,
    connect,
)
from baton.errors import ConversationBusy
from baton.events import (
    ApprovalRequest,
    HumanMessage,
    RunFinished,
    TextChunk,
    ToolCallResult,
)

HERE = Path(__file__).parent
SCRIPT = HERE / "redis_procs.py"
ROOT = HERE.parents[1]


async def spawn(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )


async def finish(process: asyncio.subprocess.Process, seconds: float = 60) -> str:
    try:
        async with asyncio.timeout(seconds):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_live_conversation_watched_and_approved_from_another_process(
    redis_url: str, prefix: str, processes: list[asyncio.subprocess.Process]
) -> None:
    cid = "live-1"
    watcher = RedisWatcher(cid, redis_url, prefix=prefix)  # live from the moment it attaches
    await watcher.attach()
    agent = await spawn("agent", redis_url, prefix, cid)
    processes.append(agent)
    answers = RedisStream(cid, redis_url, prefix=prefix)
    seen: list[object] = []
    async with asyncio.timeout(60):
        async for event in watcher:
            seen.append(event)
            if isinstance(event, ApprovalRequest):
                assert event.call.name == "delete_files"
                await answers.send(HumanMessage("go ahead", event.request_id, approved=True))
            if isinstance(event, RunFinished):
                break
    assert json.loads(await finish(agent)) == {"text": "All done."}

    texts = [e.text for e in seen if isinstance(e, TextChunk)]
    assert texts == ["Let me ", "clean up.", "All ", "done."]
    kinds = [type(e).__name__ for e in seen if not isinstance(e, TextChunk)]
    for earlier, later in [
        ("RunStarted", "ApprovalRequest"),
        ("ApprovalRequest", "HumanMessage"),
        ("HumanMessage", "ToolCallResult"),
        ("ToolCallResult", "RunFinished"),
    ]:
        assert kinds.index(earlier) < kinds.index(later)
    assert kinds.count("HumanMessage") == 1  # the agent kept the answer, it did not resend it
    (result,) = [e for e in seen if isinstance(e, ToolCallResult)]
    assert result.content == "deleted *.tmp"
    # the agent's first chunks arrived before anyone answered: they were live
    assert seen.index(next(e for e in seen if isinstance(e, TextChunk))) < kinds.index(
        "ApprovalRequest"
    ) + len(texts)

    history = await RedisHistory(redis_url, prefix=prefix).load(cid)
    names = [type(e).__name__ for e in history]
    assert names[0] == "RunStarted" and names[-1] == "RunFinished"
    assert "ApprovalRequest" in names and "HumanMessage" in names
    assert not any(isinstance(e, TextChunk) for e in history)


async def test_a_killed_lock_holder_is_replaced_after_its_lease(
    redis_url: str, prefix: str, processes: list[asyncio.subprocess.Process]
) -> None:
    lease = 1.0
    holder = await spawn("hold-lock", redis_url, prefix, "c1", str(lease))
    processes.append(holder)
    assert holder.stdout is not None
    async with asyncio.timeout(30):
        assert (await holder.stdout.readline()).strip() == b"held"
    lock = TurnLock(redis_url, prefix=prefix, lease=lease)
    await asyncio.sleep(lease * 1.5)  # past one lease: the live holder keeps renewing it
    with pytest.raises(ConversationBusy, match="c1"):
        await lock.acquire("c1", wait=0)

    os.kill(holder.pid, signal.SIGKILL)
    await holder.wait()
    async with lock.hold("c1", wait=lease * 10) as lease_held:  # it expires, then it is ours
        assert await lock.holder("c1") == lease_held.token
    assert await lock.holder("c1") is None


async def test_concurrent_writers_to_one_conversation_keep_one_order(
    redis_url: str, prefix: str, processes: list[asyncio.subprocess.Process]
) -> None:
    writers, count = 4, 150
    for w in range(writers):
        processes.append(await spawn("write", redis_url, prefix, "c1", f"w{w}", str(count)))
    for process in processes:
        await finish(process)

    async def read_all() -> list[str]:
        watcher = RedisWatcher("c1", redis_url, prefix=prefix, from_id="0")
        out: list[str] = []
        async for event in watcher:
            assert isinstance(event, HumanMessage)
            out.append(event.text)
            if len(out) == writers * count:
                break
        return out

    first, second = await read_all(), await read_all()
    assert first == second  # every reader sees the same order
    assert sorted(first) == sorted(f"w{w}:{i}" for w in range(writers) for i in range(count))
    for w in range(writers):  # and each writer's events in the order it sent them
        mine = [int(t.split(":")[1]) for t in first if t.startswith(f"w{w}:")]
        assert mine == list(range(count))


async def test_a_rate_limit_shared_by_processes_grants_one_budget(
    redis_url: str, prefix: str, processes: list[asyncio.subprocess.Process]
) -> None:
    # 10 requests a minute and a frozen clock: however many processes race, 10 go at once.
    for _ in range(4):
        processes.append(await spawn("limit", redis_url, prefix, "rpm", "10", "100000", "1", "8"))
    granted = [int(await finish(p)) for p in processes]
    assert sum(granted) == 10
    # tokens: 1,000 a minute, 300 per call -> 3 calls fit (the 4th would go into debt)
    processes.clear()
    for _ in range(3):
        processes.append(await spawn("limit", redis_url, prefix, "tpm", "1000", "1000", "300", "3"))
    assert sum([int(await finish(p)) for p in processes]) == 3


async def test_a_watcher_catches_up_after_redis_restarts_mid_stream(
    own_redis: OwnRedis, prefix: str
) -> None:
    redis_url = own_redis.url  # a server of this test's own: the shared one is never stopped
    total, restart_at = 120, 50
    producer = RedisStream("c1", redis_url, prefix=prefix, patience=60)
    watcher = RedisWatcher("c1", redis_url, prefix=prefix, from_id="0", block=0.2)
    received: list[str] = []
    caught_up = asyncio.Event()
    go_on = asyncio.Event()

    async def produce() -> None:
        for i in range(total):
            if i == restart_at:
                caught_up.clear()
                await go_on.wait()
            await producer.send(HumanMessage(str(i)))
            await asyncio.sleep(0.002)

    async def watch() -> None:
        async for event in watcher:
            assert isinstance(event, HumanMessage)
            received.append(event.text)
            if len(received) == restart_at:
                caught_up.set()
            if len(received) == total:
                return

    tasks = [asyncio.create_task(produce()), asyncio.create_task(watch())]
    try:
        async with asyncio.timeout(60):
            await caught_up.wait()  # the watcher has everything Redis had: restart it now
            await asyncio.to_thread(own_redis.stop)
            go_on.set()  # the producer sends while Redis is down (its sends wait and retry)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(own_redis.start)  # empty again, on the same port
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await producer.aclose()
        await close_pools()
    assert received == [str(i) for i in range(total)]  # nothing lost, nothing twice
    assert await connect(redis_url).ping()
