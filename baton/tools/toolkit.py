"""Toolkits: named groups of tools, and the name table an agent builds from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ToolConflictError, ToolDefinitionError
from .source import ToolSource
from .tool import Tool, as_tool

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["Toolkit", "build_tool_table", "split_sources"]


class Toolkit:
    """A group of tools offered together.

    Either list them, ``Toolkit(search, fetch, name="web")``, or subclass and decorate methods
    with ``@tool``: each instance then offers its own bound methods. ``prefix`` renames every tool
    to ``prefix_name`` so that two toolkits with the same tool names can live on one agent.
    """

    def __init__(
        self,
        *tools: Tool | Callable[..., Any] | Toolkit,
        name: str | None = None,
        prefix: str | None = None,
    ) -> None:
        self.name = name or type(self).__name__
        self.prefix = prefix
        collected: list[Tool] = []
        for attr in dir(type(self)):
            if isinstance(getattr(type(self), attr, None), Tool):
                collected.append(getattr(self, attr))  # bound through Tool.__get__
        for item in tools:
            collected.extend(_expand(item))
        if prefix:
            collected = [t.with_name(f"{prefix}_{t.name}") for t in collected]
        self._tools = tuple(build_tool_table(collected, f"toolkit {self.name!r}").values())

    @property
    def tools(self) -> tuple[Tool, ...]:
        return self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"Toolkit({self.name!r}, {[t.name for t in self._tools]})"

    async def list_tools(self, context: Context) -> tuple[Tool, ...]:
        """A toolkit as a ``ToolSource``: the same tools for every run."""
        return self._tools

    async def aclose(self) -> None:
        """Nothing to release."""


def split_sources(items: Iterable[Any]) -> tuple[list[Any], list[ToolSource]]:
    """Separate what is known now (tools, functions, toolkits) from tool sources listed per
    run."""
    static: list[Any] = []
    sources: list[ToolSource] = []
    for item in items:
        if isinstance(item, Toolkit | Tool) or not isinstance(item, ToolSource):
            static.append(item)
        else:
            sources.append(item)
    return static, sources


def _expand(item: Any) -> list[Tool]:
    if isinstance(item, Toolkit):
        return list(item.tools)
    if isinstance(item, Tool) or callable(item):
        return [as_tool(item)]
    raise ToolDefinitionError(
        f"not a tool, function, Toolkit or tool source (list_tools/aclose): {item!r}"
    )


def build_tool_table(sources: Iterable[Any], where: str) -> dict[str, Tool]:
    """Flatten tools, functions and toolkits into a name -> Tool table, rejecting duplicates."""
    table: dict[str, Tool] = {}
    for item in sources:
        for t in _expand(item):
            if t.name in table:
                raise ToolConflictError(
                    f"{where} has two tools named {t.name!r}: rename one with @tool(name=...) or "
                    "give a toolkit a prefix (Toolkit(..., prefix='x'))"
                )
            table[t.name] = t
    return table
