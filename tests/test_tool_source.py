"""Tool sources: tools listed once per run, next to the agent's static tools."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from baton import Agent, Context, Tool, Toolkit, tool
from baton.errors import ToolConflictError
from baton.events import ToolCallResult
from baton.testing import ScriptedModel, call
from baton.tools import ToolSource


@tool
def static_tool() -> str:
    """Always there."""
    return "static"


class Catalogue:
    """A source whose tools change between runs (as a server's may)."""

    def __init__(self) -> None:
        self.listed = 0
        self.closed = False
        self.version = 1
        self._cache: dict[int, tuple[Tool, ...]] = {}

    async def list_tools(self, context: Context) -> Sequence[Tool]:
        self.listed += 1
        if self.version not in self._cache:
            version = self.version

            def lookup(item: str) -> str:
                """Look an item up."""
                return f"{item} (catalogue v{version})"

            self._cache[version] = (Tool(lookup),)
        return self._cache[self.version]

    async def aclose(self) -> None:
        self.closed = True


async def test_a_source_is_listed_once_per_run_and_its_tools_are_called() -> None:
    source = Catalogue()
    assert isinstance(source, ToolSource)
    model = ScriptedModel(call("lookup", item="pen"), call("static_tool"), "done")
    agent = Agent("a", config=model, tools=[static_tool, source])
    reply = await agent.ask("find a pen")
    assert source.listed == 1  # three model calls, one listing
    assert [t.name for t in model.requests[0].tools] == ["static_tool", "lookup"]
    results = [e.content for e in reply.events if isinstance(e, ToolCallResult)]
    assert results == ["pen (catalogue v1)", "static"]
    assert list(agent.tools) == ["static_tool"]  # the static table is the agent's own

    source.version = 2  # the next run sees the new listing
    again = await reply.ask("and a cup", config=ScriptedModel(call("lookup", item="cup"), "ok"))
    assert [e.content for e in again.events if isinstance(e, ToolCallResult)][-1] == (
        "cup (catalogue v2)"
    )
    await agent.aclose()
    assert source.closed


async def test_a_listed_tool_may_not_shadow_another() -> None:
    source = Catalogue()

    @tool
    def lookup(item: str) -> str:
        """Static lookup."""
        return item

    agent = Agent("a", config=ScriptedModel("x"), tools=[lookup, source])
    with pytest.raises(ToolConflictError, match="lookup"):
        await agent.ask("go")


async def test_a_toolkit_is_the_static_tool_source() -> None:
    kit = Toolkit(static_tool, name="kit")
    assert isinstance(kit, ToolSource)
    assert list(await kit.list_tools(None)) == [static_tool]  # type: ignore[arg-type]
