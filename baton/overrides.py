"""Test-time replacements on one agent: ``with agent.override(tools=..., raise_tool_errors=...)``.

An override is scoped like a context variable: it applies to the asks started inside the
``with`` block (in the same task, in tasks created inside it and in ``ask_sync`` calls made
inside it), on that agent only, and is undone on exit, however the block ends. Asks started
elsewhere at the same time (another test's task) don't see it. Overrides nest: an inner one
adds to (and for the same tool, replaces) the outer one's.

The agent derives its plan (tool table, middleware chains, tool schemas) once per override, so
an agent that is never overridden pays one context-variable look-up per ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from .errors import ConfigError
from .tools.tool import Tool

__all__ = ["ActiveOverride", "AgentOverride", "active_override", "replaced_tools"]


class ActiveOverride:
    """What is in force for one agent in the current context (outer overrides merged in), and
    the plans the agent derived under it (dropped with it)."""

    __slots__ = ("plans", "raise_tool_errors", "tools")

    def __init__(self, tools: Mapping[str, Tool], raise_tool_errors: bool | None) -> None:
        self.tools = tools
        self.raise_tool_errors = raise_tool_errors
        self.plans: dict[tuple[Any, ...], Any] = {}


_ACTIVE: ContextVar[Mapping[object, ActiveOverride] | None] = ContextVar(
    "baton_agent_overrides", default=None
)


def active_override(agent: object) -> ActiveOverride | None:
    """The override in force for ``agent`` here, if any."""
    overrides = _ACTIVE.get()
    return None if overrides is None else overrides.get(agent)


def replaced_tools(
    table: Mapping[str, Tool],
    replacements: Mapping[str, Callable[..., Any]],
    where: str,
    *,
    has_sources: bool = False,
) -> dict[str, Tool]:
    """``table``'s tools named in ``replacements``, each running its replacement instead
    (``Tool.with_function``). A name that is not in ``table`` is a ``ConfigError`` naming the
    tools there are."""
    if not isinstance(replacements, Mapping):
        raise ConfigError(
            "override(tools=...) takes a dict of tool name to replacement function, e.g. "
            f"tools={{'charge': fake_charge}}, got {replacements!r}"
        )
    replaced: dict[str, Tool] = {}
    for name, function in replacements.items():
        original = table.get(name)
        if original is None:
            names = ", ".join(sorted(table)) or "(none)"
            sourced = (
                " (tools listed by a tool source, such as an MCP server, can't be overridden)"
                if has_sources
                else ""
            )
            raise ConfigError(
                f"{where} has no tool {name!r} to override; its tools: {names}{sourced}"
            )
        replaced[name] = original.with_function(function)
    return replaced


class AgentOverride:
    """The context manager ``agent.override(...)`` returns (``with`` or ``async with``)."""

    __slots__ = ("_agent", "_raise_tool_errors", "_tokens", "_tools")

    def __init__(
        self, agent: object, tools: Mapping[str, Tool], raise_tool_errors: bool | None
    ) -> None:
        self._agent = agent
        self._tools = tools
        self._raise_tool_errors = raise_tool_errors
        self._tokens: list[Token[Mapping[object, ActiveOverride] | None]] = []

    def __enter__(self) -> AgentOverride:
        current = _ACTIVE.get() or {}
        outer = current.get(self._agent)
        tools: Mapping[str, Tool] = self._tools
        raise_tool_errors = self._raise_tool_errors
        if outer is not None:
            tools = {**outer.tools, **tools}
            if raise_tool_errors is None:
                raise_tool_errors = outer.raise_tool_errors
        active = ActiveOverride(tools, raise_tool_errors)
        self._tokens.append(_ACTIVE.set({**current, self._agent: active}))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _ACTIVE.reset(self._tokens.pop())

    async def __aenter__(self) -> AgentOverride:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
