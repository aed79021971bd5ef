"""Ambient runs: triggers that submit work to a worker without a request.

    digest = Trigger.scheduled(
        "digest", Schedule.cron("*/5 * * * *"),
        lambda tick: {"run_id": tick.run_id, "task": "Summarise the queue", "context": {}},
    )
    alerts = Trigger.on_events(
        "alerts", RedisWatcher("ops", url), lambda tick: {...}, where=lambda e: ...,
    )
    runner = TriggerRunner([digest, alerts], submit=client.submit, redis=url)
    await runner.run()

- ``Schedule.every(seconds)`` ticks at whole multiples of ``seconds`` since the epoch (so every
  process agrees on the ticks); ``Schedule.cron("*/5 * * * *")`` at the cron expression's times,
  in UTC (five fields, read by the ``cronsim`` package).
- Each tick has a run id derived from the trigger and the tick (``digest@2026-12-06T11:40:00Z``;
  an event's: ``alerts@<event key>``), so a tick submitted twice is still run once.
- With several processes running the same triggers on one Redis, each tick fires in exactly one
  of them: the first to take the tick's lease (``SET NX``) submits it. Without ``redis`` the
  triggers are this process's alone.
- Ticks missed while every process was down (the last fired tick is kept in Redis): ``missed=
  "skip"`` (the default) fires none of them; ``missed="catch_up"`` fires the most recent ones,
  at most ``catch_up`` (default 10), oldest first, before carrying on.
- An event trigger fires once per matching event of its source (a ``Stream``, a ``StreamView``
  from ``stream.where(...)``, a ``RedisWatcher``: any async iterable of events). Its key, which
  the lease and the run id use, is the Redis entry id for a ``RedisWatcher`` (the same in every
  process watching that stream), else ``key(event)`` if given, else a count of matching events
  after the runner's own random id (``alerts@3f9c2a1b-1``: a restarted process, or another one,
  never takes an earlier event's key).

A process that dies between taking a tick's lease and submitting it loses that tick (the window
is one round trip); a submission that fails is logged and not retried (the next tick comes).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ..backends.redis.connection import Connector, RedisSource
from ..backends.redis.stream import retryable_errors
from ..conversation import new_id
from ..errors import ConfigError
from ..events import Event
from ..redaction import logger
from .requires import require

__all__ = ["Clock", "Schedule", "SystemClock", "Tick", "Trigger", "TriggerRunner"]

log = logger("baton.worker")

Missed = Literal["skip", "catch_up"]

# Take a tick's lease and note it as the trigger's last fired tick (when later than the one
# noted). KEYS: lease, last. ARGV: lease ttl in ms, the tick's time. 1 = this process fires it.
FIRE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
local last = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[2]) > last then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
"""


@dataclass(frozen=True)
class Tick:
    """One firing of a trigger: its ``at`` time (epoch seconds; for an event, when it was
    seen), the ``run_id`` derived from the trigger and the tick, and the ``event`` that
    fired an event trigger."""

    trigger: str
    at: float
    key: str
    event: Event | None = None

    @property
    def run_id(self) -> str:
        """``<trigger>@<tick key>``: the same for a tick in every process."""
        return f"{self.trigger}@{self.key}"

    @property
    def iso(self) -> str:
        """``at`` as ISO 8601 in UTC."""
        return _iso(self.at)


def _iso(at: float) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    text = moment.isoformat(timespec="milliseconds" if at % 1 else "seconds")
    return text.replace("+00:00", "Z")


