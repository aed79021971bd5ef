"""Tool sources: tools listed per run, from something that may have a lifecycle.

``Agent(tools=[...])`` takes tools, functions, toolkits and tool sources. A ``Toolkit`` is the
static case: its tools are known when the agent is made and compiled into its tool table once.
Any other object with ``list_tools(context)`` and ``aclose()`` is listed at the start of each run
(an MCP server is one: it opens its session on first use, lists the server's tools, and each
listed tool calls into that session). ``await agent.aclose()`` closes an agent's sources.

A source that lists the same tuple of tools as last time costs one ``await`` per run: the run's
tool table is rebuilt only when a listing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ToolConflictError, ToolDefinitionError
from .tool import Tool, ToolSpec

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["SourcedTables", "ToolSource"]


@runtime_checkable
class ToolSource(Protocol):
    """Tools listed per run (see the module docs)."""

    async def list_tools(self, context: Context) -> Sequence[Tool]:
        """The tools this source offers to the run ``context`` belongs to."""
        ...

    async def aclose(self) -> None:
        """Release what the source holds (a session, a process); it may be listed again."""
        ...


class SourcedTables:
    """The tool table of a run: an agent's static tools plus what its sources list now."""

    __slots__ = ("_last", "sources", "static", "where")

    def __init__(self, static: dict[str, Tool], sources: Sequence[ToolSource], where: str) -> None:
        self.static = static
        self.sources = tuple(sources)
        self.where = where
        # The listings the cached table was built from (kept alive so ids stay theirs).
        self._last: tuple[tuple[Sequence[Tool], ...], dict[str, Tool], tuple[ToolSpec, ...]] | None
        self._last = None

    async def table(self, context: Context) -> tuple[dict[str, Tool], tuple[ToolSpec, ...]]:
        listings = tuple([await source.list_tools(context) for source in self.sources])
        last = self._last
        if last is not None and all(a is b for a, b in zip(last[0], listings, strict=True)):
            return last[1], last[2]
        table = dict(self.static)
        for source, listing in zip(self.sources, listings, strict=True):
            for tool in listing:
                if not isinstance(tool, Tool):
                    raise ToolDefinitionError(
                        f"tool source {source!r} listed {tool!r}, which is not a Tool"
                    )
                if tool.name in table:
                    raise ToolConflictError(
                        f"{self.where} has two tools named {tool.name!r} (one listed by "
                        f"{source!r}); rename one, or give the source a prefix"
                    )
                table[tool.name] = tool
        specs = tuple(t.spec for t in table.values())
        self._last = (listings, table, specs)
        return table, specs
