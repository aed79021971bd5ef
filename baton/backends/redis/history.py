"""``RedisHistory`` and ``RedisStorage``: a conversation's events and small durable values in
Redis, shared by every process that uses the same URL and prefix.

History: one Redis list per conversation (``<prefix>history:<conversation id>``) of the events'
JSON (``events.to_dict``); ``append`` is one ``RPUSH`` of all the events given (O(1) per event),
``load`` one ``LRANGE`` decoded only through the event registry (an unknown type raises
``EventDecodeError``), ``length`` one ``LLEN``. ``claim`` takes a conversation for one ask,
across processes: a lease key ``<prefix>claim:<conversation id>`` (see ``RedisHistory.claim``).

Storage: one Redis string per key (``<prefix>kv:<key>``) holding the value's JSON; ``delete``
is atomic, so two processes resuming the same suspended ask can't both claim it; ``keys`` scans.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...conversation import new_id
from ...errors import ClaimLost
from ...events import Event
from ...history import Claim, KeptClaim, keep_running, lease_seconds, take_claim
from .codec import decode_events, encode_event
from .connection import (
    LEASE_RELEASE,
    LEASE_RENEW,
    Connector,
    RedisSource,
    reaches_redis,
    redis_unavailable,
)
from .line import Line, command, open_line, pack, prelude

__all__ = ["RedisHistory", "RedisStorage"]

# Take the claim if nobody holds it, and read the history's length in the same round trip;
# with events to start the run (ARGV[4]...), append them if the history holds ARGV[3] events.
# One integer answers (an array costs the client a parse per element): -1 when another holder
# has the claim, else twice the length before, plus 1 if the start was appended.
_CLAIM = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return -1
end
local length = redis.call('LLEN', KEYS[2])
if #ARGV > 3 and length == tonumber(ARGV[3]) then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 4))
  return length * 2 + 1
end
return length * 2
"""
# A run's last events and the release, by the claim's holder only.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 2))
redis.call('DEL', KEYS[1])
return 1
"""
_CLAIM_SOURCE, _FINISH_SOURCE = _CLAIM.encode(), _FINISH.encode()
# Sent by SHA (EVALSHA); the source goes only when Redis answers NOSCRIPT.
_CLAIM_SHA = hashlib.sha1(_CLAIM_SOURCE).hexdigest().encode()
_FINISH_SHA = hashlib.sha1(_FINISH_SOURCE).hexdigest().encode()
_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class RedisHistory:
    """A ``History`` in Redis lists (see the module docs). ``lease``: how long (seconds) a
    claim on a conversation outlives a process that died holding it."""

    __slots__ = ("_connector", "lease", "prefix")

    def __init__(
        self, redis: RedisSource = None, *, prefix: str = "baton:", lease: float = 15.0
    ) -> None:
        self._connector = Connector(redis)
        self.prefix = prefix
        self.lease = lease_seconds("RedisHistory", lease)

    @reaches_redis
    async def claim(
        self,
        conversation_id: str,
        *,
        wait: float | None = 0,
        start: Sequence[Event] = (),
        at: int = 0,
    ) -> Claim:
        """Claim a conversation for one ask (``baton.history.ClaimingHistory``): a key
        ``<prefix>claim:<id>`` set with ``SET NX PX`` by a script that, in the same round trip,
        reads the list's length and appends ``start`` when it is ``at``. The lease is renewed
        every third of ``lease``; only its holder deletes it (with the run's last events).
        With a pool made from a URL the claim holds one of its connections until it is given
        back, and writes the ask's events on it (see ``line``)."""
        return await self._claim(conversation_id, wait, start, at, None)

    @reaches_redis
    async def claim_now(
        self,
        conversation_id: str,
        *,
        wait: float | None = 0,
        start: Sequence[Event] = (),
        at: int = 0,
        cut: Callable[[asyncio.Future[Claim]], None],
    ) -> Claim:
        """``claim``, awaited in the asking task (``baton.history.ClaimingNow``): a cancel
        that lands once the claim was sent hands ``cut`` the future of the claim taken."""
        return await self._claim(conversation_id, wait, start, at, cut)

    async def _claim(
        self,
        conversation_id: str,
        wait: float | None,
        start: Sequence[Event],
        at: int,
        cut: Callable[[asyncio.Future[Claim]], None] | None,
    ) -> Claim:
        client = self._connector.client()
        key, history_key = f"{self.prefix}claim:{conversation_id}", self.key(conversation_id)
        token = new_id().encode()
        ms = int(self.lease * 1000)
        first: list[bytes | int] = [at, *(encode_event(e) for e in start)] if start else []
        line = await open_line(client)
        taken: list[Claim] = []

        def answered(reply: Any) -> int | None:
            # -1: another holder has the claim; else twice the length, plus 1 if started.
            answer = int(reply)
            if answer < 0:
                return None
            taken.append(made(answer >> 1, bool(answer & 1)))
            return answer >> 1

        async def attempt() -> int | None:
            if line is None:
                return answered(await client.eval(_CLAIM, 2, key, history_key, token, ms, *first))
            args = [key.encode(), history_key.encode(), token, b"%d" % ms, *map(_arg, first)]
            try:
                if line.knows(_CLAIM_SHA):
                    return await line.call(
                        command(b"EVALSHA", _CLAIM_SHA, b"2", *args),
                        answered,
                        lambda: command(b"EVAL", _CLAIM_SOURCE, b"2", *args),
                    )
                return await line.call(command(b"EVAL", _CLAIM_SOURCE, b"2", *args), answered)
            except asyncio.CancelledError:
                rest = line.take_cut()
                if rest is not None:  # sent: the claim may be taken, and is then given back
                    (cut or _give_back)(asyncio.ensure_future(_claimed(rest, taken)))
                raise

        def made(length: int, started: bool) -> Claim:
            what = f"conversation {conversation_id}"
            if line is None:
                return KeptClaim(what, self.lease, renew, release, finish, length, started=started)
            return RedisClaim(
                what,
                self.lease,
                renew,
                release,
                finish,
                length,
                started=started,
                line=line,
                keys=(key.encode(), history_key.encode(), token),
                owner=self,
            )

        async def renew() -> bool:
            return bool(await client.eval(LEASE_RENEW, 1, key, token, ms))

        async def release() -> object:
            return await client.eval(LEASE_RELEASE, 1, key, token)

        async def finish(events: Sequence[Event]) -> bool:
            payloads = [encode_event(e) for e in events]
            if not payloads:
                return bool(await client.eval(LEASE_RELEASE, 1, key, token))
            return bool(await client.eval(_FINISH, 2, key, history_key, token, *payloads))

        try:
            await take_claim(conversation_id, wait, attempt)
        except BaseException:
            if line is not None:
                await line.close()
            raise
        return taken[-1]

    def __repr__(self) -> str:
        return f"RedisHistory({self._connector!r}, prefix={self.prefix!r})"

    def key(self, conversation_id: str) -> str:
        return f"{self.prefix}history:{conversation_id}"

    @reaches_redis
    async def load(self, conversation_id: str) -> list[Event]:
        key = self.key(conversation_id)
        payloads = await self._connector.client().lrange(key, 0, -1)
        return decode_events(payloads, key)

    @reaches_redis
    async def append(self, conversation_id: str, events: Sequence[Event]) -> None:
        if events:
            payloads = [encode_event(e) for e in events]
            await self._connector.client().rpush(self.key(conversation_id), *payloads)

    @reaches_redis
    async def length(self, conversation_id: str) -> int:
        return int(await self._connector.client().llen(self.key(conversation_id)))

    @reaches_redis
    async def delete(self, conversation_id: str) -> bool:
        """Forget a conversation's events; ``True`` if there were any."""
        return bool(await self._connector.client().delete(self.key(conversation_id)))

    @reaches_redis
    async def conversation_ids(self) -> list[str]:
        """The ids of the conversations kept under this prefix, sorted."""
        start = len(self.key("").encode())
        pattern = self.key("").translate(_GLOB_SPECIAL) + "*"
        found = [k[start:].decode() async for k in self._connector.client().scan_iter(pattern)]
        return sorted(found)


class RedisClaim(KeptClaim):
    """A ``RedisHistory`` claim that holds a pooled connection (a ``Line``) from its taking to
    its release, and writes the ask's events on it in the asking task
    (``baton.history.WritingClaim``): one ``RPUSH`` per step, the last events and the release
    in one ``EVALSHA``, each command packed from parts made once per claim."""

    __slots__ = ("_finish_head", "_line", "_owner", "_push_head", "_whole")

    def __init__(
        self,
        *args: Any,
        line: Line,
        keys: tuple[bytes, bytes, bytes],
        owner: RedisHistory,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._line = line
        self._owner = owner
        key, history_key, token = keys
        self._push_head = prelude(b"RPUSH", history_key)
        self._finish_head = prelude(b"EVALSHA", _FINISH_SHA, b"2", key, history_key, token)
        self._whole = prelude(b"EVAL", _FINISH_SOURCE, b"2", key, history_key, token)

    def write_now(self, events: Sequence[Event], release: bool) -> Awaitable[None] | None:
        if not events or (release and self.given_back):
            return None  # nothing to send, or given back already: the ordinary way says so
        payloads = [encode_event(e) for e in events]
        line = self._line
        if release:
            whole = self._whole
            if line.knows(_FINISH_SHA):
                packed = pack(self._finish_head, 6, payloads)
                again: Callable[[], bytes] | None = lambda: pack(whole, 6, payloads)  # noqa: E731
            else:
                packed, again = pack(whole, 6, payloads), None
            if not line.takes(packed):
                return None
            return self._finish_now(packed, again)
        packed = pack(self._push_head, 2, payloads)
        if not line.takes(packed):
            return None
        return self._push_now(packed)

    def take_cut(self) -> asyncio.Future[Any] | None:
        return self._line.take_cut()

    def _answered(self, held: Any) -> None:
        self.finished(bool(held))

    async def _push_now(self, packed: bytes) -> None:
        try:
            await self._line.call(packed, _nothing)
        except Exception as exc:
            raise _unavailable(exc, self._owner) from exc

    async def _finish_now(self, packed: bytes, again: Callable[[], bytes] | None) -> None:
        try:
            await self._line.call(packed, self._answered, again)
        except Exception as exc:
            raise _unavailable(exc, self._owner) from exc
        await self._line.close()

    async def append_and_release(self, events: Sequence[Event]) -> None:
        await super().append_and_release(events)
        await self._line.close()

    async def release(self) -> None:
        await self._line.close()  # first: the release may take the same connection
        await super().release()


async def _claimed(rest: asyncio.Future[Any], taken: list[Claim]) -> Claim:
    """The claim a cancelled ask's claiming took after all (its reply read by the cut)."""
    await rest
    if not taken:
        raise ClaimLost("the claim was not taken: nothing to give back")
    return taken[-1]


def _give_back(taking: asyncio.Future[Claim]) -> None:
    """A claim taken for a caller that was cancelled meanwhile: give it back (the run it may
    have started stays open, for the next ask's repair to close)."""
    taking.add_done_callback(_release_taken)


def _release_taken(taking: asyncio.Future[Claim]) -> None:
    if not taking.cancelled() and taking.exception() is None:
        keep_running(taking.result().release())


def _nothing(reply: Any) -> None:
    return None


def _arg(value: bytes | int) -> bytes:
    return value if isinstance(value, bytes) else b"%d" % value


def _unavailable(exc: Exception, owner: RedisHistory) -> Exception:
    """A redis-py error as ``BackendUnavailable`` (as ``reaches_redis`` makes them)."""
    return redis_unavailable(exc, owner) or exc


class RedisStorage:
    """A ``Storage`` of JSON values in Redis strings (see the module docs)."""

    __slots__ = ("_connector", "prefix")

    def __init__(self, redis: RedisSource = None, *, prefix: str = "baton:") -> None:
        self._connector = Connector(redis)
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisStorage({self._connector!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        return f"{self.prefix}kv:{key}"

    @reaches_redis
    async def get(self, key: str) -> Any | None:
        raw = await self._connector.client().get(self._key(key))
        return None if raw is None else json.loads(raw)

    @reaches_redis
    async def put(self, key: str, value: Any) -> None:
        try:
            payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"RedisStorage keeps JSON values; {key!r}: {exc}") from None
        await self._connector.client().set(self._key(key), payload.encode())

    @reaches_redis
    async def delete(self, key: str) -> bool:
        return bool(await self._connector.client().delete(self._key(key)))

    @reaches_redis
    async def keys(self, prefix: str = "") -> list[str]:
        start = len(self._key("").encode())
        pattern = self._key(prefix).translate(_GLOB_SPECIAL) + "*"
        found = [k[start:].decode() async for k in self._connector.client().scan_iter(pattern)]
        return sorted(found)
