"""DBOS: a worker process killed mid-run (in its second tool call) and a new one launched on
the same system tables: the run finishes there without redoing the model calls and the tool
call that had finished."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis.asyncio
from contract_cases import case_spec
from worker_support import ROOT, dbos_config, drop_schema, eventually

from baton.errors import ConfigError

PROCS = Path(__file__).resolve().parent / "dbos_procs.py"


def start(args: list[str], hang: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKER_TEST_HANG": "1" if hang else "0"}
    return subprocess.Popen(
        [sys.executable, str(PROCS), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


async def test_a_killed_run_resumes_on_restart_without_redoing_finished_steps(
    postgres_server: str, redis_url: str, prefix: str
) -> None:
    schema = f"dbos_{uuid.uuid4().hex[:10]}"
    args = [postgres_server, schema, redis_url, prefix, "durable-1"]
    inspect = redis.asyncio.Redis.from_url(redis_url)
    first = start(args, hang=True)
    second: subprocess.Popen[str] | None = None
    try:

        async def log() -> list[str]:
            return [n.decode() for n in await inspect.lrange(f"{prefix}log", 0, -1)]

        async def in_second_step() -> bool:
            assert first.poll() is None, "the first worker process exited"
            return any(n.startswith("second_step:") for n in await log())

        await eventually(in_second_step, what="the first process reached its second step")
        first.kill()  # SIGKILL, mid-step
        first.wait()
        second = start(args, hang=False)
        out, _ = await asyncio.to_thread(second.communicate, timeout=120)
        assert second.returncode == 0, out
        output = json.loads(out.strip().splitlines()[-1])
        assert output == {
            "run_id": "durable-1",
            "status": "ok",
            "result": {"answer": str(second.pid)},
        }
        p1, p2 = first.pid, second.pid
        assert await log() == [
            f"model:{p1}",
            f"first_step:{p1}",
            f"model:{p1}",
            f"second_step:{p1}",
            # the restart: the finished steps (two model calls, first_step) are not redone
            f"second_step:{p2}",
            f"model:{p2}",
        ]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        await inspect.aclose()
        await drop_schema(postgres_server, schema)


async def test_a_dbos_schedule_runs_each_tick_once_as_its_own_run(postgres_server: str) -> None:
    from dbos import DBOS

    from baton.testing import ScriptedModel
    from baton.worker import Worker
    from baton.worker.dbos import DBOSWorker

    schema = f"dbos_{uuid.uuid4().hex[:10]}"
    spec = case_spec("once")
    model = ScriptedModel('{"answer": "tick"}', repeat=True)
    durable = DBOSWorker(Worker(spec.agent(config=model), spec))
    DBOS(config=dbos_config(postgres_server, schema, scheduler_polling_interval_sec=0.05))
    DBOS.launch()
    try:
        with pytest.raises(ConfigError, match="DBOS refused the schedule 'bad'"):
            durable.schedule("bad", "every second", "Tick.")
        durable.schedule("beat", "* * * * * *", "Tick.", context={"team": "ops"})  # every second
        found: list[str] = []

        async def three_ticks() -> bool:
            listed = await DBOS.list_workflows_async(name="baton.worker.run")
            found[:] = sorted(w.workflow_id for w in listed if w.status == "SUCCESS")
            return len(found) >= 3

        await eventually(three_ticks, what="three ticks ran")
        assert all(run_id.startswith("beat@") and run_id.endswith("Z") for run_id in found)
        outcome = await durable.outcome(found[0])
        assert outcome is not None and outcome.output["result"] == {"answer": "tick"}
        assert model.requests[0].messages[-1].parts[1].value["context"]["team"] == "ops"
        assert len(set(found)) == len(found)
    finally:
        DBOS.destroy(destroy_registry=False)
        await drop_schema(postgres_server, schema)


async def test_running_before_dbos_is_launched_says_what_to_do(tmp_path: Path) -> None:
    from dbos import DBOS

    from baton.testing import ScriptedModel
    from baton.worker import Worker
    from baton.worker.dbos import DBOSWorker

    spec = case_spec("once")
    durable = DBOSWorker(Worker(spec.agent(config=ScriptedModel()), spec))
    database = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
    DBOS(config={"name": "not-launched", "system_database_url": database})
    try:
        with pytest.raises(ConfigError, match=r"runs on a launched DBOS .* DBOS\.launch\(\)"):
            await durable.run({"run_id": "early", "task": "Answer.", "context": {}})
        with pytest.raises(ConfigError, match="runs on a launched DBOS"):
            await durable.outcome("early")
    finally:
        DBOS.destroy(destroy_registry=False)
