"""History limits: cap what each model call sees, by events and by tokens.

    agent = Agent("a", config=..., middleware=[HistoryLimit(max_events=40, max_tokens=20_000)])

When the conversation is over a limit, the oldest events are left out of the call, a whole step
at a time: a ``ModelResponse`` that called tools is never separated from the
``ToolCallResult`` / ``ToolCallError`` events that answer it. The conversation's first request
(the task) and the current ask's request are always kept, and so is the latest step, even when
they alone are over a limit. Only model-visible events count (requests, responses, tool
results and errors, rejections, summaries, human messages); the stored history is untouched.

Whether a call is over ``max_tokens`` is judged first by the provider's count for the
conversation's latest response plus an estimate of the events after it; only then is each event
counted (``baton.harness.tokens``, once per event) to decide, and to choose what fits. Counts
are kept per conversation and updated with the events added since the last call, so an idle
limit costs O(new events) per call, and a trimmed call O(events sent).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..events import (
    Event,
    ModelRequest,
    ModelResponse,
    ToolCallError,
    ToolCallResult,
)
from ..history import HistoryView
from ._tally import TokensKind, sent_to_model
from .base import Middleware, ProceedModel

if TYPE_CHECKING:
    from ..context import Context
    from ..models.base import ModelCall

__all__ = ["HistoryLimit"]

_RESULTS = (ToolCallResult, ToolCallError)


class _Shape:
    """Per conversation: which of the first ``seen`` events the model sees, and where the first
    and latest requests are (kept up to date only when a limit may be exceeded)."""

    __slots__ = ("events", "first", "last", "latest", "seen", "visible")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seen = 0
        self.last: Event | None = None
        self.first = -1  # index of the first ModelRequest
        self.latest = -1  # index of the latest ModelRequest
        self.visible: list[bool] = []
        self.events = 0  # how many are visible

    def update(self, messages: HistoryView) -> _Shape:
        total = len(messages)
        if self.seen > total or (self.seen and messages[self.seen - 1] is not self.last):
            self.reset()  # not a continuation of the events seen last time: start over
        index = self.seen
        if index == total:
            return self
        visible = self.visible
        for event in messages.tail(index):
            shown = sent_to_model(event)
            visible.append(shown)
            if shown:
                self.events += 1
                if isinstance(event, ModelRequest):
                    if self.first < 0:
                        self.first = index
                    self.latest = index
            index += 1
        self.seen = total
        self.last = messages[total - 1]
        return self


class HistoryLimit(Middleware):
    """Send each model call at most ``max_events`` model-visible events and about
    ``max_tokens`` tokens (counted with ``baton.harness.tokens`` for ``model``), oldest steps
    left out first. ``None`` means no limit of that kind."""

    def __init__(
        self,
        max_events: int | None = None,
        max_tokens: int | None = None,
        *,
        model: str | None = None,
    ) -> None:
        if max_events is None and max_tokens is None:
            raise ConfigError("HistoryLimit needs max_events=..., max_tokens=... or both")
        for name, value in (("max_events", max_events), ("max_tokens", max_tokens)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(
                    f"HistoryLimit({name}=...) must be an integer >= 1, got {value!r}"
                )
        self.max_events = max_events
        self.max_tokens = max_tokens
        self.model = model
        self._tokens = TokensKind.of(model)

    def __repr__(self) -> str:
        return f"HistoryLimit(max_events={self.max_events}, max_tokens={self.max_tokens})"

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        messages = call.messages
        max_events, max_tokens = self.max_events, self.max_tokens
        tokens: list[int] | None = None
        over = False
        if max_tokens is not None:
            kind = self._tokens
            figures = context.state(kind, kind)
            # The cheap estimate first; once windows were sent, reported counts measure the
            # windows, so from then on (and whenever the estimate says over) count each event.
            if figures.windowed or figures.estimate(messages) > max_tokens:
                tokens, total_tokens = figures.counts(messages)
                over = total_tokens > max_tokens
        # len(messages) bounds the visible events: under it, nothing more to check.
        if not over and (max_events is None or len(messages) <= max_events):
            return await proceed(call)
        shape = context.state(self, _Shape).update(messages)
        if not over and (max_events is None or shape.events <= max_events):
            return await proceed(call)
        figures = self._tokens.get(context)
        figures.windowed = True
        if tokens is None and max_tokens is not None:
            tokens = figures.counts(messages)[0]
        window = self.window(messages, shape, tokens)
        return await proceed(replace(call, messages=HistoryView(window)))

    def window(self, messages: HistoryView, shape: _Shape, tokens: list[int] | None) -> list[Event]:
        """The events to send: the pinned requests, then the newest whole steps that fit."""
        visible = shape.visible
        max_events = self.max_events if self.max_events is not None else len(messages)
        max_tokens = self.max_tokens or 0  # tokens is None exactly when there is no such limit
        first, latest = shape.first, shape.latest
        pinned = (first, latest) if latest != first else (first,)
        floor = first + 1  # 0 when there is no request to keep
        cut = end = len(messages)
        used_events = used_tokens = 0
        while end > floor:
            start = _step_start(messages, end - 1, floor)
            step_events = sum(visible[start:end])
            step_tokens = sum(tokens[start:end]) if tokens is not None else 0
            pinned_events = pinned_tokens = 0
            for index in pinned:
                if 0 <= index < start:
                    pinned_events += visible[index]
                    pinned_tokens += tokens[index] if tokens is not None else 0
            fits = (
                used_events + step_events + pinned_events <= max_events
                and used_tokens + step_tokens + pinned_tokens <= max_tokens
            )
            if not fits and cut < len(messages):
                break
            used_events += step_events
            used_tokens += step_tokens
            cut = end = start
        window: list[Event] = []
        if first >= 0:
            window.append(messages[first])
        if first < latest < cut:
            window.append(messages[latest])
        window.extend(messages.tail(cut))
        return window


def _step_start(messages: HistoryView, index: int, floor: int) -> int:
    """The first index of the step ending at ``index``: a tool result reaches back to the
    response that called it, so that a step is never split."""
    if not isinstance(messages[index], _RESULTS):
        return index
    while index > floor:
        event = messages[index]
        if isinstance(event, ModelResponse) and event.tool_calls:
            return index
        index -= 1
    return floor
