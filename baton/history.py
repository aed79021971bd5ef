"""Where conversations are kept: the History and Storage protocols and their in-memory versions.

Agents are stateless; a conversation's events live in a ``History`` and any other durable state
(suspended runs, knowledge) in a ``Storage``. Other backends (Redis, SQL) implement the same
protocols.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol, overload, runtime_checkable

from .errors import ClaimLost, ConfigError, ConversationBusy
from .events import Event
from .forked import EventList, ForkedEvents
from .redaction import logger

log = logger("baton.history")

__all__ = [
    "Claim",
    "ClaimingHistory",
    "ClaimingNow",
    "History",
    "HistoryView",
    "KeptClaim",
    "MemoryHistory",
    "MemoryStorage",
    "Storage",
    "WritingClaim",
    "keep_running",
    "kind_check",
    "lease_seconds",
    "take_claim",
    "write_abandoned",
]


class HistoryView(Sequence[Event]):
    """A read-only view of the first ``length`` events of a growing list (a conversation's
    events: a ``list``, or a fork's ``ForkedEvents``).

    Making one is O(1): model calls and replies hand out views instead of copies, so a long
    conversation costs nothing extra per call. The view never sees events appended after it.
    """

    __slots__ = ("_events", "_length")

    def __init__(self, events: EventList, length: int | None = None) -> None:
        self._events = events
        self._length = len(events) if length is None else length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return self._events[: self._length][index]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("history index out of range")
        return self._events[index]

    def __iter__(self) -> Iterator[Event]:
        return itertools.islice(self._events, self._length)

    def tail(self, start: int) -> list[Event]:
        """The events from index ``start`` on: O(len - start), for incremental consumers."""
        return self._events[start : self._length]

    def shares_prefix(self, other: HistoryView, count: int) -> bool:
        """Whether this view and ``other`` both begin with the same ``count`` events: O(1) for
        two views of the same list (taken to agree up to the shorter: a conversation's list
        only grows, and a reload replaces its events, which comparing the ``count``-th event
        shows) and for a fork and the conversation it shares them with (``ForkedEvents``),
        else one comparison per event (the same objects compare by identity, in C)."""
        if count > self._length or count > other._length:
            return False
        mine, theirs = self._events, other._events
        if mine is theirs:
            return True
        if type(mine) is ForkedEvents:
            if mine.starts_like(theirs, count):
                return True
        elif type(theirs) is ForkedEvents and theirs.starts_like(mine, count):
            return True
        if len(mine) == count == len(theirs):
            return mine == theirs
        return mine[:count] == theirs[:count]

    def __repr__(self) -> str:
        return f"HistoryView({self._length} events)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(other) == self._length and all(
                a == b for a, b in zip(self, other, strict=False)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@runtime_checkable
class History(Protocol):
    """Append-only event log per conversation."""

    async def load(self, conversation_id: str) -> list[Event]:
        """All persisted events of a conversation, oldest first (empty if unknown)."""
        ...

    async def append(self, conversation_id: str, events: Sequence[Event]) -> None:
        """Append events, in order, to the end of a conversation."""
        ...

    async def length(self, conversation_id: str) -> int:
        """How many events a conversation holds (0 if unknown)."""
        ...


@runtime_checkable
class Claim(Protocol):
    """A held claim on a conversation (see ``ClaimingHistory``). ``length`` is the number of
    events the store held when the claim was taken, when the backend read it in the same round
    trip (``None`` otherwise: the ask then asks the history). ``started``: the ``start`` events
    given to ``claim`` were appended with it (the store held exactly ``at`` events)."""

    length: int | None
    started: bool
    lost: bool  # the lease could not be renewed in time: writes must stop

    async def release(self) -> None:
        """Give the conversation back (idempotent)."""
        ...

    async def append_and_release(self, events: Sequence[Event]) -> None:
        """Append a run's last events and give the conversation back: in one round trip where
        the backend can, and only while this claim is held (else ``ClaimLost``, nothing
        written). On failure the claim is still held (``release`` gives it back)."""
        ...


def kind_check(protocol: type) -> Callable[[object], bool]:
    """``isinstance(value, protocol)``, answered once per class: a runtime protocol check costs
    tens of microseconds, more than the rest of opening a memory conversation or a write."""
    known: dict[type, bool] = {}

    def check(value: object) -> bool:
        cls = type(value)
        answer = known.get(cls)
        if answer is None:
            answer = known[cls] = isinstance(value, protocol)
        return answer

    return check


@runtime_checkable
class ClaimingNow(Protocol):
    """A ``ClaimingHistory`` whose claim can be awaited in the asking task, with no task of its
    own (``RedisHistory``'s): asks use ``claim_now`` when a history has it."""

    async def claim_now(
        self,
        conversation_id: str,
        *,
        wait: float | None = 0,
        start: Sequence[Event] = (),
        at: int = 0,
        cut: Callable[[asyncio.Future[Claim]], None],
    ) -> Claim:
        """``ClaimingHistory.claim``; a cancel that lands once the claim may have been taken
        hands ``cut`` the future of that claim (it fails when none was taken) before the
        ``CancelledError`` is raised, so the caller can give it back."""
        ...


@runtime_checkable
class WritingClaim(Claim, Protocol):
    """A ``Claim`` that writes the conversation's events itself, in the task that awaits the
    write, with no task of its own per write (``baton.storing`` uses it when a claim has it;
    ``RedisHistory``'s claims write on the connection they hold).

    A cancel must not tear such a write: once the write may have reached the store, a cancel
    leaves it going on in a task, which ``take_cut`` hands over (the awaiting task still gets
    the ``CancelledError``); when nothing was sent, ``take_cut`` returns ``None``."""

    def write_now(self, events: Sequence[Event], release: bool) -> Awaitable[None] | None:
        """The write of ``events`` (``release``: and the claim given back with them, as
        ``append_and_release``), or ``None`` when it can't be made this way now (the caller
        then writes through ``History.append``/``append_and_release`` as any claim's)."""
        ...

    def take_cut(self) -> asyncio.Future[Any] | None:
        """The rest of a write a cancel cut off after it was sent, once; else ``None``."""
        ...


async def take_claim(
    conversation_id: str, wait: float | None, attempt: Callable[[], Awaitable[int | None]]
) -> int:
    """Try ``attempt`` (it returns the conversation's stored length once the claim is taken,
    ``None`` while another holder has it) with backoff, for up to ``wait`` seconds (``None``:
    for ever), then raise ``ConversationBusy``. The loop every claiming backend shares."""
    deadline = None if wait is None else time.monotonic() + wait
    delay = 0.005
    while True:
        length = await attempt()
        if length is not None:
            return length
        if deadline is not None and time.monotonic() >= deadline:
            raise ConversationBusy(
                f"conversation {conversation_id} is answering an ask in another process (or "
                "task); try again later, or wait for it with ask(..., wait_busy=SECONDS)"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


def lease_seconds(owner: str, lease: float) -> float:
    """A claim's lease, checked: a number of seconds above 0.05."""
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0.05:
        raise ConfigError(f"{owner}(lease=...) must be more than 0.05 seconds, got {lease!r}")
    return float(lease)


# The future an ask awaits for the store write running in this context (see run.store).
WRITE_WAITER: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar(
    "baton_write_waiter", default=None
)


def write_abandoned() -> bool:
    """Whether the ask waiting for the store write running now was cancelled. A backend that
    retries a write it has not started (SQLite waiting for another connection's lock) stops
    and raises then, instead of holding the cancelled ask up; a write already sent is never
    abandoned (the ask waits for it, so memory ends as the store does)."""
    waiter = WRITE_WAITER.get()
    return waiter is not None and waiter.cancelled()


_BACKGROUND: set[asyncio.Future[Any]] = set()  # work an ask left running (releases of claims)


def keep_running(work: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``work`` to its end in the background, holding a reference until it is done (the
    event loop keeps only weak ones)."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


RELEASE_WAIT = 1.0
"""Seconds an ask waits for its claim's release before leaving it to run in the background."""


class KeptClaim:
    """A ``Claim`` whose lease is renewed in the background (every third of ``lease``
    seconds) until it is released; backends build it from their own renew, release and
    append-then-release statements. Most asks end before the first renewal: until then the
    claim costs one timer, not a task. A claim that can't be renewed in time is lost: that is
    logged, and the holder's next write refuses to go on (``lost``)."""

    __slots__ = (
        "_finish",
        "_lease",
        "_release",
        "_renew",
        "_renewer",
        "_timer",
        "length",
        "lost",
        "started",
        "what",
    )

    def __init__(
        self,
        what: str,
        lease: float,
        renew: Callable[[], Awaitable[bool]],
        release: Callable[[], Awaitable[object]],
        finish: Callable[[Sequence[Event]], Awaitable[bool]],
        length: int | None = None,
        *,
        started: bool = False,
    ) -> None:
        self.what = what
        self.length = length
        self.started = started
        self.lost = False
        self._lease = lease
        self._renew = renew
        self._release: Callable[[], Awaitable[object]] | None = release
        self._finish = finish  # append events and release; False: the claim was not held
        self._renewer: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(lease / 3, self._start_renewing)

    def _start_renewing(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(
            self._keep(), name=f"baton-claim-{self.what}"
        )

    async def _keep(self) -> None:
        lease = self._lease
        expires = time.monotonic() + lease * 2 / 3  # a third of it went by before the first
        while True:
            try:
                renewed = await self._renew()
            except Exception as exc:  # the store is unreachable: try again within the lease
                if time.monotonic() < expires:
                    log.info("could not renew the claim on %s (%s)", self.what, exc)
                    await asyncio.sleep(lease / 10)
                    continue
                renewed = False
            if not renewed:
                self.lost = True
                log.error("lost the claim on %s: another process may take it over", self.what)
                return
            expires = time.monotonic() + lease
            await asyncio.sleep(lease / 3)

    def _stop(self) -> Callable[[], Awaitable[object]] | None:
        release, self._release = self._release, None
        if release is not None:
            self._timer.cancel()
            if self._renewer is not None:
                self._renewer.cancel()  # racing the release is harmless: both check the holder
        return release

    @property
    def given_back(self) -> bool:
        """Whether the claim was released (or its last events written with the release)."""
        return self._release is None

    def finished(self, held: bool) -> None:
        """The store answered a write of the run's last events with the release: ``held``,
        they were written and the claim given back; else nothing was written (``ClaimLost``)."""
        if not held:
            self.lost = True
            raise ClaimLost(
                f"this process no longer holds the claim on {self.what} (its lease ran out), "
                "so the run's last events were not written; ask again (the conversation is "
                "reloaded from the store)"
            )
        self._stop()

    async def append_and_release(self, events: Sequence[Event]) -> None:
        if self._release is None:
            raise ClaimLost(f"the claim on {self.what} was given back already; nothing written")
        self.finished(await self._finish(events))

    async def release(self) -> None:
        release = self._stop()
        if release is None or self.lost:
            return  # released already, or nothing to give back
        try:
            async with asyncio.timeout(RELEASE_WAIT):
                await _quietly(release, self.what)
        except TimeoutError:
            # A store that is slow to answer (or a locked SQLite file) doesn't hold the ask up:
            # the release goes on in the background, and the lease ends in any case.
            keep_running(_quietly(release, self.what))
        except asyncio.CancelledError:
            # The ask was cancelled mid-release: give the conversation back all the same (the
            # release is idempotent: it deletes only this holder's claim).
            keep_running(_quietly(release, self.what))
            raise


async def _quietly(release: Callable[[], Awaitable[object]], what: str) -> None:
    """Release a claim; a store that can't be reached is logged (the lease expires anyway)."""
    try:
        await release()
    except Exception as exc:
        log.warning("could not release the claim on %s (%s)", what, exc)


@runtime_checkable
class ClaimingHistory(History, Protocol):
    """A history shared by several processes that can hand out one claim per conversation.

    ``claim`` returns once this process holds the conversation: a lease kept alive while the
    claim is held and lost by a holder that dies (so a crashed process blocks nobody for longer
    than its lease). It waits up to ``wait`` seconds (``None``: for ever) for another holder,
    then raises ``ConversationBusy``. Asks claim before they load, so an ask always continues
    the latest stored state.
    """

    async def claim(
        self,
        conversation_id: str,
        *,
        wait: float | None = 0,
        start: Sequence[Event] = (),
        at: int = 0,
    ) -> Claim:
        """Claim ``conversation_id``; with ``start``, also append those events in the same round
        trip when the store holds exactly ``at`` events (``claim.started`` says whether it did;
        a backend that can't do both at once leaves ``started`` false)."""
        ...


class MemoryHistory:
    """History kept in this process's memory: fast, and gone when the process exits."""

    __slots__ = ("_conversations",)

    def __init__(self) -> None:
        self._conversations: dict[str, list[Event]] = {}

    async def load(self, conversation_id: str) -> list[Event]:
        return list(self._conversations.get(conversation_id, ()))

    async def append(self, conversation_id: str, events: Sequence[Event]) -> None:
        stored = self._conversations.get(conversation_id)
        if stored is None:
            stored = self._conversations[conversation_id] = []
        stored.extend(events)

    async def length(self, conversation_id: str) -> int:
        return len(self._conversations.get(conversation_id, ()))

    def conversation_ids(self) -> list[str]:
        return list(self._conversations)


@runtime_checkable
class Storage(Protocol):
    """A small key-value store for JSON-able values."""

    async def get(self, key: str) -> Any | None: ...

    async def put(self, key: str, value: Any) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def keys(self, prefix: str = "") -> list[str]: ...


class MemoryStorage:
    """Storage kept in this process's memory."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        return self._data.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._data[key] = value

    async def delete(self, key: str) -> bool:
        if key in self._data:
            del self._data[key]
            return True
        return False

    async def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._data if k.startswith(prefix))
