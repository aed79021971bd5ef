"""What a model was shown, message by message, with who wrote each (``Seen``, ``seen_by``):
so a test checks what each team member saw and who said it."""

from __future__ import annotations

from typing import NamedTuple

from ..events import (
    CompactionSummary,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    ToolCallError,
    ToolCallResult,
)
from ..models.base import ModelCall
from ..transcript import TranscriptState, role_of, shown

__all__ = ["Seen", "seen_by"]


class Seen(NamedTuple):
    """One message a model was shown: its role on the wire (``user``, ``assistant``,
    ``tool``), who wrote it (``"user"`` for the request, ``"human"`` for a remark, an agent's
    name for its turns, ``"baton"`` for what the loop says) and its text."""

    role: str
    author: str
    text: str


def seen_by(call: ModelCall) -> list[Seen]:
    """The messages ``call`` showed its model, with their authors (see ``Seen``)."""
    state = TranscriptState()
    authors: dict[str, str] = {}  # tool call id -> the agent that made it
    out: list[Seen] = []
    for event in call.messages:
        visible = shown(event, call.agent, state)
        if visible is None:
            continue
        role = role_of(visible) or "user"
        if isinstance(event, ModelResponse):
            author = event.agent or call.agent
            for c in event.tool_calls:
                authors[c.id] = author
            text = visible.text if isinstance(visible, ModelResponse | HumanMessage) else ""
            if isinstance(visible, ModelResponse) and visible.tool_calls:
                calls = ", ".join(f"{c.name}({c.arguments})" for c in visible.tool_calls)
                text = f"{text}\n[calls {calls}]" if text else f"[calls {calls}]"
        elif isinstance(event, ModelRequest):
            author, text = "user", event.text
        elif isinstance(event, HumanMessage):
            author, text = "human", event.text
        elif isinstance(event, ToolCallResult | ToolCallError):
            author = authors.get(event.call_id, call.agent)
            text = (
                visible.text
                if isinstance(visible, HumanMessage)
                else (event.content if isinstance(event, ToolCallResult) else event.message)
            )
        elif isinstance(event, CompactionSummary):
            author, text = "baton", event.message
        else:
            author, text = "baton", getattr(event, "message", "")
        out.append(Seen(role, author, text))
    return out
