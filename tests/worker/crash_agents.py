"""The agent the multi-process worker tests run (``--agent crash_agents:stepper``).

Its one tool, ``step``, notes ``<run id>:<pid>`` on the Redis list ``<prefix>started`` (from
``WORKER_TEST_REDIS`` and ``WORKER_TEST_PREFIX``), then:

- with ``WORKER_TEST_HANG=1``, waits for ever (the process is to be killed mid-task);
- with ``WORKER_TEST_GATE=1``, waits until the key ``<prefix>gate`` exists (riding out a Redis
  restart);

and the answer names the process that gave it, so a test sees who finished each task.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import redis.asyncio
import redis.exceptions
from contract_cases import OUTPUT

from baton import Inject, tool
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call
from baton.worker import WorkerSpec, WorkItem


def _client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(os.environ["WORKER_TEST_REDIS"])


@tool
async def step(work: Annotated[WorkItem, Inject()]) -> str:
    """Do the task's one step."""
    prefix = os.environ["WORKER_TEST_PREFIX"]
    client = _client()
    try:
        note = f"{work.run_id}:{os.getpid()}"
        await _retrying(lambda: client.rpush(f"{prefix}started", note))
        if os.environ.get("WORKER_TEST_HANG") == "1":
            await asyncio.Event().wait()
        if os.environ.get("WORKER_TEST_GATE") == "1":
            for _ in range(100_000):  # until the test opens the gate (or gives up)
                if await _retrying(lambda: client.exists(f"{prefix}gate")):
                    break
                await asyncio.sleep(0.02)
    finally:
        await client.aclose()
    return "stepped"


async def _retrying(command: Callable[[], Awaitable[Any]]) -> Any:
    """Run a Redis command, retrying while Redis is restarting."""
    while True:
        try:
            return await command()
        except (redis.exceptions.ConnectionError, OSError):
            await asyncio.sleep(0.05)


def _answer(_call: ModelCall) -> str:
    return json.dumps({"answer": str(os.getpid())})


SPEC = WorkerSpec("crash", output_schema=OUTPUT, timeout_seconds=120)
stepper: Any = SPEC.agent(
    config=ScriptedModel(call("step"), _answer, per_conversation=True), tools=[step]
)
