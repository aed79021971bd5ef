"""Tools with dependency injection: what the model fills in, and what your code supplies.

What it shows: ``@tool`` on plain typed functions (the schema comes from the hints and the
docstring); parameters the model never sees: a dependency by type (``Inject()``), a
conversation variable (``Variable("user_id")``), a value made per call (``Depends(fn)``, a
generator whose cleanup runs after the call) and the ask's ``Context``; a ``Toolkit`` with a
name prefix; a tool that ends the ask with ``ToolResult(..., final=True)``.

Run it:

    python examples/tools_injection.py

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from baton import Agent, Context, Depends, Inject, ModelConfig, Toolkit, ToolResult, Variable, tool
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


@dataclass
class OrderDatabase:
    """Stands in for your real database client: given to the agent once, injected by type."""

    orders: dict[str, dict[str, str]] = field(default_factory=dict)

    def find(self, order_id: str, owner: str) -> dict[str, str] | None:
        order = self.orders.get(order_id)
        return order if order and order["owner"] == owner else None


def audit_log() -> Iterator[list[str]]:
    """A per-call resource: made before the tool runs, closed after (like a transaction)."""
    lines: list[str] = []
    yield lines
    for line in lines:
        print(f"  audit: {line}")


@tool
def order_status(
    order_id: str,  # the only parameter the model sees
    db: Annotated[OrderDatabase, Inject()],
    user_id: Annotated[str, Variable("user_id")],
    audit: Annotated[list[str], Depends(audit_log)],
    context: Context,
) -> str:
    """The status of one of the user's orders.

    Args:
        order_id: The order number, e.g. "B-7".
    """
    audit.append(f"{user_id} read {order_id} (conversation {context.conversation_id[:8]})")
    order = db.find(order_id, owner=user_id)
    return order["status"] if order else "no such order for this customer"


@tool(sequential=True)  # never runs alongside another call
def escalate(summary: str) -> ToolResult:
    """Hand the case to a human agent and finish.

    Args:
        summary: One sentence for the human agent.
    """
    return ToolResult(f"Escalated to a human: {summary}", final=True)  # ends the ask with it


async def main() -> None:
    db = OrderDatabase(
        {
            "B-7": {"owner": "u-42", "status": "shipped on 3 December"},
            "B-8": {"owner": "u-99", "status": "delivered"},
        }
    )
    agent = Agent(
        "orders",
        "You answer questions about the customer's orders.",
        config=model(),
        tools=[order_status, Toolkit(escalate, prefix="support")],
        dependencies={OrderDatabase: db},
        variables={"user_id": "u-42"},
    )
    print("tools the model sees:", list(agent.tools))
    print(
        "order_status's parameters, as the model sees them:",
        list(order_status.parameters["properties"]),
    )

    reply = await agent.ask("Where is my order B-7? And B-8?")
    print(f"agent: {reply.text}")
    reply = await reply.ask("B-8 is mine too, I want a person to look at it.")
    print(f"agent: {reply.text}")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below."""
    if MODEL != "scripted":
        return MODEL
    return ScriptedModel(
        [call("order_status", order_id="B-7"), call("order_status", order_id="B-8")],
        "B-7 shipped on 3 December. I can't find B-8 on your account.",
        call("support_escalate", summary="Customer u-42 says order B-8 is theirs."),
    )


if __name__ == "__main__":
    asyncio.run(main())
