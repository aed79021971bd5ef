"""The Baton side of the migration guide's first program: an agent with a tool, an injected
dependency and a conversation variable, run offline on the scripted model.

Run it: python examples/migration/tools_baton.py
"""

import asyncio
from typing import Annotated

from baton import Agent, Inject, Variable, tool
from baton.testing import ScriptedModel, call

ORDERS = {("u-42", "B-7"): "shipped on 3 December"}


@tool
def order_status(
    order_id: str,
    orders: Annotated[dict[tuple[str, str], str], Inject("orders")],  # by name, or by type
    user_id: Annotated[str, Variable("user_id")],
) -> str:
    """The status of one of the user's orders."""
    return orders.get((user_id, order_id), "no such order")


agent = Agent(
    "orders",
    "You answer questions about the customer's orders.",
    config=ScriptedModel(
        call("order_status", order_id="B-7"),
        "B-7 shipped on 3 December.",
    ),
    tools=[order_status],
    dependencies={"orders": ORDERS},
    variables={"user_id": "u-42"},
)


async def main() -> None:
    reply = await agent.ask("Where is my order B-7?")
    print(reply.text)


asyncio.run(main())
