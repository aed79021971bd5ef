"""Incremental conversion of a conversation's events into a provider's messages.

A model call hands the adapter a view of the whole conversation. Converting all of it on every
call would make a conversation of n calls cost O(n²); instead the converted messages of each
conversation are kept, and each call converts only the events added since the previous one.
A fork (an old reply continued) shares the converted messages of its prefix with the
conversation it came from instead of copying them, as its events do (``baton.forked``).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeAlias, TypeVar, overload

from ..events import Event, ModelResponse, ToolCallError, ToolCallResult
from ..forked import item_of_parts, leading_parts
from ..history import HistoryView
from ..transcript import TranscriptState, shown

__all__ = [
    "MessageCache",
    "SharedMessages",
    "append_tool_message",
    "last_message_reach",
    "merge_or_append",
    "message_list",
    "tool_message_reach",
]

M = TypeVar("M")


# How far back from the end of a view a new entry looks for a converted prefix to start from
# (a fork's first call: the events after the old reply's last model call, and the new ask's).
PREFIX_LOOKBACK = 128


# A fork shares the converted messages of its prefix from this many on; fewer are copied (a
# copy of a few references costs less than sharing them).
SHARE_FROM = 256


# Where one conversion pass of an entry ended: (count, event, length, guard, foreign): the first
# ``count`` events (``event`` the last of them) made the first ``length`` messages, ``guard``
# the last of those; ``foreign``: the transcript's state then (None when empty). A later pass
# that changes a message at or before ``guard`` (appending functions replace or insert
# messages, never change one in place) voids the mark. A plain tuple: one is made per call.
_Mark: TypeAlias = tuple[int, Event, int, object, "dict[str, str] | None"]


# (a list, how many of its first messages): a part of the messages an entry shares.
_Part: TypeAlias = "tuple[list[Any], int]"


class _Entry(Generic[M]):
    __slots__ = (
        "count",
        "first",
        "frozen",
        "key",
        "last",
        "marks",
        "messages",
        "parts",
        "shared",
        "transcript",
        "view",
    )

    def __init__(self, key: tuple[str, str | None]) -> None:
        self.key = key
        self.transcript = TranscriptState()
        self.count = 0
        self.first: Event | None = None
        self.last: Event | None = None
        # The messages: the first ``count`` messages of each of ``parts`` (``shared`` in
        # all: lists of other entries, shared by a fork), then ``messages``, the entry's own
        # list, the one ``append`` adds to.
        self.parts: tuple[_Part, ...] = ()
        self.shared = 0
        self.messages: list[M] = []
        # How many of the first messages of ``messages`` other entries share: they must not
        # change (see ``MessageCache._own_tail``).
        self.frozen = 0
        self.marks: list[_Mark] = []
        # The view last converted: a later view must begin with its first ``count`` events.
        self.view: HistoryView | None = None

    def at(self, index: int) -> M:
        """The message at ``index`` (0 <= index < length)."""
        own = index - self.shared
        if own >= 0:
            return self.messages[own]
        return item_of_parts(self.parts, index)  # type: ignore[no-any-return]

    def length(self) -> int:
        return self.shared + len(self.messages)

    def prefix(self, length: int) -> tuple[_Part, ...]:
        """The parts holding the first ``length`` messages."""
        parts, left = leading_parts(self.parts, length)
        if left:
            parts.append((self.messages, left))
        return tuple(parts)


class SharedMessages(Sequence[M]):
    """The messages of a fork's entry: the first messages of lists it shares with the entries
    it came from, then its own. Like the list the cache returns for other conversations, it
    holds until the cache's next call (which may replace its last messages). Build a request's
    list from it with ``message_list`` (a part at a time, in C)."""

    __slots__ = ("_length", "_parts")

    def __init__(self, parts: tuple[_Part, ...], length: int | None = None) -> None:
        self._parts = parts
        self._length = sum(count for _, count in parts) if length is None else length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> list[M]: ...

    def __getitem__(self, index: int | slice) -> M | list[M]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._length)
            if step != 1:
                return list(self)[index]
            out: list[M] = []
            offset = 0
            for part, count in self._parts:  # only the parts the slice reaches are copied
                end = offset + count
                if start < end and offset < stop:
                    out += part[max(start - offset, 0) : min(stop, end) - offset]
                offset = end
            return out
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("message index out of range")
        return item_of_parts(self._parts, index)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[M]:
        return itertools.chain.from_iterable(
            itertools.islice(part, count) for part, count in self._parts
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(other) == self._length and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SharedMessages({list(self)!r})"


class MessageCache(Generic[M]):
    """Per conversation (and calling agent), the provider messages of its first ``count``
    events.

    Each event goes through the transcript first (``baton.transcript.shown``): events models
    don't see are skipped, another agent's turns arrive as named user messages. Then
    ``append(messages, event)`` converts it and adds it to the list (merging into the last
    message where the provider needs that). The cache checks that the events it converted
    are still the conversation's: the same first and last converted event, and a view that
    begins with the events of the last one (``HistoryView.shares_prefix``: O(1) on the
    conversation's own list); a forked or edited history, or a window a context policy slid or
    re-pinned, is converted afresh.

    A conversation forked from another (an old reply continued after the conversation moved
    on) shares its events with it: its first call starts from the messages the other
    conversation had at the end of one of its calls (found by the identity of the event there,
    and of the first event, a few events back from the fork's end), and converts only the
    events after it. That is why ``append`` must never change a message in place: it may
    append a message, replace the last one (``messages[-1] = ...``) or insert one, and the
    cache notices which ends of earlier calls those changes void.

    With ``reach`` the fork shares those messages instead of copying them (O(1) in the
    length of the conversation): ``reach(messages)`` says how many of the last messages the
    next ``append`` may read or change (all of them when it can't tell), and ``append`` never
    reads or changes one before those (the point only moves on as messages are added). The
    fork's own list then starts with a copy of just those; the messages before them are
    shared, and neither side changes them again (an entry whose shared messages its next
    ``append`` could reach moves on to a list of its own first). Without ``reach`` a fork
    starts from a copy of the messages.

    With ``results_in_call_order=True`` (providers whose wire has no call ids, where results
    are matched to calls by position: Gemini, Ollama) the tool results of each answer are
    converted in the order of its calls, whatever order they finished in.
    """

    def __init__(
        self,
        append: Callable[[list[M], Event], None],
        *,
        reach: Callable[[Sequence[M]], int] | None = None,
        max_conversations: int = 1024,
        results_in_call_order: bool = False,
    ):
        self._append = append
        self._reach = reach
        self._entries: OrderedDict[tuple[str, str | None], _Entry[M]] = OrderedDict()
        self._max = max_conversations
        self._in_call_order = results_in_call_order
        # The ends of the entries' conversion passes, by (id of the event there, agent).
        self._marks: dict[tuple[int, str | None], tuple[_Entry[M], _Mark]] = {}

    def messages(
        self, conversation_id: str, events: HistoryView, agent: str | None = None
    ) -> Sequence[M]:
        """The converted messages for all of ``events`` as ``agent`` sees them (owned by the
        cache and valid until its next call: copy them into the request, don't change them).
        A list, or for a fork's conversation a ``SharedMessages``."""
        key = (conversation_id, agent)
        entry = self._entries.get(key)
        total = len(events)
        if (
            entry is None
            or entry.count > total
            or (
                entry.count
                and (
                    events[entry.count - 1] is not entry.last
                    or events[0] is not entry.first
                    or not _same_start(events, entry)
                )
            )
        ):
            if entry is not None:
                self._forget(entry)
            entry = self._from_prefix(key, events, agent)
            self._entries[key] = entry
            if len(self._entries) > self._max:
                self._forget(self._entries.popitem(last=False)[1])
        else:
            self._entries.move_to_end(key)
        entry.view = events
        if entry.count < total:
            if entry.frozen:
                self._own_tail(entry)
            append = self._append
            messages = entry.messages
            state = entry.transcript
            try:
                visible = (shown(event, agent, state) for event in events.tail(entry.count))
                for event in _in_call_order(visible) if self._in_call_order else visible:
                    if event is not None:
                        append(messages, event)
            except BaseException:
                # A half-converted batch must not be mistaken for a converted one.
                del self._entries[key]
                self._forget(entry)
                raise
            entry.count = total
            entry.first = events[0]
            last = entry.last = events[total - 1]
            marks = entry.marks
            # (An entry sharing no messages, the common case, indexes its list in C.)
            length = len(messages) + entry.shared
            at = entry.at if entry.shared else messages.__getitem__
            while marks:  # the ends of earlier passes this one changed a message of: void
                end = marks[-1][2]
                if end <= length and (not end or at(end - 1) is marks[-1][3]):
                    break
                self._unmark(entry, marks.pop())
            foreign = state.foreign_calls
            mark = (
                total,
                last,
                length,
                at(length - 1) if length else None,
                dict(foreign) if foreign else None,
            )
            marks.append(mark)
            self._marks[(id(last), agent)] = (entry, mark)
        if entry.shared:
            own = entry.messages
            return SharedMessages((*entry.parts, (own, len(own))), entry.shared + len(own))
        return entry.messages

    def _own_tail(self, entry: _Entry[M]) -> None:
        """Before a pass: if the next ``append`` could reach messages of the entry's list that
        other entries share, move the entry on to a list of its own holding the messages it
        could reach (the shared list is left as it is)."""
        assert self._reach is not None
        own = entry.messages
        keep = len(own) - min(self._reach(own), len(own))
        if keep >= entry.frozen:
            return
        if keep:
            entry.parts = (*entry.parts, (own, keep))
            entry.shared += keep
        entry.messages = own[keep:]
        entry.frozen = 0

    def _from_prefix(
        self, key: tuple[str, str | None], events: HistoryView, agent: str | None
    ) -> _Entry[M]:
        """A new entry for ``events``, holding the messages of the longest prefix another
        entry converted (found a few events back from the end), or none."""
        entry: _Entry[M] = _Entry(key)
        marks = self._marks
        if not marks or not len(events):
            return entry
        start = max(len(events) - PREFIX_LOOKBACK, 0)
        recent = events.tail(start)
        first = events[0]
        for offset in range(len(recent) - 1, -1, -1):
            event = recent[offset]
            found = marks.get((id(event), agent))
            if found is None:
                continue
            source, mark = found
            if (
                mark[1] is event
                and mark[0] == start + offset + 1
                and source.first is first
                and self._entries.get(source.key) is source
                and _holds(source, mark)
                and _same_start(events, source, mark[0])
            ):
                self._share(entry, source, mark[2])
                if mark[4] is not None:
                    entry.transcript.foreign_calls.update(mark[4])
                entry.count = mark[0]
                entry.first = first
                entry.last = event
                return entry
        return entry

    def _share(self, entry: _Entry[M], source: _Entry[M], length: int) -> None:
        """Start ``entry`` with the first ``length`` messages of ``source``: shared up to the
        ones the next ``append`` could reach, which the entry copies into its own list."""
        prefix: SharedMessages[M] = SharedMessages(source.prefix(length), length)
        if self._reach is None or length < SHARE_FROM:  # a copy (of a few: cheaper)
            entry.messages = message_list(prefix)
            return
        cut = length - min(self._reach(prefix), length)
        if cut:
            entry.parts = source.prefix(cut)
            entry.shared = cut
            if cut > source.shared:  # the source's own list is shared: it must not change
                source.frozen = max(source.frozen, cut - source.shared)
        entry.messages = prefix[cut:]

    def _forget(self, entry: _Entry[M]) -> None:
        for mark in entry.marks:
            self._unmark(entry, mark)
        entry.marks.clear()

    def _unmark(self, entry: _Entry[M], mark: _Mark) -> None:
        key = (id(mark[1]), entry.key[1])
        found = self._marks.get(key)
        if found is not None and found[1] is mark:
            del self._marks[key]

    def clear(self) -> None:
        self._entries.clear()
        self._marks.clear()


def _same_start(events: HistoryView, entry: _Entry[Any], count: int | None = None) -> bool:
    """Whether ``events`` begin with the first ``count`` (default: all the converted) events
    of ``entry``'s last view. The first and the last of them alone don't say it: a window that
    pins a request can put another event between the same first and last (one window pins the
    latest request, the next shows the event before the kept steps in its place)."""
    view = entry.view
    return view is not None and events.shares_prefix(view, entry.count if count is None else count)


def _holds(entry: _Entry[Any], mark: _Mark) -> bool:
    """Whether ``entry``'s messages still begin with the messages ``mark`` recorded (a
    replaced or shifted message at or before its last one changes the object found there)."""
    length = mark[2]
    return entry.length() >= length and (not length or entry.at(length - 1) is mark[3])


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
    same role (providers that require alternating roles). The merged message replaces the
    previous one (never changed in place: an earlier call's messages may be shared by a fork,
    see ``MessageCache``)."""
    if messages and messages[-1]["role"] == message["role"]:
        previous = messages[-1]
        content = previous["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        addition = message["content"]
        if isinstance(addition, str):
            addition = [{"type": "text", "text": addition}]
        messages[-1] = {**previous, "content": [*content, *addition]}
        return
    messages.append(message)


def message_list(messages: Sequence[M], *head: M) -> list[M]:
    """A new list of ``head`` then ``messages`` (as ``MessageCache.messages`` returned them),
    for a request: the parts of a ``SharedMessages`` are copied a part at a time (in C), not
    an item at a time through its iterator."""
    if type(messages) is not SharedMessages:  # a list (the cache's own): one copy in C
        return [*head, *messages]
    out = list(head)
    for part, count in messages._parts:
        out += part if count == len(part) else part[:count]
    return out


def last_message_reach(messages: Sequence[Any]) -> int:
    """``MessageCache``'s ``reach`` for appending functions that look at the last message
    only (``merge_or_append``: merged into when the roles match)."""
    return 1


def tool_message_reach(messages: Sequence[dict[str, Any]]) -> int:
    """``MessageCache``'s ``reach`` for ``append_tool_message``: the user messages at the end
    and the message before them (where a tool message goes in)."""
    at = len(messages)
    while at and messages[at - 1]["role"] == "user":
        at -= 1
    return len(messages) - at + 1


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
