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
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from .context import Context, UsageCounter
from .conversation import WRITE_GRACE, Conversation
from .errors import (
    AskSuspended,
    BackendUnavailable,
    BatonError,
    ClaimLost,
    ConfigError,
    ObserverHalt,
)
from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    ObserverAlert,
    Record,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    UsageLine,
    from_dict,
    register,
    to_dict,
)
from .history import WRITE_WAITER, History, MemoryHistory, Storage
from .redaction import logger, redact_text
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
    "paused_run",
    "run_state_key",
    "stored_outcomes",
]

log = logger("baton.run")

CANCEL_GRACE = 1.0
"""Seconds a cancelled ask spends closing its run in the store before leaving that to the next
ask's repair."""

_STATE_PREFIX = "baton:run:"


@register
@dataclass(slots=True)
class RunState(Record):
    """Where one ask stands (see the module docs). ``status`` is ``"running"`` or
    ``"paused"``; ``response`` is the model response whose tool calls were running, and
    ``finished`` the outcomes of those that finished (the others run on resume). A plain
    record: the live run makes a new one whenever it saves itself (not frozen only because
    every ask makes one, and a frozen dataclass costs several times more to build)."""

    conversation_id: str
    run_id: str
    agent: str
    request: ModelRequest
    turn: int = 0
    status: str = "running"
    response: ModelResponse | None = None
    finished: tuple[ToolCallResult | ToolCallError, ...] = ()
    usage: tuple[UsageLine, ...] = ()
    tool_calls: int = 0
    requests: tuple[ApprovalRequest | HumanInputRequest, ...] = ()
    asked_in: tuple[str, ...] = ()  # the tool call each request was made in ("" outside)
    variables: Any = None

    @property
    def pending(self) -> tuple[str, ...]:
        """The ids of the response's tool calls that had not finished."""
        if self.response is None:
            return ()
        done = {o.call_id for o in self.finished}
        return tuple(c.id for c in self.response.tool_calls if c.id not in done)


def run_state_key(conversation_id: str) -> str:
    """The storage key of a conversation's paused run."""
    return _STATE_PREFIX + conversation_id


async def load_run_state(storage: Storage, conversation_id: str) -> RunState | None:
    """The paused run of a conversation, if it has one."""
    data = await storage.get(run_state_key(conversation_id))
    if data is None:
        return None
    state = from_dict(data)
    if not isinstance(state, RunState):
        raise ConfigError(f"storage key {run_state_key(conversation_id)!r} holds no RunState")
    return state


async def delete_run_state(storage: Storage, conversation_id: str) -> bool:
    """Forget a conversation's paused run; ``True`` if this call removed it (so, of two
    processes resuming it at once, exactly one gets ``True``)."""
    return await storage.delete(run_state_key(conversation_id))


def stored_outcomes(
    events: Sequence[Event], start: int, state: RunState
) -> tuple[ToolCallResult | ToolCallError, ...]:
    """The outcomes the history holds of the calls of the response ``state`` paused in (in
    call order), looked up after that response (in the run that began at ``start``)."""
    if state.response is None:
        return ()
    at = next((i for i in range(len(events) - 1, start, -1) if events[i] == state.response), None)
    if at is None:
        return state.finished  # the response is not where it was: keep what the run saved
    found = {
        e.call_id: e for e in events[at + 1 :] if isinstance(e, ToolCallResult | ToolCallError)
    }
    return tuple(found[c.id] for c in state.response.tool_calls if c.id in found)


def open_run_index(events: Sequence[Event]) -> int:
    """The index of the last run's ``RunStarted`` if that run never closed, else -1."""
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, RunFinished | RunFailed):
            return -1
        if isinstance(event, RunStarted):
            return i
    return -1


def _closing_events(
    events: Sequence[Event], start: int, run_id: str, error_type: str, message: str, why: str
) -> list[Event]:
    """What closes the run that began at ``start``: an error for every unanswered tool call,
    then its ``RunFailed``."""
    answered: set[str] = set()
    calls: list[ToolCall] = []
    for event in events[start + 1 :]:
        if isinstance(event, ModelResponse):
            calls.extend(event.tool_calls)
        elif isinstance(event, ToolCallResult | ToolCallError):
            answered.add(event.call_id)
    closing: list[Event] = [
        ToolCallError(
            c.id,
            c.name,
            f"The call was {why} before it finished; no result is available.",
            "Interrupted" if why == "interrupted by a process exit" else "Cancelled",
        )
        for c in calls
        if c.id not in answered
    ]
    closing.append(RunFailed(run_id, error_type, message))
    return closing


def _open_run(events: Sequence[Event]) -> tuple[int, RunStarted] | None:
    """The last run's index and ``RunStarted`` if it never closed (a closed last run, the
    usual case, costs one check)."""
    if not events or isinstance(events[-1], RunFinished | RunFailed):
        return None
    start = open_run_index(events)
    if start < 0:
        return None
    started = events[start]
    assert isinstance(started, RunStarted)
    return start, started


async def _pause_of(storage: Storage | None, conversation_id: str, run_id: str) -> RunState | None:
    """The stored ``RunState`` of run ``run_id`` if that run is paused."""
    if storage is None:
        return None
    state = await load_run_state(storage, conversation_id)
    return state if state is not None and state.run_id == run_id else None


