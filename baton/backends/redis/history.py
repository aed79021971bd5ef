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

import json
from collections.abc import Sequence
from typing import Any

from ...conversation import new_id
from ...events import Event
from ...history import Claim, KeptClaim, lease_seconds, take_claim
from .codec import decode_events, encode_event
from .connection import LEASE_RELEASE, LEASE_RENEW, Connector, RedisSource, reaches_redis

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
        every third of ``lease``; only its holder deletes it (with the run's last events)."""
        client = self._connector.client()
        key, history_key = f"{self.prefix}claim:{conversation_id}", self.key(conversation_id)
        token = new_id().encode()
        ms = int(self.lease * 1000)
        first: list[bytes | int] = [at, *(encode_event(e) for e in start)] if start else []
        started = False

        async def attempt() -> int | None:
            nonlocal started
            answer = int(await client.eval(_CLAIM, 2, key, history_key, token, ms, *first))
            if answer < 0:
                return None
            started = bool(answer & 1)
            return answer >> 1

        length = await take_claim(conversation_id, wait, attempt)

        async def renew() -> bool:
            return bool(await client.eval(LEASE_RENEW, 1, key, token, ms))

        async def release() -> object:
            return await client.eval(LEASE_RELEASE, 1, key, token)

        async def finish(events: Sequence[Event]) -> bool:
            payloads = [encode_event(e) for e in events]
            if not payloads:
                return bool(await client.eval(LEASE_RELEASE, 1, key, token))
            return bool(await client.eval(_FINISH, 2, key, history_key, token, *payloads))

        return KeptClaim(
            f"conversation {conversation_id}",
            self.lease,
            renew,
            release,
            finish,
            length,
            started=started,
        )

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
