"""A worker fleet on Redis Streams: workers take triage tasks, a client submits and waits.

What it shows: a ``WorkerSpec`` loaded from ``support_triage.worker.md`` (input and output
schemas, time limit, attempts), ``spec.agent(...)`` answering in the spec's result schema, a
``Worker`` enforcing the contract, two ``RedisRunner`` consumers of the spec's stream (two
machines, here two tasks of one process), and a ``WorkerClient`` submitting tasks by run id and
waiting for their outputs; submitting a run id again returns its stored outcome, never runs it
twice.

Needs: ``pip install 'baton-agents[worker,redis]'`` and a Redis server (``REDIS_URL``, default
``redis://127.0.0.1:6379/0``). The example's keys use a prefix of their own, deleted at the end.

Run it:

    python examples/worker_fleet.py

In production each worker is a process of its own (``cd examples`` first):

    baton worker run support_triage.worker.md --agent worker_fleet:agent --redis $REDIS_URL
    baton worker submit support_triage.worker.md --redis $REDIS_URL \
        --payload '{"run_id": "t-1", "task": "I was charged twice"}'

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

from baton import ModelConfig, ModelRequest
from baton.models.base import ModelCall
from baton.testing import ScriptedModel
from baton.worker import Worker, WorkerSpec

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SPEC = WorkerSpec.load(Path(__file__).with_name("support_triage.worker.md"))

TICKETS = {
    "t-1": "I was charged twice for my March invoice!",
    "t-2": "The export button does nothing in Firefox.",
    "t-3": "How do I change the email on my account?",
    "t-4": "Your app deleted all my projects, I have a demo in an hour!!",
}


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" answers in the spec's result schema, by keyword."""
    if MODEL != "scripted":
        return MODEL
    rules = [
        ("charged", "billing", "high"),
        ("deleted", "technical", "high"),
        ("button", "technical", "normal"),
        ("email", "account", "low"),
    ]

    def triage(request: ModelCall) -> str:
        text = request.last.text if isinstance(request.last, ModelRequest) else ""
        team, urgency = next(((t, u) for word, t, u in rules if word in text), ("general", "low"))
        return json.dumps({"team": team, "urgency": urgency, "summary": text[:60]})

    return ScriptedModel(triage, repeat=True)


# What `baton worker run ... --agent worker_fleet:agent` runs: the spec's own agent.
agent = SPEC.agent(config=model())


async def main() -> None:
    from baton.worker import RedisRunner, WorkerClient

    prefix = f"baton-example-{uuid.uuid4().hex[:8]}:"  # keys of this run only
    worker = Worker(agent, SPEC)
    runners = [
        RedisRunner(worker, REDIS_URL, prefix=prefix, concurrency=2, consumer=f"worker-{i}")
        for i in (1, 2)
    ]
    running = [asyncio.create_task(runner.run()) for runner in runners]
    client = WorkerClient(REDIS_URL, SPEC.id, prefix=prefix)
    try:
        run_ids = [
            await client.submit({"run_id": run_id, "task": task})
            for run_id, task in TICKETS.items()
        ]
        for run_id in run_ids:
            output = await client.result(run_id, timeout=30)
            result = output["result"]
            print(
                f"{run_id} {output['status']}: {result['team']:<9} {result['urgency']:<6} "
                f"{result['summary']}"
            )

        again = await client.submit({"run_id": "t-1", "task": TICKETS["t-1"]})
        outcome = await client.wait(again, timeout=30)
        print(f"t-1 submitted again: same outcome, {outcome.attempts} attempt(s) in all")
        print("tasks handled per worker:", {r.consumer: r.handled for r in runners})
    finally:
        for runner in runners:
            runner.stop()  # as SIGTERM does: finish what is in hand, take nothing new
        await asyncio.gather(*running)
        await delete_keys(prefix)


async def delete_keys(prefix: str) -> None:
    """Remove this run's keys (streams, outcomes) from Redis."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
