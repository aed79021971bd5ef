"""Worker: what the stored outcome carries, failures that retrying can't fix, a run in progress
waited for, every attempt's events on the given stream, the run id and attempt injected into
tools, a valid history after a timed-out attempt, outcomes kept in each Storage backend."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import pytest
from contract_cases import OUTPUT, RESULT, case_spec, wait_forever
from worker_support import held_step, open_storage

from baton import Agent, Context, Inject, MemoryHistory, MemoryStream, tool
from baton.errors import AuthenticationFailed, ConfigError, ProviderUnavailable
from baton.events import Data, Event, ModelRequest, RunFailed, RunFinished, RunStarted, Text
from baton.testing import ScriptedModel, call
from baton.worker import DEFAULT_OUTPUT_SCHEMA, Outcome, Worker, WorkerPool, WorkerSpec, WorkItem

SPEC = WorkerSpec("answers", output_schema=OUTPUT, timeout_seconds=20)


def payload(run_id: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "task": "Answer.", "context": {"n": 1}, **extra}


async def test_the_stored_outcome_carries_attempts_duration_and_usage() -> None:
    model = ScriptedModel(ProviderUnavailable("overloaded", status=503), '{"answer": "done"}')
    worker = Worker(SPEC.agent(config=model), SPEC, retry_delay=0)
    assert await worker.outcome("r1") is None
    output = await worker.run(payload("r1"))
    stored = await worker.outcome("r1")
    assert stored is not None and stored.output == output
    assert stored.attempts == 2 and stored.duration > 0
    assert stored.usage.requests == 1 and stored.usage.input_tokens > 0
    # the task's text and the rest of the payload reached the model
    assert model.last_request.messages[-1] == ModelRequest(
        (Text("Answer."), Data({"context": {"n": 1}}))
    )


@pytest.mark.parametrize("with_failed", [False, True])
async def test_a_failure_retrying_cannot_fix_ends_at_once(with_failed: bool) -> None:
    statuses = ["ok", "retryable_error", "invalid_request", "invalid_output"]
    output_schema = {
        **OUTPUT,
        "properties": {
            **OUTPUT["properties"],
            "status": {"enum": statuses + ["failed"] * with_failed},
        },
    }
    spec = WorkerSpec("auth", output_schema=output_schema, max_attempts=3)
    model = ScriptedModel(AuthenticationFailed("bad key", status=401), '{"answer": "never"}')
    worker = Worker(spec.agent(config=model), spec, retry_delay=0)
    output = await worker.run(payload("r1"))
    assert model.calls_made == 1  # not retried
    assert output["status"] == ("failed" if with_failed else "retryable_error")
    assert output["result"]["retryable"] is False
    assert output["result"]["details"] == {"type": "AuthenticationFailed", "attempts": 1}


async def test_a_run_in_progress_is_waited_for_and_its_outcome_shared() -> None:
    started = asyncio.Event()
    slow_step, release = held_step(started)

    model = ScriptedModel(call("slow_step"), '{"answer": "done"}')
    worker = Worker(SPEC.agent(config=model, tools=[slow_step]), SPEC)
    first = asyncio.create_task(worker.run(payload("r1")))
    await started.wait()
    second = asyncio.create_task(worker.run(payload("r1")))
    different = await worker.run(payload("r1", task="Other."))  # answered while in progress
    release.set()
    assert (
        await first
        == await second
        == {"run_id": "r1", "status": "ok", "result": {"answer": "done"}}
    )
    assert different["status"] == "invalid_request"
    assert model.calls_made == 2  # one run: the tool call, then the answer


async def test_every_attempts_events_go_to_the_stream() -> None:
    model = ScriptedModel(ProviderUnavailable("overloaded", status=503), '{"answer": "done"}')
    worker = Worker(SPEC.agent(config=model), SPEC, retry_delay=0)
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    await worker.run(payload("r1"), stream=stream)
    kinds = [type(e) for e in seen if isinstance(e, RunStarted | RunFailed | RunFinished)]
    assert kinds == [RunStarted, RunFailed, RunStarted, RunFinished]


async def test_tools_get_the_run_id_and_attempt_to_be_idempotent() -> None:
    noted: list[tuple[str, int, WorkItem | None]] = []

    @tool
    def note(context: Context, work: Annotated[WorkItem, Inject()]) -> str:
        """Note the work item."""
        noted.append((work.run_id, work.attempt, context.work))
        return "noted"

    model = ScriptedModel(
        call("note"), ProviderUnavailable("down", status=503), call("note"), '{"answer": "ok"}'
    )
    worker = Worker(SPEC.agent(config=model, tools=[note]), SPEC, retry_delay=0)
    assert (await worker.run(payload("job-7")))["status"] == "ok"
    assert noted == [("job-7", 1, WorkItem("job-7", 1)), ("job-7", 2, WorkItem("job-7", 2))]
    stored = await worker.outcome("job-7")
    assert stored is not None and stored.usage.requests == 3  # the failed attempt's call too


async def test_a_timed_out_attempt_leaves_a_valid_history(valid_history: Any) -> None:
    history = MemoryHistory()
    spec = case_spec("slow")
    model = ScriptedModel(call("wait_forever"), repeat=True)
    agent = spec.agent(config=model, tools=[wait_forever], history=history)
    output = await Worker(agent, spec, retry_delay=0).run(payload("r1"))
    assert output["status"] == "retryable_error"
    for attempt in (1, 2):
        events = await history.load(f"worker:{spec.id}:r1:{attempt}")
        valid_history(events)
        assert isinstance(events[-1], RunFailed) and events[-1].error_type == "Cancelled"
    again = Agent("again", config=ScriptedModel("fine"), history=history)
    reply = await again.ask("next", conversation_id=f"worker:{spec.id}:r1:1")
    assert reply.text == "fine"
    valid_history(reply.events)


async def test_retention_is_kept_with_the_outcome_and_pruned() -> None:
    spec = WorkerSpec("kept", output_schema=OUTPUT, retention_seconds=60)
    worker = Worker(spec.agent(config=ScriptedModel('{"answer": "a"}')), spec)
    await worker.run(payload("new"))
    record = await worker.storage.get("worker:kept:outcome:new")
    assert record["expires_at"] == pytest.approx(record["finished_at"] + 60)
    old = Outcome("old", "ok", {"answer": "b"}, finished_at=time.time() - 120)
    await worker.outcomes.put(old)
    assert await worker.outcomes.prune() == 1
    assert await worker.outcome("old") is None and await worker.outcome("new") is not None


async def test_a_payload_without_a_run_id_is_an_invalid_request() -> None:
    model = ScriptedModel()
    worker = Worker(SPEC.agent(config=model), SPEC)
    for bad in ({"task": "x"}, {"run_id": 3, "task": "x"}, ["not", "an", "object"], None):
        output = await worker.run(bad)
        assert output["status"] == "invalid_request" and output["run_id"] == ""
    assert model.calls_made == 0


def test_a_worker_needs_a_spec_and_an_agent() -> None:
    with pytest.raises(ConfigError, match="takes a WorkerSpec"):
        Worker(SPEC.agent(config=ScriptedModel()), {"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes an Agent"):
        Worker("agent", SPEC)


def test_retry_and_wait_seconds_that_are_not_seconds_are_named() -> None:
    agent = SPEC.agent(config=ScriptedModel())
    for option, value in (("retry_delay", "1"), ("max_retry_delay", -1), ("wait_seconds", -5)):
        with pytest.raises(ConfigError, match=f"{option} is a number of seconds, 0 or more"):
            Worker(agent, SPEC, **{option: value})


async def test_outcomes_live_in_the_agents_storage_backend(store: str) -> None:
    storage = open_storage(store)
    first = Worker(SPEC.agent(config=ScriptedModel('{"answer": "stored"}'), storage=storage), SPEC)
    output = await first.run(payload("r1"))
    # another worker (as in another process) on the same storage answers without running
    idle = ScriptedModel()
    second = Worker(SPEC.agent(config=idle, storage=open_storage(store)), SPEC)
    assert await second.run(payload("r1")) == output
    assert idle.calls_made == 0
    stored = await second.outcome("r1")
    assert stored is not None and stored.result == {"answer": "stored"}


async def test_a_run_in_progress_in_another_worker_is_waited_for_through_the_history_claim(
    redis_url: str, prefix: str
) -> None:
    from baton.backends.redis import RedisHistory, RedisStorage

    started = asyncio.Event()
    slow_step, release = held_step(started)

    def worker(model: ScriptedModel) -> Worker:
        # separate history and storage objects: as two processes would have
        agent = SPEC.agent(
            config=model,
            tools=[slow_step],
            history=RedisHistory(redis_url, prefix=prefix),
            storage=RedisStorage(redis_url, prefix=prefix),
        )
        return Worker(agent, SPEC)

    busy, idle = ScriptedModel(call("slow_step"), '{"answer": "done"}'), ScriptedModel()
    first = asyncio.create_task(worker(busy).run(payload("r1")))
    await started.wait()
    second = asyncio.create_task(worker(idle).run(payload("r1")))
    release.set()
    assert await first == await second
    assert (await second)["status"] == "ok" and idle.calls_made == 0


def test_default_output_schema_is_the_contract() -> None:
    assert set(DEFAULT_OUTPUT_SCHEMA["properties"]) == {"run_id", "status", "result"}
    assert RESULT["required"] == ["answer"]


async def test_a_pool_keeps_a_run_in_progress_when_its_run_id_comes_again() -> None:
    """Another submission under a run id in progress gets its own answer (another payload:
    ``invalid_request``) and neither hides the run from ``result`` nor from ``join``."""
    slow_step, release = held_step()

    model = ScriptedModel(call("slow_step"), '{"answer": "kept"}')
    worker = Worker(SPEC.agent(config=model, tools=[slow_step]), SPEC)
    async with WorkerPool(worker, concurrency=4) as pool:
        await pool.submit(payload("r1"))
        other = await pool.run({**payload("r1"), "task": "Something else."})
        assert other["status"] == "invalid_request"
        assert pool.running("r1")
        release.set()
        await pool.join()
        assert (await worker.outcome("r1")) is not None
        assert await pool.result("r1") == {
            "run_id": "r1",
            "status": "ok",
            "result": {"answer": "kept"},
        }
