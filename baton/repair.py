"""Runs that never closed: finding the open one, the events that close it, and the repair
of a run a dead process left open (every unanswered tool call answered as interrupted, then its
``RunFailed``), so the model always sees a valid conversation. A paused run (its ``RunState``
in storage) is open on purpose and left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from .conversation import Conversation
from .events import (
    Event,
    ModelResponse,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallError,
    ToolCallResult,
)
from .history import Storage
from .runstate import RunState, load_run_state
from .storing import store

__all__ = ["close_open_run", "closing_events", "open_run_index", "paused_in", "paused_run"]


def open_run_index(events: Sequence[Event]) -> int:
    """The index of the last run's ``RunStarted`` if that run never closed, else -1."""
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, RunFinished | RunFailed):
            return -1
        if isinstance(event, RunStarted):
            return i
    return -1


def closing_events(
    events: Sequence[Event], start: int, run_id: str, error_type: str, message: str, why: str
) -> list[Event]:
    """What closes the run that began at ``start``: an error for every unanswered tool call,
    then its ``RunFailed``."""
    answered: set[str] = set()
    calls: list[ToolCall] = []
    for event in events[start + 1 :]:
        if isinstance(event, ModelResponse):
            calls.extend(event.tool_calls)
        elif isinstance(event, ToolCallResult | ToolCallError):
            answered.add(event.call_id)
    closing: list[Event] = [
        ToolCallError(
            c.id,
            c.name,
            f"The call was {why} before it finished; no result is available.",
            "Interrupted" if why == "interrupted by a process exit" else "Cancelled",
        )
        for c in calls
        if c.id not in answered
    ]
    closing.append(RunFailed(run_id, error_type, message))
    return closing


def _open_run(events: Sequence[Event]) -> tuple[int, RunStarted] | None:
    """The last run's index and ``RunStarted`` if it never closed (a closed last run, the
    usual case, costs one check)."""
    if not events or isinstance(events[-1], RunFinished | RunFailed):
        return None
    start = open_run_index(events)
    if start < 0:
        return None
    started = events[start]
    assert isinstance(started, RunStarted)
    return start, started


async def _pause_of(storage: Storage | None, conversation_id: str, run_id: str) -> RunState | None:
    """The stored ``RunState`` of run ``run_id`` if that run is paused."""
    if storage is None:
        return None
    state = await load_run_state(storage, conversation_id)
    return state if state is not None and state.run_id == run_id else None


async def paused_run(conversation: Conversation, storage: Storage | None) -> RunState | None:
    """The conversation's last run if it is open and paused (its ``RunState`` is in
    ``storage``). Reads only."""
    return await paused_in(conversation.events, conversation.id, storage)


async def paused_in(
    events: Sequence[Event], conversation_id: str, storage: Storage | None
) -> RunState | None:
    """``paused_run`` over a conversation's stored events. Reads only."""
    found = _open_run(events)
    if found is None:
        return None
    return await _pause_of(storage, conversation_id, found[1].run_id)


async def close_open_run(conversation: Conversation, storage: Storage | None) -> RunState | None:
    """Repair a conversation whose last run never closed (its process died): answer its open
    tool calls as interrupted and record its ``RunFailed``. A run that is paused (its
    ``RunState`` is in ``storage``) is left open and returned instead."""
    found = _open_run(conversation.events)
    if found is None:
        return None
    start, started = found
    state = await _pause_of(storage, conversation.id, started.run_id)
    if state is not None:
        return state
    closing = closing_events(
        conversation.events,
        start,
        started.run_id,
        "Interrupted",
        "The process running this ask stopped before it finished (it was closed when the "
        "conversation was next opened).",
        "interrupted by a process exit",
    )
    await store(conversation, closing)
    return None
