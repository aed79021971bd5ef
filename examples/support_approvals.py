"""A support agent whose refunds need a human's approval (human in the loop).

What it shows: a tool marked ``@tool(requires_approval=True)``; an ``Agent(hitl=...)`` handler
that answers each approval request (here a supervisor's rule: small refunds pass, large ones
are denied with a reason the model reads); the events of the ask, where the approval and its
answer are recorded next to the tool calls.

Run it:

    python examples/support_approvals.py

As written it runs offline on Baton's scripted model (canned answers, no key, no cost). For a
real model, change the ``MODEL`` line below (e.g. ``MODEL = "openai:gpt-5-mini"``, with
``OPENAI_API_KEY`` set and ``pip install 'baton-agents[openai]'``).
"""

from __future__ import annotations

import asyncio
import json

from baton import Agent, Context, ModelConfig, tool
from baton.events import ApprovalRequest, HumanMessage, ToolCallError, ToolCallResult
from baton.hitl import Approval
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "anthropic:claude-haiku-4-5"

ORDERS = {
    "A-1001": {"item": "kettle", "paid": 39.0},
    "A-1002": {"item": "espresso machine", "paid": 649.0},
}


@tool
def look_up_order(order_id: str) -> dict[str, object]:
    """Find a customer's order.

    Args:
        order_id: The order number, e.g. "A-1001".
    """
    return {"order_id": order_id, **ORDERS.get(order_id, {"item": "unknown", "paid": 0.0})}


@tool(requires_approval=True)
def refund(order_id: str, amount: float) -> str:
    """Refund an order (a supervisor approves every refund first).

    Args:
        order_id: The order number.
        amount: How much to refund, in euros.
    """
    return f"refunded {amount:.2f} EUR on {order_id}"


def supervisor(request: object, context: Context) -> Approval | None:
    """The human in the loop, as code: approve refunds up to 100 EUR, deny the rest."""
    if not isinstance(request, ApprovalRequest):
        return None  # not an approval: leave it to whoever watches the stream
    amount = float(json.loads(request.call.arguments).get("amount", 0))
    approved = amount <= 100
    verdict = "yes" if approved else "no"
    print(f"  supervisor: {request.call.name} {request.call.arguments} -> {verdict}")
    return Approval(approved, "" if approved else "refunds over 100 EUR go to the finance team")


def build_agent() -> Agent[str]:
    return Agent(
        "support",
        "You are a support agent. Look orders up before refunding them.",
        config=model(),
        tools=[look_up_order, refund],
        hitl=supervisor,
    )


async def main() -> None:
    agent = build_agent()
    for question in [
        "My kettle (order A-1001) arrived broken, please refund it.",
        "Refund my espresso machine, order A-1002, it's too loud.",
    ]:
        print(f"customer: {question}")
        reply = await agent.ask(question)
        for event in reply.events:
            if isinstance(event, ToolCallResult | ToolCallError) and event.name == "refund":
                outcome = event.content if isinstance(event, ToolCallResult) else event.message
                print(f"  refund tool: {outcome}")
            elif isinstance(event, HumanMessage) and event.approved is not None:
                print(f"  recorded answer: approved={event.approved}")
        print(f"agent: {reply.text}\n")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below (one per model call)."""
    if MODEL != "scripted":
        return MODEL
    return ScriptedModel(
        call("look_up_order", order_id="A-1001"),
        call("refund", order_id="A-1001", amount=39.0),
        "Done: your 39.00 EUR refund for the kettle is on its way.",
        call("look_up_order", order_id="A-1002"),
        call("refund", order_id="A-1002", amount=649.0),
        "I can't refund 649 EUR myself: I've passed your request to our finance team.",
    )


if __name__ == "__main__":
    asyncio.run(main())
