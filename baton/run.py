"""Where one ask stands (``RunState``) and the live run that records its events store-first.

``RunState`` is a plain record: the conversation and run ids, the agent, the user's request,
the turn, the model response whose tool calls are running and the outcomes of those that
finished, the usage so far, the human requests it waits for, and the conversation's variables.
It encodes through the event registry (``events.to_dict``/``from_dict``, no arbitrary classes)
and is kept in the agent's ``Storage`` while the run is paused. Every ask starts the loop from a
new ``RunState`` or continues a stored one (``agent.resume``); nothing else enters the loop.

``LiveRun`` is the running form of that state, and the one path every event of the ask takes:

1. the history (when the conversation has one): the event is part of the conversation once,
   and only once, the store accepted it. The write is shielded from cancellation; if it fails,
   memory is left exactly as the store is (the conversation is marked stale and reloaded by
   the next ask) and the ask raises ``BackendUnavailable``;
2. memory (``conversation.events``), then the stream, the ask's own reader and the observers.

When an ask fails, its run is closed with every tool call of its last response answered and
one ``RunFailed``; when a process dies mid-run, the next ask that opens the conversation closes
it the same way (``close_open_run``), so the model always sees a valid conversation.

The record is in ``baton.runstate``, the store-first write in ``baton.storing`` and the repair
of open runs in ``baton.repair``; this module re-exports their public names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from .context import Context, UsageCounter
from .conversation import WRITE_GRACE, Conversation
from .errors import AskSuspended, ConfigError, ObserverHalt
from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelResponse,
    ObserverAlert,
    ToolCallError,
    ToolCallResult,
    to_dict,
)
from .history import Storage
from .redaction import logger, redact_text
from .repair import close_open_run, closing_events, open_run_index, paused_in, paused_run
from .runstate import (
    RunState,
    delete_run_state,
    load_run_state,
    run_state_key,
    stored_outcomes,
)
from .storing import CANCEL_GRACE, abandon_run, store
from .stream import MemoryStream, cleanup_delivery

if TYPE_CHECKING:
    from .humans import HumanRelay, HumanState
    from .loop import Plan
    from .models.base import ModelClient, ModelConfig, ModelSettings
    from .tools.threads import ToolThreads

__all__ = [
    "LiveRun",
    "RunState",
    "abandon_run",
    "close_open_run",
    "delete_run_state",
    "load_run_state",
    "open_run_index",
    "paused_in",
    "paused_run",
    "run_state_key",
    "stored_outcomes",
]

log = logger("baton.run")


class LiveRun(UsageCounter):
    """One running ask (see the module docs): its state, and the one path its events take.

    The run is also the ask's running usage total (``context.usage_counter``): one object
    less per ask in flight for the cyclic collector to walk."""

    __slots__ = (
        "agent_name",
        "alerts",
        "client",
        "config",
        "context",
        "conversation",
        "entered",
        "finished",
        "halt",
        "humans",
        "keeps_claim",
        "max_turns",
        "output_retries",
        "owner",
        "pausing",
        "plan",
        "relay",
        "request",
        "response",
        "resumed",
        "run_id",
        "settings",
        "specs",
        "started",
        "storage",
        "suspend_on_human",
        "table",
        "tap",
        "tool_concurrency",
        "tool_threads",
        "tool_timeout",
        "turn",
    )

    def __init__(
        self,
        state: RunState,
        *,
        conversation: Conversation,
        plan: Plan,
        config: ModelConfig,
        settings: ModelSettings,
        dependencies: Mapping[Any, Any],
        max_turns: int,
        output_retries: int,
        tool_concurrency: int,
        tool_timeout: float | None,
        storage: Storage | None,
        suspend_on_human: bool = False,
        relay: HumanRelay | None = None,
        owner: Any = None,
        tool_threads: ToolThreads | None = None,
    ) -> None:
        super().__init__()
        self.agent_name = state.agent
        self.run_id = state.run_id
        self.request = state.request
        self.turn = state.turn
        self.conversation = conversation
        self.plan = plan
        self.table = plan.table  # this run's tools (tool sources add to it when it starts)
        self.specs = plan.specs
        self.config = config
        # The model's client is taken when the loop starts (run_loop), in the loop the ask runs
        # on: connection pools belong to one event loop, and a run can be made outside it
        # (``agent.ask`` makes a new conversation's run when called, ``ask_sync`` runs it on
        # Baton's own loop). A resumed run takes it before its paused state is deleted
        # (``Agent.open_resumed``, in the loop the resume runs on).
        self.client: ModelClient | None = None
        self.settings = settings
        self.max_turns = max_turns
        self.output_retries = output_retries
        self.tool_concurrency = tool_concurrency
        self.tool_timeout = tool_timeout
        self.tool_threads = tool_threads  # sync tools' thread pool (None: the process-wide one)
        self.storage = storage
        self.suspend_on_human = suspend_on_human
        self.relay = relay  # a parent ask that answers this one's human requests (sub-tasks)
        self.owner = owner  # the agent asked (its replies continue through it)
        self.entered = False  # run_loop started (and so will give the claim back)
        # The RunStarted and request the claim already stored (the loop only delivers them).
        self.started: Sequence[Event] = ()
        self.pausing = False  # the run is being saved as paused
        # The conversation is held by the caller (a team running its members' turns on it):
        # the run neither takes its claim nor gives it back (see Agent.open_run(held=...)).
        self.keeps_claim = False
        self.tap: Callable[[Event], Any] | None = None
        self.alerts: list[ObserverAlert] | None = None  # made at the first alert

        self.halt: ObserverAlert | None = None
        self.humans: HumanState | None = None  # this ask's human requests (humans.py)
        self.response: ModelResponse | None = None  # whose tool calls are running
        # The outcomes of the running round so far: a tuple (the empty one is no new object
        # while the calls run; a round usually has one call).
        self.finished: tuple[ToolCallResult | ToolCallError, ...] = ()
        self.resumed: RunState | None = state if state.status == "paused" else None
        for line in state.usage:
            self.add(line.usage, line.kind, line.provider, line.model)
        self.tool_calls = state.tool_calls
        # The context refers back to this run: ``run_loop`` drops this reference when the ask
        # ends, so the pair leaves no cycle for the garbage collector.
        self.context = Context(self, dependencies, self)

    # -- recording ---------------------------------------------------------------------------

    async def record(self, event: Event, *, to_stream: bool = True) -> None:
        """Keep a persistent event (store first, then memory), then deliver it
        (``to_stream=False``: it came from the stream, e.g. a human's answer)."""
        conversation = self.conversation
        if conversation.history is None:
            conversation.events.append(event)
        else:
            await store(conversation, (event,))
        if self.heard():
            await self.deliver(event, to_stream=to_stream)
            if self.alerts:
                await self._record_alerts()

    async def record_many(self, events: Sequence[Event], *, last: bool = False) -> None:
        """Keep the events of one step in one store write, then deliver each (to a stream
        that can take a batch, such as ``RedisStream.send_many``, in one send). ``last``: the
        run's last write; the store's claim is given back with it."""
        conversation = self.conversation
        if conversation.history is None:
            conversation.events.extend(events)
        else:
            await store(conversation, events, release=last)
        stream = conversation.made_stream
        if stream is None or type(stream) is MemoryStream:  # the common case: no frame more
            if self.heard():
                for event in events:
                    await self.deliver(event)
                if self.alerts:
                    await self._record_alerts()
        else:
            await self.deliver_many(events)

    async def deliver_many(self, events: Sequence[Event]) -> None:
        """Deliver stored events (as ``record_many`` does once they are kept)."""
        stream = self.conversation.made_stream
        send_many = None if type(stream) is MemoryStream else getattr(stream, "send_many", None)
        if send_many is not None:
            await send_many(events)
            for event in events:
                await self.deliver(event, to_stream=False)
        elif self.heard():  # nobody listening: nothing to deliver (as record_many)
            for event in events:
                await self.deliver(event)
        if self.alerts:
            await self._record_alerts()

    async def record_outcome(self, outcome: ToolCallResult | ToolCallError) -> None:
        """Keep a tool call's outcome (as ``record``); a paused or failed run knows it
        finished."""
        conversation = self.conversation
        if conversation.history is None:
            conversation.events.append(outcome)
        else:
            await store(conversation, (outcome,))
        self.finished += (outcome,)
        if self.heard():
            await self.deliver(outcome)
            if self.alerts:
                await self._record_alerts()

    def heard(self) -> bool:
        """Whether anyone takes this run's events live: a stream (a memory stream only with
        subscribers), the run's reader (``tap``) or an observer. When nobody does, the events
        are kept without a ``deliver`` (one coroutine less per event)."""
        stream = self.conversation.made_stream
        return (
            self.tap is not None
            or bool(self.plan.observers)
            or (
                stream is not None
                and (type(stream) is not MemoryStream or stream.subscriber_count > 0)
            )
        )

    async def deliver(self, event: Event, *, to_stream: bool = True) -> None:
        """Deliver an event live (stream, tap, observers) without keeping it in history."""
        if to_stream:
            stream = self.conversation.made_stream
            # No stream made yet, or a memory stream nobody listens to: nothing to await.
            if stream is not None and (type(stream) is not MemoryStream or stream.subscriber_count):
                await stream.send(event)
        tap = self.tap
        if tap is not None:
            waiting = tap(event)
            if waiting is not None:
                await waiting
        observers = self.plan.observers
        if observers and not isinstance(event, ObserverAlert):
            for observer in observers:
                alert = observer.observe(event, self.context)
                if alert is not None:
                    if self.alerts is None:
                        self.alerts = []
                    self.alerts.append(alert)

    def remark(self, message: HumanMessage) -> None:
        """Take a remark (a HumanMessage answering no request) sent while the run goes: it is
        recorded and shown to the model at its next call (see ``MemoryStream.remarks``). It
        waits in the conversation's inbox: what this run can't take, the next ask does."""
        self.conversation.remark(message)

    def remarks(self) -> list[HumanMessage]:
        """The remarks waiting, taken out of the inbox (oldest first)."""
        inbox, self.conversation.inbox = self.conversation.inbox, None
        return inbox or []  # type: ignore[return-value]

    async def emit(self, event: Event) -> None:
        """Publish any event: transient ones live only, the rest into history too."""
        if event.transient:
            await self.deliver(event)
        else:
            await self.record(event)

    async def _record_alerts(self) -> None:
        alerts, self.alerts = self.alerts or (), None
        for alert in alerts:
            await self.record(alert)
            if alert.fatal and self.halt is None:
                self.halt = alert

    def check_halt(self) -> None:
        if self.halt is not None:
            raise ObserverHalt(
                f"observer {self.halt.observer!r} stopped the ask: {self.halt.message}",
                observer=self.halt.observer,
            )

    # -- state -------------------------------------------------------------------------------

    def state(
        self,
        status: str = "running",
        requests: Sequence[ApprovalRequest | HumanInputRequest] = (),
        asked_in: Sequence[str] = (),
    ) -> RunState:
        """This run as a ``RunState`` record."""
        counter = self  # the usage so far
        try:
            variables = to_jsonable_python(self.conversation.variables)
        except Exception:
            log.warning("conversation variables are not JSON-able; a resumed ask starts without")
            variables = {}
        return RunState(
            self.conversation.id,
            self.run_id,
            self.agent_name,
            self.request,
            self.turn,
            status,
            self.response,
            self.finished,
            counter.breakdown(),
            counter.tool_calls,
            tuple(requests),
            tuple(asked_in),
            variables,
        )

    def can_pause(self) -> bool:
        return self.storage is not None and self.conversation.history is not None

    async def pause(self, suspended: AskSuspended) -> AskSuspended:
        """Save this run as paused (the finished calls' outcomes are already stored) and return
        the error the ask raises. The history stays as it is: the run is open until resumed."""
        if self.storage is None or self.conversation.history is None:
            raise ConfigError(
                "a paused ask is saved for agent.resume: give the agent both history= and "
                "storage=, e.g. Agent(..., history=MemoryHistory(), storage=MemoryStorage())"
            )
        state = self.state("paused", suspended.requests, suspended.asked_in)
        self.pausing = True  # a cancel from here on may leave the state saved: see close_failed
        put = asyncio.ensure_future(
            self.storage.put(run_state_key(self.conversation.id), to_dict(state))
        )
        put.add_done_callback(_consume)
        await asyncio.shield(put)
        return AskSuspended(
            _paused_message(self.conversation.id, suspended.requests),
            conversation_id=self.conversation.id,
            run_id=self.run_id,
            requests=suspended.requests,
            asked_in=suspended.asked_in,
        )

    async def close_failed(self, error: BaseException) -> None:
        """Leave a valid history after a failure: every tool call of the run answered, then
        one ``RunFailed``. If the store can't take it, the next ask's repair will."""
        conversation = self.conversation
        cancelled = isinstance(error, asyncio.CancelledError)
        kind = "Cancelled" if cancelled else type(error).__name__
        writing = conversation.writing
        if writing is not None and not writing.done():
            # A write cut off by a cancel is still in flight: closing now could put it after
            # the run's end. The next ask that opens the conversation closes the run instead.
            conversation.stale = True
            return
        try:
            # Bounded: a cancelled ask must not hang on a store that stopped answering (or a
            # locked file); what is not closed now, the next ask's repair closes.
            async with asyncio.timeout(CANCEL_GRACE if cancelled else WRITE_GRACE):
                if self.pausing and self.storage is not None:
                    await delete_run_state(self.storage, conversation.id)
                if conversation.stale:
                    await conversation.reload()
                start = open_run_index(conversation.events)
                if start < 0 or getattr(conversation.events[start], "run_id", None) != self.run_id:
                    return  # closed already, or (a failed write) never started in the store
                closing = closing_events(
                    conversation.events,
                    start,
                    self.run_id,
                    kind,
                    redact_text(str(error)) or kind,
                    "cancelled" if cancelled else "interrupted",
                )
                # Subscribers get these with a short bound: cleanup never waits on a stuck one.
                with cleanup_delivery():
                    await self.record_many(closing)
        except Exception as exc:  # the store is down: the next open repairs the run
            conversation.stale = True
            log.warning("could not close run %s: %s", self.run_id, type(exc).__name__)


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: a failed put is raised by the shield, not logged twice


def _paused_message(conversation_id: str, requests: Sequence[Any]) -> str:
    approvals = sorted({r.call.name for r in requests if isinstance(r, ApprovalRequest)})
    inputs = [r.prompt for r in requests if isinstance(r, HumanInputRequest)]
    waits = []
    if approvals:
        waits.append(f"approval of {', '.join(approvals)}")
    if inputs:
        waits.append("an answer to " + ", ".join(repr(p[:60]) for p in inputs))
    ids = ", ".join(r.request_id for r in requests)
    return (
        f"the ask waits for {' and '.join(waits) or 'a human'} (request {ids}) and was "
        f"suspended; continue it with agent.resume({conversation_id!r}, "
        "HumanMessage(request_id=..., text=... or approved=True/False))"
    )
