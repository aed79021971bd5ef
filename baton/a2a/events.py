"""Events a remote A2A agent's progress becomes on the caller's stream (transient: streamed
live, not kept in history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..events import Event, register

__all__ = ["RemoteStatus", "RemoteText"]


@register
@dataclass(frozen=True, slots=True)
class RemoteStatus(Event):
    """The remote task ``remote_task_id`` of the agent at ``agent`` changed state (``state`` is
    the A2A state without its prefix: ``working``, ``input-required``, ``completed``, ...);
    ``message`` is the text the remote agent sent with it, if any. ``task_id`` is the caller's
    sub-task id (as in ``TaskStarted``)."""

    task_id: str
    agent: str
    remote_task_id: str
    state: str
    message: str = ""
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class RemoteText(Event):
    """A piece of the answer the remote agent streams (an artifact update), as it arrives."""

    task_id: str
    agent: str
    text: str
    transient: ClassVar[bool] = True
