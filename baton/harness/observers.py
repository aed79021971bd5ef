"""Observers: watchers of an ask's events that raise alerts.

An observer sees every event of the asks it is attached to (chunks and tool-call notices
included) and may answer with an ``ObserverAlert``. Alerts are recorded in the conversation; a
``fatal`` one halts the ask at the next step boundary with ``ObserverHalt``, leaving a valid
history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context
    from ..events import Event, ObserverAlert

__all__ = ["Observer"]


class Observer:
    """Base class: override ``observe``. It is called inline for every event, so keep it quick;
    keep per-conversation state in ``context.state(self, ...)``."""

    name: str = "observer"

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        return None
