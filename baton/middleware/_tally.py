"""Token counts of a conversation, kept per conversation (and tokenizer) and shared by the
middleware that need them (rate limits, history limits). Each costs O(new events) per call.

- ``estimate``: how many input tokens the next call will take, anchored on the provider's own
  count: the input and output tokens the latest response reported, plus an estimate of the
  events after it (``baton.harness.tokens``). Only events without a reported count are
  tokenized, so this is both cheaper and closer to the provider's figure than counting all.
- ``counts``: the estimated tokens of every event, for choosing which events to send; kept
  only once someone asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..events import (
    ModelRequest,
    ModelResponse,
    Text,
)
from ..harness.tokens import event_tokens
from ..transcript import sent_to_model

if TYPE_CHECKING:
    from ..context import Context
    from ..events import Event
    from ..history import HistoryView

__all__ = ["ConversationTokens", "TokensKind", "sent_to_model"]


class ConversationTokens:
    """The token figures of one conversation for one tokenizer ``model``.

    ``windowed`` is set by middleware that sent a call only part of the history: from then on
    reported counts measure windows, not the whole conversation.
    """

    __slots__ = (
        "anchor",
        "instruction_tokens",
        "instructions",
        "last",
        "last_counted",
        "model",
        "per_event",
        "seen",
        "since",
        "total",
        "view",
        "view_anchor",
        "view_since",
        "windowed",
    )

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.seen = 0
        self.last: Event | None = None
        self.anchor = 0  # input + output tokens the latest response reported
        self.since = 0  # estimated tokens of the events after it
        self.instructions: str | None = None
        self.instruction_tokens = 0
        self.per_event: list[int] | None = None  # for counts(), made on first use
        self.total = 0
        self.last_counted: Event | None = None
        self.windowed = False
        self.view: HistoryView | None = None  # the last view estimated, and its figures
        self.view_anchor = self.view_since = 0

    def estimate(self, messages: HistoryView, instructions: str | None = None) -> int:
        """The input tokens of a call on ``messages``; ``instructions`` are added while no
        response has reported a count (a reported count includes them)."""
        if messages is not self.view:  # else asked again for the same call (views never change)
            self.view = messages
            seen = self.seen
            # From the last event estimated on, if this view continues the events seen so far.
            tail = messages.tail(seen - 1) if seen else messages.tail(0)
            skip = 1 if seen else 0
            if seen and not (tail and tail[0] is self.last):
                # Not a continuation (e.g. a window): this view alone.
                self.view_anchor, self.view_since = self._view(messages)
            else:
                if len(tail) > skip:
                    self.anchor, self.since = self._add(tail, skip, self.anchor, self.since)
                    self.seen = seen + len(tail) - skip
                    self.last = tail[-1]
                self.view_anchor, self.view_since = self.anchor, self.since
        anchor, since = self.view_anchor, self.view_since
        if anchor == 0 and instructions:
            since += self._instructions(instructions)
        return anchor + since

    def _add(self, events: list[Event], start: int, anchor: int, since: int) -> tuple[int, int]:
        model = self.model
        for index in range(start, len(events)):
            event = events[index]
            if isinstance(event, ModelResponse) and event.usage.input_tokens:
                usage = event.usage
                anchor, since = usage.input_tokens + usage.output_tokens, 0
            elif sent_to_model(event):
                since += event_tokens(event, model)
        return anchor, since

    def _view(self, messages: HistoryView) -> tuple[int, int]:
        start = len(messages)
        while start > 0:  # back to the latest response with a count: O(events after it)
            start -= 1
            event = messages[start]
            if isinstance(event, ModelResponse) and event.usage.input_tokens:
                break
        return self._add(messages.tail(start), 0, 0, 0)

    def _instructions(self, instructions: str) -> int:
        if instructions is not self.instructions and instructions != self.instructions:
            self.instructions = instructions
            self.instruction_tokens = event_tokens(ModelRequest((Text(instructions),)), self.model)
        return self.instruction_tokens

    def counts(self, messages: HistoryView) -> tuple[list[int], int]:
        """Per-event token counts of ``messages`` (a list owned by this object: don't change
        it) and their sum. A view that does not continue the counted events is counted afresh
        (and not kept)."""
        per_event = self.per_event
        if per_event is None:
            per_event = self.per_event = []
        seen, total = len(per_event), len(messages)
        if seen <= total and (not seen or messages[seen - 1] is self.last_counted):
            if seen < total:
                model = self.model
                added = 0
                for event in messages.tail(seen):
                    tokens = event_tokens(event, model) if sent_to_model(event) else 0
                    per_event.append(tokens)
                    added += tokens
                self.total += added
                self.last_counted = messages[total - 1]
            return per_event, self.total
        fresh = [event_tokens(event, self.model) for event in messages]
        return fresh, sum(fresh)


class TokensKind:
    """The key (and factory) under which a conversation keeps its ``ConversationTokens`` for
    one tokenizer model: ``context.state(kind, kind)``. One per model, shared process-wide."""

    __slots__ = ("model",)

    _kinds: ClassVar[dict[str | None, TokensKind]] = {}

    def __init__(self, model: str | None) -> None:
        self.model = model

    @classmethod
    def of(cls, model: str | None) -> TokensKind:
        kind = cls._kinds.get(model)
        if kind is None:
            kind = cls._kinds.setdefault(model, cls(model))
        return kind

    def __call__(self) -> ConversationTokens:
        return ConversationTokens(self.model)

    def get(self, context: Context) -> ConversationTokens:
        """The conversation's token figures for this tokenizer."""
        return context.state(self, self)
