"""A fork's events: the prefix it shares with the conversations it came from, plus its own.

Continuing an earlier reply after its conversation moved on makes a new conversation (a
branch) that starts with the reply's events. Copying them would make the fork cost O(n) in
the conversation's length; instead the branch keeps references to the lists it came from,
with how many of their first events it shares, and appends to a list of its own. A
conversation's list only grows (events are appended once stored), so those first events
never change under the branch; the one exception, a conversation's ``reload`` (which replaces
its list's contents in place), first makes every branch sharing that list copy what it
shares (``unshare``).

Only branches use this; every other conversation's events are a plain ``list`` (the hot path
indexes and appends to it in C), so the type of ``Conversation.events`` is ``EventList``:
either of the two.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeAlias, TypeVar, overload

from .events import Event

P = TypeVar("P")

__all__ = ["EventList", "ForkedEvents", "Forks", "item_of_parts", "leading_parts"]


def leading_parts(parts: Iterable[tuple[P, int]], length: int) -> tuple[list[tuple[P, int]], int]:
    """The first of ``parts`` (each a list and how many of its first items count) cut to hold
    ``length`` items, and how many of ``length`` they fall short by (to take from what follows
    them). Used by the forks of events here and of converted messages in the providers."""
    taken: list[tuple[P, int]] = []
    left = length
    for part, count in parts:
        if not left:
            break
        take = min(count, left)
        taken.append((part, take))
        left -= take
    return taken, left


def item_of_parts(parts: Iterable[tuple[Sequence[P], int]], index: int) -> P:
    """The item at ``index`` (0 <= index < their total) of what ``parts`` hold in order, each a
    list and how many of its first items count. Used by the forks of events here and of
    converted messages in the providers."""
    for part, count in parts:
        if index < count:
            return part[index]
        index -= count
    raise IndexError("index out of range of the shared parts")


class ForkedEvents(Sequence[Event]):
    """The events of a branch: the first events of the lists it was forked from (shared, not
    copied), then the events recorded since the fork (``append``/``extend``).

    A fork of a branch shares that branch's parts too: a line of forks of forks holds one part
    per fork taken beyond the previous one's shared prefix, each a prefix of a list that only
    grows. Indexing is O(1) for the events after the fork, O(parts) before it; slices and
    iteration are C-speed per part.
    """

    __slots__ = ("__weakref__", "_own", "_parts", "_shared", "_watching", "append", "extend")

    _parts: tuple[tuple[list[Event], int], ...]  # (list, how many of its first events)
    # Add events after the fork: the own list's methods themselves (no Python call per step).
    append: Callable[[Event], None]
    extend: Callable[[Iterable[Event]], None]

    def __init__(self, events: EventList, length: int) -> None:
        """The first ``length`` events of ``events`` (fewer if it holds fewer), shared."""
        self._own_list([])
        self._watching: tuple[Forks, ...] = ()
        length = max(0, min(length, len(events)))
        self._shared = length
        if isinstance(events, list):  # a conversation's list (a subclass too), not a fork
            self._parts = ((events, length),) if length else ()
            return
        parts, left = leading_parts(events._parts, length)
        if left:  # the branch's own events after its shared prefix (a list that only grows)
            parts.append((events._own, left))
        self._parts = tuple(parts)
        # A list this fork shares through ``events`` may be reloaded: hear of it as
        # ``events`` does.
        if events._watching:
            self._watching = events._watching
            for forks in self._watching:
                forks.add(self)

    def watch(self, forks: Forks) -> None:
        """Join ``forks``: the forks of a conversation, which copy what they share of its list
        (``unshare``) before a reload replaces its contents. Forks of this fork join too."""
        forks.add(self)
        self._watching = (*self._watching, forks) if self._watching else (forks,)

    def unshare(self, events: list[Event]) -> None:
        """Copy the part shared with ``events`` (about to change in place), if any: this
        fork's events stay what they were."""
        if any(part is events for part, _ in self._parts):
            self._parts = tuple(
                (part[:count] if part is events else part, count) for part, count in self._parts
            )

    def reset(self, events: Iterable[Event]) -> None:
        """Replace the events with ``events`` (a reload of the branch's conversation). The old
        list of its own is left as it was: forks of this branch may share it."""
        self._parts = ()
        self._shared = 0
        self._own_list(list(events))

    def _own_list(self, own: list[Event]) -> None:
        self._own = own
        self.append = own.append
        self.extend = own.extend

    def __len__(self) -> int:
        return self._shared + len(self._own)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        # The reads an ask makes go first: an event or a tail after the fork point.
        shared = self._shared
        if type(index) is slice:
            start = index.start
            if start is not None and start >= shared and index.step is None:
                stop = index.stop
                if stop is None:
                    return self._own[start - shared :]
                if stop >= shared:
                    return self._own[start - shared : stop - shared]
            return self._slice(index)
        if index >= shared:
            return self._own[index - shared]
        if index < 0:
            index += shared + len(self._own)
            if index < 0:
                raise IndexError("event index out of range")
            if index >= shared:
                return self._own[index - shared]
        return item_of_parts(self._parts, index)

    def _slice(self, index: slice) -> list[Event]:
        start, stop, step = index.indices(self._shared + len(self._own))
        if step != 1:
            return list(self)[index]
        if stop <= start:
            return []
        shared = self._shared
        if start >= shared:  # after the fork only: the common case (a tail)
            return self._own[start - shared : stop - shared]
        out: list[Event] = []
        offset = 0
        for part, count in self._parts:
            end = offset + count
            if start < end and offset < stop:
                out += part[max(start - offset, 0) : min(stop, end) - offset]
            offset = end
        if stop > shared:
            out += self._own[: stop - shared]
        return out

    def __iter__(self) -> Iterator[Event]:
        parts = self._parts
        if len(parts) == 1:
            part, count = parts[0]
            return itertools.chain(itertools.islice(part, count), self._own)
        return itertools.chain(*(itertools.islice(part, count) for part, count in parts), self._own)

    def __reversed__(self) -> Iterator[Event]:
        return reversed(self[:])

    def starts_like(self, other: EventList, count: int) -> bool:
        """Whether this and ``other`` begin with the same first ``count`` events by
        construction (the same parts of the same lists): O(parts), no event compared. False
        says nothing (they may still hold the same events)."""
        if type(other) is ForkedEvents:
            theirs: Sequence[tuple[list[Event], int]] = other._parts
            if count > other._shared:
                theirs = (*theirs, (other._own, count - other._shared))
        else:
            assert isinstance(other, list)
            theirs = ((other, count),)
        mine: Sequence[tuple[list[Event], int]] = self._parts
        if count > self._shared:
            mine = (*mine, (self._own, count - self._shared))
        # Walk both decompositions over the first ``count`` events: at every position both
        # must take the event from the same place of the same list.
        i = j = 0
        at_mine = at_theirs = 0  # where in the current part of each
        left = count
        while left:
            if i >= len(mine) or j >= len(theirs):
                return False
            a, a_count = mine[i]
            b, b_count = theirs[j]
            if a is not b or at_mine != at_theirs:
                return False
            step = min(a_count - at_mine, b_count - at_theirs, left)
            left -= step
            at_mine += step
            at_theirs += step
            if at_mine == a_count:
                i, at_mine = i + 1, 0
            if at_theirs == b_count:
                j, at_theirs = j + 1, 0
        return True

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ForkedEvents | list):
            return len(other) == len(self) and self[:] == other[:]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ForkedEvents({self._shared} shared + {len(self._own)} own)"


EventList: TypeAlias = "list[Event] | ForkedEvents"
"""What ``Conversation.events`` holds: a plain list, or a branch's ``ForkedEvents``."""


class Forks:
    """The live forks sharing one conversation's list (held weakly), told before a reload
    changes the list in place (``unshare``)."""

    __slots__ = ("_prune_at", "_refs")

    def __init__(self) -> None:
        self._refs: list[weakref.ref[ForkedEvents]] = []
        self._prune_at = 64

    def add(self, fork: ForkedEvents) -> None:
        refs = self._refs
        refs.append(weakref.ref(fork))
        if len(refs) >= self._prune_at:  # drop the dead; amortised O(1) per fork
            refs[:] = [ref for ref in refs if ref() is not None]
            self._prune_at = max(64, 2 * len(refs))

    def unshare(self, events: list[Event]) -> None:
        """Have every live fork copy what it shares of ``events``."""
        for ref in self._refs:
            fork = ref()
            if fork is not None:
                fork.unshare(events)
        self._refs.clear()
