"""RedisRunner in this process: a task delivered more than max_attempts + 2 times goes to the
dead-letter stream with its last error and the outcome retryable_error; a task whose run id is
already answered is acknowledged without running; submit does not queue a finished run id."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
import redis.asyncio
from contract_cases import case_agent, case_spec
from worker_support import eventually, held_step

from baton.errors import BackendUnavailable, ConfigError
from baton.testing import ScriptedModel, call
from baton.worker import Worker
from baton.worker.redis_client import GROUP, RedisKeys, WorkerClient
from baton.worker.redis_runner import RedisRunner


def payload(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "task": "Answer.", "context": {}}


async def test_a_task_delivered_too_often_goes_to_the_dead_letter_stream(
    redis_url: str, prefix: str
) -> None:
    spec = case_spec("never_runs")  # running it would fail: it must not run at all
    keys = RedisKeys(spec.id, prefix)
    client = WorkerClient(redis_url, spec.id, prefix=prefix)
    await client.submit(payload("doomed"))
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        # A consumer that took it and died, after 5 deliveries (crashes count), long idle.
        await raw.xgroup_create(keys.tasks, GROUP, id="0", mkstream=True)
        read: Any = await raw.xreadgroup(GROUP, "ghost", {keys.tasks: ">"}, count=1)
        entry_id = read[0][1][0][0]
        await raw.xclaim(keys.tasks, GROUP, "ghost", 0, [entry_id], idle=60_000, retrycount=5)
        runner = RedisRunner(
            Worker(case_agent("never_runs"), spec), redis_url, prefix=prefix, heartbeat=0.2
        )
        task = asyncio.create_task(runner.run())
        try:
            output = await client.result("doomed", timeout=30)
        finally:
            runner.stop()
            await task
        assert output["status"] == "retryable_error"
        assert "delivered 6 times" in output["result"]["error"]
        assert "max_attempts + 2 = 4" in output["result"]["error"]
        dead = await client.dead_letters()
        assert [d["run_id"] for d in dead] == ["doomed"]
        assert json.loads(dead[0]["payload"]) == payload("doomed")
        assert "delivered 6 times" in dead[0]["error"]
        assert await raw.xlen(keys.tasks) == 0 and await raw.xpending(keys.tasks, GROUP) == {
            "pending": 0,
            "min": None,
            "max": None,
            "consumers": [],
        }
    finally:
        await raw.aclose()


async def test_a_finished_run_id_is_not_queued_or_run_again(redis_url: str, prefix: str) -> None:
    spec = case_spec("once")
    model = ScriptedModel('{"answer": "done"}')
    worker = Worker(spec.agent(config=model), spec)
    runner = RedisRunner(worker, redis_url, prefix=prefix, heartbeat=0.2)
    task = asyncio.create_task(runner.run())
    client = WorkerClient(redis_url, spec.id, prefix=prefix)
    try:
        first = await client.run(payload("r1"), timeout=30)
        assert first["status"] == "ok"
        # queued again by hand (as a duplicate delivery would be): acknowledged, not run
        await client.connector.client().xadd(
            RedisKeys(spec.id, prefix).tasks, {"run_id": "r1", "payload": json.dumps(payload("r1"))}
        )
        assert await client.run(payload("r1"), timeout=30) == first

        async def both_handled() -> bool:
            return runner.handled >= 2

        await eventually(both_handled, what="the duplicate was acknowledged")
        assert model.calls_made == 1
        stored = await client.outcome("r1")
        assert stored is not None and stored.attempts == 1 and stored.usage.requests == 1
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_bad_payload_under_a_running_run_id_does_not_take_its_outcome(
    redis_url: str, prefix: str
) -> None:
    """While ``r1`` runs, a malformed task under the same run id arrives: it is refused
    without writing an outcome, so the run in progress keeps its own (set-if-absent would
    else keep the refusal, and the finished work's answer would be lost)."""
    slow_step, release = held_step()

    spec = case_spec("once")
    model = ScriptedModel(call("slow_step"), '{"answer": "kept"}')
    runner = RedisRunner(
        Worker(spec.agent(config=model, tools=[slow_step]), spec),
        redis_url,
        prefix=prefix,
        heartbeat=0.2,
    )
    task = asyncio.create_task(runner.run())
    client = WorkerClient(redis_url, spec.id, prefix=prefix)
    try:
        await client.submit(payload("r1"))

        async def running() -> bool:
            return model.calls_made == 1

        await eventually(running, what="r1 is running")
        await client.submit({**payload("r1"), "unexpected": True})

        async def refused() -> bool:
            return runner.handled >= 1

        await eventually(refused, what="the malformed duplicate was handled")
        release.set()
        output = await client.result("r1", timeout=30)
        assert output == {"run_id": "r1", "status": "ok", "result": {"answer": "kept"}}
        duplicate = await client.run({**payload("r1"), "unexpected": True}, timeout=30)
        assert duplicate["status"] == "invalid_request"
        assert "different payload" in duplicate["result"]["error"]
    finally:
        release.set()
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_payload_nested_too_deep_to_read_is_an_invalid_request(
    redis_url: str, prefix: str
) -> None:
    spec = case_spec("never_runs")
    runner = RedisRunner(
        Worker(case_agent("never_runs"), spec), redis_url, prefix=prefix, heartbeat=0.2
    )
    task = asyncio.create_task(runner.run())
    client = WorkerClient(redis_url, spec.id, prefix=prefix)
    try:
        deep = "[" * 200_000 + "]" * 200_000
        await client.connector.client().xadd(
            RedisKeys(spec.id, prefix).tasks, {"run_id": "deep", "payload": deep}
        )
        output = await client.result("deep", timeout=30)
        assert output["status"] == "invalid_request"
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_run_id_that_is_not_text_is_refused_and_the_runner_carries_on(
    redis_url: str, prefix: str
) -> None:
    """A task written by hand with a run id of raw bytes neither stops the worker nor comes
    back for ever: it is acknowledged with an invalid_request outcome, and the next task runs."""
    spec = case_spec("once")
    model = ScriptedModel('{"answer": "done"}')
    runner = RedisRunner(
        Worker(spec.agent(config=model), spec), redis_url, prefix=prefix, heartbeat=0.2
    )
    task = asyncio.create_task(runner.run())
    client = WorkerClient(redis_url, spec.id, prefix=prefix)
    try:
        keys = RedisKeys(spec.id, prefix)
        await client.connector.client().xadd(
            keys.tasks, {"run_id": b"\xff\xfe", "payload": json.dumps(payload("x"))}
        )
        assert (await client.run(payload("after"), timeout=30))["status"] == "ok"

        async def both_handled() -> bool:
            return runner.handled >= 2

        await eventually(both_handled, what="the bad task was acknowledged")
        assert await client.connector.client().xlen(keys.tasks) == 0
        assert not task.done()
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_waiting_past_the_timeout_on_a_reachable_redis_says_so_plainly(
    redis_url: str, prefix: str
) -> None:
    client = WorkerClient(redis_url, "nobody-runs-this", prefix=prefix)
    with pytest.raises(TimeoutError) as raised:
        await client.result("never", timeout=0.2)
    assert str(raised.value) == "run 'never' has no outcome after 0.2 s"


async def test_an_error_redis_answers_is_a_backend_error_not_a_redis_py_one(
    redis_url: str,
) -> None:
    wrong_database = redis_url.rsplit("/", 1)[0] + "/999"  # Redis refuses the SELECT
    client = WorkerClient(wrong_database, "nobody-runs-this")
    with pytest.raises(BackendUnavailable, match="DB index"):
        await client.result("never", timeout=1)
    runner = RedisRunner(Worker(case_agent("once"), case_spec("once")), wrong_database)
    with pytest.raises(BackendUnavailable, match="DB index"):
        await runner.run()


def test_runner_and_client_arguments_of_the_wrong_kind_are_named(redis_url: str) -> None:
    spec = case_spec("once")
    worker = Worker(case_agent("once"), spec)
    for option, value in (("heartbeat", "5"), ("block", -1)):
        with pytest.raises(ConfigError, match=f"{option} is a number of seconds, more than 0"):
            RedisRunner(worker, redis_url, **{option: value})
    with pytest.raises(ConfigError, match="Redis is given as a URL"):
        RedisRunner(worker, 6379)  # type: ignore[arg-type]
    # redis-py's blocking client can't be awaited; a URL object is named by its type alone.
    import redis

    with pytest.raises(
        ConfigError, match=r"a redis.asyncio.Redis client .* got redis.client.Redis"
    ):
        RedisRunner(worker, redis.Redis())  # type: ignore[arg-type]

    class Address:
        def __repr__(self) -> str:
            return "redis://:s3cret@db:6379/0"

    with pytest.raises(ConfigError, match=r"got .*Address") as refused:
        RedisRunner(worker, Address())  # type: ignore[arg-type]
    assert "s3cret" not in str(refused.value)
    # The spec itself instead of its id would queue to a stream no worker reads.
    with pytest.raises(ConfigError, match=r"takes the spec's id \(spec.id"):
        WorkerClient(redis_url, spec)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes the spec's id"):
        WorkerClient(redis_url, "specs/triage.yaml")  # a path, not an id: no worker reads it
