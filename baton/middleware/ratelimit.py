"""Client-side rate limiting: requests and tokens per minute, as token buckets.

    limiter = RateLimiter(requests_per_minute=500, tokens_per_minute=200_000)
    a = Agent("a", config=..., middleware=[limiter])
    b = Agent("b", config=..., middleware=[RateLimit(limiter)])   # same budget as `a`

A limiter is shared by everything that holds the same object: every agent, conversation and ask
in the process (across event loops and threads too). Callers wait for budget; they never fail.

A call held back is announced with a ``RateLimitWait`` event (live only) saying for how long.
Before each model call the middleware reserves one request and the call's estimated input
tokens; after it, it settles the reservation with the tokens the provider reported (input and
output). Buckets may run into debt (a call that used more than estimated, or one larger than
the whole budget), which later callers wait off. Reservations are first come, first served.

Any object with ``acquire(requests, tokens)`` and ``settle(reserved, actual)`` coroutines (the
``Limiter`` protocol) can stand behind ``RateLimit``: a Redis-backed limiter shared by several
processes implements the same two calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ConfigError
from ..events import RateLimitWait
from ._tally import TokensKind
from .base import Middleware, ProceedModel

if TYPE_CHECKING:
    from ..context import Context
    from ..events import ModelResponse
    from ..models.base import ModelCall

__all__ = ["Limiter", "RateLimit", "RateLimiter", "TokenBucket"]

_TOKENS = TokensKind.of(None)
# A wait shorter than this (a lock, a round trip to a shared limiter) is not a rate limit.
_NOTEWORTHY_WAIT = 0.05


@runtime_checkable
class Limiter(Protocol):
    """What ``RateLimit`` needs from a limiter (in-process or backed by a shared store)."""

    async def acquire(self, requests: int, tokens: int) -> None:
        """Wait until ``requests`` requests and ``tokens`` tokens may be spent, and take them."""
        ...

    async def settle(self, reserved: int, actual: int) -> None:
        """A call that reserved ``reserved`` tokens used ``actual``: take or give back the
        difference."""
        ...


class TokenBucket:
    """A bucket of ``capacity`` units refilled at ``capacity / period`` units a second. Not
    thread-safe on its own: ``RateLimiter`` guards its buckets with one lock."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: float, period: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = self.capacity / period
        self.level = self.capacity
        self.updated = now

    def take(self, amount: float, now: float) -> float:
        """Take ``amount`` (into debt if need be); the seconds until the level is back to 0."""
        capacity = self.capacity
        level = self.level + (now - self.updated) * self.rate
        if level > capacity:
            level = capacity
        level -= amount if amount < capacity else capacity  # a full bucket at most
        self.level = level
        self.updated = now
        return -level / self.rate if level < 0 else 0.0

    def give(self, amount: float) -> None:
        """Return ``amount`` (negative: take more), never above capacity."""
        level = self.level + amount
        self.level = level if level < self.capacity else self.capacity


