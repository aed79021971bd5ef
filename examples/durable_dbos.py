"""Durable execution on DBOS: a worker process dies mid-run; the next one finishes the run
without redoing the steps that had finished.

What it shows: ``DBOSWorker(Worker(agent, spec))`` runs each run as a DBOS workflow (its id is
the run id) and each model call and tool call as a DBOS step. The first run is killed in its
second tool call (``os._exit``: no cleanup, as a crash or a power cut); launching again
recovers the run, replays the recorded steps (the first model calls and the first tool) from
the database and runs only what had not finished. Here DBOS keeps its state in SQLite; in
production, PostgreSQL (``system_database_url="postgresql://..."``).

Needs: ``pip install 'baton-agents[dbos]'``.

Run it twice with the same path (the first run crashes on purpose):

    python examples/durable_dbos.py /tmp/baton-dbos.sqlite crash
    python examples/durable_dbos.py /tmp/baton-dbos.sqlite

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from baton import ModelConfig, ToolCallResult, tool
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call
from baton.worker import Worker, WorkerSpec

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"

SPEC = WorkerSpec("onboarding", instructions="Create the account, then send the welcome mail.")
LOG = Path(sys.argv[1] if len(sys.argv) > 1 else "dbos.sqlite").with_suffix(".steps.log")


def note(step: str) -> None:
    """Record that a step really ran, and in which process."""
    with LOG.open("a") as log:
        log.write(f"{step} (process {os.getpid()})\n")


@tool
def create_account(email: str) -> str:
    """Create the customer's account.

    Args:
        email: The customer's email.
    """
    note("create_account")
    return f"account created for {email}"


@tool
def send_welcome_mail(email: str) -> str:
    """Send the welcome mail.

    Args:
        email: The customer's email.
    """
    note("send_welcome_mail")
    if sys.argv[2:] == ["crash"]:
        print("crashing in send_welcome_mail, before it finishes", flush=True)
        os._exit(1)  # the process dies here: no cleanup, nothing more written
    return f"welcome mail sent to {email}"


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" answers by how far the run got."""
    if MODEL != "scripted":
        return MODEL

    def answer(request: ModelCall) -> object:
        done = sum(isinstance(event, ToolCallResult) for event in request.messages)
        if done == 0:
            return call("create_account", email="kim@example.com")
        if done == 1:
            return call("send_welcome_mail", email="kim@example.com")
        return json.dumps({"onboarded": "kim@example.com", "steps": done})  # the spec's result

    return ScriptedModel(answer, repeat=True)


async def main(database: Path) -> None:
    from dbos import DBOS

    from baton.worker import DBOSWorker

    agent = SPEC.agent(config=model(), tools=[create_account, send_welcome_mail])
    durable = DBOSWorker(Worker(agent, SPEC))  # before DBOS.launch(), so a relaunch recovers it
    DBOS(
        config={
            "name": "onboarding",
            "system_database_url": f"sqlite:///{database}",
            "log_level": "ERROR",
        }
    )
    DBOS.launch()  # a run left unfinished by a dead process resumes here
    try:
        output = await durable.run({"run_id": "onboard-kim", "task": "Onboard kim@example.com"})
        print(json.dumps(output))
        print("steps that really ran:")
        print(LOG.read_text().rstrip())
    finally:
        DBOS.destroy()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python examples/durable_dbos.py PATH.sqlite [crash]  (then run it again)")
    asyncio.run(main(Path(sys.argv[1])))
