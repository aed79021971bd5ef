"""Store first: how an ask's events are written. An event is part of the conversation once,
and only once, the history accepted it: the write runs in a task of its own (a cancel of the
ask can't tear it), memory is extended only after it, and a write that fails leaves memory as
the store is (the conversation is marked stale and reloaded by its next ask) and raises
``BackendUnavailable``.

A claim that writes by itself (``WritingClaim``, e.g. ``RedisHistory``'s) is awaited in the
ask's own task instead, saving the task and its two loop turns per write: it guarantees the
same, handing over the rest of a write a cancel cut off after it was sent, which the ask then
waits for as for a write in a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from .conversation import WRITE_GRACE, Conversation
from .errors import BackendUnavailable, BatonError, ClaimLost
from .events import Event, RunFailed
from .history import WRITE_WAITER, History, MemoryHistory, WritingClaim, kind_check
from .redaction import logger, redact_text

__all__ = ["CANCEL_GRACE", "abandon_run", "store"]

log = logger("baton.run")

CANCEL_GRACE = 1.0
"""Seconds a cancelled ask spends closing its run in the store before leaving that to the next
ask's repair."""


async def abandon_run(conversation: Conversation, run_id: str, error: BaseException) -> None:
    """Close run ``run_id`` whose start the claim stored but whose loop never ran (opening it
    failed): its ``RunFailed``, best effort (if the store can't take it now, the next ask that
    opens the conversation closes the run)."""
    cancelled = isinstance(error, asyncio.CancelledError)
    kind = "Cancelled" if cancelled else type(error).__name__
    message = "The ask was cancelled before it began." if cancelled else redact_text(str(error))
    try:
        async with asyncio.timeout(CANCEL_GRACE if cancelled else WRITE_GRACE):
            await store(conversation, (RunFailed(run_id, kind, message or kind),))
    except Exception as exc:
        conversation.stale = True
        log.warning("could not close run %s: %s", run_id, type(exc).__name__)


async def store(
    conversation: Conversation, events: Sequence[Event], *, release: bool = False
) -> None:
    """Append ``events`` to the conversation: to its history first (with any backlog a fork has
    not saved yet, in the same write), then to memory. See the module docs for failures.
    ``release``: these are the run's last events; give the store's claim back with them (one
    round trip where the backend can)."""
    history = conversation.history
    if history is None:
        conversation.events.extend(events)
        return
    claim = conversation.claim
    if claim is not None and claim.lost:
        conversation.stale = True
        raise ClaimLost(
            f"this process lost its claim on conversation {conversation.id} (its lease could not "
            "be renewed in time), so another process may be answering it; nothing more was "
            "written. Ask again: the conversation is reloaded from the store"
        )
    memory = conversation.events
    batch = (
        [*memory[conversation.saved :], *events] if conversation.saved != len(memory) else events
    )
    if claim is not None and _writes_now(claim):
        now = cast(WritingClaim, claim).write_now(batch, release)
        if now is not None:
            await _write_now(conversation, history, cast(WritingClaim, claim), now, events)
            memory.extend(events)
            conversation.saved = len(memory)
            return
    write = (
        claim.append_and_release(batch)
        if release and claim is not None
        else history.append(conversation.id, batch)
    )
    if type(history) is MemoryHistory:
        await write  # no suspension point inside: a cancel can't tear it
    else:
        loop = asyncio.get_running_loop()
        written = loop.create_future()
        context = contextvars.copy_context()
        context.run(WRITE_WAITER.set, written)  # lets a retrying backend see a cancel
        task = loop.create_task(_write_then_notify(write, written), context=context)
        task.add_done_callback(_consume)
        await _shielded_write(conversation, history, task, written, events)
    memory.extend(events)
    conversation.saved = len(memory)


async def _write_then_notify(write: Awaitable[None], written: asyncio.Future[None]) -> None:
    """Run a store write in a task of its own (so a cancel of the ask can't tear it) and wake
    the ask through ``written`` directly (one loop iteration less than ``asyncio.shield``)."""
    try:
        await write
    except BaseException as exc:
        if not written.done():
            if isinstance(exc, asyncio.CancelledError):
                written.cancel()
            else:
                written.set_exception(exc)
        raise
    if not written.done():
        written.set_result(None)


async def _shielded_write(
    conversation: Conversation,
    history: History,
    write: asyncio.Task[None],
    written: asyncio.Future[None],
    events: Sequence[Event],
) -> None:
    try:
        await written  # a cancel of the ask cancels this future, never the write
    except asyncio.CancelledError:
        await _after_cancel(conversation, write, events)
        raise
    except BatonError:
        conversation.stale = True
        raise
    except Exception as exc:
        raise _unstored(conversation, history, events, exc) from exc


# Whether a claim sends its writes from the asking task (``WritingClaim``).
_writes_now = kind_check(WritingClaim)


async def _write_now(
    conversation: Conversation,
    history: History,
    claim: WritingClaim,
    write: Awaitable[None],
    events: Sequence[Event],
) -> None:
    """Await a claim's own write in the ask's task (no task, no loop turn more than the round
    trip's); a cancel after it was sent waits for its rest, as for a write in a task."""
    try:
        await write
    except asyncio.CancelledError:
        rest = claim.take_cut()
        if rest is not None:  # else nothing was sent: memory is as the store is
            await _after_cancel(conversation, rest, events)
        raise
    except BatonError:
        conversation.stale = True
        raise
    except Exception as exc:
        raise _unstored(conversation, history, events, exc) from exc


async def _after_cancel(
    conversation: Conversation, write: asyncio.Future[Any], events: Sequence[Event]
) -> None:
    """A cancelled ask's write goes on; memory must end as the store does, so wait for it
    (bounded), then keep the events or mark the conversation stale."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait({write}, timeout=WRITE_GRACE)
    if write.done() and not write.cancelled() and write.exception() is None:
        conversation.events.extend(events)
        conversation.saved = len(conversation.events)
    else:
        conversation.stale = True
        conversation.writing = write  # the next claim waits for it before reloading


def _unstored(
    conversation: Conversation, history: History, events: Sequence[Event], exc: Exception
) -> BackendUnavailable:
    conversation.stale = True
    names = ", ".join(type(e).__name__ for e in events)
    return BackendUnavailable(
        f"{type(history).__name__} could not store {names} of conversation "
        f"{conversation.id}: {type(exc).__name__}: {exc}. Nothing was kept that the store "
        "did not accept; check the backend and ask again (the conversation is reloaded "
        "from the store)",
        retryable=not isinstance(exc, ValueError | TypeError | UnicodeError),
    )


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
