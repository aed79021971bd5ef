"""Redis connections: configuration by URL, one connection pool per URL, closed cleanly.

Every Redis backend takes ``redis=``: a URL (``"redis://host:6379/0"``, ``"rediss://..."``,
``"unix:///path/redis.sock"``), an existing ``redis.asyncio.Redis`` client (its owner closes it),
or nothing (the ``BATON_REDIS_URL`` environment variable, else ``redis://127.0.0.1:6379/0``).

Backends given the same URL share one connection pool (per event loop, since asyncio
connections belong to the loop that opened them). ``await close_pools()`` disconnects them, e.g.
at the end of a program or a test; a backend used afterwards transparently opens a new pool.
"""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeAlias, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ...errors import BackendUnavailable, ConfigError
from .sending import timed_sends

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool, Redis

__all__ = [
    "DEFAULT_URL",
    "RedisSource",
    "close_pools",
    "connect",
    "reaches_redis",
    "redacted",
    "redis_unavailable",
    "require_redis",
    "resolve_url",
]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

RedisSource: TypeAlias = "str | Redis | None"
"""What backends accept as ``redis=``: a URL, a client, or ``None`` (the default URL)."""

# One client (on its own pool) per (event loop, URL); forgotten with its loop.
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Redis]] = (
    weakref.WeakKeyDictionary()
)


# A lease held by a random token: renewed, or deleted, by its holder only.
LEASE_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
LEASE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def require_redis() -> Any:
    """The ``redis.asyncio`` module, or a ``ConfigError`` naming the extra to install."""
    try:
        import redis.asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"the Redis backends need the redis package: pip install 'baton-agents[redis]' ({exc})"
        ) from None
    return redis.asyncio


def resolve_url(url: str | None = None) -> str:
    """``url``, else ``$BATON_REDIS_URL``, else the local default; checked for a Redis scheme."""
    resolved = url or os.environ.get("BATON_REDIS_URL") or DEFAULT_URL
    if not resolved.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"a Redis URL starts with redis://, rediss:// or unix://, got {resolved!r} "
            "(e.g. redis://127.0.0.1:6379/0)"
        )
    return resolved


def connect(url: str | None = None) -> Redis:
    """The shared client (and pool) for ``url`` in the running event loop (cheap to call:
    made once per loop and URL)."""
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop)
    if pools is None:
        pools = _POOLS[loop] = {}
    resolved = url if url is not None and url in pools else resolve_url(url)
    client = pools.get(resolved)
    if client is None:
        aioredis = require_redis()
        pool: ConnectionPool = aioredis.ConnectionPool.from_url(resolved)
        pool.connection_class = timed_sends(pool.connection_class)
        client = pools[resolved] = aioredis.Redis(connection_pool=pool)
    return client


async def close_pools(url: str | None = None) -> None:
    """Disconnect the shared pools of this event loop (only ``url``'s when given)."""
    pools = _POOLS.get(asyncio.get_running_loop())
    if not pools:
        return
    names = [resolve_url(url)] if url is not None else list(pools)
    for name in names:
        client = pools.pop(name, None)
        if client is not None:
            await client.connection_pool.disconnect()


def _is_sync_client(source: object) -> bool:
    """Whether ``source`` is redis-py's blocking client (its calls can't be awaited)."""
    import redis

    return isinstance(source, redis.Redis)


class Connector:
    """How a backend reaches Redis: its own client, or the shared pool of a URL (per loop)."""

    __slots__ = ("_client", "url")

    def __init__(self, source: RedisSource) -> None:
        require_redis()  # fail at construction, naming the extra, rather than at first use
        if source is None or isinstance(source, str):
            self._client: Redis | None = None
            self.url: str | None = resolve_url(source)
        elif not hasattr(source, "execute_command") or _is_sync_client(source):
            # The type alone: a URL object or a client's repr may hold a password.
            raise ConfigError(
                "Redis is given as a URL (e.g. 'redis://127.0.0.1:6379/0'), a "
                "redis.asyncio.Redis client or None ($BATON_REDIS_URL), got "
                f"{type(source).__module__}.{type(source).__name__}"
            )
        else:
            self._client = source
            self.url = None

    def client(self) -> Redis:
        if self._client is not None:
            return self._client
        return connect(self.url)

    def __repr__(self) -> str:
        return redacted(self.url) if self.url else repr(self._client)


def redacted(url: str) -> str:
    """``url`` with its password hidden, for messages and reprs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redis_unavailable(exc: BaseException, owner: object) -> BackendUnavailable | None:
    """A redis-py error as a ``BackendUnavailable`` naming ``owner`` (whose repr hides any
    password): retryable when Redis could not be reached; ``None`` for other errors."""
    require_redis()
    import redis.exceptions as rex

    if not isinstance(exc, rex.RedisError):
        return None
    unreachable = isinstance(exc, rex.ConnectionError | rex.TimeoutError | rex.BusyLoadingError)
    fix = (
        "Check that Redis is running and the URL is right; what failed can be retried"
        if unreachable
        else "Redis answered with an error: check its configuration (memory, ACLs, key types)"
    )
    return BackendUnavailable(
        f"{owner!r} could not use Redis: {type(exc).__name__}: {str(exc).rstrip('.')}. {fix}",
        retryable=unreachable,
    )


S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def reaches_redis(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Decorate a backend's async method: redis-py errors become ``BackendUnavailable``."""

    async def call(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(owner, *args, **kwargs)
        except Exception as exc:
            unavailable = redis_unavailable(exc, owner)
            if unavailable is None:
                raise
            raise unavailable from exc

    functools.update_wrapper(call, method)
    return call
