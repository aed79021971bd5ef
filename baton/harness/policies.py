"""Context assembly policies: what one model call sees, without changing stored history.

A policy takes the ``ModelCall`` the loop prepared (all of the conversation's events, the
instructions, the tools) and returns the call to make: a window of the events, extra
instructions, a filtered view. Policies run in order, before the middleware chain; history is
never changed (``reply.events`` and any ``History`` backend keep every event).

- ``SlidingWindow(max_events)``: the latest ``max_events`` messages;
- ``TokenBudget(max_tokens)``: the latest messages that fit in ``max_tokens`` tokens, counted
  on their real content (``harness.tokens``: tiktoken when available, else a calibrated
  estimate);
- ``ConversationalOnly()``: only the events a provider sends (no run, usage or alert
  bookkeeping);
- ``WorkingMemory(source)``: text from ``source(context)`` added to the instructions;
- ``AlertPolicy()``: the observers' alerts since the model last answered, added to the
  instructions, so a warning (a loop detector's, a budget's) changes what the model does next.

Both windows count only the messages a provider sends, never split a tool call from its result,
and always keep the latest user request: when the window would start after it, the request is
pinned at the window's head; when it keeps it, the window opens on a user-side message. If even
the request and the last complete tool step exceed the limit, that smallest safe window is sent
anyway. Windows are chosen from an index kept per conversation and updated with the new events
only; the window itself is a new list, so provider adapters convert it afresh (their
per-conversation cache makes a full, unwindowed view cost only its new events).

Order matters: compaction (``harness.compaction``) reads the stored history and comes first; a
window after ``ConversationalOnly`` windows the filtered view.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..events import ModelResponse, ObserverAlert, RunStarted
from ..history import HistoryView
from ..hooks import ContextPolicy
from ._window import EventIndex, sent_to_model, tail, window_start

if TYPE_CHECKING:
    from ..context import Context
    from ..events import Event
    from ..models.base import ModelCall

__all__ = [
    "AlertPolicy",
    "ContextPolicy",
    "ConversationalOnly",
    "SlidingWindow",
    "TokenBudget",
    "WorkingMemory",
]


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


class _Window(ContextPolicy):
    """A window over the call's messages, chosen by ``window_start`` on a per-conversation
    ``EventIndex``."""

    _tokens = False
    _model: str | None = None

    def _limit(self) -> int:
        raise NotImplementedError

    def _cost(self, index: EventIndex) -> list[int]:
        raise NotImplementedError

    def _index(self) -> EventIndex:
        return EventIndex(tokens=self._tokens, model=self._model)

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        messages = call.messages
        index = context.state(self, self._index)
        index.update(messages)
        cost = self._cost(index)
        q = index.request
        pin_cost = cost[q + 1] - cost[q] if q >= 0 else 0
        start, pin = window_start(index, cost, self._limit(), pin_cost)
        if start == 0 and not pin:
            return call
        window: list[Event] = [messages[q]] if pin else []
        window.extend(tail(messages, start))
        return replace(call, messages=HistoryView(window))


class SlidingWindow(_Window):
    """Each model call sees at most the latest ``max_events`` messages (events a provider
    sends; bookkeeping events don't count), never splitting a tool call from its result and
    always keeping the latest user request."""

    def __init__(self, max_events: int) -> None:
        self.max_events = _positive("max_events", max_events)

    def _limit(self) -> int:
        return self.max_events

    def _cost(self, index: EventIndex) -> list[int]:
        return index.counts

    def __repr__(self) -> str:
        return f"SlidingWindow({self.max_events})"


class TokenBudget(_Window):
    """Each model call sees the latest messages that fit in ``max_tokens`` tokens, counted on
    their real content with ``model``'s tokenizer (tiktoken when its encodings are available,
    a calibrated estimate otherwise). The budget is for the messages: instructions and tool
    definitions come on top. Tool calls and results stay together, and the latest user request
    is always kept. Each event is counted once per conversation."""

    _tokens = True

    def __init__(self, max_tokens: int, model: str | None = None) -> None:
        self.max_tokens = _positive("max_tokens", max_tokens)
        self._model = model

    def _limit(self) -> int:
        return self.max_tokens

    def _cost(self, index: EventIndex) -> list[int]:
        assert index.tokens is not None
        return index.tokens

    def __repr__(self) -> str:
        return f"TokenBudget({self.max_tokens})"


class _Filtered:
    __slots__ = ("count", "events", "first", "last")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first: Event | None = None
        self.last: Event | None = None
        self.events: list[Event] = []


class ConversationalOnly(ContextPolicy):
    """Each model call sees only the events a provider sends: requests, responses, tool
    results and errors, output rejections, compaction summaries and human remarks (run, usage,
    retry and alert bookkeeping is left out). The filtered list grows with the conversation, so
    each call filters only its new events and adapters keep converting incrementally."""

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        messages = call.messages
        kept = context.state(self, _Filtered)
        n = len(messages)
        if kept.count and (
            n < kept.count
            or messages[0] is not kept.first
            or messages[kept.count - 1] is not kept.last
        ):
            kept.reset()  # not an extension of what was filtered: start over
        if kept.count < n:
            kept.events.extend(e for e in tail(messages, kept.count) if sent_to_model(e))
            kept.count, kept.first, kept.last = n, messages[0], messages[n - 1]
        if len(kept.events) == n:
            return call
        return replace(call, messages=HistoryView(kept.events, len(kept.events)))


MemorySource = Callable[["Context"], "str | Awaitable[str | None] | None"]


class WorkingMemory(ContextPolicy):
    """Adds a titled section to the instructions of every model call, with the text that
    ``source(context)`` returns (sync or async; nothing is added when it returns ``None`` or
    an empty string): notes, a scratchpad, facts from a knowledge store.

        WorkingMemory(lambda ctx: ctx.variables.get("notes"), title="Notes")
    """

    def __init__(self, source: MemorySource, *, title: str = "Working memory") -> None:
        if not callable(source):
            raise ConfigError(f"WorkingMemory takes a callable source, got {source!r}")
        self.source = source
        self.title = title

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        text = self.source(context)
        if inspect.isawaitable(text):
            text = await text
        if not text or not text.strip():
            return call
        section = f"## {self.title}\n{text.strip()}" if self.title else text.strip()
        instructions = f"{call.instructions}\n\n{section}" if call.instructions else section
        return replace(call, instructions=instructions)

    def __repr__(self) -> str:
        return f"WorkingMemory({self.title!r})"


class AlertPolicy(ContextPolicy):
    """Shows the model what the run's observers noticed: the ``ObserverAlert``s recorded since
    the model last answered are listed in a titled section of the next call's instructions
    (opt-in: by default alerts are for people and logs only).

        Agent(..., observers=[LoopDetector()], policies=[AlertPolicy()])
    """

    def __init__(self, *, title: str = "Notes from the run's monitors") -> None:
        self.title = title

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        alerts: list[ObserverAlert] = []
        events = context.events  # the stored conversation: whatever other policies filtered
        for i in range(len(events) - 1, -1, -1):  # back to the model's last answer: O(step)
            event = events[i]
            if isinstance(event, ModelResponse | RunStarted):
                break
            if isinstance(event, ObserverAlert):
                alerts.append(event)
        if not alerts:
            return call
        lines = "\n".join(f"- {a.observer} ({a.severity}): {a.message}" for a in reversed(alerts))
        section = f"## {self.title}\n{lines}"
        instructions = f"{call.instructions}\n\n{section}" if call.instructions else section
        return replace(call, instructions=instructions)

    def __repr__(self) -> str:
        return "AlertPolicy()"
