"""The Redis runner with real worker processes: one SIGKILLed mid-task (its task is finished by
the other, every outcome stored once), Redis restarted mid-run, a clean stop on SIGTERM, and a
task that keeps killing its workers sent to the dead-letter stream."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import redis.asyncio
from crash_agents import SPEC
from worker_support import WorkerProcess, eventually, write_spec

from baton.worker.redis_client import RedisKeys, WorkerClient

RUN_IDS = [f"r{i:02d}" for i in range(20)]


def payload(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "task": "Do the step.", "context": {}}


def worker(tmp_path: Path, url: str, prefix: str, **env: str) -> WorkerProcess:
    test_env = {"WORKER_TEST_REDIS": url, "WORKER_TEST_PREFIX": prefix, **env}
    path = write_spec(SPEC, tmp_path)
    return WorkerProcess(path, "crash_agents:stepper", url, prefix, heartbeat=0.3, env=test_env)


async def started(client: redis.asyncio.Redis, prefix: str) -> list[tuple[str, int]]:
    """Each ``(run id, pid)`` that began the task's step, in order."""
    notes = await client.lrange(f"{prefix}started", 0, -1)
    return [(n.decode().split(":")[0], int(n.decode().split(":")[1])) for n in notes]


async def outcome_keys(client: redis.asyncio.Redis, prefix: str) -> list[bytes]:
    return [k async for k in client.scan_iter(f"{RedisKeys(SPEC.id, prefix).base}outcome:*")]


