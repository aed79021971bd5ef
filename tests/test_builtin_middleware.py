"""The built-in middleware and FallbackModel, driven by ScriptedModel, with fake clocks and
sleeps (nothing here waits for real time)."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from baton import (
    Agent,
    ConfigError,
    Event,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCallResult,
    tool,
)
from baton.errors import (
    AuthenticationFailed,
    InvalidRequest,
    ModelError,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import ModelCallRetry, RateLimitWait, RunFailed, RunStarted
from baton.middleware import RateLimit, RateLimiter, RetryMiddleware
from baton.testing import ScriptedModel, call
from tests.test_agent import kinds


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def highest(low: float, high: float) -> float:
    return high


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- retries ----------------------------------------------------------------------------------


def retrying(time: FakeTime, **options: Any) -> RetryMiddleware:
    options.setdefault("random", highest)
    return RetryMiddleware(sleep=time.sleep, clock=time.clock, **options)


async def test_retry_succeeds_after_two_retryable_errors_and_reports_each_retry():
    time = FakeTime()
    model = ScriptedModel(RateLimited("slow down"), ProviderUnavailable("overloaded"), "done")
    agent = Agent("a", config=model, middleware=[retrying(time, base_delay=0.5)])

    reply = await agent.ask("hi")

    assert reply.text == "done"
    assert model.calls_made == 3
    assert time.sleeps == [0.5, 1.0]  # base * 2**0, base * 2**1 (the jitter's upper bound)
    retries = [e for e in reply.events if isinstance(e, ModelCallRetry)]
    assert retries == [
        ModelCallRetry(1, 0.5, "RateLimited", "slow down"),
        ModelCallRetry(2, 1.0, "ProviderUnavailable", "overloaded"),
    ]
    assert kinds(reply.events)[:5] == [
        RunStarted,
        ModelRequest,
        ModelCallRetry,
        ModelCallRetry,
        ModelResponse,
    ]
    assert reply.usage.requests == 1  # failed attempts carry no usage


async def test_backoff_is_full_jitter_under_an_exponential_cap():
    time = FakeTime()
    drawn: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        drawn.append((low, high))
        return high / 4

    errors = [ModelError("flaky", retryable=True) for _ in range(5)]
    model = ScriptedModel(*errors, "ok")
    retry = RetryMiddleware(
        attempts=6, base_delay=1, max_delay=5, max_time=None, sleep=time.sleep, random=jitter
    )
    agent = Agent("a", config=model, middleware=[retry])

    assert (await agent.ask("hi")).text == "ok"
    assert drawn == [(0, 1), (0, 2), (0, 4), (0, 5), (0, 5)]
    assert time.sleeps == [0.25, 0.5, 1.0, 1.25, 1.25]


async def test_retry_honours_retry_after_when_it_is_longer_than_the_backoff():
    time = FakeTime()
    model = ScriptedModel(
        RateLimited("slow", retry_after=2), RateLimited("slow", retry_after=0.1), "ok"
    )
    agent = Agent("a", config=model, middleware=[retrying(time, base_delay=0.5)])

    reply = await agent.ask("hi")

    assert reply.text == "ok"
    assert time.sleeps == [2, 1.0]  # Retry-After 2 > 0.5; then the backoff 1.0 > 0.1
    assert [e.delay for e in reply.events if isinstance(e, ModelCallRetry)] == [2, 1.0]


@pytest.mark.parametrize(
    "error", [InvalidRequest("bad"), AuthenticationFailed("no key"), ValueError("bug")]
)
async def test_errors_that_are_not_retryable_are_raised_at_once(error: Exception):
    time = FakeTime()
    history = MemoryHistory()
    model = ScriptedModel(error, "never")
    agent = Agent("a", config=model, middleware=[retrying(time)], history=history)

    with pytest.raises(type(error)) as caught:
        await agent.ask("hi", conversation_id="c")

    assert caught.value is error
    assert model.calls_made == 1
    assert time.sleeps == []
    assert kinds(await history.load("c")) == [RunStarted, ModelRequest, RunFailed]


async def test_attempt_budget_exhausted_raises_the_last_error_unchanged():
    time = FakeTime()
    errors = [RateLimited(f"slow {i}", retry_after=1) for i in range(3)]
    history = MemoryHistory()
    model = ScriptedModel(*errors, "never reached")
    agent = Agent("a", config=model, middleware=[retrying(time, attempts=3)], history=history)

    with pytest.raises(RateLimited) as caught:
        await agent.ask("hi", conversation_id="c")

    assert caught.value is errors[-1]
    assert model.calls_made == 3
    assert len(time.sleeps) == 2
    events = await history.load("c")
    assert kinds(events) == [RunStarted, ModelRequest, ModelCallRetry, ModelCallRetry, RunFailed]
    assert events[-1].message == "slow 2"


async def test_time_budget_shortens_the_last_wait_then_gives_up():
    time = FakeTime()
    errors = [ProviderUnavailable(f"down {i}") for i in range(5)]
    model = ScriptedModel(*errors, "never reached")
    retry = retrying(time, attempts=10, base_delay=4, max_delay=4, max_time=5)
    agent = Agent("a", config=model, middleware=[retry])

    with pytest.raises(ProviderUnavailable) as caught:
        await agent.ask("hi")

    assert time.sleeps == [4, 1]  # the second wait is cut to the budget's end
    assert model.calls_made == 3
    assert caught.value is errors[2]


async def test_a_retry_after_beyond_the_time_budget_gives_up_without_waiting():
    time = FakeTime()
    error = RateLimited("come back in a minute", retry_after=60)
    model = ScriptedModel(error, "never reached")
    agent = Agent("a", config=model, middleware=[retrying(time, max_time=10)])

    with pytest.raises(RateLimited) as caught:
        await agent.ask("hi")

    assert caught.value is error
    assert (time.sleeps, model.calls_made) == ([], 1)


async def test_retry_is_stateless_across_concurrent_conversations():
    time = FakeTime()

    def flaky_once(call: Any) -> Any:
        attempts = sum(1 for r in model.requests if r.conversation_id == call.conversation_id)
        return RateLimited("busy") if attempts == 1 else f"ok {call.messages[-1].text}"

    model = ScriptedModel(flaky_once, repeat=True)
    agent = Agent("a", config=model, middleware=[retrying(time)])

    replies = await asyncio.gather(*(agent.ask(str(i)) for i in range(10)))

    assert [r.text for r in replies] == [f"ok {i}" for i in range(10)]
    assert len(time.sleeps) == 10


@pytest.mark.parametrize(
    "options",
    [{"attempts": 0}, {"base_delay": -1}, {"max_time": 0}, {"attempts": True}],
)
def test_retry_options_are_checked(options: dict[str, Any]):
    with pytest.raises(ConfigError, match="RetryMiddleware"):
        RetryMiddleware(**options)


# -- rate limits ------------------------------------------------------------------------------


async def test_rate_limiter_makes_callers_wait_instead_of_failing():
    time = FakeTime()
    limiter = RateLimiter(requests_per_minute=2, clock=time.clock, sleep=time.sleep)
    agent = Agent("a", config=ScriptedModel("ok", repeat=True), middleware=[limiter])

    for _ in range(4):
        assert (await agent.ask("hi")).text == "ok"

    assert time.sleeps == [30.0, 30.0]  # a request every 30 s once the burst of 2 is spent


async def test_two_agents_holding_one_limiter_share_its_budget():
    time = FakeTime()
    limiter = RateLimiter(requests_per_minute=3, clock=time.clock, sleep=time.sleep)
    first = Agent(
        "first", config=ScriptedModel(call("add", a=1, b=2), "3"), tools=[add], middleware=[limiter]
    )
    second = Agent(
        "second", config=ScriptedModel("ok", repeat=True), middleware=[RateLimit(limiter)]
    )
    other = Agent(
        "other",
        config=ScriptedModel("ok", repeat=True),
        middleware=[RateLimiter(requests_per_minute=3, clock=time.clock, sleep=time.sleep)],
    )

    await first.ask("two requests")
    await second.ask("the third")
    assert time.sleeps == []
    await other.ask("its own budget")
    assert time.sleeps == []
    await second.ask("a fourth waits")
    assert time.sleeps == [20.0]


async def test_concurrent_callers_are_served_first_come_first_served():
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the clock stands still: all arrive at once
        waits.append(seconds)
        await asyncio.sleep(0)

    limiter = RateLimiter(requests_per_minute=60, clock=lambda: 0.0, sleep=sleep)
    for _ in range(60):
        await limiter.acquire(1, 0)
    assert waits == []

    await asyncio.gather(*(limiter.acquire(1, 0) for _ in range(3)))

    assert waits == [1.0, 2.0, 3.0]  # each reserves behind the one before: nobody is skipped


async def test_token_budget_waits_for_the_estimate_and_settles_with_real_usage():
    time = FakeTime()
    limiter = RateLimiter(tokens_per_minute=600, clock=time.clock, sleep=time.sleep)

    await limiter.acquire(1, 500)
    await limiter.settle(500, 200)  # the call used less: 300 tokens come back
    await limiter.acquire(1, 350)
    assert time.sleeps == []
    await limiter.acquire(1, 100)  # 50 in debt: 5 s at 10 tokens a second
    assert time.sleeps == [5.0]
    await limiter.acquire(1, 10_000)  # more than a minute's budget: waits for a full bucket
    assert time.sleeps == [5.0, 60.0]


class RecordingLimiter:
    """A user-written Limiter (the protocol a Redis limiter would implement)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int, int]] = []

    async def acquire(self, requests: int, tokens: int) -> None:
        self.log.append(("acquire", requests, tokens))

    async def settle(self, reserved: int, actual: int) -> None:
        self.log.append(("settle", reserved, actual))


