"""An agent using an MCP server's tools: ``mcp-server-time`` from PyPI, over stdio.

What it shows: ``MCPServer.stdio(...)`` as a tool source in ``tools=[...]`` (the server's
tools, names, descriptions and schemas are what the model sees), listing them, a call whose
structured result comes back as the tool result's ``value``, and closing the server with the
agent (``agent.aclose()``: no orphan process).

Needs: ``pip install 'baton-agents[mcp]' mcp-server-time`` (both are in the dev extra).

Run it:

    python examples/mcp_tools.py

Offline on Baton's scripted model as written (the MCP server is real and runs locally). For a
real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import sys

from baton import Agent, ModelConfig, ToolCallResult
from baton.mcp import MCPServer
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


async def main() -> None:
    # The server runs as a subprocess; `uvx mcp-server-time` works too, without installing it.
    clock = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], timeout=30)
    agent = Agent("clock", "You answer questions about time zones.", config=model(), tools=[clock])
    try:
        tools = await clock.list_tools()
        print("the server's tools:", sorted(tool.name for tool in tools))
        reply = await agent.ask("What time is it in Tokyo right now?")
        for event in reply.events:
            if isinstance(event, ToolCallResult):
                print(f"{event.name} returned {event.value}")
        print(f"agent: {reply.text}")
    finally:
        await agent.aclose()  # closes the server's session and ends its process


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below."""
    if MODEL != "scripted":
        return MODEL

    def answer(request: ModelCall) -> str:
        # A scripted turn can read what the tool returned, as a model would.
        result = request.last
        assert isinstance(result, ToolCallResult)
        clock_time = result.value["datetime"][11:16]
        return f"It is {clock_time} in Tokyo ({result.value['timezone']})."

    return ScriptedModel(call("get_current_time", timezone="Asia/Tokyo"), answer)


if __name__ == "__main__":
    asyncio.run(main())
