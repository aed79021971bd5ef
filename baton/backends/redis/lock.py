"""One turn at a time per conversation, across processes: a lease-based lock in Redis.

    lock = TurnLock("redis://127.0.0.1:6379/0", lease=15)
    agent = Agent(..., history=RedisHistory(url), storage=RedisStorage(url),
                  middleware=[ConversationLock(lock, wait=30)])

``ConversationLock`` is ``around_ask`` middleware (put it first, so it wraps everything else):
an ask, or a resumed ask (``agent.resume``), on a conversation runs only while its process holds
that conversation's lock. Another process asking on the same conversation meanwhile waits up to
``wait`` seconds (``0``: not at all; ``None``: for ever) for the lock, then raises
``ConversationBusy``.

Asks on a ``RedisHistory`` or ``SQLHistory`` need none of this: those histories claim each
conversation in the store themselves, before it is loaded (``baton.history.ClaimingHistory``).
``ConversationLock`` is for histories that can't, and for a lock held around more than the ask.

The lock is a Redis key ``<prefix>lock:<conversation id>`` set with ``SET NX PX`` to a random
token. While held, it is renewed every third of its ``lease``; it is released by a Lua
compare-and-delete (only by its holder). If the holder dies, nobody renews it and it expires
after at most ``lease`` seconds, so another process takes over. If a holder finds it lost the
lease (it could not renew it in time and someone else took it), the task holding it is
cancelled rather than let two turns run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError, ConversationBusy
from ...middleware.base import Middleware, ProceedAsk
from ...redaction import logger
from .connection import LEASE_RELEASE, LEASE_RENEW, Connector, RedisSource
from .stream import retryable_errors, retrying

if TYPE_CHECKING:
    from ...context import Context
    from ...reply import Reply

__all__ = ["ConversationLock", "Lease", "TurnLock"]

log = logger("baton.backends.redis")


class Lease:
    """A held lock; renewed in the background until ``release()``."""

    __slots__ = ("_holder", "_renewer", "key", "lock", "lost", "token")

    def __init__(self, lock: TurnLock, key: str, token: bytes) -> None:
        self.lock = lock
        self.key = key
        self.token = token
        self.lost = False
        self._holder = asyncio.current_task()
        self._renewer = asyncio.get_running_loop().create_task(
            self._renew(), name=f"baton-lease-{key}"
        )

    async def _renew(self) -> None:
        lock = self.lock
        ms = int(lock.lease * 1000)
        every = lock.lease / 3
        expires = time.monotonic() + lock.lease
        while True:
            await asyncio.sleep(every)
            client = lock.connector.client()
            try:
                renewed = await client.eval(LEASE_RENEW, 1, self.key, self.token, ms)
                if not renewed:  # gone (e.g. Redis restarted): take it back if nobody else did
                    renewed = await client.set(self.key, self.token, nx=True, px=ms)
            except retryable_errors() as exc:
                if time.monotonic() < expires:
                    log.info("could not renew %s (%s); trying again", self.key, exc)
                    continue
                renewed = False
            if not renewed:
                self.lost = True
                log.error("lost the lease on %s; stopping the task that held it", self.key)
                if self._holder is not None:
                    self._holder.cancel()
                return
            expires = time.monotonic() + lock.lease

    async def release(self) -> None:
        """Stop renewing and delete the key if it is still this lease's."""
        self._renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewer
        if self.lost:
            return
        client = self.lock.connector.client()

        async def release() -> Any:
            return await client.eval(LEASE_RELEASE, 1, self.key, self.token)

        try:
            await retrying("release", release, self.lock.lease)
        except retryable_errors():
            log.warning("could not release %s; it expires within its lease", self.key)


class TurnLock:
    """Per-conversation leases in Redis (see the module docs). ``lease`` is in seconds;
    ``poll`` is how often a waiting process tries again (seconds)."""

    def __init__(
        self,
        redis: RedisSource = None,
        *,
        lease: float = 15.0,
        prefix: str = "baton:",
        poll: float = 0.05,
    ) -> None:
        if not lease > 0.01:
            raise ConfigError(f"TurnLock(lease=...) must be more than 0.01 seconds, got {lease!r}")
        self.connector = Connector(redis)
        self.lease = float(lease)
        self.prefix = prefix
        self.poll = poll

    def __repr__(self) -> str:
        return f"TurnLock({self.connector!r}, lease={self.lease:g})"

    def key(self, conversation_id: str) -> str:
        return f"{self.prefix}lock:{conversation_id}"

    async def acquire(self, conversation_id: str, *, wait: float | None = 0) -> Lease:
        """Take the conversation's lock, waiting up to ``wait`` seconds (``None``: for ever)
        for its holder to release it or for its lease to expire; else ``ConversationBusy``."""
        key = self.key(conversation_id)
        token = os.urandom(16).hex().encode()
        ms = int(self.lease * 1000)
        deadline = None if wait is None else time.monotonic() + wait
        delay = self.poll / 4
        while True:
            client = self.connector.client()

            async def take(client: Any = client) -> Any:
                return await client.set(key, token, nx=True, px=ms)

            if await retrying("lock", take, self.lease):
                return Lease(self, key, token)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                ttl = await client.pttl(key)
                raise ConversationBusy(
                    f"conversation {conversation_id} is answering an ask in another process "
                    f"(or task); its lock is held for up to {max(ttl, 0) / 1000:g} more seconds. "
                    "Try again later, or wait longer with ConversationLock(..., wait=N)"
                )
            delay = min(delay * 2, self.poll)
            await asyncio.sleep(delay if deadline is None else min(delay, deadline - now))

    @contextlib.asynccontextmanager
    async def hold(self, conversation_id: str, *, wait: float | None = 0) -> AsyncIterator[Lease]:
        """``async with lock.hold(cid, wait=...) as lease:`` acquire, then release."""
        lease = await self.acquire(conversation_id, wait=wait)
        try:
            yield lease
        finally:
            await lease.release()

    async def holder(self, conversation_id: str) -> bytes | None:
        """The token of the lease holding the lock now, if any."""
        value = await self.connector.client().get(self.key(conversation_id))
        return value.encode() if isinstance(value, str) else value


class ConversationLock(Middleware):
    """``around_ask`` middleware running each ask (and resumed ask) under the conversation's
    ``TurnLock``; others wait up to ``wait`` seconds, then get ``ConversationBusy``."""

    def __init__(self, lock: TurnLock | RedisSource = None, *, wait: float | None = 30.0) -> None:
        self.lock = lock if isinstance(lock, TurnLock) else TurnLock(lock)
        if wait is not None and wait < 0:
            raise ConfigError(f"ConversationLock(wait=...) must be >= 0 seconds, got {wait!r}")
        self.wait = wait

    def __repr__(self) -> str:
        return f"ConversationLock({self.lock!r}, wait={self.wait})"

    async def around_ask(self, context: Context, proceed: ProceedAsk) -> Reply[Any]:
        async with self.lock.hold(context.conversation_id, wait=self.wait):
            return await proceed()
