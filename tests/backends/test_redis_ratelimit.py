"""RedisRateLimiter against a real Redis: token buckets for requests and tokens, debt, settling,
refill by an injected clock, and use as RateLimit middleware."""

from __future__ import annotations

import pytest

from baton import Agent
from baton.backends.redis import RedisRateLimiter
from baton.errors import ConfigError
from baton.middleware.ratelimit import Limiter
from baton.testing import ScriptedModel


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(url: str, prefix: str, clock: Clock, **figures: float) -> RedisRateLimiter:
    return RedisRateLimiter("p", redis=url, prefix=prefix, clock=clock, **figures)  # type: ignore[arg-type]


async def test_requests_refill_with_time(redis_url: str, prefix: str) -> None:
    clock = Clock()
    limiter = make(redis_url, prefix, clock, requests_per_minute=6)
    assert isinstance(limiter, Limiter)
    assert [await limiter.reserve() for _ in range(6)] == [0.0] * 6
    assert await limiter.reserve() == pytest.approx(10.0)  # one request every 10 s
    assert await limiter.reserve() == pytest.approx(20.0)  # in debt: first come first served
    clock.now += 30
    assert await limiter.reserve() == 0.0
    other = make(redis_url, prefix, clock, requests_per_minute=6)  # another process's object
    assert await other.reserve() == pytest.approx(10.0)  # shares the same budget


async def test_tokens_are_settled_with_actual_usage(redis_url: str, prefix: str) -> None:
    clock = Clock()
    limiter = make(redis_url, prefix, clock, tokens_per_minute=600)
    assert await limiter.reserve(1, 500) == 0.0
    await limiter.settle(500, 100)  # used less: 400 back
    assert await limiter.reserve(1, 450) == 0.0  # 500 - 450 = 50 left
    await limiter.settle(450, 750)  # used more: 300 more taken, 250 in debt
    assert await limiter.reserve(1, 1) == pytest.approx(251 / 10)  # 10 tokens a second
    await limiter.reset()
    assert await limiter.reserve(1, 600) == 0.0


async def test_acquire_waits_through_the_injected_sleep(redis_url: str, prefix: str) -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    limiter = RedisRateLimiter(
        "p", redis=redis_url, prefix=prefix, requests_per_minute=60, clock=clock, sleep=sleep
    )
    for _ in range(62):
        await limiter.acquire()
    assert slept == [pytest.approx(1.0), pytest.approx(1.0)]


async def test_it_is_rate_limit_middleware(redis_url: str, prefix: str) -> None:
    clock = Clock()
    limiter = make(redis_url, prefix, clock, requests_per_minute=10, tokens_per_minute=10_000)
    agent = Agent("a", config=ScriptedModel("hi", "again"), middleware=[limiter])
    reply = await agent.ask("hello")
    await reply.ask("more")
    assert await limiter.reserve() == 0.0  # 2 of 10 requests used, plus this one
    for _ in range(7):
        await limiter.reserve()
    assert await limiter.reserve() > 0


def test_figures_are_checked() -> None:
    with pytest.raises(ConfigError, match="requests_per_minute"):
        RedisRateLimiter("p")
    with pytest.raises(ConfigError, match="> 0"):
        RedisRateLimiter("p", requests_per_minute=0)
