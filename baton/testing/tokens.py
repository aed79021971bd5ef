"""The scripted model's token count: a rough, deterministic estimate of what a model is shown,
counted per event class (most of a team's events are shown to no model and cost nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..events import (
    CompactionSummary,
    Data,
    Event,
    ModelRequest,
    ModelResponse,
    Text,
    ToolCallError,
    ToolCallResult,
)
from ..transcript import ALWAYS_SHOWN, sent_to_model

__all__ = ["count_tokens", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """A rough, deterministic token count (about four characters a token)."""
    return (len(text) + 3) // 4


# Counting is per event class: a class is counted (its counter) or not (None: the classes no
# model is shown, most of a team's events: runs', usage and team bookkeeping), so a member
# reading the dozen events of the others' turns pays next to nothing for them.
_Counter = Callable[[Any], int]


def _request_tokens(event: ModelRequest) -> int:
    tokens = 0
    for p in event.parts:  # a loop, not sum(...): most requests have one part
        if isinstance(p, Text):
            tokens += (len(p.text) + 3) // 4  # estimate_tokens, inlined
        elif isinstance(p, Data):
            tokens += estimate_tokens(str(p.value))
        else:
            tokens += 256
    return tokens


def _response_tokens(event: ModelResponse) -> int:
    tokens = (len(event.text) + 3) // 4  # estimate_tokens, inlined: the commonest kind
    for c in event.tool_calls:
        tokens += (len(c.arguments) + 3) // 4 + 4
    return tokens


def _result_tokens(event: ToolCallResult) -> int:
    if event.parts:  # media: a flat charge each, as for a request's media
        return 4 + sum(estimate_tokens(p.text) if isinstance(p, Text) else 256 for p in event.parts)
    return estimate_tokens(event.content) + 4


def _message_tokens(event: ToolCallError | CompactionSummary) -> int:
    return estimate_tokens(event.message) + 4


# The classes counted, in the order a subclass is matched (the first base that fits).
_KINDS: tuple[tuple[type, _Counter], ...] = (
    (ModelRequest, _request_tokens),
    (ModelResponse, _response_tokens),
    (ToolCallResult, _result_tokens),
    (ToolCallError, _message_tokens),
    (CompactionSummary, _message_tokens),
)
_UNRESOLVED: Any = object()
_COUNTERS: dict[type, _Counter | None] = {}  # each class met: its counter, or None


def _counter_for(event: Event) -> _Counter | None:
    """How events of ``event``'s class are counted, found once per class."""
    cls = type(event)
    counter = next((count for kind, count in _KINDS if issubclass(cls, kind)), None)
    # A counted class is shown or not by its class alone (only a human's message depends on its
    # fields, and it is not counted), so one event decides for its class.
    if counter is not None and cls not in ALWAYS_SHOWN and not sent_to_model(event):
        counter = None  # what the model reads is the transcript's to say
    _COUNTERS[cls] = counter
    return counter


def count_tokens(events: Sequence[Event]) -> int:
    """The input tokens of ``events``, each counted by its class's counter: one dict lookup per
    event (most of a team's events are shown to no model: runs', usage and team bookkeeping;
    passed over by their class). A plain loop: cheaper, at every length measured (15 to 1,500
    events), than sorting the events by class in C first."""
    tokens = 0
    counters = _COUNTERS
    for event in events:
        counter = counters.get(type(event), _UNRESOLVED)
        if counter is None:
            continue  # never shown to a model
        if counter is _UNRESOLVED:
            counter = _counter_for(event)
            if counter is None:
                continue
        tokens += counter(event)
    return tokens
