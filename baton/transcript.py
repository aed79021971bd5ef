"""The transcript: the one definition of which events a model sees, and as what.

A conversation's history holds everything (run bookkeeping, usage, alerts, requests to humans
and their answers...). A model sees only its transcript:

- the user's ``ModelRequest`` (role ``user``, its parts);
- ``ModelResponse`` written by the agent being called (role ``assistant``, its text, reasoning
  and tool calls) and the ``ToolCallResult``/``ToolCallError`` answering those calls (``tool``);
- a response written by *another* agent (``ModelResponse.agent``: teams, hand-offs) and the
  results of its calls: not the caller's own turn, but that agent's named turn, shown as a
  ``user`` message "[agent name] ..." (so no model mistakes another agent's words, or its tool
  calls, for its own);
- what the loop tells the model on the user's side: ``OutputRejected`` (an answer sent back),
  ``CompactionSummary`` (older events summarized), and a human's remark (``HumanMessage``
  without a ``request_id``; answers to approvals and input requests reach the model through the
  tool that asked, never as messages).

Every provider adapter (through ``providers._cache.MessageCache``), token counting, context
policies, compaction, telemetry and the ``ScriptedModel`` read conversations through this
module. ``shown(event, agent, state)`` is the per-event rule; providers then only decide how a
shown event looks on their wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal, TypeAlias

from pydantic_core import to_json

from .events import (
    CompactionSummary,
    Data,
    Event,
    FileUrl,
    HumanMessage,
    Media,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    Text,
    ToolCallError,
    ToolCallResult,
)

__all__ = [
    "ALWAYS_SHOWN",
    "Role",
    "TranscriptState",
    "part_text",
    "role_of",
    "sent_to_model",
    "shown",
    "transcript",
]

Role: TypeAlias = Literal["user", "assistant", "tool"]

_ROLES: dict[type, Role] = {
    ModelRequest: "user",
    ModelResponse: "assistant",
    ToolCallResult: "tool",
    ToolCallError: "tool",
    OutputRejected: "user",
    CompactionSummary: "user",
}

# The classes whose every event is shown (a set lookup for hot paths; others ask role_of).
ALWAYS_SHOWN = frozenset(_ROLES)


_HUMAN = "human"  # a HumanMessage: shown or not by its fields
_BY_CLASS: dict[type, str | None] = {}  # every event class seen, resolved once


def _class_role(cls: type) -> str | None:
    if issubclass(cls, HumanMessage):
        return _HUMAN
    return next((role for base, role in _ROLES.items() if issubclass(cls, base)), None)


def role_of(event: Event) -> Role | None:
    """The role ``event`` has in a transcript, or ``None`` when models never see it."""
    cls = type(event)
    try:
        role = _BY_CLASS[cls]
    except KeyError:
        role = _BY_CLASS[cls] = _class_role(cls)
    if role == _HUMAN:
        assert isinstance(event, HumanMessage)
        return "user" if event.request_id is None and event.text else None
    return role  # type: ignore[return-value]


def sent_to_model(event: Event) -> bool:
    """Whether models see ``event`` (in some form): see the module docs."""
    return role_of(event) is not None


class TranscriptState:
    """What the transcript of one conversation, read by one agent, remembers as it goes: the
    ids of tool calls other agents made (their results are shown as those agents' turns)."""

    __slots__ = ("foreign_calls",)

    def __init__(self) -> None:
        self.foreign_calls: dict[str, str] = {}  # call id -> the agent that made it


def shown(event: Event, agent: str | None, state: TranscriptState) -> Event | None:
    """What the model called for ``agent`` sees of ``event``: the event itself, a stand-in
    (another agent's turn, as a named ``HumanMessage``), or ``None``. Call it for a
    conversation's events in order, with one ``state`` per (conversation, agent)."""
    if role_of(event) is None:
        return None
    if isinstance(event, ModelResponse):
        author = event.agent
        if author is None or agent is None or author == agent:
            return event
        for call in event.tool_calls:
            state.foreign_calls[call.id] = author
        return HumanMessage(_named_turn(author, event))
    if isinstance(event, ToolCallResult | ToolCallError):
        author = state.foreign_calls.pop(event.call_id, None)
        if author is not None:
            outcome = event.content if isinstance(event, ToolCallResult) else event.message
            return HumanMessage(f"[{author}] tool {event.name} answered: {outcome}")
    return event


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def part_text(part: Part) -> str:
    """What a reader of text only sees of ``part``: text and data as they are, media as a
    short placeholder (``[image: image/png, 100 KB]``, ``[document: https://...]``), never its
    bytes."""
    if isinstance(part, Text):
        return part.text
    if isinstance(part, Data):
        return to_json(part.value, fallback=str).decode()
    if isinstance(part, Media):
        kind = type(part).__name__.lower()
        if part.url is not None:
            return f"[{kind}: {part.url}]"
        media_type = part.media_type or part.default_media_type
        return f"[{kind}: {media_type}, {_size(len(part.data or b''))}]"
    if isinstance(part, FileUrl):
        return f"[file: {part.url}]"
    return f"[{type(part).__name__.lower()}]"


def _named_turn(author: str, response: ModelResponse) -> str:
    lines = [f"[{author}] {response.text}"] if response.text else []
    for call in response.tool_calls:
        lines.append(f"[{author}] calls tool {call.name}({call.arguments})")
    return "\n".join(lines)


def transcript(events: Iterable[Event], agent: str | None = None) -> Iterator[tuple[Role, Event]]:
    """The transcript of ``events`` as ``agent`` sees it: (role, shown event) pairs in order."""
    state = TranscriptState()
    for event in events:
        visible = shown(event, agent, state)
        if visible is not None:
            role = role_of(visible)
            assert role is not None
            yield role, visible
