"""Triggers: schedules (every, cron) whose ticks fire exactly once across runners sharing Redis,
also after one of them stops; ticks missed while down skipped or caught up; event triggers that
fire once per matching event; and worker processes running a schedule, one of them killed."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from crash_agents import SPEC
from worker_support import ManualClock, WorkerProcess, eventually, write_spec

from baton import MemoryStream
from baton.errors import ConfigError
from baton.events import HumanMessage, TextChunk
from baton.worker.redis_client import RedisKeys
from baton.worker.triggers import Schedule, Tick, Trigger, TriggerRunner

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()


def test_schedules_tick_at_shared_times() -> None:
    every = Schedule.every(60)
    assert every.after(T0 + 5) == T0 + 60 and every.after(T0 + 60) == T0 + 120
    assert list(every.between(T0, T0 + 180)) == [T0 + 60, T0 + 120, T0 + 180]
    cron = Schedule.cron("*/5 * * * *")
    assert cron.after(T0 + 2.5 * 60) == T0 + 5 * 60 and cron.after(T0) == T0 + 5 * 60
    assert Tick("digest", T0 + 300, "k").run_id == "digest@k"
    assert Tick("digest", T0 + 300.25, "k").iso == "2026-12-06T12:05:00.250Z"
    with pytest.raises(ConfigError, match="is not a cron expression"):
        Schedule.cron("every minute")
    with pytest.raises(ConfigError, match="positive number of seconds"):
        Schedule.every(0)


def test_a_trigger_built_from_the_wrong_things_says_what_it_takes() -> None:
    def payload(tick: Tick) -> dict[str, Any]:
        return {"run_id": tick.run_id, "task": "Tick."}

    async def submit(payload: dict[str, Any]) -> None:
        pass

    with pytest.raises(ConfigError, match="takes a cron expression as text"):
        Schedule.cron(5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the schedule is a Schedule"):
        Trigger.scheduled("d", "*/5 * * * *", payload)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="payload is a function of the tick"):
        Trigger.scheduled("d", Schedule.every(5), {"run_id": "d"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="events is an async iterable"):
        Trigger.on_events("e", [1, 2], payload)  # type: ignore[arg-type]
    trigger = Trigger.scheduled("d", Schedule.every(5), payload)
    with pytest.raises(ConfigError, match="takes a list of Triggers"):
        TriggerRunner(trigger, submit)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="submit is an async function of a payload"):
        TriggerRunner([trigger], None)  # type: ignore[arg-type]


def _trigger(**options: Any) -> Trigger:
    def payload(tick: Tick) -> dict[str, Any]:
        return {"run_id": tick.run_id, "task": "Tick.", "context": {"at": tick.iso}}

    return Trigger.scheduled("beat", Schedule.every(1), payload, **options)


async def test_each_tick_fires_once_across_runners_and_after_one_stops(
    redis_url: str, prefix: str
) -> None:
    clock = ManualClock(T0 + 0.5)
    submitted: list[str] = []

    async def submit(payload: dict[str, Any]) -> None:
        submitted.append(payload["run_id"])

    runners = [
        TriggerRunner([_trigger()], submit, redis=redis_url, prefix=prefix, clock=clock)
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in runners]

    async def both_waiting() -> bool:
        return clock.sleeping == 2

    await eventually(both_waiting, what="both runners wait for their first tick")
    try:
        for second in range(1, 6):
            await clock.advance(1)

            async def fired(n: int = second) -> bool:
                return len(submitted) >= n

            await eventually(fired, what=f"tick {second} fired")
        tasks[0].cancel()  # one "process" gone: the other goes on alone
        for second in range(6, 11):
            await clock.advance(1)

            async def fired_alone(n: int = second) -> bool:
                return len(submitted) >= n

            await eventually(fired_alone, what=f"tick {second} fired")
        await asyncio.sleep(0.05)  # room for a duplicate to show up, were there one
        expected = [
            f"beat@{datetime.fromtimestamp(T0 + s, UTC):%Y-%m-%dT%H:%M:%S}Z" for s in range(1, 11)
        ]
        assert sorted(submitted) == expected  # each tick once
        assert sum(len(r.fired) for r in runners) == 10
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("missed", ["skip", "catch_up"])
async def test_ticks_missed_while_down_are_skipped_or_caught_up(
    redis_url: str, prefix: str, missed: str
) -> None:
    submitted: list[str] = []

    async def submit(payload: dict[str, Any]) -> None:
        submitted.append(payload["context"]["at"])

    first = TriggerRunner(
        [_trigger()], submit, redis=redis_url, prefix=prefix, clock=ManualClock(T0)
    )
    assert await first.fire(first.triggers[0], Tick("beat", T0, "2026-12-06T12:00:00Z"))
    # everything down for ten seconds; then a runner starts at T0 + 10.5
    clock = ManualClock(T0 + 10.5)
    later = TriggerRunner(
        [_trigger(missed=missed, catch_up=3)], submit, redis=redis_url, prefix=prefix, clock=clock
    )
    task = asyncio.create_task(later.run())

    async def waiting() -> bool:
        return clock.sleeping == 1

    await eventually(waiting, what="the runner waits for its first tick")
    try:
        await clock.advance(1)

        async def next_tick() -> bool:
            return "2026-12-06T12:00:11Z" in submitted

        await eventually(next_tick, what="the first tick after the start")
        caught = ["2026-12-06T12:00:08Z", "2026-12-06T12:00:09Z", "2026-12-06T12:00:10Z"]
        assert submitted[1:] == (caught if missed == "catch_up" else []) + ["2026-12-06T12:00:11Z"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_event_trigger_fires_once_per_matching_event() -> None:
    stream = MemoryStream()
    submitted: list[dict[str, Any]] = []

    async def submit(payload: dict[str, Any]) -> None:
        submitted.append(payload)

    trigger = Trigger.on_events(
        "human",
        stream.where(HumanMessage),
        lambda tick: {"run_id": tick.run_id, "task": tick.event.text, "context": {}},
        where=lambda event: "urgent" in event.text,
    )
    runner = TriggerRunner([trigger], submit)
    task = asyncio.create_task(runner.run())

    async def watching() -> bool:
        return stream.subscriber_count == 1

    await eventually(watching, what="the trigger watches the stream")
    try:
        for event in (
            HumanMessage("urgent: a"),
            TextChunk("urgent"),
            HumanMessage("calm"),
            HumanMessage("urgent: b"),
        ):
            await stream.send(event)

        async def both() -> bool:
            return len(submitted) == 2

        await eventually(both, what="two matching events fired")
        # Counted after the runner's own id: a restarted runner never reuses one.
        assert [(p["run_id"], p["task"]) for p in submitted] == [
            (f"human@{runner.instance}-1", "urgent: a"),
            (f"human@{runner.instance}-2", "urgent: b"),
        ]
        assert runner.instance != TriggerRunner([], submit).instance
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_runners_watching_one_redis_stream_fire_each_event_once(
    redis_url: str, prefix: str
) -> None:
    from baton.backends.redis import RedisStream, RedisWatcher

    submitted: list[str] = []

    async def submit(payload: dict[str, Any]) -> None:
        submitted.append(payload["run_id"])

    def runner() -> TriggerRunner:
        watcher = RedisWatcher("ops", redis_url, prefix=prefix, from_id="0")
        trigger = Trigger.on_events(
            "ops",
            watcher,
            lambda tick: {"run_id": tick.run_id},
            where=lambda e: isinstance(e, HumanMessage),
        )
        return TriggerRunner([trigger], submit, redis=redis_url, prefix=prefix)

    writer = RedisStream("ops", redis_url, prefix=prefix)
    for text in ("one", "two", "three"):
        await writer.send(HumanMessage(text))
    tasks = [asyncio.create_task(runner().run()) for _ in range(2)]
    try:

        async def three() -> bool:
            return len(submitted) >= 3

        await eventually(three, what="three events fired")
        await asyncio.sleep(0.05)  # room for a duplicate to show up, were there one
        assert len(submitted) == len(set(submitted)) == 3
        assert all(run_id.startswith("ops@") and "-" in run_id for run_id in submitted)  # entry ids
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await writer.aclose()


async def test_worker_processes_run_a_schedule_and_go_on_after_one_is_killed(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    path = write_spec(SPEC, tmp_path)
    env = {"WORKER_TEST_REDIS": redis_url, "WORKER_TEST_PREFIX": prefix}
    extra = ["--every", "0.25", "--task", "Do the step."]
    processes = []
    for _ in range(2):
        process = WorkerProcess(
            path, "crash_agents:stepper", redis_url, prefix, heartbeat=0.3, env=env
        )
        process.args += extra
        processes.append(process.start())
    inspect = redis.asyncio.Redis.from_url(redis_url)
    keys = RedisKeys(SPEC.id, prefix)

    async def ticks() -> list[str]:
        found = [k.decode() async for k in inspect.scan_iter(f"{keys.base}outcome:*")]
        return sorted(k.rsplit("@", 1)[1] for k in found)

    try:

        async def six() -> bool:
            return len(await ticks()) >= 6

        await eventually(six, what="six ticks ran")
        processes[0].kill()  # SIGKILL: the other takes over the schedule (and any task it held)
        before = len(await ticks())

        async def six_more() -> bool:
            return len(await ticks()) >= before + 6

        await eventually(six_more, what="six more ticks ran after the kill")
        assert "stopped after" in processes[1].terminate()
        done = await ticks()
        times = sorted(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in done)
        assert all(round(b - a, 3) == 0.25 for a, b in itertools.pairwise(times)), done
        for key in [k async for k in inspect.scan_iter(f"{keys.base}outcome:*")]:
            assert json.loads(await inspect.get(key))["status"] == "ok"
        # each tick was submitted once: every entry ever added ran (or waits in the stream)
        info = await inspect.xinfo_stream(keys.tasks)
        assert info["entries-added"] == len(done) + await inspect.xlen(keys.tasks)
    finally:
        for process in processes:
            process.kill()
        await inspect.aclose()
