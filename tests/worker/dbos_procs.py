"""A DBOS worker process for the DBOS crash test:

    python tests/worker/dbos_procs.py <postgres url> <schema> <redis url> <prefix> <run id>

It launches DBOS (system tables in ``schema``), runs the run id's payload as a workflow, and
prints its output as JSON. The agent calls ``first_step``, then ``second_step``, then answers
with its process id; each model call and each step notes ``<what>:<pid>`` on the Redis list
``<prefix>log``. With ``WORKER_TEST_HANG=1``, ``second_step`` waits for ever (to be killed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contract_cases import OUTPUT
from worker_support import dbos_config

from baton import tool
from baton.events import ToolCallResult
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call
from baton.worker import Worker, WorkerSpec

REDIS_URL, PREFIX = sys.argv[3], sys.argv[4]
SPEC = WorkerSpec("durable", output_schema=OUTPUT, timeout_seconds=120)


async def note(what: str) -> None:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.rpush(f"{PREFIX}log", f"{what}:{os.getpid()}")
    finally:
        await client.aclose()


@tool
async def first_step() -> str:
    """The first step."""
    await note("first_step")
    return "first done"


@tool
async def second_step() -> str:
    """The second step."""
    await note("second_step")
    if os.environ.get("WORKER_TEST_HANG") == "1":
        await asyncio.Event().wait()
    return "second done"


async def answer(model_call: ModelCall) -> Any:
    await note("model")
    done = sum(isinstance(e, ToolCallResult) for e in model_call.messages)
    if done == 0:
        return call("first_step")
    if done == 1:
        return call("second_step")
    return json.dumps({"answer": str(os.getpid())})


async def main(postgres_url: str, schema: str, run_id: str) -> None:
    from dbos import DBOS

    from baton.worker.dbos import DBOSWorker

    agent = SPEC.agent(config=ScriptedModel(answer, repeat=True), tools=[first_step, second_step])
    durable = DBOSWorker(Worker(agent, SPEC))  # before launch: a relaunch recovers its runs
    DBOS(config=dbos_config(postgres_url, schema))
    DBOS.launch()
    print("launched", flush=True)
    output = await durable.run({"run_id": run_id, "task": "Do both steps.", "context": {}})
    print(json.dumps(output), flush=True)
    DBOS.destroy()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[5]))
