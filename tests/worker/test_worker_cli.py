"""The ``baton worker`` commands: submit a task from the command line to a worker process and
print its output; refuse to serve without a token off loopback; name a bad --agent."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from contract_cases import OUTPUT, case_spec
from serving import free_port
from worker_support import HERE, ROOT, WorkerProcess, write_spec

from baton.worker import WorkerSpec


def baton(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", "worker", *args],
        cwd=ROOT,
        env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_submit_prints_the_output_of_a_task_a_worker_process_ran(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    path = write_spec(case_spec("once"), tmp_path)
    process = WorkerProcess(path, "contract_cases:once", redis_url, prefix).start()
    try:
        task = {"run_id": "cli-1", "task": "Answer.", "context": {}}
        args = ("submit", str(path), "--redis", redis_url, "--prefix", prefix)
        done = await asyncio.to_thread(
            baton, *args, "--payload", json.dumps(task), "--timeout", "60"
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "run_id": "cli-1",
            "status": "ok",
            "result": {"answer": "done"},
        }
        queued = await asyncio.to_thread(baton, *args, "--payload", "{not json")
        assert queued.returncode == 2 and "--payload is not JSON" in queued.stderr
    finally:
        process.kill()


def test_serving_without_a_token_is_for_loopback_only(tmp_path: Path) -> None:
    path = write_spec(case_spec("once"), tmp_path)
    refused = baton(
        "serve", str(path), "--agent", "contract_cases:once", "--http", "0.0.0.0:0", "--no-token"
    )
    assert refused.returncode == 2 and "only allowed on a loopback address" in refused.stderr


def test_a_port_out_of_range_is_named_in_one_line(tmp_path: Path) -> None:
    # It was the socket's OverflowError, as a traceback.
    path = write_spec(case_spec("once"), tmp_path)
    refused = baton(
        "serve", str(path), "--agent", "contract_cases:once", "--http", "127.0.0.1:99999"
    )
    assert refused.returncode == 2 and "--http 127.0.0.1:99999: a port is 0-65535" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_bad_agent_target_is_named(tmp_path: Path) -> None:
    path = write_spec(case_spec("once"), tmp_path)
    for target, problem in (
        ("contract_cases", "name --agent as 'module:attribute'"),
        ("no_such_module:agent", "cannot import 'no_such_module'"),
        ("contract_cases:OUTPUT", "is dict, not a baton Agent"),
        ("contract_cases:missing", "has no attribute 'missing'"),
    ):
        failed = baton("run", str(path), "--agent", target, "--redis", "redis://127.0.0.1:1/0")
        assert failed.returncode == 2 and problem in failed.stderr, failed.stderr
    # Neither a spec file nor an id: refused, rather than queued where no worker reads.
    task = json.dumps({"run_id": "r1", "task": "Answer."})
    unreachable = "redis://127.0.0.1:1/0"
    lost = baton("submit", "specs/triage.yaml", "--redis", unreachable, "--payload", task)
    assert lost.returncode == 2, lost.stderr
    assert "neither a *.worker.md file nor a worker's id" in lost.stderr


async def test_submit_and_wait_queues_the_task_once(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """No worker is running: the command gives up waiting, and exactly one task is queued
    (submitting, then waiting through a client that submits again, queued it twice)."""
    import redis.asyncio

    from baton.worker.redis_client import RedisKeys

    spec = case_spec("once")
    path = write_spec(spec, tmp_path)
    task = {"run_id": "cli-once", "task": "Answer.", "context": {}}
    args = ("submit", str(path), "--redis", redis_url, "--prefix", prefix)
    done = await asyncio.to_thread(baton, *args, "--payload", json.dumps(task), "--timeout", "0.2")
    assert done.returncode == 1 and "TimeoutError" in done.stderr
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await raw.xlen(RedisKeys(spec.id, prefix).tasks) == 1
    finally:
        await raw.aclose()


def test_the_help_says_which_redis_a_worker_uses_without_redis() -> None:
    # Without --redis (or $BATON_REDIS_URL) a worker shares the local server's database 0.
    for command in ("run", "submit"):
        shown = baton(command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert "redis://127.0.0.1:6379/0" in " ".join(shown.stdout.split()), command


def test_a_redis_that_refuses_or_is_unreachable_is_said_in_one_line(
    redis_url: str, tmp_path: Path
) -> None:
    path = write_spec(case_spec("once"), tmp_path)
    wrong_database = redis_url.rsplit("/", 1)[0] + "/999"  # Redis refuses the SELECT
    refused = baton("run", str(path), "--agent", "contract_cases:once", "--redis", wrong_database)
    assert refused.returncode == 1, refused.stderr
    assert "BackendUnavailable" in refused.stderr and "DB index" in refused.stderr
    task = json.dumps({"run_id": "r1", "task": "Answer."})
    unreachable = baton(
        "submit", str(path), "--redis", "redis://:s3cret@127.0.0.1:1/0", "--payload", task
    )
    assert unreachable.returncode == 1, unreachable.stderr
    assert "BackendUnavailable" in unreachable.stderr and "s3cret" not in unreachable.stderr
    for failed in (refused, unreachable):
        assert "Traceback" not in failed.stderr, failed.stderr


def test_a_schedule_whose_ticks_the_input_schema_refuses_is_refused_at_start(
    tmp_path: Path,
) -> None:
    # Started anyway, every tick would end as invalid_request, seen only in the outcomes.
    schema = {
        "type": "object",
        "properties": {"run_id": {"type": "string"}, "ticket": {"type": "string"}},
        "required": ["run_id", "ticket"],
        "additionalProperties": False,
    }
    spec = WorkerSpec("contract-once", input_schema=schema, output_schema=OUTPUT)
    path = write_spec(spec, tmp_path)
    args = ("run", str(path), "--agent", "contract_cases:once", "--redis", "redis://127.0.0.1:1/0")
    refused = baton(*args, "--every", "60", "--task", "Summarise the queue")
    assert refused.returncode == 2, refused.stderr
    assert "trigger 'contract-once-every-1' submits {run_id, task, context}" in refused.stderr
    assert "'ticket' is a required property" in refused.stderr


def serving(spec: Path, agent: str, port: int) -> subprocess.Popen[str]:
    """``baton worker serve`` on 127.0.0.1:``port`` without a token, its stderr piped."""
    command = [sys.executable, "-m", "baton.cli", "worker", "serve", str(spec)]
    return subprocess.Popen(
        [*command, "--agent", agent, "--http", f"127.0.0.1:{port}", "--no-token"],
        cwd=ROOT,
        env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_serve_told_twice_to_stop_gives_up_on_the_accepted_runs(tmp_path: Path) -> None:
    # A run accepted with 202 is finished on the first signal; it used to be waited for however
    # many signals came (only SIGKILL ended the process).
    path = write_spec(WorkerSpec("contract-slow", output_schema=OUTPUT), tmp_path)
    port = free_port()
    process = serving(path, "contract_cases:slow", port)
    try:
        assert process.stderr is not None
        assert "Serving worker" in await asyncio.to_thread(process.stderr.readline)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(500):  # the line is printed just before uvicorn listens
                try:
                    accepted = await http.post(
                        "/runs",
                        json={"run_id": "r1", "task": "wait", "context": {}},
                        headers={"prefer": "respond-async"},
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert accepted.status_code == 202
        process.send_signal(signal.SIGINT)
        line = await asyncio.to_thread(process.stderr.readline)
        assert "finishing 1 accepted runs (signal again to stop at once)" in line
        process.send_signal(signal.SIGINT)
        await asyncio.to_thread(process.wait, 60)
        assert "stopping at once" in (await asyncio.to_thread(process.stderr.read))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