async def test_a_worker_killed_mid_task_has_its_task_finished_by_the_other(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    hanging = worker(tmp_path, redis_url, prefix, WORKER_TEST_HANG="1").start()
    other = worker(tmp_path, redis_url, prefix)
    inspect = redis.asyncio.Redis.from_url(redis_url)
    try:
        client = WorkerClient(redis_url, SPEC.id, prefix=prefix)
        for run_id in RUN_IDS:
            await client.submit(payload(run_id))
        assert hanging.process is not None
        killed_pid = hanging.process.pid

        async def hanging_is_mid_task() -> bool:
            return any(pid == killed_pid for _, pid in await started(inspect, prefix))

        await eventually(hanging_is_mid_task, what="the hanging worker took a task")
        other.start()
        hanging.kill()  # SIGKILL, mid-task
        outputs = [await client.result(run_id, timeout=60) for run_id in RUN_IDS]
        assert other.process is not None
        survivor = str(other.process.pid)
        assert all(o["status"] == "ok" for o in outputs), outputs
        assert all(o["result"] == {"answer": survivor} for o in outputs)
        notes = await started(inspect, prefix)
        killed_tasks = {run_id for run_id, pid in notes if pid == killed_pid}
        assert killed_tasks  # and each was started again, and finished, by the survivor
        assert all((run_id, int(survivor)) in notes for run_id in killed_tasks)
        assert len(await outcome_keys(inspect, prefix)) == 20
        assert sorted(r for r, pid in notes if pid == int(survivor)) == RUN_IDS  # once each
        assert await inspect.xlen(RedisKeys(SPEC.id, prefix).tasks) == 0  # all acknowledged
        assert "stopped after 20 tasks" in other.terminate()
    finally:
        hanging.kill()
        other.kill()
        await inspect.aclose()


async def test_the_workers_ride_out_a_redis_restart(own_redis: Any, tmp_path: Path) -> None:
    own_redis.stop()
    own_redis.durable = True  # the append-only file keeps every write across the restart
    own_redis.start()
    url, prefix = own_redis.url, "wr:"
    workers = [worker(tmp_path, url, prefix, WORKER_TEST_GATE="1").start() for _ in range(2)]
    inspect = redis.asyncio.Redis.from_url(url)
    try:
        client = WorkerClient(url, SPEC.id, prefix=prefix)
        for run_id in RUN_IDS:
            await client.submit(payload(run_id))

        async def tasks_in_hand() -> bool:
            return len(await started(inspect, prefix)) >= 2  # waiting at the gate

        await eventually(tasks_in_hand, what="two tasks were taken")
        await inspect.aclose()
        own_redis.stop()  # SIGKILL mid-run
        own_redis.start()
        inspect = redis.asyncio.Redis.from_url(url)
        await inspect.set(f"{prefix}gate", "open")
        outputs = [await client.result(run_id, timeout=120) for run_id in RUN_IDS]
        assert [o["status"] for o in outputs] == ["ok"] * 20
        assert len(await outcome_keys(inspect, prefix)) == 20
        stored = [json.loads(await inspect.get(k)) for k in await outcome_keys(inspect, prefix)]
        assert sorted(s["run_id"] for s in stored) == RUN_IDS
        assert await inspect.xlen(RedisKeys(SPEC.id, prefix).tasks) == 0
        finished = sum(int(w.terminate().rsplit("after ", 1)[1].split()[0]) for w in workers)
        assert finished >= 20  # each outcome written once; a duplicate delivery only acked
    finally:
        for w in workers:
            w.kill()
        await inspect.aclose()


async def stop_with_a_task_in_hand(
    process: Any, client: WorkerClient, inspect: redis.asyncio.Redis, prefix: str
) -> str:
    """Submit the task "held" (it waits at the gate), wait until ``process`` has it in hand,
    send SIGTERM: what the worker printed then."""
    await client.submit(payload("held"))

    async def task_in_hand() -> bool:
        return bool(await started(inspect, prefix))

    await eventually(task_in_hand, what="the task was taken")
    assert process.process is not None and process.process.stdout is not None
    process.process.send_signal(signal.SIGTERM)
    return str(await asyncio.to_thread(process.process.stdout.readline))


async def test_a_second_sigterm_stops_at_once_and_another_worker_takes_the_task(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # It used to wait for the task in hand however many times it was told to stop.
    process = worker(tmp_path, redis_url, prefix, WORKER_TEST_GATE="1").start()
    other = None
    inspect = redis.asyncio.Redis.from_url(redis_url)
    try:
        client = WorkerClient(redis_url, SPEC.id, prefix=prefix)
        line = await stop_with_a_task_in_hand(process, client, inspect, prefix)
        assert "signal again to stop at once" in line
        assert process.process is not None
        process.process.send_signal(signal.SIGTERM)
        out, _ = process.process.communicate(timeout=60)
        assert process.process.returncode == 128 + signal.SIGTERM
        assert "stopped at once: its 1 tasks in hand will be taken again" in out
        assert await client.outcome("held") is None  # not finished, not lost:
        other = worker(tmp_path, redis_url, prefix, WORKER_TEST_GATE="1").start()
        await inspect.set(f"{prefix}gate", "open")
        assert (await client.result("held", timeout=60))["status"] == "ok"
    finally:
        process.kill()
        if other is not None:
            other.kill()
        await inspect.aclose()


async def test_sigterm_finishes_the_task_in_hand_then_stops(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    process = worker(tmp_path, redis_url, prefix, WORKER_TEST_GATE="1").start()
    inspect = redis.asyncio.Redis.from_url(redis_url)
    try:
        client = WorkerClient(redis_url, SPEC.id, prefix=prefix)
        line = await stop_with_a_task_in_hand(process, client, inspect, prefix)
        assert "stopping: finishing 1 tasks in hand" in line
        assert process.process is not None
        await client.submit(payload("later"))  # arrives after the stop: not taken
        await inspect.set(f"{prefix}gate", "open")
        out, _ = process.process.communicate(timeout=60)
        assert process.process.returncode == 0
        assert "stopped after 1 tasks" in out
        assert (await client.result("held", timeout=5))["status"] == "ok"
        assert await client.outcome("later") is None
        assert await inspect.xlen(RedisKeys(SPEC.id, prefix).tasks) == 1
    finally:
        process.kill()
        await inspect.aclose()
