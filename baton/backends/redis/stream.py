"""``RedisStream``: a conversation's stream kept in a Redis Stream, watched from any process.

    stream = RedisStream(conversation_id, redis="redis://127.0.0.1:6379/0")
    reply = await agent.ask("hi", conversation_id=conversation_id, stream=stream)

    async for event in RedisWatcher(conversation_id, from_id="0"):   # elsewhere: replay, then live
        ...

Layout: one Redis Stream per conversation (``<prefix>stream:<conversation id>``). ``send`` appends
the event (``XADD``, JSON from ``events.to_dict``) and then delivers it to this object's local
subscribers, exactly like ``MemoryStream``, so entries are in causal order and every process sees
the same order. An entry carries its sender (``o``) and the sender's sequence number (``n``):
a ``send`` retried after a lost connection can land twice, and watchers drop the repeat.

Events sent by other processes (a ``HumanMessage`` answering an approval, say) reach this
object's local subscribers too: while it has subscribers, a background task follows the Redis
Stream (``XREAD BLOCK``) from the moment the first of them subscribed and delivers the entries
other senders appended. Payloads naming an unknown type are logged and skipped there.

Transient events (text chunks, ...). They are appended like the others, so live watchers see
them in order. By default they are not kept: the sender deletes its transient entries once they
are ``transient_ttl`` seconds old (on its later sends, and on ``aclose``), so a watcher replaying
a conversation sees mostly its persistent events. ``persist_transient=True`` keeps them.
``aclose`` never deletes an entry younger than ``transient_ttl``: a watcher that lags behind the
sender (a slow client, a busy machine) still finds the answer's last chunks. Those entries are
listed in ``<prefix>stream:<conversation id>:transient`` (a sorted set by age) and deleted
once they come of age, by the closing process while it lives (a task sleeping ``transient_ttl``)
or else by whichever sender of the conversation closes next: a process that exits right after
its close leaves its last answer's chunks until the conversation has another sender, or until
``delete()``.

``RedisWatcher`` is the passive view: an ``async for`` iterator that replays from any entry id
(``from_id="0"``: from the start; ``None``: live from the moment it attaches) and then follows
live. It tracks ``last_id``, the id of the last entry it read, so after a lost connection (or a
Redis restart) it resumes right after it: nothing lost, nothing twice. Entries are decoded only
through the event registry; one naming an unknown type raises ``EventDecodeError`` (nothing is
constructed) and iteration may go on after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import BackendUnavailable, EventDecodeError, StreamClosed
from ...events import Event, HumanMessage
from ...redaction import logger
from ...stream import (
    DEFAULT_DELIVERY_TIMEOUT,
    DEFAULT_MAX_BUFFER,
    MemoryStream,
    StreamView,
    Subscriber,
    Subscription,
    Watcher,
    Where,
)
from .codec import decode_event, encode_event, id_key
from .connection import Connector, RedisSource, require_redis

__all__ = ["RedisStream", "RedisWatcher", "stream_key"]

log = logger("baton.backends.redis")

_ORIGIN, _SEQ, _EVENT, _TRANSIENT = b"o", b"n", b"e", b"t"
_DEDUP_WINDOW = 4096


# Run by ``aclose`` in one round trip: delete this sender's transient entries that are older
# than the horizon (ms), list the younger ones for a later sender, and delete the listed ones of
# earlier senders that have come of age. KEYS: the stream, the list. ARGV: horizon, entry ids.
_CLOSE_TRANSIENT = """
local horizon = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', horizon)
for i = 2, #ARGV do
  local ms = tonumber(string.match(ARGV[i], '^(%d+)'))
  if ms <= horizon then
    due[#due + 1] = ARGV[i]
  else
    redis.call('ZADD', KEYS[2], ms, ARGV[i])
  end
end
for i = 1, #due, 1000 do  -- unpack takes at most ~8000 values: a long answer has more chunks
  redis.call('XDEL', KEYS[1], unpack(due, i, math.min(i + 999, #due)))
end
if #due > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
end
return #due
"""


# Sweeps scheduled by aclose (kept referenced until done: the loop holds tasks weakly).
_SWEEPS: set[asyncio.Task[None]] = set()


def stream_key(conversation_id: str, prefix: str = "baton:") -> str:
    """The Redis key of a conversation's stream."""
    return f"{prefix}stream:{conversation_id}"


def retryable_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean "Redis is unreachable right now" (worth retrying)."""
    require_redis()
    import redis.exceptions as rex

    return (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError, OSError)


async def retrying(what: str, attempt: Any, patience: float | None) -> Any:
    """Run ``attempt()`` until it succeeds, retrying connection failures with backoff for up
    to ``patience`` seconds (``None``: forever)."""
    errors = retryable_errors()
    deadline = None if patience is None else time.monotonic() + patience
    delay = 0.02
    while True:
        try:
            return await attempt()
        except errors as exc:
            if deadline is not None and time.monotonic() + delay > deadline:
                raise BackendUnavailable(
                    f"Redis stayed unreachable during {what} for {patience:g} s "
                    f"({type(exc).__name__}: {exc}); check that it is running"
                ) from exc
            log.info("redis unreachable during %s (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


class RedisStream:
    """A ``Stream`` whose events are appended to a Redis Stream (see the module docs). Local
    subscribers live on a ``MemoryStream`` it holds (``delivery_timeout`` is that stream's: see
    ``baton.stream``)."""

    __slots__ = (
        "_connector",
        "_cursor",
        "_early",
        "_follower",
        "_local",
        "_remote_seen",
        "_seq",
        "_transient_ids",
        "conversation_id",
        "key",
        "maxlen",
        "origin",
        "patience",
        "persist_transient",
        "prefix",
        "transient_ttl",
    )

    def __init__(
        self,
        conversation_id: str,
        redis: RedisSource = None,
        *,
        prefix: str = "baton:",
        persist_transient: bool = False,
        transient_ttl: float = 60.0,
        maxlen: int | None = None,
        patience: float | None = 30.0,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        delivery_timeout: float | None = DEFAULT_DELIVERY_TIMEOUT,
    ) -> None:
        # Local subscribers (and their delivery timeout, see baton.stream) live on a memory stream.
        self._local = MemoryStream(
            max_buffer=max_buffer,
            on_subscribe=self._subscribed,
            delivery_timeout=delivery_timeout,
        )
        self._connector = Connector(redis)
        self.conversation_id = conversation_id
        self.prefix = prefix
        self.key = stream_key(conversation_id, prefix)
        self.persist_transient = persist_transient
        self.transient_ttl = transient_ttl
        self.maxlen = maxlen  # approximate cap (XADD MAXLEN ~) on the stream's length
        self.patience = patience  # seconds a send waits for an unreachable Redis
        self.origin = os.urandom(8).hex().encode()
        self._seq = 0
        self._transient_ids: deque[bytes] = deque()
        self._follower: asyncio.Task[None] | None = None
        self._cursor: bytes | None = None
        self._early: bytes | None = None
        # (origin, seq) of remote entries already delivered: a retried XADD can land twice.
        self._remote_seen: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()

    def __repr__(self) -> str:
        return f"RedisStream({self.conversation_id!r}, {self._connector!r})"

    @property
    def remarks(self) -> Callable[[HumanMessage], object] | None:
        """The running ask's inbox for remarks sent through this object (see
        ``MemoryStream.remarks``; remarks other processes send reach it when this process
        follows the stream, i.e. has a local subscriber)."""
        return self._local.remarks

    @remarks.setter
    def remarks(self, inbox: Callable[[HumanMessage], object] | None) -> None:
        self._local.remarks = inbox

    # -- sending -----------------------------------------------------------------------------

    def _fields(self, event: Event) -> dict[bytes, bytes]:
        self._seq += 1
        fields = {_EVENT: encode_event(event), _ORIGIN: self.origin, _SEQ: b"%d" % self._seq}
        if event.transient:
            fields[_TRANSIENT] = b"1"
        return fields

    async def send(self, event: Event) -> None:
        """Append ``event`` to the Redis Stream, then deliver it to local subscribers."""
        fields = self._fields(event)
        client = self._connector.client()
        maxlen = self.maxlen

        async def append() -> Any:
            return await client.xadd(self.key, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]

        entry_id: bytes = await retrying("send", append, self.patience)
        self._sent(entry_id, event)
        if self._transient_ids and not event.transient:
            await self._prune()
        if self._local.subscriber_count:
            if self._follower is None:
                self._start_follower()
            await self._local.send(event)
        elif self._local.remarks is not None:
            await self._local.send(event)  # nobody subscribed: only the inbox may take it

    async def send_many(self, events: Sequence[Event]) -> None:
        """Append several events in one pipelined round trip, then deliver them locally."""
        if not events:
            return
        all_fields = [self._fields(e) for e in events]
        client = self._connector.client()

        async def append() -> Any:
            async with client.pipeline(transaction=False) as pipe:
                for fields in all_fields:
                    pipe.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
                return await pipe.execute()

        ids: list[bytes] = await retrying("send", append, self.patience)
        for entry_id, event in zip(ids, events, strict=True):
            self._sent(entry_id, event)
        if self._transient_ids:
            await self._prune()
        if self._local.subscriber_count:
            for event in events:
                await self._local.send(event)

    def _sent(self, entry_id: bytes, event: Event) -> None:
        if self._follower is not None and self._cursor is None and self._early is None:
            self._early = entry_id
        if event.transient and not self.persist_transient:
            self._transient_ids.append(entry_id)

    async def _prune(self) -> None:
        """Delete this sender's transient entries older than ``transient_ttl``."""
        horizon = (time.time() - self.transient_ttl) * 1000
        ids = self._transient_ids
        old: list[bytes] = []
        while ids and id_key(ids[0])[0] < horizon:
            old.append(ids.popleft())
        if old:
            with contextlib.suppress(*retryable_errors()):
                await self._connector.client().xdel(self.key, *old)

    # -- subscribing (local subscribers, as on a MemoryStream) ---------------------------------

    def subscribe(self, fn: Subscriber, *, where: Where = None) -> Subscription:
        """Call ``fn(event)`` for every event sent here or by other senders (see the docs)."""
        return self._local.subscribe(fn, where=where)

    def where(
        self, *types: Any, predicate: Callable[[Any], bool] | None = None, **fields: Any
    ) -> StreamView[Any]:
        """A filtered view (as ``MemoryStream.where``)."""
        return self._local.where(*types, predicate=predicate, **fields)

    def __aiter__(self) -> Watcher[Event]:
        return self._local.__aiter__()

    @property
    def closed(self) -> bool:
        return self._local.closed

    @property
    def subscriber_count(self) -> int:
        return self._local.subscriber_count

    @property
    def max_buffer(self) -> int:
        return self._local.max_buffer

    @property
    def delivery_timeout(self) -> float | None:
        """Seconds a local async subscriber may wait on one event (see ``baton.stream``)."""
        return self._local.delivery_timeout

    # -- following other senders -------------------------------------------------------------

    def _subscribed(self) -> None:
        if self._follower is None:
            self._start_follower()

    def _start_follower(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # subscribed outside a loop: the first send starts it
        self._cursor = self._early = None
        self._follower = loop.create_task(self._follow(), name=f"baton-follow-{self.key}")

    async def _follow(self) -> None:
        client = self._connector.client()
        try:

            async def top() -> Any:
                return await client.xrevrange(self.key, count=1)

            last = await retrying("follow", top, None)
            cursor: bytes = last[0][0] if last else b"0-0"
            if self._early is not None and id_key(self._early) < id_key(cursor):
                cursor = self._early
            self._cursor = cursor
            while self._local.subscriber_count and not self._local.closed:

                async def read() -> Any:
                    return await client.xread({self.key: self._cursor}, count=256, block=500)  # type: ignore[dict-item]

                response = await retrying("follow", read, None)
                for _key, entries in response or ():
                    for entry_id, fields in entries:
                        self._cursor = entry_id
                        origin = fields.get(_ORIGIN)
                        if origin == self.origin:
                            continue  # delivered locally when it was sent
                        if origin:
                            sender = (origin, fields.get(_SEQ, b""))
                            if sender in self._remote_seen:
                                continue  # a retried send that landed twice
                            self._remote_seen[sender] = None
                            if len(self._remote_seen) > _DEDUP_WINDOW:
                                self._remote_seen.popitem(last=False)
                        try:
                            event = decode_event(fields.get(_EVENT), f"entry {entry_id!r}")
                        except EventDecodeError as exc:
                            log.warning("skipped an undecodable entry on %s: %s", self.key, exc)
                            continue
                        await self._local.send(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following %s failed; remote events are no longer delivered", self.key)
        finally:
            if self._follower is asyncio.current_task():
                self._follower = None

    def watch(self, from_id: str | None = None) -> RedisWatcher:
        """A watcher of this conversation (see ``RedisWatcher``)."""
        return RedisWatcher(
            self.conversation_id,
            self._connector,
            from_id=from_id,
            prefix=self.prefix,
            patience=None,
        )

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """End local watchers and stop following Redis (the Redis Stream itself stays)."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
        self._local.close()

    async def aclose(self) -> None:
        """``close()``, waiting for the follower to stop, then deleting the transient entries
        older than ``transient_ttl`` (this sender's and those earlier senders left); the younger
        ones are left for watchers still reading and deleted by a later close (module docs)."""
        follower = self._follower
        self.close()
        if follower is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        if self.persist_transient:
            return
        ids = list(self._transient_ids)
        self._transient_ids.clear()
        horizon = int((time.time() - self.transient_ttl) * 1000)
        keys = (self.key, self.key + ":transient")
        with contextlib.suppress(*retryable_errors()):
            await self._connector.client().eval(_CLOSE_TRANSIENT, 2, *keys, horizon, *ids)
        if any(id_key(entry_id)[0] > horizon for entry_id in ids):
            # Young entries were left for watchers: while this process lives, delete them once
            # they come of age (a process that exits first leaves them to the next close).
            sweep = asyncio.get_running_loop().create_task(self._sweep(keys))
            _SWEEPS.add(sweep)
            sweep.add_done_callback(_SWEEPS.discard)

    async def _sweep(self, keys: tuple[str, str]) -> None:
        await asyncio.sleep(self.transient_ttl + 0.05)
        horizon = int((time.time() - self.transient_ttl) * 1000)
        try:
            await self._connector.client().eval(_CLOSE_TRANSIENT, 2, *keys, horizon)
        except Exception as exc:  # best effort: the next close of the conversation sweeps too
            log.debug("sweeping the transient entries of %s failed: %r", self.key, exc)

    async def delete(self) -> None:
        """Remove the conversation's Redis Stream (and its list of transient entries)."""
        await self._connector.client().delete(self.key, self.key + ":transient")


class RedisWatcher:
    """An ``async for`` iterator over a conversation's events from any process: replays from
    ``from_id`` (``"0"``: the beginning; an entry id: after it; ``None``: nothing, live from
    the moment it attaches), then follows live. ``last_id`` is the id of the last entry read.

    ``patience`` is how long (seconds) it keeps retrying an unreachable Redis (``None``:
    forever); ``block`` how long one read waits for new entries before checking ``close()``.
    """

    def __init__(
        self,
        conversation_id: str,
        redis: RedisSource | Connector = None,
        *,
        from_id: str | None = None,
        prefix: str = "baton:",
        patience: float | None = None,
        batch: int = 512,
        block: float = 1.0,
    ) -> None:
        self._connector = redis if isinstance(redis, Connector) else Connector(redis)
        self.conversation_id = conversation_id
        self.key = stream_key(conversation_id, prefix)
        self.last_id: str | None = None if from_id is None else str(from_id)
        self.patience = patience
        self.batch = batch
        self.block_ms = max(1, int(block * 1000))
        self._buffer: deque[tuple[bytes, dict[bytes, bytes]]] = deque()
        self._seen: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisWatcher({self.conversation_id!r}, last_id={self.last_id!r})"

    async def attach(self) -> str:
        """Fix the starting point now (for ``from_id=None``: the stream's latest entry), so
        that every event appended after this call is seen. Returns the starting id."""
        if self.last_id is None:
            client = self._connector.client()

            async def top() -> Any:
                return await client.xrevrange(self.key, count=1)

            last = await retrying("watch", top, self.patience)
            self.last_id = last[0][0].decode() if last else "0-0"
        return self.last_id

    def __aiter__(self) -> RedisWatcher:
        return self

    async def __anext__(self) -> Event:
        while True:
            while not self._buffer:
                if self._closed:
                    raise StopAsyncIteration
                await self._read()
            entry_id, fields = self._buffer.popleft()
            self.last_id = entry_id.decode()
            sender = (fields.get(_ORIGIN, b""), fields.get(_SEQ, b""))
            if sender[0]:
                if sender in self._seen:
                    continue  # a retried send that landed twice
                self._seen[sender] = None
                if len(self._seen) > _DEDUP_WINDOW:
                    self._seen.popitem(last=False)
            return decode_event(fields.get(_EVENT), f"{self.key} entry {self.last_id}")

    async def _read(self) -> None:
        cursor = await self.attach()
        client = self._connector.client()

        async def read() -> Any:
            return await client.xread({self.key: cursor}, count=self.batch, block=self.block_ms)

        response = await retrying("watch", read, self.patience)
        for _key, entries in response or ():
            self._buffer.extend(entries)

    async def next(self, timeout: float | None = None) -> Event:  # noqa: ASYNC109
        """The next event (``TimeoutError`` after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            try:
                return await self.__anext__()
            except StopAsyncIteration:
                raise StreamClosed("the watcher was closed") from None

    def close(self) -> None:
        """Stop after the events already read (a pending read ends within ``block``)."""
        self._closed = True

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> RedisWatcher:
        await self.attach()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
