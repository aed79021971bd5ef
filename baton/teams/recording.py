"""How a team's ask keeps its own events: store-first in the conversation, then delivered to
the conversation's stream and to the live reader (``team.run``); and how an ask that fails or
is cancelled is closed (``TeamFailed``), so the stored conversation stays valid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from ..conversation import Conversation
from ..events import Event
from ..history import Storage
from ..storing import CANCEL_GRACE, store
from ..stream import MemoryStream, cleanup_delivery
from .events import TeamFailed
from .state import TeamState, open_teams

__all__ = ["Sink", "TeamAsk", "close_failed", "deliver", "record"]

Sink = Callable[[Event], Any]
"""The live reader of a team's ask (``team.run``): given each event, maybe awaited."""


class TeamAsk:
    """One team ask in progress: its conversation, state and where events go live."""

    __slots__ = ("conversation", "member_options", "sink", "state", "storage", "top")

    def __init__(
        self,
        conversation: Conversation,
        state: TeamState,
        sink: Sink | None,
        member_options: Mapping[str, Any],
        *,
        top: bool = False,
        storage: Storage | None = None,
    ) -> None:
        # Whether this ask can pause: the team's own ask, or a nested team's turn in one
        # (not a graph's parallel branch); ``storage`` keeps a pause: the asked team's.
        self.top = top
        self.storage = storage
        self.conversation = conversation
        self.state = state
        self.sink = sink
        self.member_options = member_options  # given to every member's run (relay, middleware)


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
            if ask.state.team_id not in {t for t, _ in open_teams(conversation.events)}:
                return
            with cleanup_delivery():
                await record(ask, TeamFailed(ask.state.team_id, team, kind, message[:500]))
