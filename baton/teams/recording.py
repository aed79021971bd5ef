"""How a team's ask keeps its own events: store-first in the conversation, then delivered to
the conversation's stream and to the live reader (``team.run``); and how an ask that fails or
is cancelled is closed (``TeamFailed``), so the stored conversation stays valid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, NoReturn

from ..conversation import Conversation
from ..errors import AskSuspended
from ..events import Event
from ..history import Storage
from ..storing import CANCEL_GRACE, store
from ..stream import MemoryStream, cleanup_delivery
from .state import TeamState, closing_teams

__all__ = [
    "PendingPause",
    "Sink",
    "TeamAsk",
    "close_failed",
    "deliver",
    "innermost",
    "keep_pause",
    "pause_key",
    "record",
]

Sink = Callable[[Event], Any]
"""The live reader of a team's ask (``team.run``): given each event, maybe awaited."""


class TeamAsk:
    """One team ask in progress: its conversation, state and where events go live."""

    __slots__ = ("asked", "conversation", "member_options", "sink", "state", "storage", "top")

    def __init__(
        self,
        conversation: Conversation,
        state: TeamState,
        sink: Sink | None,
        member_options: Mapping[str, Any],
        *,
        top: bool = False,
        storage: Storage | None = None,
        asked: bool = False,
    ) -> None:
        # Whether this ask can pause: the team's own ask, or a member team's turn in one
        # (not a graph's parallel branch); ``storage`` keeps a pause: the asked team's.
        self.top = top
        self.storage = storage
        # The ask of the team asked, which saves a pause; a member team's ask hands its pause
        # up instead (``PendingPause``), so that a pause is one write, whole.
        self.asked = asked
        self.conversation = conversation
        self.state = state
        self.sink = sink
        self.member_options = member_options  # given to every member's run (relay, middleware)


def pause_key(conversation_id: str) -> str:
    """The storage key of a paused team ask (one per conversation: the team asked's)."""
    return f"baton:team-pause:{conversation_id}"


class PendingPause(AskSuspended):
    """A member team's pause on its way up to the team asked (``record``: what that member
    team saves of it), which saves it with its own (``keep_pause``). Never reaches a caller:
    the team asked raises the plain ``AskSuspended``."""

    def __init__(self, suspended: AskSuspended, record: dict[str, Any]) -> None:
        super().__init__(
            str(suspended),
            conversation_id=suspended.conversation_id,
            run_id=suspended.run_id,
            requests=suspended.requests,
            asked_in=suspended.asked_in,
        )
        self.record = record


async def keep_pause(
    ask: TeamAsk,
    suspended: AskSuspended,
    *,
    team: str,
    member: str,
    kept: Mapping[str, Any],
    **saved: Any,
) -> NoReturn:
    """Pause ``ask`` of ``team`` in ``member``'s turn, raising ``suspended``. The pause's record
    (what resumes it: who paused, the pattern's own ``kept``, and ``saved``: the human's
    request, the member's paused run, or a member team's own record under ``inner``) is saved
    in one write by the team asked, or handed up to it from a member team's ask (see
    ``PendingPause``)."""
    record = {
        "team": team,
        "team_id": ask.state.team_id,
        "member": member,
        "pattern": dict(kept),
        "spent": ask.state.off_record(),
        **saved,
    }
    if not ask.asked:
        raise PendingPause(suspended, record) from None
    assert ask.storage is not None  # an ask that can pause has a storage (why_no_pause)
    await ask.storage.put(pause_key(ask.conversation.id), record)
    raise suspended from None


async def record(ask: TeamAsk, event: Event, *, to_stream: bool = True) -> None:
    """Keep a team event store-first, then deliver it (stream, then the live reader)."""
    await store(ask.conversation, (event,))
    await deliver(ask, event, to_stream=to_stream)


async def deliver(ask: TeamAsk, event: Event, *, to_stream: bool = True) -> None:
    """Deliver a stored team event: the conversation's stream, then the live reader."""
    stream = ask.conversation.made_stream  # None: nobody asked for it, so nobody listens
    if (
        to_stream
        and stream is not None
        and (type(stream) is not MemoryStream or stream.subscriber_count)
    ):
        await stream.send(event)
    if ask.sink is not None:
        waiting = ask.sink(event)
        if waiting is not None:
            await waiting


async def close_failed(ask: TeamAsk, team: str, error: BaseException) -> None:
    """Record ``TeamFailed`` for ``ask`` of ``team`` unless it is closed already (best effort:
    bounded in time, and never raising over the error that ended the ask)."""
    cancelled = isinstance(error, asyncio.CancelledError)
    kind = "Cancelled" if cancelled else type(error).__name__
    message = "The team's ask was cancelled." if cancelled else (str(error) or kind)
    with suppress(Exception):
        async with asyncio.timeout(CANCEL_GRACE if cancelled else 10.0):
            conversation = ask.conversation
            if conversation.stale:
                await conversation.reload()
            # Closed innermost first: a member team's ask still open inside this one (it
            # handed up a pause this ask could not keep) ends with it.
            closing = closing_teams(
                conversation.events, kind, message[:500], inside=ask.state.team_id
            )
            with cleanup_delivery():
                for failed in closing:
                    await record(ask, failed)


def innermost(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record of whoever waits in a pause ``record``: a member team's own, nested under
    ``"inner"``, down to the member whose turn waits."""
    while isinstance(record.get("inner"), dict):
        record = record["inner"]
    return record
