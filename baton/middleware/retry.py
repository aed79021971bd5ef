"""Retrying failed model calls: exponential backoff with full jitter, honouring Retry-After.

    agent = Agent("a", config=..., middleware=[RetryMiddleware(attempts=5, max_time=60)])

Only a ``ModelError`` whose ``retryable`` is true (rate limits, overload, timeouts, dropped
connections) is tried again; anything else propagates at once. Before attempt ``n + 1`` the
middleware waits ``uniform(0, min(max_delay, base_delay * 2**(n - 1)))`` seconds ("full
jitter"), or the provider's ``retry_after`` if that is longer, and emits a ``ModelCallRetry``
event first (text streamed by the failed attempt should be discarded by UIs). When the attempt
budget or the time budget runs out, the last error is raised unchanged.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..errors import ConfigError, ModelError
from ..events import ModelCallRetry
from ..models.base import RETRIED_BY_BATON
from .base import Middleware, ProceedModel

if TYPE_CHECKING:
    from ..context import Context
    from ..events import ModelResponse
    from ..models.base import ModelCall

__all__ = ["Retries", "RetryMiddleware"]


class RetryMiddleware(Middleware):
    """Retry a model call that failed with a retryable ``ModelError``.

    - ``attempts``: calls at most, the first included (``1`` never retries);
    - ``base_delay`` / ``max_delay``: the backoff before attempt ``n + 1`` is drawn from
      ``uniform(0, min(max_delay, base_delay * 2**(n - 1)))``;
    - ``max_time``: seconds from the first attempt after which no retry starts (``None``: no
      time budget). A wait never goes past it: a jittered delay is shortened to fit, and a
      ``retry_after`` that would end past it gives up at once (retrying earlier is futile);
    - ``sleep``, ``random`` (``(low, high) -> float``) and ``clock`` are injectable, so tests
      need not wait for real time.

    The middleware keeps no state between calls, so one instance serves any number of agents
    and conversations.
    """

    def __init__(
        self,
        *,
        attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_time: float | None = 120.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Callable[[float, float], float] = _random.uniform,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"RetryMiddleware(attempts=...) must be at least 1, got {attempts!r}")
        for name, value in (("base_delay", base_delay), ("max_delay", max_delay)):
            if value < 0:
                raise ConfigError(f"RetryMiddleware({name}=...) must be >= 0, got {value!r}")
        if max_time is not None and max_time <= 0:
            raise ConfigError(
                f"RetryMiddleware(max_time=...) must be a positive number of seconds or None, "
                f"got {max_time!r}"
            )
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_time = max_time
        self._sleep = sleep
        self._random = random
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"RetryMiddleware(attempts={self.attempts}, base_delay={self.base_delay}, "
            f"max_delay={self.max_delay}, max_time={self.max_time})"
        )

    def backoff(self, failed_attempt: int) -> float:
        """The jittered delay after attempt number ``failed_attempt`` (1 = the first call)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        return self._random(0.0, ceiling)

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        start = self._clock() if self.max_time is not None else 0.0
        # This layer retries: the provider's SDK doesn't as well (3 attempts = 3 requests).
        retried = RETRIED_BY_BATON.set(True)
        try:
            try:
                return await proceed(call)
            except ModelError as error:
                if not error.retryable or self.attempts == 1:
                    raise
                failure = error
            return await self._retry(call, context, proceed, failure, start)
        finally:
            RETRIED_BY_BATON.reset(retried)

    async def _retry(
        self,
        call: ModelCall,
        context: Context,
        proceed: ProceedModel,
        error: ModelError,
        start: float,
    ) -> ModelResponse:
        attempt = 1  # the number of the attempt that just failed
        while True:
            delay = self._delay(attempt, error, start)
            if delay is None:
                raise error
            await context.emit(
                ModelCallRetry(attempt, delay, type(error).__name__, str(error) or repr(error))
            )
            await self._sleep(delay)
            attempt += 1
            try:
                return await proceed(call)
            except ModelError as next_error:
                if not next_error.retryable or attempt >= self.attempts:
                    raise
                error = next_error

    def _delay(self, attempt: int, error: ModelError, start: float) -> float | None:
        """How long to wait before the next attempt, or ``None`` to give up."""
        delay = self.backoff(attempt)
        retry_after = error.retry_after
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        if self.max_time is None:
            return delay
        remaining = self.max_time - (self._clock() - start)
        if remaining <= 0 or (retry_after is not None and retry_after > remaining):
            return None
        return min(delay, remaining)


Retries = RetryMiddleware
"""An alias of ``RetryMiddleware`` (``baton.errors.Retry`` is the tool-side exception)."""
