"""The pools Baton makes from a Redis URL send small commands without a timer of their own
(``baton.backends.redis.sending``): a server that stops answering must still end a write in a
clear, retryable error within the URL's ``socket_timeout`` (by the read's timeout for a small
command, by the send's own for one too big for the socket's buffers), and the next write, once
the server answers again, must go through on a fresh connection."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from redis_support import OwnRedis

from baton.backends.redis import RedisHistory, close_pools
from baton.errors import BackendUnavailable
from baton.events import HumanMessage

# Far beyond what the loopback socket buffers hold, so the send itself has to wait.
HUGE = 64 * 1024 * 1024


@pytest.mark.parametrize("size", [10, HUGE], ids=["small", "huge"])
async def test_a_frozen_server_ends_a_write_in_a_retryable_error(
    own_redis: OwnRedis, size: int
) -> None:
    history = RedisHistory(f"{own_redis.url}?socket_timeout=0.5", prefix="sending:")
    assert own_redis.process is not None
    try:
        await history.append("c", [HumanMessage("warm up the connection")])
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(BackendUnavailable, match="TimeoutError") as raised:
                # The bound only keeps a regression from hanging the suite.
                async with asyncio.timeout(60):
                    await history.append("c", [HumanMessage("x" * size)])
            assert raised.value.retryable
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        await history.append("c", [HumanMessage("after")])
        texts = [e.text for e in await history.load("c") if isinstance(e, HumanMessage)]
        assert texts[0] == "warm up the connection" and texts[-1] == "after"
    finally:
        await close_pools()
