# AG2 Beta (the `ag2` package): an agent with a tool, an injected dependency and a
# conversation variable, run offline on AG2's scripted model. Not run by Baton's tests (AG2
# is not one of Baton's dependencies); checked against ag2 1.2.1.
import asyncio
from typing import Annotated

from ag2 import Agent, Inject, Variable, tool
from ag2.events import ToolCallEvent
from ag2.testing import TestConfig

ORDERS = {("u-42", "B-7"): "shipped on 3 December"}


@tool
def order_status(
    order_id: str,
    orders: Annotated[dict, Inject("orders")],  # dependencies are found by name
    user_id: Annotated[str, Variable("user_id")],
) -> str:
    """The status of one of the user's orders."""
    return orders.get((user_id, order_id), "no such order")


agent = Agent(
    "orders",
    "You answer questions about the customer's orders.",
    config=TestConfig(
        ToolCallEvent("order_status", arguments='{"order_id": "B-7"}'),
        "B-7 shipped on 3 December.",
    ),
    tools=[order_status],
    dependencies={"orders": ORDERS},
    variables={"user_id": "u-42"},
)


async def main() -> None:
    reply = await agent.ask("Where is my order B-7?")
    print(reply.body)


asyncio.run(main())