async def test_rate_limit_estimates_input_tokens_from_reported_usage_and_settles_it():
    from baton.events import Text
    from baton.harness.tokens import event_tokens, events_tokens

    limiter = RecordingLimiter()
    model = ScriptedModel(call("add", a=1, b=2), "3", "again")
    agent = Agent(
        "a", prompt="You add.", config=model, tools=[add], middleware=[RateLimit(limiter)]
    )

    reply = await agent.ask("1 + 2?")
    await reply.ask("and again?")

    def estimate(messages: Sequence[Event]) -> int:
        """The provider's count for the latest response, plus estimates of what came after."""
        events = list(messages)
        for i in range(len(events) - 1, -1, -1):
            event = events[i]
            if isinstance(event, ModelResponse) and event.usage.input_tokens:
                usage = event.usage
                return usage.input_tokens + usage.output_tokens + events_tokens(events[i + 1 :])
        return events_tokens(events) + event_tokens(ModelRequest((Text("You add."),)))

    expected = [estimate(r.messages) for r in model.requests]
    acquired = [tokens for kind, _, tokens in limiter.log if kind == "acquire"]
    assert acquired == expected
    settled = [(reserved, actual) for kind, reserved, actual in limiter.log if kind == "settle"]
    usages = [e.usage for e in reply.events if isinstance(e, ModelResponse)]
    assert settled[:2] == [
        (expected[i], u.input_tokens + u.output_tokens) for i, u in enumerate(usages)
    ]