class Schedule:
    """When a scheduled trigger fires (build with ``Schedule.every`` or ``Schedule.cron``)."""

    def __init__(self, describe: str, following: Callable[[float], float]) -> None:
        self.describe = describe
        self._following = following

    def __repr__(self) -> str:
        return f"Schedule.{self.describe}"

    @classmethod
    def every(cls, seconds: float) -> Schedule:
        """Every ``seconds``, at whole multiples of it since the epoch."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ConfigError(
                f"Schedule.every() takes a positive number of seconds, got {seconds!r}"
            )
        period = float(seconds)

        def following(t: float) -> float:
            return (math.floor(t / period + 1e-9) + 1) * period

        return cls(f"every({seconds!r})", following)

    @classmethod
    def cron(cls, expression: str) -> Schedule:
        """At the times of a five-field cron expression, in UTC."""
        if not isinstance(expression, str):
            raise ConfigError(
                f"Schedule.cron() takes a cron expression as text, e.g. '*/5 * * * *', "
                f"got {expression!r}"
            )
        cronsim = require("cronsim", "worker", "Schedule.cron")
        try:
            cronsim.CronSim(expression, datetime.now(UTC))
        except (cronsim.CronSimError, TypeError) as exc:
            raise ConfigError(
                f"Schedule.cron({expression!r}) is not a cron expression: {exc}"
            ) from None

        def following(t: float) -> float:
            start = datetime.fromtimestamp(math.floor(t), UTC)
            return float(next(cronsim.CronSim(expression, start)).timestamp())

        return cls(f"cron({expression!r})", following)

    def after(self, t: float) -> float:
        """The first tick strictly after ``t``."""
        return self._following(t)

    def between(self, start: float, end: float) -> Iterator[float]:
        """The ticks in ``(start, end]``, oldest first."""
        tick = self.after(start)
        while tick <= end:
            yield tick
            tick = self.after(tick)


Payload = Callable[[Tick], Any]


class Trigger:
    """A named source of ticks and the payload each tick submits (see the module docs)."""

    def __init__(
        self,
        name: str,
        payload: Payload,
        *,
        schedule: Schedule | None = None,
        events: AsyncIterable[Event] | None = None,
        where: Callable[[Event], bool] | None = None,
        key: Callable[[Event], str] | None = None,
        missed: Missed = "skip",
        catch_up: int = 10,
    ) -> None:
        if not name or not isinstance(name, str):
            raise ConfigError("a trigger needs a name (its ticks' run ids start with it)")
        if (schedule is None) == (events is None):
            raise ConfigError(f"trigger {name!r} takes a schedule or events, exactly one")
        if schedule is not None and not isinstance(schedule, Schedule):
            raise ConfigError(
                f"trigger {name!r}: the schedule is a Schedule, e.g. Schedule.cron("
                f"'*/5 * * * *') or Schedule.every(60), got {schedule!r}"
            )
        if events is not None and not hasattr(events, "__aiter__"):
            raise ConfigError(
                f"trigger {name!r}: events is an async iterable of events (a stream, "
                f"stream.where(...), a RedisWatcher), got {events!r}"
            )
        if not callable(payload):
            raise ConfigError(
                f"trigger {name!r}: payload is a function of the tick returning the payload, "
                f"e.g. lambda tick: {{'run_id': tick.run_id, ...}}, got {payload!r}"
            )
        if missed not in ("skip", "catch_up"):
            raise ConfigError(f"trigger {name!r}: missed is 'skip' or 'catch_up', not {missed!r}")
        if not isinstance(catch_up, int) or catch_up < 0:
            raise ConfigError(f"trigger {name!r}: catch_up is a count of ticks, got {catch_up!r}")
        self.name = name
        self.payload = payload
        self.schedule = schedule
        self.events = events
        self.where = where
        self.key = key
        self.missed: Missed = missed
        self.catch_up = catch_up

    @classmethod
    def scheduled(
        cls,
        name: str,
        schedule: Schedule,
        payload: Payload,
        *,
        missed: Missed = "skip",
        catch_up: int = 10,
    ) -> Trigger:
        """Fire at ``schedule``'s ticks."""
        return cls(name, payload, schedule=schedule, missed=missed, catch_up=catch_up)

    @classmethod
    def on_events(
        cls,
        name: str,
        events: AsyncIterable[Event],
        payload: Payload,
        *,
        where: Callable[[Event], bool] | None = None,
        key: Callable[[Event], str] | None = None,
    ) -> Trigger:
        """Fire once per event of ``events`` that ``where`` accepts."""
        return cls(name, payload, events=events, where=where, key=key)

    def __repr__(self) -> str:
        source = self.schedule if self.schedule is not None else type(self.events).__name__
        return f"Trigger({self.name!r}, {source!r})"


class Clock(Protocol):
    """Where triggers read the time and wait for it (``SystemClock``; tests give their own)."""

    def now(self) -> float:
        """The time, in epoch seconds."""
        ...

    async def sleep_until(self, t: float) -> None:
        """Return at epoch time ``t`` (at once if it has passed)."""
        ...


