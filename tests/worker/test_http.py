"""The HTTP front: a token by default, 202 and GET /runs/{run_id} for runs started with
``Prefer: respond-async``, bad bodies answered as invalid requests, and the serve command's
loopback rule for running without a token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from contract_cases import OUTPUT
from serving import uvicorn_serving
from worker_support import held_step

from baton.testing import ScriptedModel, call
from baton.worker import Worker, WorkerSpec
from baton.worker.http import WorkerApp

SPEC = WorkerSpec("served", output_schema=OUTPUT)


def payload(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "task": "Answer.", "context": {}}


async def test_requests_need_the_token() -> None:
    app = WorkerApp(Worker(SPEC.agent(config=ScriptedModel('{"answer": "a"}')), SPEC))
    assert app.token is not None and app.token not in repr(app)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        refused = await http.post("/runs", json=payload("r1"))
        assert refused.status_code == 401 and "bearer token" in refused.text
        wrong = await http.post(
            "/runs", json=payload("r1"), headers={"authorization": "Bearer " + "x" * 40}
        )
        assert wrong.status_code == 401
        answered = await http.post(
            "/runs", json=payload("r1"), headers={"authorization": f"Bearer {app.token}"}
        )
        assert answered.json() == {"run_id": "r1", "status": "ok", "result": {"answer": "a"}}


async def test_an_async_run_answers_202_then_its_output() -> None:
    slow_step, release = held_step()

    model = ScriptedModel(call("slow_step"), '{"answer": "late"}')
    app = WorkerApp(Worker(SPEC.agent(config=model, tools=[slow_step]), SPEC), no_token=True)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        accepted = await http.post("/runs", json=payload("r1"), headers={"prefer": "respond-async"})
        assert accepted.status_code == 202
        assert accepted.json() == {"run_id": "r1", "status": "accepted"}
        assert accepted.headers["location"] == "/runs/r1"
        running = await http.get("/runs/r1")
        assert running.status_code == 202 and running.json()["status"] == "running"
        release.set()
        await app.pool.join()
        done = await http.get("/runs/r1")
        assert done.status_code == 200
        assert done.json() == {"run_id": "r1", "status": "ok", "result": {"answer": "late"}}
        assert (await http.get("/runs/unknown")).status_code == 404


async def test_a_body_that_is_not_json_is_an_invalid_request() -> None:
    model = ScriptedModel()
    app = WorkerApp(Worker(SPEC.agent(config=model), SPEC), no_token=True, max_body=64)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        broken = await http.post("/runs", content=b"{not json")
        assert broken.status_code == 400 and broken.json()["status"] == "invalid_request"
        big = await http.post("/runs", json={"run_id": "r", "task": "x" * 100})
        assert big.status_code == 413 and big.json()["status"] == "invalid_request"

        async def chunked() -> AsyncIterator[bytes]:  # no content-length: counted as read
            for _ in range(10):
                yield b"x" * 20

        streamed = await http.post("/runs", content=chunked())
        assert streamed.status_code == 413
        no_id = await http.post("/runs", json={"task": "x"})
        assert no_id.json()["status"] == "invalid_request"
    assert model.calls_made == 0


async def test_an_unreachable_store_is_a_retryable_error_not_a_500() -> None:
    """The outcomes' store is down: the contract's ``retryable_error``, with a 503 and the
    store's own error, for a waited-for run and for one started with respond-async."""
    from baton.backends.redis import RedisStorage

    down = RedisStorage("redis://127.0.0.1:1/0")
    app = WorkerApp(
        Worker(SPEC.agent(config=ScriptedModel('{"answer": "a"}')), SPEC, storage=down),
        no_token=True,
    )
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        waited = await http.post("/runs", json=payload("r1"))
        assert waited.status_code == 503
        body = waited.json()
        assert body["run_id"] == "r1" and body["status"] == "retryable_error"
        assert "could not use Redis" in body["result"]["error"]
        assert body["result"]["retryable"] is True
        accepted = await http.post("/runs", json=payload("r2"), headers={"prefer": "respond-async"})
        assert accepted.status_code == 202
        await app.pool.join()
        later = await http.get("/runs/r2")
        assert later.status_code == 503 and later.json()["status"] == "retryable_error"


