"""How a run asks a human: the end of the ``around_human_input`` chain, answers given to
``resume``, requests relayed from a sub-agent to its parent, and pausing.

A request (``HumanInputRequest`` or ``ApprovalRequest``) is answered, in this order, by an answer
given to ``agent.resume`` for it, the agent's ``hitl=`` handler, the parent ask (when this ask is
a sub-agent's: the parent's handler, stream or pause then decide), or the first ``HumanMessage``
carrying its ``request_id`` on the conversation's stream. History keeps the request and the
answer (an answer that came on the stream is not sent on it again).

A request made inside a paused run is asked again when the run resumes and its tool call runs
again; it then reuses the request id it had, so the answer given to ``resume`` finds it.
``baton.hitl`` builds approvals and the user-facing helpers on top of this.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .conversation import new_id
from .errors import AskSuspended, ConfigError, HumanInputTimeout, StreamClosed
from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ToolCall,
    UnattendedRequest,
)
from .redaction import logger
from .stream import MemoryStream

if TYPE_CHECKING:
    from .context import Context
    from .hooks import InputHandler
    from .run import LiveRun
    from .stream import Stream, Subscription

log = logger("baton.humans")

__all__ = [
    "CURRENT_CALL",
    "Approval",
    "HumanAnswer",
    "HumanHandler",
    "HumanRelay",
    "HumanRequest",
    "HumanState",
    "ask_approval",
    "ask_human",
    "ask_input",
    "call_handler",
    "current_call",
    "human_terminal",
    "pause_for",
]


@dataclass(frozen=True, slots=True)
class Approval:
    """A ``hitl`` handler's answer to an ``ApprovalRequest``: approved or not, and why (the
    reason is what the model reads when the call is denied). ``always=True`` (with
    ``approved=True``) approves the same tool for the rest of the conversation."""

    approved: bool
    reason: str = ""
    always: bool = False


HumanRequest: TypeAlias = HumanInputRequest | ApprovalRequest
HumanAnswer: TypeAlias = HumanMessage | Approval | str | bool | None
HumanHandler: TypeAlias = Callable[[HumanRequest, "Context"], HumanAnswer | Awaitable[HumanAnswer]]
"""``Agent(hitl=...)``: answers a request, or returns ``None`` to leave it to the stream."""

CURRENT_CALL: ContextVar[ToolCall | None] = ContextVar("baton_current_call", default=None)


def current_call() -> ToolCall | None:
    """The tool call whose function (or tool middleware) is running in this task, if any."""
    return CURRENT_CALL.get()


@dataclass(frozen=True, slots=True)
class _Wait:
    timeout: float | None  # None: wait forever; 0: only an answer already given
    hint: str  # how to give more time, for the error message


@dataclass(slots=True)
class HumanState:
    """The human requests of one run (``LiveRun.humans``)."""

    answers: dict[str, HumanMessage] = field(default_factory=dict)  # given to resume()
    reopened: dict[str, list[HumanRequest]] = field(default_factory=dict)  # by asking call id
    # Requests whose answers the history holds already (given at an earlier resume): asked
    # again, they take them without recording them a second time.
    replayed: set[str] = field(default_factory=set)
    published: set[str] = field(default_factory=set)
    waits: dict[str, _Wait] = field(default_factory=dict)
    received: dict[str, HumanMessage] = field(default_factory=dict)  # came on the stream


def humans_of(run: LiveRun) -> HumanState:
    humans = run.humans
    if humans is None:
        humans = run.humans = HumanState()
    return humans


def resumed_humans(
    events: Sequence[Event],
    start: int,
    paused: Sequence[HumanRequest],
    asked_in: Sequence[str],
    given: Sequence[HumanMessage],
) -> HumanState:
    """The human requests of a resumed run: ``paused`` (the run's, asked in the calls
    ``asked_in``) with the answers ``given`` to resume, and, before them, what those calls
    asked in this run and had answered already (read from ``events``, the history, from the
    run's start). A call that paused runs again from its start and asks again, in the same
    order: each request then takes its own answer. Without the earlier ones, a call asking
    twice (a question, then an approval; two approval policies) would be asked its first
    request again at every resume and never finish."""
    calls = set(asked_in)
    paused_ids = {r.request_id for r in paused}
    earlier: dict[str, list[HumanRequest]] = {}
    answered: dict[str, HumanMessage] = {}
    for event in events[start:]:
        if isinstance(event, HumanMessage):
            if event.request_id is not None:
                answered[event.request_id] = event
            continue
        if isinstance(event, ApprovalRequest):
            asker: str | None = event.call.id
        elif isinstance(event, HumanInputRequest):
            asker = event.call_id
        else:
            continue
        if asker is not None and asker in calls and event.request_id not in paused_ids:
            earlier.setdefault(asker, []).append(event)
    reopened: dict[str, list[HumanRequest]] = {}
    replayed: dict[str, HumanMessage] = {}
    for call_id, requests in earlier.items():
        for request in requests:
            if request.request_id in answered:
                reopened.setdefault(call_id, []).append(request)
                replayed[request.request_id] = answered[request.request_id]
    for request, call_id in zip(paused, asked_in, strict=False):
        reopened.setdefault(call_id, []).append(request)
    answers = {a.request_id: a for a in given if a.request_id is not None}
    return HumanState(answers={**replayed, **answers}, reopened=reopened, replayed=set(replayed))


def asking_call_id() -> str:
    """The id of the tool call a request is made in ("" outside tool calls)."""
    call = CURRENT_CALL.get()
    return call.id if call is not None else ""


class HumanRelay:
    """Sends a sub-agent's human requests to the ask that started it (``run_subtask`` passes
    one as ``ask(..., relay=...)``). The parent records them with the sub-task's id; its
    handler answers, or its stream, or it pauses (and the sub-task runs again on resume)."""

    __slots__ = ("call", "parent", "task_id")

    def __init__(self, parent: Context, task_id: str) -> None:
        self.parent = parent
        self.task_id = task_id
        self.call = CURRENT_CALL.get()  # the parent's tool call running the sub-task

    async def ask(self, request: HumanRequest, wait: float | None) -> HumanMessage:
        relayed: HumanRequest
        if isinstance(request, HumanInputRequest):
            call_id = self.call.id if self.call is not None else None
            relayed = replace(request, call_id=call_id, task_id=self.task_id)
        else:
            relayed = replace(request, task_id=self.task_id)
        token = CURRENT_CALL.set(self.call)
        try:
            parent = self.parent
            if parent.run.suspend_on_human and parent.run.relay is None:
                message = await ask_or_pause(parent, relayed, wait, "a timeout")
            else:
                message = await parent.ask_human(relayed, timeout=wait)
        finally:
            CURRENT_CALL.reset(token)
        if message.request_id != request.request_id:
            # The parent asked again after a pause, under the id it had then: this side
            # records the answer under its own request's id.
            message = replace(message, request_id=request.request_id)
        return message


def _listen(stream: Stream, rid: str) -> tuple[asyncio.Future[HumanMessage], Subscription]:
    """Start listening on the stream for the answer to request ``rid``."""
    future: asyncio.Future[HumanMessage] = asyncio.get_running_loop().create_future()

    def deliver(event: HumanMessage) -> None:
        if not future.done():
            future.set_result(event)

    def close_stream() -> None:
        if not future.done():
            future.set_exception(StreamClosed("the stream closed before an answer came"))

    deliver.close_stream = close_stream  # type: ignore[attr-defined]
    return future, stream.where(HumanMessage, request_id=rid).subscribe(deliver)


def _as_message(answer: HumanAnswer, request: HumanRequest) -> HumanMessage | None:
    """A handler's answer as the message that answers ``request`` (``None``: leave it to the
    stream). Approvals take ``True``/``False``, an ``Approval`` or a ``HumanMessage`` with
    ``approved`` set; input requests take text or a ``HumanMessage``; nothing else is guessed
    at (a handler answering an approval with "yes" is a bug to report, not a denial)."""
    rid = request.request_id
    if answer is None:
        return None
    if isinstance(request, ApprovalRequest):
        if isinstance(answer, bool):
            return HumanMessage("", rid, answer)
        if isinstance(answer, Approval) and isinstance(answer.approved, bool):
            return HumanMessage(answer.reason, rid, answer.approved, answer.always)
        if isinstance(answer, HumanMessage) and isinstance(answer.approved, bool):
            return answer if answer.request_id == rid else replace(answer, request_id=rid)
        raise ConfigError(
            f"the hitl handler answered approval request {rid} ({request.call.name!r}) with "
            f"{answer!r}; return True or False, Approval(approved, reason), a HumanMessage with "
            "approved=True/False, or None (leave it to the stream)"
        )
    if isinstance(answer, str):
        return HumanMessage(answer, rid)
    if isinstance(answer, HumanMessage):
        return answer if answer.request_id == rid else replace(answer, request_id=rid)
    raise ConfigError(
        f"the hitl handler answered input request {rid} with {answer!r}; return the answer's "
        "text (a str), a HumanMessage, or None (leave it to the stream)"
    )


async def call_handler(function: Callable[..., Any], *args: Any) -> Any:
    """A person's handler called with ``args`` (``hitl=``, a team's ``Human(handler=)``): an
    async one on the event loop, a sync one on a thread, as it may block (a terminal prompt);
    an awaitable it returns is awaited."""
    if inspect.iscoroutinefunction(function):
        result = function(*args)
    else:
        result = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _from_hook(hook: HumanHandler, request: HumanRequest, context: Context) -> HumanAnswer:
    return cast(HumanAnswer, await call_handler(hook, request, context))


def describe(request: HumanRequest) -> str:
    if isinstance(request, ApprovalRequest):
        return f"the approval of {request.call.name or 'an action'!r}"
    prompt = request.prompt if len(request.prompt) <= 60 else request.prompt[:57] + "..."
    return f"{prompt!r}"


def human_terminal(hook: HumanHandler | None) -> InputHandler:
    """The end of the ``around_human_input`` chain (see the module docs)."""

    async def resolve(request: HumanRequest, context: Context) -> HumanMessage:
        run = context.run
        humans = humans_of(run)
        rid = request.request_id
        given = humans.answers.pop(rid, None)
        if given is not None:
            return given
        wait = humans.waits.get(rid, _Wait(None, "a timeout"))
        inbox, listening = _listen(context.stream, rid)  # before anyone can answer
        try:
            if rid in humans.published:
                await run.deliver(request)  # asked before a pause: show it again, live
            else:
                humans.published.add(rid)
                await run.record(request)
            if hook is None and run.relay is not None:
                return await run.relay.ask(request, wait.timeout)
            if hook is None and wait.timeout != 0 and not _watched(context.stream, run):
                await _report_unattended(request, run)
            message: HumanMessage | None = None
            try:
                async with asyncio.timeout(wait.timeout or None) as deadline:
                    if hook is not None:
                        answer = await _from_hook(hook, request, context)
                        message = _as_message(answer, request)
                    # with no wait (0), only an answer sent already, as the request was seen
                    if message is None and (wait.timeout != 0 or inbox.done()):
                        message = await inbox
            except TimeoutError:
                if not deadline.expired():
                    raise
            if message is None:
                raise HumanInputTimeout(
                    f"nobody answered {describe(request)} (request {rid}) within "
                    f"{wait.timeout or 0:g} seconds; allow longer with {wait.hint}, answer it "
                    "with Agent(hitl=...), or send HumanMessage(request_id=...) on the stream",
                    request_id=rid,
                    timeout=wait.timeout or 0,
                )
            if inbox.done() and not inbox.exception() and message is inbox.result():
                humans.received[rid] = message  # it came on the stream: don't send it again
            return message
        finally:
            listening.unsubscribe()

    return resolve


def _watched(stream: Stream, run: LiveRun) -> bool:
    """Whether anyone could answer from the stream: a reader of this ask (``agent.run``), a
    subscriber besides this request's own listener, or a stream shared with other processes."""
    if run.tap is not None or type(stream) is not MemoryStream:
        return True
    return stream.subscriber_count > 1


