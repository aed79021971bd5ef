"""Events an MCP server's notifications become on the ask's stream (transient: streamed live,
not kept in history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..events import Event, register

__all__ = ["MCPLog", "MCPProgress"]


@register
@dataclass(frozen=True, slots=True)
class MCPProgress(Event):
    """A server's progress report on the tool call ``call_id`` (``total`` when it knows it)."""

    call_id: str
    server: str
    progress: float
    total: float | None = None
    message: str = ""
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class MCPLog(Event):
    """A log message a server sent while this ask had a call running on it (``level`` is the
    MCP/syslog level: ``debug`` ... ``emergency``)."""

    server: str
    level: str
    data: Any
    logger: str = ""
    transient: ClassVar[bool] = True