class SystemClock:
    """The wall clock (epoch seconds)."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, t: float) -> None:
        delay = t - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class TriggerRunner:
    """Run ``triggers``, handing each tick's payload to ``submit`` (``worker.run``,
    ``pool.submit``, ``WorkerClient.submit``: any async function of a payload). With ``redis``
    the ticks are shared with every other process running the same triggers under ``prefix``;
    ``lease_seconds``: how long a fired tick is remembered (longer than any clock skew)."""

    def __init__(
        self,
        triggers: list[Trigger],
        submit: Callable[[Any], Awaitable[Any]],
        *,
        redis: RedisSource = None,
        prefix: str = "baton:",
        lease_seconds: float = 86_400.0,
        clock: Clock | None = None,
        shared: bool | None = None,
    ) -> None:
        if isinstance(triggers, Trigger) or not all(isinstance(t, Trigger) for t in triggers):
            raise ConfigError(f"TriggerRunner takes a list of Triggers, got {triggers!r}")
        if not callable(submit):
            raise ConfigError(
                "TriggerRunner's submit is an async function of a payload (worker.run, "
                f"pool.submit, client.submit), got {submit!r}"
            )
        names = [t.name for t in triggers]
        if len(set(names)) != len(names):
            raise ConfigError(f"trigger names must differ (they name the ticks), got {names}")
        self.triggers = list(triggers)
        self.submit = submit
        self.shared = redis is not None if shared is None else shared
        self.connector = Connector(redis) if self.shared else None
        self.prefix = prefix
        self.lease_ms = int(lease_seconds * 1000)
        self.clock: Clock = clock or SystemClock()
        # Counted event keys start with this runner's own id: a count starts again at 1 in a
        # restarted process (or another one), and a key seen before would take the earlier
        # event's lease and stored outcome, so the new event would never run.
        self.instance = new_id()[:8]
        self.fired: list[Tick] = []  # the ticks this process fired (newest 1,000)
        self._local: set[str] = set()  # fired ticks, when not shared
        self._local_last: dict[str, float] = {}
        self._script: Any = None

    def _key(self, trigger: str, part: str) -> str:
        return f"{self.prefix}trigger:{trigger}:{part}"

    async def run(self) -> None:
        """Run every trigger until cancelled."""
        async with asyncio.TaskGroup() as group:
            for trigger in self.triggers:
                if trigger.schedule is not None:
                    group.create_task(self._scheduled(trigger, trigger.schedule))
                else:
                    group.create_task(self._watch(trigger))

    async def _scheduled(self, trigger: Trigger, schedule: Schedule) -> None:
        now = self.clock.now()
        last = await self._last(trigger.name)
        if last is not None and trigger.missed == "catch_up" and trigger.catch_up:
            missed = list(schedule.between(last, now))[-trigger.catch_up :]
            for at in missed:
                await self.fire(trigger, Tick(trigger.name, at, _iso(at)))
        tick = schedule.after(now)
        while True:
            await self.clock.sleep_until(tick)
            await self.fire(trigger, Tick(trigger.name, tick, _iso(tick)))
            tick = schedule.after(tick)

    async def _watch(self, trigger: Trigger) -> None:
        assert trigger.events is not None
        count = 0
        async for event in trigger.events:
            if trigger.where is not None and not trigger.where(event):
                continue
            count += 1
            entry_id = getattr(trigger.events, "last_id", None)
            if trigger.key is not None:
                key = trigger.key(event)
            elif isinstance(entry_id, str) and entry_id:
                key = entry_id
            else:
                key = f"{self.instance}-{count}"
            await self.fire(trigger, Tick(trigger.name, self.clock.now(), key, event))

    async def fire(self, trigger: Trigger, tick: Tick) -> bool:
        """Submit ``tick``'s payload unless another process (or this one) fired it already."""
        if not await self._take(trigger.name, tick):
            return False
        try:
            await self.submit(trigger.payload(tick))
        except Exception as exc:
            log.error("trigger %s: submitting tick %s failed (%s)", trigger.name, tick.key, exc)
            return False
        self.fired.append(tick)
        del self.fired[:-1000]
        return True

    async def _take(self, name: str, tick: Tick) -> bool:
        if self.connector is None:
            if tick.run_id in self._local:
                return False
            self._local.add(tick.run_id)
            if tick.event is None:
                self._local_last[name] = max(self._local_last.get(name, -1.0), tick.at)
            return True
        client = self.connector.client()
        if self._script is None:
            self._script = client.register_script(FIRE)
        keys = [self._key(name, f"tick:{tick.key}"), self._key(name, "last")]
        errors = retryable_errors()
        for attempt in range(50):  # a Redis restarting: about ten seconds
            try:
                at = tick.at if tick.event is None else -1.0  # "last" counts scheduled ticks
                fired = await self._script(keys=keys, args=[self.lease_ms, at], client=client)
                return bool(fired)
            except errors as exc:
                if attempt == 49:
                    log.error(
                        "trigger %s: Redis unreachable, tick %s skipped (%s)", name, tick.key, exc
                    )
                await asyncio.sleep(0.2)
        return False

    async def _last(self, name: str) -> float | None:
        if self.connector is None:
            return self._local_last.get(name)
        with contextlib.suppress(*retryable_errors()):
            raw = await self.connector.client().get(self._key(name, "last"))
            return None if raw is None else float(raw)
        return None