class RateLimit(Middleware):
    """Middleware that holds each model call until ``limiter`` has budget for it.

    The call's input tokens are estimated from the provider's count for the conversation's
    latest response plus ``baton.harness.tokens`` estimates of the events after it (so a call
    costs O(new events)); after the call the reservation is settled with the response's input
    plus output tokens (failed calls give their tokens back, and keep their request).
    """

    def __init__(
        self,
        limiter: Limiter,
        *,
        count_tokens: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(limiter, Limiter):
            raise ConfigError(
                f"RateLimit(...) takes a limiter with acquire() and settle(), got {limiter!r}"
            )
        self.limiter = limiter
        self.count_tokens = count_tokens
        self._wait_clock = clock  # times a limiter's wait, for RateLimitWait

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        limiter = self.limiter
        tokens = self.estimate(call, context) if self.count_tokens else 0
        clock = self._wait_clock
        start = clock()
        await limiter.acquire(1, tokens)
        waited = clock() - start
        if waited >= _NOTEWORTHY_WAIT:  # a limiter that can't say in advance: once it is over
            await context.emit(RateLimitWait(waited, type(limiter).__name__))
        try:
            response = await proceed(call)
        except BaseException:
            if tokens:
                await limiter.settle(tokens, 0)
            raise
        if self.count_tokens:
            usage = response.usage
            actual = usage.input_tokens + usage.output_tokens
            if actual != tokens:
                await limiter.settle(tokens, actual)
        return response

    def estimate(self, call: ModelCall, context: Context) -> int:
        """The call's input tokens: what the conversation's latest response reported (input
        and output), plus an estimate of the events after it (and of the instructions, before
        any response reported a count). O(new events) per call."""
        figures = context.state(_TOKENS, _TOKENS)
        return figures.estimate(call.messages, call.instructions)


class RateLimiter(RateLimit):
    """An in-process limiter of requests and/or tokens per minute, and itself the middleware
    that applies it (``RateLimit(limiter)`` works too). Shared by every agent holding it.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable for tests; ``period`` (seconds,
    default 60) is the window the figures are per.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute is None and tokens_per_minute is None:
            raise ConfigError(
                "RateLimiter needs requests_per_minute=..., tokens_per_minute=... or both"
            )
        for name, value in (("requests", requests_per_minute), ("tokens", tokens_per_minute)):
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise ConfigError(f"RateLimiter({name}_per_minute=...) must be > 0, got {value!r}")
        if period <= 0:
            raise ConfigError(f"RateLimiter(period=...) must be > 0 seconds, got {period!r}")
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self.requests = (
            None if requests_per_minute is None else TokenBucket(requests_per_minute, period, now)
        )
        self.tokens = (
            None if tokens_per_minute is None else TokenBucket(tokens_per_minute, period, now)
        )
        super().__init__(self, count_tokens=self.tokens is not None)

    def __repr__(self) -> str:
        rpm = None if self.requests is None else self.requests.capacity
        tpm = None if self.tokens is None else self.tokens.capacity
        return f"RateLimiter(requests_per_minute={rpm}, tokens_per_minute={tpm})"

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        # RateLimit's steps with the limiter's own synchronous fast paths (no extra awaits).
        tokens = 0
        if self.tokens is not None:
            tokens = context.state(_TOKENS, _TOKENS).estimate(call.messages, call.instructions)
        wait = self.reserve(1, tokens)
        if wait > 0:
            await context.emit(RateLimitWait(wait, type(self).__name__))
            await self._wait(wait, 1, tokens)
        try:
            response = await proceed(call)
        except BaseException:
            if tokens:
                self._settle(tokens, 0)
            raise
        if tokens:
            usage = response.usage
            actual = usage.input_tokens + usage.output_tokens
            if actual != tokens:
                self._settle(tokens, actual)
        return response

    async def acquire(self, requests: int = 1, tokens: int = 0) -> None:
        """Reserve budget now, then wait until the buckets are out of the debt it made."""
        wait = self.reserve(requests, tokens)
        if wait > 0:
            await self._wait(wait, requests, tokens)

    async def _wait(self, seconds: float, requests: int, tokens: int) -> None:
        try:
            await self._sleep(seconds)
        except BaseException:  # cancelled while waiting: the budget was never used
            self._give(requests, tokens)
            raise

    def reserve(self, requests: int = 1, tokens: int = 0) -> float:
        """Take budget at once; the seconds the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            wait = 0.0
            bucket = self.requests
            if requests and bucket is not None:
                wait = bucket.take(requests, now)
            bucket = self.tokens
            if tokens and bucket is not None:
                token_wait = bucket.take(tokens, now)
                if token_wait > wait:
                    wait = token_wait
            return wait

    async def settle(self, reserved: int, actual: int) -> None:
        self._settle(reserved, actual)

    def _settle(self, reserved: int, actual: int) -> None:
        bucket = self.tokens
        if bucket is not None and actual != reserved:
            with self._lock:
                bucket.give(reserved - actual)

    def _give(self, requests: int, tokens: int) -> None:
        with self._lock:
            if self.requests is not None:
                self.requests.give(requests)
            if self.tokens is not None:
                self.tokens.give(tokens)
