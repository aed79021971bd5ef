"""A conversation: its events, its stream and its variables. Agents hold none of this."""

from __future__ import annotations

import os
from typing import Any

from .events import Event
from .history import History
from .stream import MemoryStream

__all__ = ["Conversation", "new_id"]


def new_id() -> str:
    """A random 16-hex-digit id (cheaper than uuid4, and as unique for this purpose)."""
    return os.urandom(8).hex()


class Conversation:
    """The state of one conversation, shared by its successive asks (and their replies)."""

    __slots__ = (
        "__weakref__",
        "busy",
        "events",
        "history",
        "id",
        "saved",
        "states",
        "stream",
        "variables",
    )

    def __init__(
        self,
        *,
        id: str | None = None,
        events: list[Event] | None = None,
        stream: MemoryStream | None = None,
        variables: dict[str, Any] | None = None,
        history: History | None = None,
    ) -> None:
        self.id = id or new_id()
        self.events: list[Event] = events if events is not None else []
        self.stream = stream if stream is not None else MemoryStream()
        self.variables: dict[str, Any] = variables if variables is not None else {}
        self.history = history
        # How many of `events` the history backend already holds (a fork starts unsaved).
        self.saved = len(self.events) if history is not None else 0
        self.busy = False
        # Per-conversation state of middleware, observers and policies (see Context.state).
        self.states: dict[int, tuple[object, Any]] = {}

    def fork(self, length: int) -> Conversation:
        """A new conversation that starts with this one's first ``length`` events.

        Used when an earlier reply is continued after the conversation moved on: the newer
        events stay where they are, and the branch gets its own id, stream and variables.
        """
        branch = Conversation(
            events=self.events[:length], variables=dict(self.variables), history=self.history
        )
        branch.saved = 0
        return branch

    def __repr__(self) -> str:
        return f"Conversation({self.id!r}, {len(self.events)} events)"