async def test_a_failed_call_gives_its_tokens_back_and_cancelled_waiters_their_reservation():
    time = FakeTime()
    limiter = RateLimiter(
        requests_per_minute=10, tokens_per_minute=1000, clock=time.clock, sleep=time.sleep
    )
    agent = Agent("a", config=ScriptedModel(InvalidRequest("no")), middleware=[limiter])
    with pytest.raises(InvalidRequest):
        await agent.ask("a question of some length")
    assert limiter.tokens is not None and limiter.tokens.level == 1000
    assert limiter.requests is not None and limiter.requests.level == 9

    blocked = asyncio.Event()

    async def never(seconds: float) -> None:
        await blocked.wait()

    slow = RateLimiter(requests_per_minute=1, clock=time.clock, sleep=never)
    await slow.acquire()
    waiter = asyncio.create_task(slow.acquire())
    await asyncio.sleep(0)
    assert slow.requests is not None and slow.requests.level == -1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slow.requests.level == 0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"requests_per_minute": 0},
        {"tokens_per_minute": -5},
        {"period": 0, "requests_per_minute": 1},
    ],
)
def test_rate_limiter_options_are_checked(options: dict[str, Any]):
    with pytest.raises(ConfigError, match="RateLimiter"):
        RateLimiter(**options)
    with pytest.raises(ConfigError, match="acquire"):
        RateLimit(object())  # type: ignore[arg-type]


