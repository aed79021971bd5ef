"""A swarm: a help desk whose members hand the conversation to each other.

What it shows: ``Swarm`` (each member gets ``transfer_to_<name>`` tools; a text answer ends
the ask), ``handoffs=`` choosing who may hand off to whom, the ``Handoff`` events, and a
follow-up ask that goes on with the member who answered last.

Run it:

    python examples/swarm_handoffs.py

Offline on Baton's scripted model as written (each member has its own script). For a real
model, change the ``MODEL`` line; every member then uses it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baton import Agent, ModelConfig, tool
from baton.teams import Handoff, Swarm
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "anthropic:claude-haiku-4-5"


@tool
def invoices(customer: str) -> list[dict[str, object]]:
    """The customer's recent invoices.

    Args:
        customer: The customer's email.
    """
    return [{"id": "INV-31", "amount": 19.0, "charged": 2}, {"id": "INV-30", "amount": 19.0}]


@tool
def refund_invoice(invoice_id: str) -> str:
    """Refund one charge of an invoice.

    Args:
        invoice_id: The invoice's id.
    """
    return f"one charge of {invoice_id} refunded"


def build_desk() -> Swarm:
    triage = Agent(
        "triage",
        "Route the customer: billing questions go to billing, bugs to tech.",
        config=model("triage"),
    )
    billing = Agent(
        "billing",
        "You handle invoices and refunds.",
        config=model("billing"),
        tools=[invoices, refund_invoice],
    )
    tech = Agent("tech", "You handle technical problems.", config=model("tech"))
    # triage may hand off to either; billing and tech only back to triage
    return Swarm(
        [triage, billing, tech],
        start="triage",
        handoffs={"triage": ["billing", "tech"], "billing": ["triage"], "tech": ["triage"]},
    )


async def main() -> None:
    desk = build_desk()
    reply = await desk.ask("Hi, I'm ana@example.com and I was charged twice this month.")
    for event in reply.events:
        if isinstance(event, Handoff):
            print(f"handoff: {event.source} -> {event.target} ({event.reason})")
    print(f"[{reply.speaker}] {reply.text}")

    reply = await reply.ask("Thanks! When will I see the money?")  # billing goes on
    print(f"[{reply.speaker}] {reply.text}")


def model(member: str) -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers of ``member``."""
    if MODEL != "scripted":
        return MODEL
    scripts: dict[str, list[Any]] = {
        "triage": [call("transfer_to_billing", reason="double charge")],
        "billing": [
            call("invoices", customer="ana@example.com"),
            call("refund_invoice", invoice_id="INV-31"),
            "INV-31 was charged twice; I've refunded the extra 19.00.",
            "Refunds reach your card within 5 business days.",
        ],
        "tech": ["Let me look at that bug."],
    }
    return ScriptedModel(*scripts[member])


if __name__ == "__main__":
    asyncio.run(main())
