"""Serving an agent over MCP, and calling it from an MCP client.

What it shows: ``MCPApp(agent)`` makes any agent an MCP server (here over stdio): its ``ask``
tool runs one ask and returns the answer with a ``conversation_id``, which continues the
conversation when passed back; ``tools="both"`` also lists the agent's own tools. The client
half is the official ``mcp`` SDK's ``Client``, as any MCP host (an IDE, Claude Desktop) uses it.

Needs: ``pip install 'baton-agents[mcp]'``.

Run it:

    python examples/mcp_server.py          # starts itself as the server and calls it
    python examples/mcp_server.py serve    # only the server, on stdio, for an MCP host
    cd examples && baton mcp serve mcp_server:agent --http 127.0.0.1:8000   # or over HTTP

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from baton import Agent, ModelConfig, tool
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


@tool
def convert(value: float, unit: str) -> str:
    """Convert a length between kilometres and miles.

    Args:
        value: The length.
        unit: Its unit, "km" or "mi".
    """
    if unit == "km":
        return f"{value} km = {value / 1.609344:.2f} mi"
    return f"{value} mi = {value * 1.609344:.2f} km"


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below."""
    if MODEL != "scripted":
        return MODEL
    return ScriptedModel(
        call("convert", value=42.195, unit="km"),
        "A marathon, 42.195 km, is 26.22 miles.",
        call("convert", value=26.22, unit="mi"),
        "Half of it is 13.11 miles, about 21.1 km.",
    )


# What `baton mcp serve mcp_server:agent` serves: a module attribute naming the agent.
agent = Agent(
    "units", "You convert lengths with the convert tool.", config=model(), tools=[convert]
)


async def serve() -> None:
    from baton.mcp import MCPApp

    await MCPApp(agent, name="units", tools="both").serve_stdio()


def text_of(result: Any) -> str:
    """The answer of an ``ask`` result: its first part (the second names the conversation)."""
    return str(getattr(result.content[0], "text", ""))


async def main() -> None:
    from mcp import Client, StdioServerParameters

    server = StdioServerParameters(command=sys.executable, args=[__file__, "serve"])
    async with Client(server) as client:
        listed = await client.list_tools()
        print("tools served:", [t.name for t in listed.tools])

        first = await client.call_tool("ask", {"prompt": "How many miles is a marathon?"})
        conversation_id = first.structured_content["conversation_id"]
        print(f"ask -> {text_of(first)}")

        again = await client.call_tool(
            "ask", {"prompt": "And half of that?", "conversation_id": conversation_id}
        )
        print(f"ask (same conversation) -> {text_of(again)}")
        same = again.structured_content["conversation_id"] == conversation_id
        print(f"continued conversation {conversation_id[:8]}: {same}")


if __name__ == "__main__":
    asyncio.run(serve() if sys.argv[1:] == ["serve"] else main())