async def _report_unattended(request: HumanRequest, run: LiveRun) -> None:
    message = (
        f"the ask waits for {describe(request)} (request {request.request_id}) but has no hitl "
        "handler and nobody watches its stream: answer it with Agent(hitl=...), send "
        "HumanMessage(request_id=...) on the stream, or give the wait a timeout"
    )
    log.warning("%s", message)
    await run.record(UnattendedRequest(request.request_id, message))


def _reopen(humans: HumanState, request: HumanRequest) -> HumanRequest:
    """The request asked before a pause in the same tool call (same kind), if any: asking it
    again reuses its id, so the answer given to ``resume`` reaches it."""
    earlier = humans.reopened.get(asking_call_id())
    if not earlier:
        return request
    same_kind = [i for i, c in enumerate(earlier) if type(c) is type(request)]
    # The same question (prompt, or call approved) first; else the first of its kind in order.
    same = [i for i in same_kind if _same_question(earlier[i], request)]
    for i in same or same_kind[:1]:
        candidate = earlier.pop(i)
        humans.published.add(candidate.request_id)
        return candidate
    return request


def _same_question(earlier: HumanRequest, request: HumanRequest) -> bool:
    if isinstance(earlier, HumanInputRequest) and isinstance(request, HumanInputRequest):
        return earlier.prompt == request.prompt and earlier.task_id == request.task_id
    if isinstance(earlier, ApprovalRequest) and isinstance(request, ApprovalRequest):
        return (earlier.call.name, earlier.call.arguments) == (
            request.call.name,
            request.call.arguments,
        )
    return False