async def paused_run(conversation: Conversation, storage: Storage | None) -> RunState | None:
    """The conversation's last run if it is open and paused (its ``RunState`` is in
    ``storage``). Reads only."""
    found = _open_run(conversation.events)
    if found is None:
        return None
    return await _pause_of(storage, conversation.id, found[1].run_id)


async def close_open_run(conversation: Conversation, storage: Storage | None) -> RunState | None:
    """Repair a conversation whose last run never closed (its process died): answer its open
    tool calls as interrupted and record its ``RunFailed``. A run that is paused (its
    ``RunState`` is in ``storage``) is left open and returned instead."""
    found = _open_run(conversation.events)
    if found is None:
        return None
    start, started = found
    state = await _pause_of(storage, conversation.id, started.run_id)
    if state is not None:
        return state
    closing = _closing_events(
        conversation.events,
        start,
        started.run_id,
        "Interrupted",
        "The process running this ask stopped before it finished (it was closed when the "
        "conversation was next opened).",
        "interrupted by a process exit",
    )
    await store(conversation, closing)
    return None


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
        # The write goes on; memory must end as the store does, so wait for it (bounded).
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({write}, timeout=WRITE_GRACE)
        if write.done() and not write.cancelled() and write.exception() is None:
            conversation.events.extend(events)
            conversation.saved = len(conversation.events)
        else:
            conversation.stale = True
            conversation.writing = write  # the next claim waits for it before reloading
        raise
    except BatonError:
        conversation.stale = True
        raise
    except Exception as exc:
        conversation.stale = True
        names = ", ".join(type(e).__name__ for e in events)
        raise BackendUnavailable(
            f"{type(history).__name__} could not store {names} of conversation "
            f"{conversation.id}: {type(exc).__name__}: {exc}. Nothing was kept that the store "
            "did not accept; check the backend and ask again (the conversation is reloaded "
            "from the store)",
            retryable=not isinstance(exc, ValueError | TypeError | UnicodeError),
        ) from exc


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class LiveRun:
    """One running ask (see the module docs): its state, and the one path its events take."""

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
        "inbox",
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
        self.agent_name = state.agent
        self.run_id = state.run_id
        self.request = state.request
        self.turn = state.turn
        self.conversation = conversation
        self.plan = plan
        self.table = plan.table  # this run's tools (tool sources add to it when it starts)
        self.specs = plan.specs
        self.config = config
        self.client: ModelClient = config.client()
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
        self.tap: Callable[[Event], Any] | None = None
        self.alerts: list[ObserverAlert] = []
        # Remarks (HumanMessages answering no request) sent while the run goes: recorded and
        # shown to the model at its next call (see ``baton.stream.MemoryStream.remarks``).
        self.inbox: list[HumanMessage] = []
        self.halt: ObserverAlert | None = None
        self.humans: HumanState | None = None  # this ask's human requests (humans.py)
        self.response: ModelResponse | None = None  # whose tool calls are running
        self.finished: list[ToolCallResult | ToolCallError] = []
        self.resumed: RunState | None = state if state.status == "paused" else None
        counter = UsageCounter()
        for line in state.usage:
            counter.add(line.usage, line.kind, line.provider, line.model)
        counter.tool_calls = state.tool_calls
        self.context = Context(self, dependencies, counter)

    # -- recording ---------------------------------------------------------------------------

    async def record(self, event: Event, *, to_stream: bool = True) -> None:
        """Keep a persistent event (store first, then memory), then deliver it
        (``to_stream=False``: it came from the stream, e.g. a human's answer)."""
        conversation = self.conversation
        if conversation.history is None:
            conversation.events.append(event)
        else:
            await store(conversation, (event,))
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
        stream = conversation.stream
        if type(stream) is MemoryStream:  # the common case, without a frame more per step
            for event in events:
                await self.deliver(event)
            if self.alerts:
                await self._record_alerts()
        else:
            await self.deliver_many(events)

    async def deliver_many(self, events: Sequence[Event]) -> None:
        """Deliver stored events (as ``record_many`` does once they are kept)."""
        stream = self.conversation.stream
        send_many = None if type(stream) is MemoryStream else getattr(stream, "send_many", None)
        if send_many is not None:
            await send_many(events)
            for event in events:
                await self.deliver(event, to_stream=False)
        else:
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
        self.finished.append(outcome)
        await self.deliver(outcome)
        if self.alerts:
            await self._record_alerts()

    async def deliver(self, event: Event, *, to_stream: bool = True) -> None:
        """Deliver an event live (stream, tap, observers) without keeping it in history."""
        if to_stream:
            stream = self.conversation.stream
            # A memory stream nobody listens to: nothing to await.
            if type(stream) is not MemoryStream or stream.subscriber_count:
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
                    self.alerts.append(alert)

    async def emit(self, event: Event) -> None:
        """Publish any event: transient ones live only, the rest into history too."""
        if event.transient:
            await self.deliver(event)
        else:
            await self.record(event)

    async def _record_alerts(self) -> None:
        alerts, self.alerts = self.alerts, []
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
        counter = self.context.usage_counter
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
            tuple(self.finished),
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
                closing = _closing_events(
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