# -- all of them together ---------------------------------------------------------------------


async def test_the_recommended_stack_works_together(caplog: pytest.LogCaptureFixture):
    import logging

    from baton.middleware import HistoryLimit, LoggingMiddleware, UsageLimits

    time = FakeTime()
    limiter = RateLimiter(
        requests_per_minute=2, tokens_per_minute=10_000, clock=time.clock, sleep=time.sleep
    )
    stack = [
        UsageLimits(requests=5, total_tokens=10_000),
        retrying(time),
        LoggingMiddleware("baton.stack"),
        HistoryLimit(max_events=2),
        limiter,
    ]
    model = ScriptedModel(call("add", a=1, b=2), RateLimited("busy"), "3")
    agent = Agent("a", config=model, tools=[add], middleware=stack)

    with caplog.at_level(logging.INFO, logger="baton.stack"):
        reply = await agent.ask("1 + 2?")

    assert reply.text == "3"
    # the backoff, then the third request of the minute waits for its slot
    assert time.sleeps == [0.5, pytest.approx(29.5)]
    assert [r.getMessage().split(" agent=")[0] for r in caplog.records] == [
        "ask started",
        "model call",
        "tool call",
        "model call failed",  # each attempt is logged: logging is inside the retries
        "model call",
        "ask finished",
    ]
    assert kinds(model.last_request.messages) == [ModelRequest, ModelResponse, ToolCallResult]


async def test_a_call_held_back_by_a_limiter_is_announced_with_how_long():
    """Issue 11, point 11: a ``RateLimitWait`` event (live only) says a limiter holds a call
    back, and for how long: before the wait when the limiter knows it, else after it."""
    time = FakeTime()
    limiter = RateLimiter(requests_per_minute=1, clock=time.clock, sleep=time.sleep)
    agent = Agent("a", config=ScriptedModel("ok", repeat=True), middleware=[limiter])
    async with agent.run("one") as run:
        first = [e async for e in run]
    async with agent.run("two") as run:
        second = [e async for e in run]
        reply = await run.result()
    assert not any(isinstance(e, RateLimitWait) for e in first)
    [wait] = [e for e in second if isinstance(e, RateLimitWait)]
    assert (wait.seconds, wait.limiter) == (60.0, "RateLimiter")
    assert not any(isinstance(e, RateLimitWait) for e in reply.events)  # not kept

    class Slow:  # a limiter that can't say how long it will hold a call: 2 s here
        async def acquire(self, requests: int, tokens: int) -> None:
            await time.sleep(2.0)

        async def settle(self, reserved: int, actual: int) -> None:
            return None

    held = Agent("b", config=ScriptedModel("ok"), middleware=[RateLimit(Slow(), clock=time.clock)])
    async with held.run("hi") as run:
        events = [e async for e in run]
    [wait] = [e for e in events if isinstance(e, RateLimitWait)]
    assert (wait.seconds, wait.limiter) == (2.0, "Slow")