async def test_another_payload_under_a_running_run_id_leaves_that_run_alone() -> None:
    """While ``r1`` runs (started with respond-async), a POST of another payload under
    ``r1`` is told ``invalid_request``; ``GET /runs/r1`` still follows the run, which ends
    with its own output (it was neither dropped from the pool nor cancelled at shutdown)."""
    slow_step, release = held_step()

    model = ScriptedModel(call("slow_step"), '{"answer": "kept"}')
    app = WorkerApp(Worker(SPEC.agent(config=model, tools=[slow_step]), SPEC), no_token=True)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        accepted = await http.post("/runs", json=payload("r1"), headers={"prefer": "respond-async"})
        assert accepted.status_code == 202
        other = await http.post("/runs", json={**payload("r1"), "task": "Something else."})
        assert other.json()["status"] == "invalid_request"
        assert "different payload" in other.json()["result"]["error"]
        running = await http.get("/runs/r1")
        assert running.status_code == 202 and running.json()["status"] == "running"
        release.set()
        await app.pool.join()
        done = await http.get("/runs/r1")
        assert done.json() == {"run_id": "r1", "status": "ok", "result": {"answer": "kept"}}
    assert await app.worker.outcome("r1") is not None


async def test_a_body_nested_too_deep_to_read_is_an_invalid_request() -> None:
    model = ScriptedModel()
    app = WorkerApp(Worker(SPEC.agent(config=model), SPEC), no_token=True)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        deep = await http.post("/runs", content=b"[" * 200_000 + b"]" * 200_000)
        assert deep.status_code == 400 and deep.json()["status"] == "invalid_request"
        assert "nested too deeply" in deep.json()["result"]["error"]
    assert model.calls_made == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"run_id": "\\ud800", "task": "Answer.", "context": {}}',
        b'{"run_id": "r1", "task": "Answer \\udc00", "context": {}}',
    ],
)
async def test_a_lone_surrogate_escape_is_an_invalid_request(body: bytes) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud800"): no UTF-8 answer or store can carry
    it, so the body is refused as it is read, and the next request is answered."""
    model = ScriptedModel('{"answer": "a"}')
    app = WorkerApp(Worker(SPEC.agent(config=model), SPEC), no_token=True)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        refused = await http.post("/runs", content=body)
        assert refused.status_code == 400 and refused.json()["status"] == "invalid_request"
        assert "lone surrogate escape" in refused.json()["result"]["error"]
        answered = await http.post("/runs", json=payload("r2"))
        assert answered.json() == {"run_id": "r2", "status": "ok", "result": {"answer": "a"}}


async def test_a_run_id_with_slashes_and_spaces_is_found_at_its_location() -> None:
    model = ScriptedModel('{"answer": "a"}')
    app = WorkerApp(Worker(SPEC.agent(config=model), SPEC), no_token=True)
    run_id = "team/42 #1?x=é"
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        accepted = await http.post(
            "/runs", json=payload(run_id), headers={"prefer": "respond-async"}
        )
        assert accepted.status_code == 202
        await app.pool.join()
        done = await http.get(accepted.headers["location"])
        assert done.status_code == 200 and done.json()["run_id"] == run_id
        assert done.json()["status"] == "ok"


async def stopping_with_a_run_in_hand() -> tuple[WorkerApp, asyncio.Event, asyncio.Task[Any]]:
    """An app whose lifespan is ending while run "r1" (accepted, held in its tool until
    ``release`` is set) is in progress: the app, ``release`` and the lifespan's ending."""
    started = asyncio.Event()
    slow_step, release = held_step(started)
    model = ScriptedModel(call("slow_step"), '{"answer": "finished"}', repeat=True)
    app = WorkerApp(Worker(SPEC.agent(config=model, tools=[slow_step]), SPEC), no_token=True)
    lifespan = app.lifespan()
    await lifespan.__aenter__()
    await app.pool.submit(payload("r1"))
    await started.wait()
    stopping = asyncio.create_task(lifespan.__aexit__(None, None, None))
    await asyncio.sleep(0)  # one turn of the loop: the shutdown starts, and waits for r1
    assert not stopping.done()
    return app, release, stopping


async def test_a_stopping_server_finishes_the_runs_it_accepted() -> None:
    """``baton worker serve`` on SIGTERM: the server's lifespan ends only once a run that was
    answered ``202`` has its outcome (before, the process exited and dropped it)."""
    app, release, stopping = await stopping_with_a_run_in_hand()
    release.set()
    await stopping
    outcome = await app.worker.outcome("r1")
    assert outcome is not None and outcome.result == {"answer": "finished"}


async def test_a_server_told_twice_to_stop_gives_up_on_the_accepted_runs() -> None:
    """The lifespan waits for the runs answered 202 until ``pool.cancel()`` (what ``baton
    worker serve`` calls on a second signal): they end, unstored, and the app serves again."""
    app, release, stopping = await stopping_with_a_run_in_hand()
    assert app.pool.in_progress == 1
    assert app.pool.cancel() == 1
    await stopping
    assert await app.worker.outcome("r1") is None
    # A second lifespan (a test's, a parent app started again): the app takes runs again.
    async with app.lifespan():
        release.set()
        assert (await app.pool.run(payload("r2")))["status"] == "ok"
