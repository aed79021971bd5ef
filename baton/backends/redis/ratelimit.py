"""``RedisRateLimiter``: one provider's requests and tokens per minute, shared by processes.

    limiter = RedisRateLimiter("openai", redis=url, requests_per_minute=500,
                               tokens_per_minute=200_000)
    agent = Agent("a", config=..., middleware=[limiter])       # in every process

The same semantics as ``baton.middleware.RateLimiter`` (token buckets that refill continuously,
reservations first come first served, debt that later callers wait off, settling with the
tokens the provider reported), with the buckets in one Redis hash
(``<prefix>ratelimit:<name>``) updated by a Lua script, so each reservation is atomic across
every process using the same name. Time is Redis's own clock (``TIME``), so processes on hosts
with different clocks agree; ``clock=`` (seconds) replaces it, e.g. in tests. An idle bucket's
key expires once it would have refilled completely (a missing key is a full bucket).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ...errors import ConfigError
from ...middleware.ratelimit import RateLimit
from .connection import Connector, RedisSource

__all__ = ["RedisRateLimiter"]

# KEYS[1]: the hash. ARGV: now ('' = Redis TIME), period, requests capacity ('' = no limit),
# tokens capacity ('' = no limit), requests, tokens, mode ('take' or 'give').
# Returns the seconds to wait, as a string (Lua numbers would be truncated to integers).
_SCRIPT = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local period = tonumber(ARGV[2])
local wait = 0
local refill = 0  -- the longest time a bucket needs to be full again: the key must outlive it
local function bucket(name, capacity, amount)
  if capacity == nil or amount == 0 then return end
  local state = redis.call('HMGET', KEYS[1], name .. ':level', name .. ':at')
  local level = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  local rate = capacity / period
  if now > at then
    level = level + (now - at) * rate
    at = now
  end
  if level > capacity then level = capacity end
  if ARGV[7] == 'take' then
    level = level - math.min(amount, capacity)
    if level < 0 and -level / rate > wait then wait = -level / rate end
  else
    level = math.min(capacity, level + amount)
  end
  redis.call('HSET', KEYS[1], name .. ':level', string.format('%.17g', level),
             name .. ':at', string.format('%.17g', at))
  if (capacity - level) / rate > refill then refill = (capacity - level) / rate end
end
bucket('requests', tonumber(ARGV[3]), tonumber(ARGV[5]))
bucket('tokens', tonumber(ARGV[4]), tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[1], math.ceil((refill + period) * 1000))
return string.format('%.17g', wait)
"""


class RedisRateLimiter(RateLimit):
    """A ``Limiter`` (and the ``RateLimit`` middleware applying it) whose budget lives in
    Redis under ``name``: every process with the same name and Redis shares it (see the module
    docs). ``period`` (seconds, default 60) is the window the figures are per."""

    def __init__(
        self,
        name: str = "default",
        *,
        redis: RedisSource = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        period: float = 60.0,
        prefix: str = "baton:",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute is None and tokens_per_minute is None:
            raise ConfigError(
                "RedisRateLimiter needs requests_per_minute=..., tokens_per_minute=... or both"
            )
        for what, value in (("requests", requests_per_minute), ("tokens", tokens_per_minute)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ConfigError(
                    f"RedisRateLimiter({what}_per_minute=...) must be > 0, got {value!r}"
                )
        if not period > 0:
            raise ConfigError(f"RedisRateLimiter(period=...) must be > 0 seconds, got {period!r}")
        self.name = name
        self.key = f"{prefix}ratelimit:{name}"
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.period = float(period)
        self._connector = Connector(redis)
        self._clock = clock
        self._sleep = sleep
        super().__init__(self, count_tokens=tokens_per_minute is not None)

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self.name!r}, requests_per_minute={self.requests_per_minute}, "
            f"tokens_per_minute={self.tokens_per_minute})"
        )

    async def _run(self, requests: float, tokens: float, mode: str) -> float:
        def figure(value: float | None) -> str:
            return "" if value is None else repr(float(value))

        now = "" if self._clock is None else repr(float(self._clock()))
        client: Any = self._connector.client()
        result = await client.eval(
            _SCRIPT,
            1,
            self.key,
            now,
            repr(self.period),
            figure(self.requests_per_minute),
            figure(self.tokens_per_minute),
            repr(float(requests)),
            repr(float(tokens)),
            mode,
        )
        return float(result)

    async def reserve(self, requests: int = 1, tokens: int = 0) -> float:
        """Take budget at once (atomically, for every process); the seconds to wait before
        using it (0 when there was budget)."""
        return await self._run(requests, tokens, "take")

    async def acquire(self, requests: int = 1, tokens: int = 0) -> None:
        """Reserve budget, then wait until the buckets are out of the debt it made."""
        wait = await self.reserve(requests, tokens)
        if wait > 0:
            try:
                await self._sleep(wait)
            except BaseException:  # cancelled while waiting: give the unused budget back
                await asyncio.shield(self._run(requests, tokens, "give"))
                raise

    async def settle(self, reserved: int, actual: int) -> None:
        """Give back (or take more of) the tokens a call reserved, once its usage is known."""
        if self.tokens_per_minute is not None and actual != reserved:
            await self._run(0, reserved - actual, "give")

    async def reset(self) -> None:
        """Forget the shared state: every bucket is full again."""
        await self._connector.client().delete(self.key)
