"""Incremental conversion of a conversation's events into a provider's messages.

A model call hands the adapter a view of the whole conversation. Converting all of it on every
call would make a conversation of n calls cost O(n²); instead the converted messages of each
conversation are kept, and each call converts only the events added since the previous one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from ..events import Event, ModelResponse, ToolCallError, ToolCallResult
from ..history import HistoryView
from ..transcript import TranscriptState, shown

__all__ = ["MessageCache", "append_tool_message", "merge_or_append"]

M = TypeVar("M")


class _Entry(Generic[M]):
    __slots__ = ("count", "first", "last", "messages", "transcript")

    def __init__(self) -> None:
        self.transcript = TranscriptState()
        self.count = 0
        self.first: Event | None = None
        self.last: Event | None = None
        self.messages: list[M] = []


class MessageCache(Generic[M]):
    """Per conversation (and calling agent), the provider messages of its first ``count``
    events.

    Each event goes through the transcript first (``baton.transcript.shown``): events models
    don't see are skipped, another agent's turns arrive as named user messages. Then
    ``append(messages, event)`` converts it and adds it to the list (merging into the last
    message where the provider needs that). The cache checks that the events it converted
    are still the conversation's, by the identity of the first and the last converted event (a
    forked or edited history, or a window a context policy slid, is converted afresh).

    With ``results_in_call_order=True`` (providers whose wire has no call ids, where results
    are matched to calls by position: Gemini, Ollama) the tool results of each answer are
    converted in the order of its calls, whatever order they finished in.
    """

    def __init__(
        self,
        append: Callable[[list[M], Event], None],
        *,
        max_conversations: int = 1024,
        results_in_call_order: bool = False,
    ):
        self._append = append
        self._entries: OrderedDict[tuple[str, str | None], _Entry[M]] = OrderedDict()
        self._max = max_conversations
        self._in_call_order = results_in_call_order

    def messages(
        self, conversation_id: str, events: HistoryView, agent: str | None = None
    ) -> list[M]:
        """The converted messages for all of ``events`` as ``agent`` sees them (a list owned by
        the cache: copy it before changing it)."""
        key = (conversation_id, agent)
        entry = self._entries.get(key)
        total = len(events)
        if (
            entry is None
            or entry.count > total
            or (
                entry.count
                and (events[entry.count - 1] is not entry.last or events[0] is not entry.first)
            )
        ):
            entry = _Entry()
            self._entries[key] = entry
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if entry.count < total:
            append = self._append
            state = entry.transcript
            try:
                visible = (shown(event, agent, state) for event in events.tail(entry.count))
                for event in _in_call_order(visible) if self._in_call_order else visible:
                    if event is not None:
                        append(entry.messages, event)
            except BaseException:
                # A half-converted batch must not be mistaken for a converted one.
                del self._entries[key]
                raise
            entry.count = total
            entry.first = events[0]
            entry.last = events[total - 1]
        return entry.messages

    def clear(self) -> None:
        self._entries.clear()


def _in_call_order(events: Iterable[Event | None]) -> Iterator[Event | None]:
    """``events`` with each answer's tool results (they follow it, in the order they finished)
    sorted into the order of its calls."""
    order: dict[str, int] = {}
    results: list[ToolCallResult | ToolCallError] = []
    for event in events:
        if event is None:
            continue  # not shown (run bookkeeping between results, ...)
        if isinstance(event, ToolCallResult | ToolCallError):
            results.append(event)
            continue
        if results:
            results.sort(key=lambda r: order.get(r.call_id, len(order)))
            yield from results
            results.clear()
        if isinstance(event, ModelResponse):
            order = {call.id: index for index, call in enumerate(event.tool_calls)}
        yield event
    results.sort(key=lambda r: order.get(r.call_id, len(order)))
    yield from results


def merge_or_append(messages: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """Append ``message``, merging its content into the previous message when both have the
    same role (providers that require alternating roles)."""
    if messages and messages[-1]["role"] == message["role"]:
        previous = messages[-1]
        content = previous["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        addition = message["content"]
        if isinstance(addition, str):
            addition = [{"type": "text", "text": addition}]
        previous["content"] = [*content, *addition]
        return
    messages.append(message)


def append_tool_message(messages: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """Append a ``tool`` message, ahead of the user messages that follow the previous tool
    messages (the media of earlier results, where tool messages take text only): the answers
    to one turn's calls must follow it together."""
    at = len(messages)
    while at and messages[at - 1]["role"] == "user":
        at -= 1
    if at < len(messages) and at and messages[at - 1]["role"] == "tool":
        messages.insert(at, message)
    else:
        messages.append(message)
