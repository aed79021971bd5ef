"""An agent's own tools served over MCP (``MCPApp(tools="agent-tools")``), reached with
Baton's own client in this process: a call runs as a one-call ask of the agent, whatever the
agent's answer format and the tool's parameter names, and a tool's exception text stays on the
server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from baton import Agent, MemoryHistory, tool
from baton.events import ToolCallError
from baton.mcp import MCPApp, MCPServer
from baton.testing import ScriptedModel, call

pytest.importorskip("mcp.server.lowlevel")


class Answer(BaseModel):
    total: int


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def wrap(arguments: str) -> str:
    """Wrap text (a parameter named like the scripted model's own)."""
    return f"[{arguments}]"


@tool
def connect() -> str:
    """Fails with a message holding a secret."""
    raise RuntimeError("cannot reach postgres://admin:hunter2@db.internal/prod")


def served(**options: Any) -> MCPServer:
    agent = Agent(
        "calc",
        config=ScriptedModel("unused"),
        tools=[add, wrap, connect],
        history=MemoryHistory(),
        **options,
    )
    return MCPServer.in_process(MCPApp(agent, tools="agent-tools").server, name="calc")


def text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def test_a_direct_call_works_on_an_agent_that_answers_in_a_schema() -> None:
    client = served(response_schema=Answer)
    async with client:
        result = await client.call_tool("add", {"a": 2, "b": 40})
    assert not result.is_error
    assert text(result) == "42"


async def test_a_parameter_named_arguments_reaches_the_tool() -> None:
    client = served()
    async with client:
        result = await client.call_tool("wrap", {"arguments": "hello"})
    assert not result.is_error
    assert text(result) == "[hello]"


async def test_a_tools_exception_text_stays_on_the_server() -> None:
    client = served()
    caller = Agent("caller", config=ScriptedModel(call("connect"), "ok"), tools=[client])
    async with client:
        result = await client.call_tool("connect", {})
        reply = await caller.ask("connect")  # the same, as a tool of another agent
    assert result.is_error
    assert text(result) == "the tool connect failed (RuntimeError); see the server log"
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert "RuntimeError" in error.message and "hunter2" not in error.message


def test_a_team_is_refused_with_the_way_to_serve_it() -> None:
    from baton import ConfigError
    from baton.teams import RoundRobin

    team = RoundRobin([Agent(n, config=ScriptedModel("x")) for n in ("a", "b")])
    with pytest.raises(ConfigError) as refused:
        MCPApp(team)  # type: ignore[arg-type]
    assert str(refused.value) == (
        "MCPApp serves a baton Agent, got RoundRobin; serve an agent that uses it as a tool: "
        "Agent(..., tools=[team.as_tool()])"
    )
