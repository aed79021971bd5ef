"""The machinery shared by windowing policies and compaction: which events a provider sends
(the transcript's rule, ``baton.transcript.sent_to_model``), an incremental index of a
conversation's events, and the choice of a window's first event.

An ``EventIndex`` is kept per conversation (in ``context.state``) and updated with only the
events added since the previous call, so choosing a window costs O(new events + log n), plus
the O(window) of building it. Where a window may start:

- never on a tool result or error, nor anywhere between a ``ModelResponse`` and the last answer
  to its tool calls (so a call and its result are never split);
- only on an event the provider sends (so the window opens on a real message);
- when the window keeps the latest ``ModelRequest``, on a user-side message (the request, a
  human's remark, a correction, a summary), so that it never opens with the assistant; when
  the window starts after that request, the request is pinned at its head instead.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from ..events import (
    CompactionSummary,
    Event,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    ToolCallError,
    ToolCallResult,
)
from ..history import HistoryView
from ..transcript import sent_to_model
from .tokens import event_tokens

__all__ = ["EventIndex", "sent_to_model", "tail", "window_start"]

_USER_SIDE = (ModelRequest, OutputRejected, CompactionSummary, HumanMessage)
_RESULTS = (ToolCallResult, ToolCallError)


def _user_side(event: Event) -> bool:
    return isinstance(event, _USER_SIDE)


def tail(events: Sequence[Event], start: int) -> Iterable[Event]:
    """``events[start:]`` without copying the head of a ``HistoryView``."""
    if isinstance(events, HistoryView):
        return events.tail(start)
    if isinstance(events, list):
        return events[start:]
    return itertools.islice(events, start, None)


class EventIndex:
    """Per conversation: prefix sums of message counts (and tokens), the indices where a window
    may start, the latest request and summary. ``update`` adds only what is new; a sequence that
    is not an extension of the one seen before (another view, a fork) is indexed afresh.

    With ``summaries_sent=False`` (compaction's own index of the stored history) summaries
    neither count nor start a window: the compacted view shows only the latest, at its head.
    """

    __slots__ = (
        "_measure",
        "count",
        "counts",
        "first",
        "generation",
        "last",
        "model",
        "pending",
        "request",
        "starts",
        "summaries_sent",
        "summary",
        "tokens",
        "user_starts",
    )

    def __init__(
        self, *, tokens: bool = False, model: str | None = None, summaries_sent: bool = True
    ) -> None:
        self.model = model
        self.summaries_sent = summaries_sent
        self._measure = tokens
        self.generation = 0
        self._reset()

    def _reset(self) -> None:
        self.tokens: list[int] | None = [0] if self._measure else None
        self.count = 0
        self.first: Event | None = None
        self.last: Event | None = None
        self.counts = [0]
        self.starts: list[int] = []
        self.user_starts: list[int] = []
        self.request = -1
        self.summary = -1
        self.pending: set[str] = set()

    def update(self, events: Sequence[Event]) -> None:
        n = len(events)
        count = self.count
        if count and (
            n < count or events[0] is not self.first or events[count - 1] is not self.last
        ):
            self._reset()
            self.generation += 1
        if self.count == n:
            return
        for event in tail(events, self.count):
            self._add(event)
        self.first = events[0]
        self.last = events[n - 1]

    def _add(self, event: Event) -> None:
        i = self.count
        is_summary = isinstance(event, CompactionSummary)
        counted = sent_to_model(event) and (self.summaries_sent or not is_summary)
        if isinstance(event, ModelRequest):
            self.pending.clear()  # a new ask: whatever came before is settled
            self.request = i
        elif is_summary:
            self.summary = i
        if counted and not self.pending and not isinstance(event, _RESULTS):
            self.starts.append(i)
            if _user_side(event):
                self.user_starts.append(i)
        if isinstance(event, ModelResponse):
            self.pending = {c.id for c in event.tool_calls}
        elif isinstance(event, _RESULTS):
            self.pending.discard(event.call_id)
        self.counts.append(self.counts[-1] + counted)
        if self.tokens is not None:
            self.tokens.append(
                self.tokens[-1] + (event_tokens(event, self.model) if counted else 0)
            )
        self.count = i + 1


def window_start(index: EventIndex, cost: list[int], limit: int, pin_cost: int) -> tuple[int, bool]:
    """The start of the longest window whose cost (by the prefix sums ``cost``) is within
    ``limit``, and whether the latest request must be pinned at its head (``pin_cost`` is the
    request's own cost). When nothing fits, the smallest safe window: the latest request and
    the last complete step after it (a call is never separated from its result, even if that
    exceeds the limit)."""
    n = index.count
    total = cost[n]
    if total <= limit:
        return 0, False
    q = index.request
    earliest = bisect_left(cost, total - limit)
    # A window that still holds the latest request opens on a user-side message.
    starts = index.user_starts
    j = bisect_left(starts, earliest)
    if j < len(starts) and (q < 0 or starts[j] <= q):
        return starts[j], False
    if q < 0:  # no request to pin: any safe start
        j = bisect_left(index.starts, earliest)
        if j < len(index.starts):
            return index.starts[j], False
        return (index.starts[-1], False) if index.starts else (0, False)
    # Otherwise the window starts after the request, which is pinned at its head.
    earliest = max(bisect_left(cost, total - limit + pin_cost), q + 1)
    j = bisect_left(index.starts, earliest)
    if j < len(index.starts):
        return index.starts[j], True
    last = index.starts[-1] if index.starts and index.starts[-1] > q else n
    return last, True
