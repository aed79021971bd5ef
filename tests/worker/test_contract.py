"""The contract table, on every runner: the same run id twice runs once; an extra input field is
``invalid_request`` without running; a provider error on attempt 1 is retried to ``ok``; a tool
that waits past the limit ends ``retryable_error`` after ``max_attempts``; an answer that never
fits the schema is ``invalid_output``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_cases import SLOW_LIMIT
from worker_runners import DBOSRunner, HTTPFront, InProcess, Pool, RedisProcess, Runner

RUNNERS = ["worker", "pool", "redis", "http", "dbos"]


@pytest.fixture(params=RUNNERS)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    made: Runner
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
        made = RedisProcess(url, prefix, tmp_path)
    elif request.param == "dbos":
        made = DBOSRunner(request.getfixturevalue("postgres_server"))
    else:
        made = {"worker": InProcess, "pool": Pool, "http": HTTPFront}[request.param]()
    yield made
    made.close()


@pytest.fixture(autouse=True)
async def stopped(runner: Runner) -> AsyncIterator[None]:
    """Each runner is stopped in the test's own event loop."""
    yield
    await runner.stop()


def payload(run_id: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "task": "Answer.", "context": {"n": 1}, **extra}


async def test_the_same_run_id_twice_runs_once(runner: Runner) -> None:
    await runner.start("once")  # a second run would exhaust its one-answer script
    first = await runner.run(payload("r1"))
    assert first == {"run_id": "r1", "status": "ok", "result": {"answer": "done"}}
    assert await runner.run(payload("r1")) == first
    other = await runner.run(payload("r1", task="Something else."))
    assert other["status"] == "invalid_request"
    assert "different payload" in other["result"]["error"]


async def test_an_extra_input_field_is_an_invalid_request_that_never_runs(runner: Runner) -> None:
    await runner.start("never_runs")  # running at all would fail (its script is empty)
    output = await runner.run(payload("r2", priority="high"))
    assert output["run_id"] == "r2" and output["status"] == "invalid_request"
    assert set(output) == {"run_id", "status", "result"}
    assert "priority" in str(output["result"]["details"])


async def test_a_provider_error_on_attempt_one_is_retried_to_ok(runner: Runner) -> None:
    await runner.start("flaky")
    output = await runner.run(payload("r3"))
    assert output == {"run_id": "r3", "status": "ok", "result": {"answer": "done"}}


async def test_a_tool_waiting_past_the_limit_ends_retryable_after_max_attempts(
    runner: Runner,
) -> None:
    await runner.start("slow")
    output = await runner.run(payload("r4"))
    assert output["status"] == "retryable_error"
    result = output["result"]
    assert result["retryable"] is True and result["details"] == {
        "type": "TimeoutError",
        "attempts": 2,
    }
    assert f"within {SLOW_LIMIT:g} s" in result["error"]


async def test_an_answer_that_never_fits_is_invalid_output(runner: Runner) -> None:
    await runner.start("unfit")
    output = await runner.run(payload("r5"))
    assert output["status"] == "invalid_output"
    assert "answer: 42 is not of type 'string'" in output["result"]["details"]
