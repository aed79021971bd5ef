"""Redis backends: a conversation's stream, history and storage, a knowledge store, a turn lock
and a shared rate limiter, all configured by URL (``pip install 'baton-agents[redis]'``).

    url = "redis://127.0.0.1:6379/0"
    agent = Agent("a", config=..., history=RedisHistory(url), storage=RedisStorage(url),
                  middleware=[ConversationLock(TurnLock(url)), RedisRateLimiter("openai",
                  redis=url, requests_per_minute=500)])
    reply = await agent.ask("hi", conversation_id=cid, stream=RedisStream(cid, url))

    async for event in RedisWatcher(cid, url, from_id="0"):   # in any other process
        ...

Importing this package does not import the ``redis`` driver; using a backend without it raises
``ConfigError`` naming the extra. Backends given the same URL share one connection pool;
``await close_pools()`` closes them.
"""

from __future__ import annotations

from .connection import DEFAULT_URL, RedisSource, close_pools, connect
from .history import RedisHistory, RedisStorage
from .knowledge import RedisKnowledge
from .lock import ConversationLock, Lease, TurnLock
from .ratelimit import RedisRateLimiter
from .stream import RedisStream, RedisWatcher, stream_key

__all__ = [
    "DEFAULT_URL",
    "ConversationLock",
    "Lease",
    "RedisHistory",
    "RedisKnowledge",
    "RedisRateLimiter",
    "RedisSource",
    "RedisStorage",
    "RedisStream",
    "RedisWatcher",
    "TurnLock",
    "close_pools",
    "connect",
    "stream_key",
]
