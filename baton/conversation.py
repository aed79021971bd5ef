"""A conversation: its events, its stream and its variables (agents hold none of this), and
how an ask opens one: an atomic claim, a load from the history, and the repair of a run that a
dead process left open.

Claims. One ask runs per conversation at a time, everywhere. In this process a conversation has
one ``Conversation`` object, and claiming it is a check and a flag set with no ``await`` between
them, so two tasks can never both pass. A history that keeps conversations for several processes
(``RedisHistory``, ``SQLHistory``) also implements ``ClaimingHistory``: the claim is then a lease
in the store, renewed while the ask runs and lost by a holder that dies, so two processes can't
both run an ask on one conversation either. A second ask gets ``ConversationBusy``, or waits up
to ``wait_busy`` seconds when the caller asked for that.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

from .errors import BackendUnavailable, ConversationBusy
from .events import Event, HumanMessage, RunFailed, RunFinished
from .forked import EventList, ForkedEvents, Forks
from .history import Claim, ClaimingHistory, ClaimingNow, History, keep_running, kind_check
from .stream import MemoryStream, Stream

__all__ = [
    "WRITE_GRACE",
    "Conversation",
    "claim",
    "claim_stored",
    "claims_in_store",
    "new_conversation",
    "new_id",
]


def new_id() -> str:
    """A random 16-hex-digit id (cheaper than uuid4, and as unique for this purpose): 8 bytes
    of the operating system's random source, read per id. (Read in batches, ids would repeat
    in processes forked by servers that skip Python's fork hooks, e.g. uWSGI's prefork
    workers by default, whenever the parent had made one.)"""
    return os.urandom(8).hex()


class Conversation:
    """The state of one conversation, shared by its successive asks (and their replies).

    ``events`` holds exactly what the history accepted (store first, then memory); ``saved`` is
    how many of them the history holds under this id (a fork starts with none saved). ``stale``
    marks a conversation whose memory may differ from its store (a write failed): the next ask
    reloads it.
    """

    __slots__ = (
        "__weakref__",
        "busy",
        "claim",
        "events",
        "forks",
        "history",
        "id",
        "inbox",
        "made_stream",
        "saved",
        "stale",
        "states",
        "taking_remarks",
        "variables",
        "writing",
    )

    def __init__(
        self,
        *,
        id: str | None = None,
        events: EventList | None = None,
        stream: Stream | None = None,
        variables: dict[str, Any] | None = None,
        history: History | None = None,
    ) -> None:
        self.id = id or new_id()
        self.events: EventList = events if events is not None else []
        # The stream once made (``stream`` makes a MemoryStream on first use): most
        # conversations are never watched, and while none is made nobody can be listening.
        self.made_stream: Stream | None = stream
        self.variables: dict[str, Any] = variables if variables is not None else {}
        self.history = history
        self.saved = len(self.events) if history is not None else 0
        self.busy = False
        self.stale = False
        self.claim: Claim | None = None  # the store's lease while an ask runs
        self.writing: asyncio.Future[None] | None = None  # a write a cancel cut off
        # Per-conversation state of middleware, observers and policies (see Context.state).
        self.states: dict[int, tuple[object, Any]] = {}
        # Remarks (HumanMessages answering no request) not yet recorded: the running ask takes
        # them before its next model call; one that came too late for it, the next ask.
        self.inbox: list[Event] | None = None  # made at the first remark
        # An ask running on this conversation takes the remarks sent on its stream (see
        # ``MemoryStream.remarks``; ``baton.loop`` sets it): a stream made meanwhile does too.
        self.taking_remarks = False
        # The forks sharing ``events`` (see ``fork``), made at the first.
        self.forks: Forks | None = None

    @property
    def stream(self) -> Stream:
        """The conversation's stream: the one it was given, or a ``MemoryStream`` made on
        first use."""
        stream = self.made_stream
        if stream is None:
            stream = self.made_stream = MemoryStream()
            if self.taking_remarks:
                stream.remarks = self.remark
        return stream

    @stream.setter
    def stream(self, stream: Stream) -> None:
        self.made_stream = stream

    def remark(self, message: HumanMessage) -> None:
        """Keep a remark (a HumanMessage answering no request) for the model's next call: the
        running ask takes it before that call, or the next ask if it came too late."""
        if self.inbox is None:
            self.inbox = []
        self.inbox.append(message)

    def fork(self, length: int) -> Conversation:
        """A new conversation that starts with this one's first ``length`` events.

        Used when an earlier reply is continued after the conversation moved on: the newer
        events stay where they are, and the branch gets its own id, stream and variables.
        The branch shares those events instead of copying them (``ForkedEvents``): O(1) in
        the conversation's length. Its first write stores them under its own id.
        """
        events = self.events
        shared = ForkedEvents(events, length)
        if isinstance(events, list):
            # This conversation's list changes in place only on a reload, which first has its
            # forks copy what they share of it. Registered with or without a history now: a
            # conversation can be given one later (and then be reloaded).
            forks = self.forks
            if forks is None:
                forks = self.forks = Forks()
            shared.watch(forks)
        branch = Conversation(events=shared, variables=dict(self.variables), history=self.history)
        branch.saved = 0
        return branch

    def free(self) -> bool:
        """Whether no ask holds this conversation (in this process)."""
        return not self.busy

    def take(self) -> None:
        """Claim this conversation in this process (``ConversationBusy`` if an ask runs)."""
        if self.busy:
            raise _busy(self.id)
        self.busy = True

    async def take_waiting(self, wait: float | None) -> None:
        """``take``, waiting up to ``wait`` seconds (``None``: for ever) for the running ask."""
        if not self.busy or wait == 0:
            self.take()
            return
        deadline = None if wait is None else time.monotonic() + wait
        delay = 0.002
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                raise _busy(self.id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
            if self.free():
                self.busy = True
                return

    async def release(self) -> None:
        """End this process's claim (and the store's lease, if one is held)."""
        claim, self.claim = self.claim, None
        try:
            if claim is not None:
                await claim.release()
        finally:
            self.busy = False

    async def reload(self) -> None:
        """Replace the events in memory with the store's (the same list object: views and
        contexts holding it see the change; forks sharing its events first copy them)."""
        assert self.history is not None
        events = await self.history.load(self.id)
        if not events and self.saved == 0:
            # A branch whose first write failed: the store holds nothing of it, and memory
            # holds only the prefix it was forked with (never stored under this id).
            self.stale = False
            return
        mine = self.events
        if type(mine) is ForkedEvents:
            mine.reset(events)
        else:
            assert isinstance(mine, list)
            if self.forks is not None:
                self.forks.unshare(mine)
            mine[:] = events
        self.saved = len(events)
        self.stale = False

    def __repr__(self) -> str:
        return f"Conversation({self.id!r}, {len(self.events)} events)"


def _busy(conversation_id: str) -> ConversationBusy:
    return ConversationBusy(
        f"conversation {conversation_id} is still answering an earlier ask; await that reply "
        "before asking again, start a new conversation, or wait for it with "
        "ask(..., wait_busy=SECONDS)"
    )


WRITE_GRACE = 10.0
"""Seconds a cancelled ask waits for its store write in flight, and the next claim for a write
a cancelled ask left behind."""


async def _settle(conversation: Conversation) -> None:
    writing = conversation.writing
    if writing is None:
        return
    if not writing.done():
        await asyncio.wait({writing}, timeout=WRITE_GRACE)
        if not writing.done():
            raise BackendUnavailable(
                f"a write to conversation {conversation.id} from a cancelled ask has not "
                "finished; the store is slow or stuck: try again later"
            )
    conversation.writing = None
    conversation.stale = True  # reload: whatever that write did, the store has it now


def _give_back(
    conversation: Conversation, start: Sequence[Event], taking: asyncio.Future[Claim]
) -> None:
    """A claim taken for an ask that was cancelled meanwhile: give it back, closing the run
    whose start it stored (memory never took that start: the next claim reloads)."""
    if taking.cancelled() or taking.exception() is not None:
        return
    claim = taking.result()
    if claim.started and start:
        conversation.stale = True
        keep_running(_close_unbegun(claim, start[0]))
    else:
        keep_running(claim.release())


async def _close_unbegun(claim: Claim, started: Event) -> None:
    closing = RunFailed(
        getattr(started, "run_id", ""), "Cancelled", "The ask was cancelled before it began."
    )
    try:
        await claim.append_and_release((closing,))
    except Exception:  # the next ask that opens the conversation closes the run
        await claim.release()


def _cut_claim(
    conversation: Conversation, start: Sequence[Event], taking: asyncio.Future[Claim]
) -> None:
    taking.add_done_callback(functools.partial(_give_back, conversation, start))


# Whether a history claims conversations in its store (``ClaimingHistory``), and whether it
# claims them from the asking task (``ClaimingNow``).
claims_in_store = kind_check(ClaimingHistory)
claims_now = kind_check(ClaimingNow)


# Stored conversations open in this process, keyed by (id(history), conversation id). A live
# Conversation holds its history, so the history's id cannot be reused while the entry exists.
_OPEN: weakref.WeakValueDictionary[tuple[int, str], Conversation] = weakref.WeakValueDictionary()

WARM_CONVERSATIONS = 256
"""Stored conversations this process keeps in memory after their asks (the most recently
claimed): the next ask on one of them continues from memory, checked against the store's
length, instead of loading it again. Older ones stay only while a reply holds them."""

_WARM: OrderedDict[tuple[int, str], Conversation] = OrderedDict()


def _keep_warm(key: tuple[int, str], conversation: Conversation) -> None:
    _WARM[key] = conversation
    _WARM.move_to_end(key)
    if len(_WARM) > WARM_CONVERSATIONS:
        _WARM.popitem(last=False)


def new_conversation(
    stream: Stream | None, variables: dict[str, Any], history: History | None
) -> Conversation:
    """A conversation with a new id, claimed for its first ask (a new id needs no claim in the
    store: nobody else knows it yet, and the store holds nothing under it)."""
    conversation = Conversation(stream=stream, variables=variables, history=history)
    conversation.busy = True
    if history is not None:
        key = (id(history), conversation.id)
        _OPEN[key] = conversation
        _keep_warm(key, conversation)
    return conversation


async def claim(
    conversation: Conversation, wait: float | None = 0, start: Sequence[Event] = ()
) -> None:
    """Claim ``conversation`` for one ask (see the module docs): in this process, then in the
    store, bringing memory up to date with the store. On failure nothing stays claimed.
    ``start``: the run's first events, written with the claim when the store can (see
    ``claim_stored``)."""
    history = conversation.history
    if history is None:  # kept in memory only: this process's claim is all there is
        if conversation.busy:
            await conversation.take_waiting(wait)
        else:
            conversation.busy = True
        return
    key = (id(history), conversation.id)
    _keep_warm(key, _OPEN.setdefault(key, conversation))
    await _claim_stored(conversation, history, wait, start)


async def claim_stored(
    history: History,
    conversation_id: str,
    *,
    stream: Stream | None,
    variables: dict[str, Any],
    wait: float | None,
    start: Sequence[Event] = (),
) -> Conversation:
    """Claim a stored conversation by id: this process's object for it (made, and loaded, on
    first use), claimed and up to date. ``stream`` replaces its stream when given.

    ``start`` (a new run's ``RunStarted`` and request): when memory is known to match the store
    and its last run is closed, a ``ClaimingHistory`` that can appends them in the claim's own
    round trip, if the store still holds what memory does; ``conversation.claim.started`` then
    says they are stored (and in memory). Otherwise the ask writes them itself."""
    key = (id(history), conversation_id)
    conversation = _OPEN.get(key)
    if conversation is None:
        conversation = Conversation(
            id=conversation_id, stream=stream, variables=dict(variables), history=history
        )
        conversation.saved = -1  # not loaded yet
        _OPEN[key] = conversation
    _keep_warm(key, conversation)
    await _claim_stored(conversation, history, wait, start)
    if stream is not None:
        conversation.stream = stream
    return conversation


def _start_at(conversation: Conversation) -> int | None:
    """How many events the store must hold for a new run's first events to go in with the
    claim (``None``: they can't; memory may be behind, or its last run is still open)."""
    if conversation.stale or conversation.writing is not None:
        return None
    if conversation.saved < 0:
        return 0  # not loaded: only a conversation the store has nothing of
    events = conversation.events
    if conversation.saved != len(events):
        return None
    if events and not isinstance(events[-1], RunFinished | RunFailed):
        return None  # a paused or dead run: refused or repaired first
    return conversation.saved


async def _claim_stored(
    conversation: Conversation, history: History, wait: float | None, start: Sequence[Event]
) -> None:
    # The in-process claim is taken before the first await; the store's next; the events are
    # (re)loaded only when the store holds a different number than memory knows of.
    await conversation.take_waiting(wait)
    try:
        length = None
        if claims_in_store(history):
            at = _start_at(conversation) if start else None
            await _settle(conversation)
            first = start if at is not None else ()
            if claims_now(history):
                # Claimed in this task; a cancel once the claim was sent hands over its future.
                held = conversation.claim = await cast(ClaimingNow, history).claim_now(
                    conversation.id,
                    wait=wait,
                    start=first,
                    at=at or 0,
                    cut=functools.partial(_cut_claim, conversation, start),
                )
            else:
                taking = asyncio.ensure_future(
                    cast(ClaimingHistory, history).claim(
                        conversation.id, wait=wait, start=first, at=at or 0
                    )
                )
                try:
                    held = conversation.claim = await asyncio.shield(taking)
                except asyncio.CancelledError:
                    # A claim taken after all is given back (its stored start closed).
                    _cut_claim(conversation, start, taking)
                    raise
            if held.started:  # the store held what memory does, and now the start too
                conversation.events.extend(start)
                conversation.saved = len(conversation.events)
                return
            length = held.length
        else:
            await _settle(conversation)
        if conversation.saved < 0 and length == 0:
            conversation.saved = 0  # never loaded, and the store has nothing: nothing to load
        elif conversation.saved < 0 or conversation.stale:
            await conversation.reload()
        else:
            if length is None:
                length = await history.length(conversation.id)
            if length != conversation.saved:
                await conversation.reload()
    except BaseException:
        await conversation.release()
        raise
