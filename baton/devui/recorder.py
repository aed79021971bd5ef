"""What the dev server sees of the runs it makes: every event (transient ones included) as a
timeline entry, published to the pages watching that conversation, with what the stored events
lack: when each happened, how long each model and tool call took, and the model call as it was
made (kept for the page to ask for).

``Recorder`` is both a ``Middleware`` (it times the model and tool calls and keeps each model
call) and an ``Observer`` (it sees every event of the ask, in order); the dev server hands it to
its AG-UI endpoint, which adds it to every ask. ``Hub`` fans the entries out: each page's
timeline stream is a ``Listener`` with a bounded queue; one that falls behind is dropped (it
reconnects and reloads) so a slow page never holds a run up.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..codec import to_dict
from ..events import (
    Event,
    ModelResponse,
    ObserverAlert,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCallError,
    ToolCallResult,
)
from ..hooks import Middleware, Observer

if TYPE_CHECKING:
    from ..context import Context
    from ..events import ToolCall
    from ..hooks import ProceedModel, ProceedTool
    from ..models.base import ModelCall, ModelConfig

__all__ = ["CapturedCall", "Hub", "Listener", "Recorder", "entry_of"]

_QUEUE_LIMIT = 20_000  # entries a page may be behind before its stream is dropped
_KEPT_CALLS = 512  # model calls kept for the page to show (the oldest go first)


def entry_of(
    event: Event,
    *,
    index: int | None = None,
    at: float | None = None,
    duration: float | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """One timeline entry: the event as Baton's JSON codec writes it, and where and when it
    happened (``index``: its place in the stored conversation, None for a live-only event)."""
    entry: dict[str, Any] = {"event": to_dict(event), "index": index}
    if at is not None:
        entry["at"] = at
    if duration is not None:
        entry["duration"] = duration
    if run_id is not None:
        entry["run"] = run_id
    return entry


@dataclass(slots=True)
class CapturedCall:
    """A model call as the loop made it, and the config it was made with (to show the
    provider's own request body)."""

    call: ModelCall
    config: ModelConfig | None
    duration: float


class Listener:
    """One page's view of a conversation's live entries: ``batch`` takes what is queued. It
    ends when closed, or when it fell ``_QUEUE_LIMIT`` entries behind (``overflowed``)."""

    __slots__ = ("_ended", "_hub", "_queue", "_wake", "conversation_id", "overflowed")

    def __init__(self, hub: Hub, conversation_id: str) -> None:
        self._hub = hub
        # A deque and an event, not an asyncio.Queue: an entry is offered for every event of
        # a run, and the queue's bookkeeping cost more than the rest of the offer.
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._ended = False
        self.conversation_id = conversation_id
        self.overflowed = False

    def offer(self, entry: dict[str, Any]) -> None:
        queue = self._queue
        if len(queue) >= _QUEUE_LIMIT:
            self.overflowed = True
            self._hub.drop(self)
            return
        queue.append(entry)
        if len(queue) == 1:
            self._wake.set()

    def close(self) -> None:
        """Stop listening; ``batch`` hands out what is queued, then None."""
        self._hub.drop(self)
        self.end()

    def end(self) -> None:
        """End the listener (after the entries already queued)."""
        self._ended = True
        self._wake.set()

    async def batch(self, wait: float, limit: int) -> list[dict[str, Any]] | None:
        """The entries queued now (at most ``limit``; waiting up to ``wait`` seconds for
        the first: empty when none came), or None once the listener has ended and its queue
        is empty."""
        queue = self._queue
        if not queue:
            if self._ended:
                return None
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                return []
            if not queue:
                return None if self._ended else []
        if len(queue) <= limit:
            taken = list(queue)
            queue.clear()
            return taken
        return [queue.popleft() for _ in range(limit)]


class Hub:
    """The live entries of each conversation, fanned out to its listeners (and counted:
    ``published``, for the benchmark and the tests)."""

    __slots__ = ("_listeners", "published")

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self.published = 0

    def listen(self, conversation_id: str) -> Listener:
        listener = Listener(self, conversation_id)
        self._listeners.setdefault(conversation_id, set()).add(listener)
        return listener

    def listeners(self, conversation_id: str) -> set[Listener]:
        return self._listeners.get(conversation_id, set())

    def drop(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.conversation_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.conversation_id]
        if listener.overflowed:
            listener.end()  # it learns it was dropped after what it had

    def publish(self, conversation_id: str, entry: dict[str, Any]) -> None:
        self.published += 1
        listeners = self._listeners.get(conversation_id)
        if listeners:
            for listener in tuple(listeners):
                listener.offer(entry)


class _RunTimes:
    """What one run's middleware measured, waiting for the events it belongs to."""

    __slots__ = ("calls", "tools")

    def __init__(self) -> None:
        self.calls: deque[CapturedCall] = deque()  # model calls that returned, oldest first
        self.tools: dict[str, float] = {}  # call id -> seconds


class Recorder(Middleware, Observer):
    """Times and keeps the model and tool calls of the asks it is given to, and publishes
    every event of them to ``hub`` (see the module docs). ``calls`` keeps the last model calls
    by (conversation id, index of their response). Observers are not shown the alerts
    observers raise, nor what a team records between its members' runs (its start, speaker
    selections, hand-offs, a human member's answer): those are published from the
    conversation (where they are stored) before the next stored event."""

    name = "baton-dev"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.calls: OrderedDict[tuple[str, int], CapturedCall] = OrderedDict()
        self._runs: dict[str, _RunTimes] = {}
        # conversation id -> index of the last stored event published (the latest used last)
        self._last: OrderedDict[str, int] = OrderedDict()

    def _times(self, run_id: str) -> _RunTimes:
        times = self._runs.get(run_id)
        if times is None:
            if len(self._runs) >= _KEPT_CALLS:  # runs that never closed here (paused, failed)
                self._runs.pop(next(iter(self._runs)))
            times = self._runs[run_id] = _RunTimes()
        return times

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        started = time.perf_counter()
        response = await proceed(call)
        try:
            config: ModelConfig | None = context.model_config
        except Exception:  # a context without one (a team's, say): the request only
            config = None
        self._times(context.run_id).calls.append(
            CapturedCall(call, config, time.perf_counter() - started)
        )
        return response

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        started = time.perf_counter()
        try:
            return await proceed(call)
        finally:
            self._times(context.run_id).tools[call.id] = time.perf_counter() - started

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        conversation_id, run_id = context.conversation_id, context.run_id
        index = None if event.transient else _index_of(event, context)
        now = time.time()
        if index is not None:
            last = self._last.get(conversation_id)
            if last is None and _is_start(event):
                # The first run seen here on this conversation: what led up to it (a team's
                # start and speaker selection) is published with it.
                last = _lead_in(context.events, index) - 1
            if last is not None and index > last + 1:
                self._publish_skipped(context, last + 1, index, now)
            if last is None or index > last:
                self._last[conversation_id] = index
            self._last.move_to_end(conversation_id)
            if len(self._last) > _KEPT_CALLS:
                self._last.popitem(last=False)
        duration: float | None = None
        kind = event.__class__
        if kind is ModelResponse:
            times = self._runs.get(run_id)
            if times is not None and times.calls:
                captured = times.calls.popleft()
                duration = captured.duration
                if index is not None:
                    self._keep(conversation_id, index, captured)
        elif kind is ToolCallResult or kind is ToolCallError:
            times = self._runs.get(run_id)
            if times is not None:
                duration = times.tools.pop(event.call_id, None)  # type: ignore[attr-defined]
        elif kind is RunFinished or kind is RunFailed:
            self._runs.pop(run_id, None)
        self.hub.publish(
            conversation_id,
            entry_of(event, index=index, at=now, duration=duration, run_id=run_id),
        )
        return None

    def _publish_skipped(self, context: Context, start: int, stop: int, now: float) -> None:
        """Publish the stored events no observer was shown (alerts, a team's own events) that
        were recorded before the event at ``stop``."""
        events = context.events
        for index in range(start, stop):
            missed = events[index]
            run_id = context.run_id if missed.__class__ is ObserverAlert else None
            self.hub.publish(
                context.conversation_id, entry_of(missed, index=index, at=now, run_id=run_id)
            )

    def _keep(self, conversation_id: str, index: int, captured: CapturedCall) -> None:
        self.calls[(conversation_id, index)] = captured
        while len(self.calls) > _KEPT_CALLS:
            self.calls.popitem(last=False)


def _is_start(event: Event) -> bool:
    return event.__class__ is RunStarted


def _lead_in(events: Sequence[Event], index: int) -> int:
    """Where the events leading up to the run starting at ``index`` begin: after the last
    run that closed before it (at most 64 back)."""
    start = index
    while start > 0 and index - start < 64:
        if events[start - 1].__class__ in (RunFinished, RunFailed):
            break
        start -= 1
    return start


def _index_of(event: Event, context: Context) -> int | None:
    """Where a stored event is in its conversation: it is in memory once the history took it,
    at the end or among the last few (a step's events are kept together, then delivered)."""
    events = context.events
    length = len(events)
    for back in range(1, min(length, 64) + 1):
        if events[length - back] is event:
            return length - back
    return None