async def ask_human(
    context: Context, request: HumanRequest, seconds: float | None, hint: str
) -> HumanMessage:
    """Send ``request`` through the ``around_human_input`` chain and record the answer."""
    run = context.run
    humans = humans_of(run)
    if request.request_id not in humans.published:
        request = _reopen(humans, request)
    rid = request.request_id
    humans.waits[rid] = _Wait(seconds, hint)
    try:
        message = await run.plan.chains.human_input(request, context)
    finally:
        del humans.waits[rid]
    if rid not in humans.published:  # a middleware answered without asking anyone
        humans.published.add(rid)
        await run.record(request)
    if rid in humans.replayed:  # its answer is in the history since an earlier resume
        humans.replayed.discard(rid)
        return message
    from_stream = humans.received.pop(rid, None) is message
    await run.record(message, to_stream=not from_stream)
    return message


def pause_for(context: Context, *requests: HumanRequest) -> AskSuspended:
    """The error that pauses ``context``'s run until ``requests`` are answered (raise it)."""
    run = context.run
    if not run.can_pause():
        raise ConfigError(
            "pausing an ask saves it for agent.resume: give the agent both history= and "
            "storage=, e.g. Agent(..., history=MemoryHistory(), storage=MemoryStorage())"
        )
    ids = ", ".join(r.request_id for r in requests)
    return AskSuspended(
        f"the ask paused for request {ids}",
        conversation_id=context.conversation_id,
        run_id=context.run_id,
        requests=tuple(requests),
    )


