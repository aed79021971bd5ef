"""Small programs the multi-process Redis tests run as real separate processes:

    python tests/backends/redis_procs.py <command> <redis url> <key prefix> [args...]

- ``agent <cid>``: run an agent whose tool needs approval on a RedisStream; print the reply,
  close the stream.
- ``hold-lock <cid> <lease>``: take the conversation's turn lock, print "held", wait for ever.
- ``write <cid> <writer> <count>``: append ``count`` numbered HumanMessages to the stream.
- ``limit <name> <rpm> <tpm> <tokens> <attempts>``: reserve with a frozen clock; print how many
  reservations were granted at once.
"""

from __future__ import annotations

import asyncio
import json
import sys

from baton import Agent, tool
from baton.backends.redis import (
    ConversationLock,
    RedisHistory,
    RedisRateLimiter,
    RedisStorage,
    RedisStream,
    TurnLock,
    close_pools,
)
from baton.events import HumanMessage
from baton.testing import ScriptedModel, call, chunks


@tool(requires_approval=True)
def delete_files(pattern: str) -> str:
    """Delete the files matching a pattern."""
    return f"deleted {pattern}"


async def agent(url: str, prefix: str, cid: str) -> None:
    model = ScriptedModel(
        chunks("Let me ", "clean up.", call("delete_files", pattern="*.tmp")),
        chunks("All ", "done."),
    )
    stream = RedisStream(cid, url, prefix=prefix)
    janitor = Agent(
        "janitor",
        config=model,
        tools=[delete_files],
        history=RedisHistory(url, prefix=prefix),
        storage=RedisStorage(url, prefix=prefix),
        middleware=[ConversationLock(TurnLock(url, prefix=prefix), wait=30)],
    )
    reply = await janitor.ask("Clean up the temp files.", conversation_id=cid, stream=stream)
    print(json.dumps({"text": reply.text}), flush=True)
    # Closing leaves the young text chunks to the test's watcher, which may still be reading.
    await stream.aclose()


async def hold_lock(url: str, prefix: str, cid: str, lease: str) -> None:
    lock = TurnLock(url, prefix=prefix, lease=float(lease))
    await lock.acquire(cid)
    print("held", flush=True)
    await asyncio.sleep(3600)


async def write(url: str, prefix: str, cid: str, writer: str, count: str) -> None:
    stream = RedisStream(cid, url, prefix=prefix)
    for i in range(int(count)):
        await stream.send(HumanMessage(f"{writer}:{i}"))
    await stream.aclose()


async def limit(url: str, prefix: str, *args: str) -> None:
    name, rpm, tpm, tokens, attempts = args
    limiter = RedisRateLimiter(
        name,
        redis=url,
        prefix=prefix,
        requests_per_minute=float(rpm),
        tokens_per_minute=float(tpm),
        clock=lambda: 1000.0,  # frozen: no refill, so only the initial budget can be granted
    )
    granted = 0
    for _ in range(int(attempts)):
        if await limiter.reserve(1, int(tokens)) == 0:
            granted += 1
    print(granted, flush=True)


COMMANDS = {"agent": agent, "hold-lock": hold_lock, "write": write, "limit": limit}


async def main(command: str, *args: str) -> None:
    try:
        await COMMANDS[command](*args)
    finally:
        await close_pools()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
