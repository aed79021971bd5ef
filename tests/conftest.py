"""Fixtures every test directory shares.

``valid_history`` checks a stored conversation the way DESIGN.md asks after any failure, cancel
or crash: every tool call answered exactly once before the model is called again, every request
for a human answered once (at most once in a run that failed, or in a team ask that ended
while a human member's turn was cut), and each run opened once (``RunStarted``) and closed once
(``RunFinished`` or ``RunFailed``), except a run the caller says is paused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from baton.events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCallError,
    ToolCallResult,
)
from baton.teams.events import TeamFailed, TeamFinished

HistoryCheck = Callable[..., None]


def check_history(events: Sequence[Event], *, paused: str | None = None) -> None:
    """Raise ``AssertionError`` naming the first way ``events`` is not a valid conversation;
    ``paused``: the id of a run that is paused (open, its open calls and requests allowed)."""
    events = list(events)
    runs: dict[str, list[type[Event]]] = {}
    current: str | None = None
    for i, event in enumerate(events):
        if isinstance(event, RunStarted):
            assert current is None, f"run {event.run_id} started inside run {current} (at {i})"
            assert event.run_id not in runs, f"run {event.run_id} started twice"
            runs[event.run_id] = []
            current = event.run_id
        elif isinstance(event, RunFinished | RunFailed):
            assert current == event.run_id, f"{type(event).__name__} of a run not open (at {i})"
            runs[event.run_id].append(type(event))
            current = None
        if current == paused and paused is not None:
            continue
        if isinstance(event, ModelResponse) and event.tool_calls:
            answered: list[str] = []
            for later in events[i + 1 :]:
                if isinstance(later, ModelResponse | ModelRequest | RunStarted):
                    break
                if isinstance(later, ToolCallResult | ToolCallError):
                    answered.append(later.call_id)
            expected = sorted(c.id for c in event.tool_calls)
            assert sorted(answered) == expected, f"calls {expected} answered {answered} (at {i})"
        if isinstance(event, HumanInputRequest | ApprovalRequest):
            answers = [
                e
                for e in events[i + 1 :]
                if isinstance(e, HumanMessage) and e.request_id == event.request_id
            ]
            if current is None:
                # A team's human member asked (outside any run): the end of the team's ask
                # may close it unanswered (a Timeout or a cancel cut the turn), but the team
                # never goes on to another turn without the answer.
                closed = next(
                    (
                        e
                        for e in events[i + 1 :]
                        if isinstance(e, RunStarted | TeamFinished | TeamFailed)
                        or (isinstance(e, HumanMessage) and e.request_id == event.request_id)
                    ),
                    None,
                )
                allowed = (0, 1) if isinstance(closed, TeamFinished | TeamFailed) else (1,)
            else:
                # A run that failed (cancelled while a human was asked) may leave one unanswered.
                ended = next(
                    (e for e in events[i:] if isinstance(e, RunFinished | RunFailed)), None
                )
                allowed = (0, 1) if isinstance(ended, RunFailed) else (1,)
            assert len(answers) in allowed, (
                f"request {event.request_id} answered {len(answers)} times"
            )
    for run_id, ends in runs.items():
        if run_id == paused and not ends:
            continue
        assert len(ends) == 1, f"run {run_id} closed {len(ends)} times"
    assert current is None or current == paused, f"run {current} never closed"


@pytest.fixture
def valid_history() -> HistoryCheck:
    """``valid_history(events, paused=None)``: see ``check_history``."""
    return check_history
