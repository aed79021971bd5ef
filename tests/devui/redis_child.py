"""Another process running a conversation with a RedisStream (the dev UI test watches it):
``redis_child.py URL PREFIX CONVERSATION``. Asks once, says so, waits for a line on stdin,
asks again, says so."""

from __future__ import annotations

import asyncio
import sys

from devui_agents import calculator

from baton.backends.redis import RedisHistory, RedisStorage, RedisStream, close_pools


async def main(url: str, prefix: str, conversation: str) -> None:
    agent = calculator(RedisHistory(url, prefix=prefix), RedisStorage(url, prefix=prefix))
    stream = RedisStream(conversation, url, prefix=prefix, persist_transient=True)
    await agent.ask("What is 2 + 3?", conversation_id=conversation, stream=stream)
    print("asked once", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    await agent.ask("Again?", conversation_id=conversation, stream=stream)
    print("asked twice", flush=True)
    await stream.aclose()
    await close_pools()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