_NO_CALL = ToolCall("", "", "{}")


async def ask_input(
    context: Context, prompt: str, seconds: float | None, default: str | None
) -> str:
    """``Context.input``: the text of a human's answer to ``prompt``."""
    call = CURRENT_CALL.get()
    request: HumanRequest = HumanInputRequest(new_id(), prompt, call.id if call else None)
    hint = "context.input(..., timeout=N)"
    if context.pauses_for_humans:
        return (await ask_or_pause(context, request, seconds, hint)).text
    answer = await _ask_or_default(context, request, seconds, hint, default is not None)
    return (default or "") if answer is None else answer.text


async def ask_or_pause(
    context: Context, request: HumanRequest, seconds: float | None, hint: str
) -> HumanMessage:
    """Ask, taking only an answer that is there already (or comes within ``seconds``); else
    pause the run until ``agent.resume`` brings one (``suspend_on_human=True``)."""
    request = _reopen(humans_of(context.run), request)
    try:
        return await _ask_checked(context, request, seconds or 0, hint)
    except HumanInputTimeout:
        context.pause(request)


async def ask_approval(
    context: Context,
    reason: str,
    call: ToolCall | None,
    seconds: float | None,
    default: bool | None,
) -> bool:
    """``Context.approve``: whether a human approved (``approved=True``) the action."""
    request = ApprovalRequest(new_id(), call or CURRENT_CALL.get() or _NO_CALL, reason)
    hint = "context.approve(..., timeout=N)"
    if context.pauses_for_humans:  # as context.input: the ask pauses until resume answers
        return (await ask_or_pause(context, request, seconds, hint)).approved is True
    message = await _ask_or_default(context, request, seconds, hint, default is not None)
    return bool(default) if message is None else message.approved is True


async def _ask_checked(
    context: Context, request: HumanRequest, seconds: float | None, hint: str
) -> HumanMessage:
    if seconds is not None and (isinstance(seconds, bool) or not seconds >= 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {seconds!r}")
    return await ask_human(context, request, seconds, hint)


async def _ask_or_default(
    context: Context, request: HumanRequest, seconds: float | None, hint: str, fallback: bool
) -> HumanMessage | None:
    if seconds is not None and (isinstance(seconds, bool) or not seconds > 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {seconds!r}")
    try:
        return await ask_human(context, request, seconds, hint)
    except HumanInputTimeout:
        if not fallback:
            raise
        return None
