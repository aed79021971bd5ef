"""A durable conversation on SQLite: the first run pauses for approval, the second resumes it.

What it shows: ``open_backend("sqlite:///...")`` for a history and a storage; an
``ApprovalPolicy(suspend=True)`` that pauses the ask (``AskSuspended``: its ``RunState`` is
saved, the process may exit); a second process finding the pending ``ApprovalRequest`` in the
stored conversation (``agent.paused(conversation_id)``) and continuing with
``agent.resume(conversation_id, answer)``; then an ordinary follow-up ask on the same
conversation.

Needs: ``pip install 'baton-agents[sqlite]'``.

Run it twice (the second run picks up where the first stopped):

    python examples/durable_sqlite.py /tmp/baton-example.db
    python examples/durable_sqlite.py /tmp/baton-example.db

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from baton import Agent, ModelConfig, ModelRequest, ToolCallResult, tool
from baton.backends.sql import open_backend
from baton.errors import AskSuspended
from baton.events import ApprovalRequest, HumanMessage
from baton.hitl import ApprovalPolicy
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


@tool(requires_approval=True)
def cancel_subscription(customer: str) -> str:
    """Cancel a customer's subscription (needs a human's approval).

    Args:
        customer: The customer's email.
    """
    return f"subscription of {customer} cancelled"


async def main(db_path: Path) -> None:
    saved = db_path.with_suffix(".paused.json")  # where run 1 notes the paused conversation
    async with open_backend(f"sqlite:///{db_path}") as db:
        agent = Agent(
            "accounts",
            "You manage subscriptions.",
            config=model(),
            tools=[cancel_subscription],
            middleware=[ApprovalPolicy(suspend=True)],
            history=db.history,
            storage=db.storage,
        )
        if not saved.exists():
            print("run 1: asking")
            try:
                await agent.ask("Please cancel the subscription of lee@example.com.")
            except AskSuspended as paused:
                saved.write_text(json.dumps({"conversation_id": paused.conversation_id}))
                print(
                    f"paused: {len(paused.requests)} approval pending in conversation "
                    f"{paused.conversation_id[:8]}; the process can exit now. Run me again."
                )
            return

        conversation_id = json.loads(saved.read_text())["conversation_id"]
        paused = await agent.paused(conversation_id)  # read from the stored conversation
        assert paused is not None, "nothing is paused there"
        [request] = paused.requests
        assert isinstance(request, ApprovalRequest)
        events = await db.history.load(conversation_id)
        print(
            f"run 2: found {len(events)} stored events; pending approval of "
            f"{request.call.name} {request.call.arguments}"
        )
        reply = await agent.resume(
            conversation_id, HumanMessage(request_id=request.request_id, approved=True)
        )
        print(f"resumed: {reply.text}")
        reply = await reply.ask("Thanks. Anything else I should know?")
        print(f"follow-up: {reply.text}")
        saved.unlink()


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" a script that answers from the conversation's
    state, so that each process (each run) can play its part."""
    if MODEL != "scripted":
        return MODEL

    def answer(request: ModelCall) -> object:
        last = request.last
        if isinstance(last, ToolCallResult):
            return f"Done: {last.content}."
        if isinstance(last, ModelRequest) and "cancel" in last.text:
            return call("cancel_subscription", customer="lee@example.com")
        return "No: your final invoice will arrive by email."

    return ScriptedModel(answer, repeat=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/durable_sqlite.py PATH.db  (run it twice)")
    asyncio.run(main(Path(sys.argv[1])))
