"""Turns taken in parallel on one conversation: a ``Graph``'s fan-out.

A conversation holds one run at a time, and its stored order is the order a reader follows.
So the turns of one fan-out each run in a *branch*: a conversation in memory that starts with
the team's conversation as it stands at the fork (same id and variables, no history), where the
member's run records its events. The branches run concurrently (one task each, all inside the
team's one ask); each sees the conversation as at the fork, never a sibling's turn.

When every branch has ended, their events go to the team's conversation in one store write, as
one block per branch (``SpeakerSelected``, then the member's run from ``RunStarted`` to its end),
the blocks in the order the branches were started (the order of the edges that reached them),
whatever order they finished in. Then, store first, each is delivered to the stream and the
live reader, each block with its transient events (text chunks) in their places: a chunk
names no run, so a reader could not tell two branches' chunks apart live. Requests for a person
(``HumanInputRequest``, ``ApprovalRequest``) are delivered at once, while the branch runs: the
turn waits for an answer to them (on the team's stream), so they can't wait for the block.

A branch is cancelled when the team's ask is (a cancel, a ``Timeout``), when a sibling fails
(the ask then fails with that sibling's error), and when ``cancel`` says so (a join on "any"
whose first branch arrived). A cancelled branch closes its run as any cancelled run does (every
tool call answered, ``RunFailed``), and its block is stored like the others; one cancelled before
it began has nothing to store. What a process that dies mid-fan-out leaves is the conversation
as at the fork, and the next ask closes the team's ask (``TeamFailed``, "Interrupted").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from typing import Any

from ..conversation import Conversation
from ..events import ApprovalRequest, Event, HumanInputRequest, UnattendedRequest
from ..forked import EventList, ForkedEvents
from ..storing import CANCEL_GRACE, store
from ..stream import Stream, cleanup_delivery
from .recording import Sink, TeamAsk, deliver
from .state import Turn

__all__ = ["Branch", "BranchStream", "run_branches"]

TakeTurn = Callable[[TeamAsk], Coroutine[Any, Any, Turn]]


# Requests a person must see to answer: delivered at once (the branch's turn waits for them).
_ASKS = (HumanInputRequest, ApprovalRequest, UnattendedRequest)


class BranchStream:
    """A branch's stream: a request for a person goes on to the team's stream at once; a
    transient event is held, with its place among the branch's events, and delivered with its
    block (so a reader gets each branch's chunks after its ``RunStarted``, never two branches'
    mixed). Everything else is the team's stream's (a human node in a branch waits for its
    answer there)."""

    remarks: Any = None  # remarks sent meanwhile wait in the team's conversation

    def __init__(self, stream: Stream, events: EventList) -> None:
        self.stream = stream
        self.events = events  # the branch's conversation
        self.held: list[tuple[int, Event]] = []

    async def send(self, event: Event) -> None:
        if isinstance(event, _ASKS):
            await self.stream.send(event)
        elif event.transient:
            self.held.append((len(self.events), event))

    async def send_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.send(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _asks_only(sink: Sink | None) -> Sink | None:
    if sink is None:
        return None

    def live(event: Event) -> Any:
        return sink(event) if isinstance(event, _ASKS) else None

    return live


class Branch:
    """One turn of a fan-out: the node, its conversation and its task."""

    __slots__ = ("ask", "name", "start", "stream", "task")

    def __init__(self, ask: TeamAsk, name: str, fork: EventList, length: int) -> None:
        outer = ask.conversation
        # The team's events up to the fork, shared (not copied): nothing changes them while
        # the branches run (they are added to in one write after the last ends, and the team's
        # ask holds the conversation, so no reload replaces them meanwhile).
        events = ForkedEvents(fork, length)
        self.stream = BranchStream(outer.stream, events)
        conversation = Conversation(
            id=outer.id, events=events, stream=self.stream, variables=outer.variables
        )
        # Not the team's own ask (top=False): a turn in a branch can't pause the team.
        self.ask = TeamAsk(
            conversation, ask.state, _asks_only(ask.sink), ask.member_options, top=False
        )
        self.name = name
        self.start = length
        self.task: asyncio.Task[Turn] | None = None

    @property
    def events(self) -> list[Event]:
        """What the branch recorded since the fork."""
        return self.ask.conversation.events[self.start :]

    def delivered(self) -> list[Event]:
        """The branch's events as its block delivers them: the stored ones with the transient
        ones held in their places, without the requests delivered already."""
        held = self.stream.held
        out: list[Event] = []
        h = 0
        events = self.ask.conversation.events
        for i in range(self.start, len(events) + 1):
            while h < len(held) and held[h][0] <= i:
                out.append(held[h][1])
                h += 1
            if i < len(events) and not isinstance(events[i], _ASKS):
                out.append(events[i])
        return out


async def run_branches(
    ask: TeamAsk,
    turns: Sequence[tuple[str, TakeTurn]],
    done: list[Turn | None],
    cancel: Callable[[str], Sequence[str]],
) -> None:
    """Run ``turns`` (node name, the function taking its turn on a branch's ask) in parallel
    (see the module docs). ``done`` gets each branch's ``Turn`` in the order given (``None``: it
    was cancelled), also when this raises; ``cancel(name)``, called when branch ``name`` ended,
    names the branches still running to cancel."""
    fork = ask.conversation.events
    length = len(fork)
    branches = [Branch(ask, name, fork, length) for name, _ in turns]
    for branch, (_, take) in zip(branches, turns, strict=True):
        branch.task = asyncio.create_task(take(branch.ask))
    tasks = {b.task: b for b in branches if b.task is not None}
    try:
        pending = set(tasks)
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in [b.task for b in branches if b.task in finished]:
                assert task is not None
                if task.cancelled():
                    continue
                error = task.exception()
                if error is not None:
                    raise error
                for name in cancel(tasks[task].name):
                    for other in pending:
                        if tasks[other].name == name:
                            other.cancel()
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)  # each closes its run (cancelled) in its branch
        _collect(branches, done)
        with suppress(Exception), cleanup_delivery():
            async with asyncio.timeout(CANCEL_GRACE):
                await _keep(ask, branches)
        raise
    _collect(branches, done)
    await _keep(ask, branches)


def _collect(branches: Sequence[Branch], done: list[Turn | None]) -> None:
    for branch in branches:
        task = branch.task
        ok = task is not None and task.done() and not task.cancelled() and not task.exception()
        done.append(task.result() if ok and task is not None else None)


async def _keep(ask: TeamAsk, branches: Sequence[Branch]) -> None:
    """Store the branches' blocks in one write, in order, then deliver them (but for what was
    delivered live)."""
    events = [event for branch in branches for event in branch.events]
    if not events:
        return
    await store(ask.conversation, events)
    for branch in branches:
        for event in branch.delivered():
            await deliver(ask, event)
