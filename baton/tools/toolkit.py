"""Toolkits: named groups of tools, and the name table an agent builds from them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import ToolConflictError, ToolDefinitionError
from .tool import Tool, as_tool

__all__ = ["ToolSource", "Toolkit", "build_tool_table"]


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


ToolSource = Tool | Callable[..., Any] | Toolkit


def _expand(item: Any) -> list[Tool]:
    if isinstance(item, Toolkit):
        return list(item.tools)
    if isinstance(item, Tool) or callable(item):
        return [as_tool(item)]
    raise ToolDefinitionError(f"not a tool, function or Toolkit: {item!r}")


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
