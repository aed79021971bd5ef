"""Human in the loop: questions for a human, approvals of tool calls, and suspended asks.

Asking. In a tool (or a prompt function, middleware...), ``await context.input("Which city?")``
asks for text and ``await context.approve("Delete 40 files?")`` for a yes or no. The request (a
``HumanInputRequest`` or ``ApprovalRequest``) passes through the ``around_human_input``
middleware and is answered by the agent's hook, ``Agent(hitl=handler)``: ``handler(request,
context)``, sync (run in a worker thread, so it may block) or async, returns a ``HumanMessage``,
a ``str`` (text), a ``bool`` (approval) or ``None`` (leave it to the stream). Otherwise anyone
with the conversation's stream (a UI, a relay from another process) sees the request and answers
with ``await stream.send(HumanMessage(text, request_id=rid, approved=...))``; answers nobody
waits for are ignored. History keeps the request and the answer the asking side received (an
answer that came on the stream is not sent on it again); the model sees neither, only the tool's
result.

Timeouts. ``timeout=`` (seconds; default: wait forever) raises ``HumanInputTimeout``; inside a
tool it becomes a tool error the model reads. Pass ``default=`` to get a value instead.

Approvals. Each call of a ``@tool(requires_approval=True)`` waits for approval: an agent adds an
``ApprovalPolicy()`` itself when a tool requires approval and its middleware has none. Add one
yourself to match calls with a predicate, set a timeout, or suspend. A denied call is not run;
the model reads "The user denied this call: <reason>".

Suspending. With ``ApprovalPolicy(suspend=True)`` and ``Agent(history=..., storage=...)``, an
approval not answered at once (or within ``timeout``) suspends the ask: the other calls in flight
finish, the suspended turn is saved in the storage, and the ask raises ``AskSuspended`` (answer
its ``request_ids``; there is no ``Reply`` yet). Later, in any process, an ``Agent`` built the
same way continues it: ``await agent.resume(conversation_id, HumanMessage(request_id=rid,
approved=True))`` records the answer, runs the calls that had not finished (never those that
had) and goes on to the ``Reply``. Until then a new ask there raises ``ConversationBusy``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, cast

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from .context import Context
from .conversation import new_id
from .errors import (
    AskSuspended,
    ConfigError,
    ConversationBusy,
    HumanInputTimeout,
    NotSuspended,
    StreamClosed,
)
from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    RunFailed,
    RunFinished,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    UsageLine,
    from_dict,
    to_dict,
)
from .middleware.base import Middleware, ProceedTool

if TYPE_CHECKING:
    from .agent import Agent, AskOptions
    from .loop import Job
    from .middleware.base import InputHandler
    from .reply import Reply
    from .stream import MemoryStream, Subscription
    from .tools.tool import Tool

__all__ = [
    "ApprovalPolicy",
    "HumanAnswer",
    "HumanHandler",
    "HumanRequest",
    "current_call",
    "resume",
]

log = logging.getLogger("baton.hitl")

HumanRequest: TypeAlias = HumanInputRequest | ApprovalRequest
HumanAnswer: TypeAlias = HumanMessage | str | bool | None
HumanHandler: TypeAlias = Callable[[HumanRequest, Context], HumanAnswer | Awaitable[HumanAnswer]]
"""``Agent(hitl=...)``: answers a request, or returns ``None`` to leave it to the stream."""

_STORAGE_PREFIX = "baton:suspended:"
_NO_CALL = ToolCall("", "", "{}")
CURRENT_CALL: ContextVar[ToolCall | None] = ContextVar("baton_current_call", default=None)


def current_call() -> ToolCall | None:
    """The tool call whose function is running in this task, if any."""
    return CURRENT_CALL.get()


# -- one ask's human requests ----------------------------------------------------------------


@dataclass(slots=True)
class Resumed:
    """Where a resumed ask picks up: the turn it was suspended in, that turn's response (at
    ``response_at`` in the history), its calls still to run and the outcomes of the others."""

    turn: int
    response: ModelResponse
    response_at: int
    pending: tuple[ToolCall, ...]
    finished: tuple[ToolCallResult | ToolCallError, ...]


@dataclass(frozen=True, slots=True)
class _Wait:
    timeout: float | None  # None: wait forever; 0: don't wait for the stream
    hint: str  # how to give more time, for the error message


@dataclass(slots=True)
class Humans:
    """The human-input state of one ask (``job.humans``)."""

    answers: dict[str, HumanMessage] = field(default_factory=dict)  # given to resume()
    reopened: dict[str, ApprovalRequest] = field(default_factory=dict)  # by call id
    published: set[str] = field(default_factory=set)
    waits: dict[str, _Wait] = field(default_factory=dict)
    received: dict[str, HumanMessage] = field(default_factory=dict)  # from the stream
    running: set[str] = field(default_factory=set)  # calls inside a suspending policy
    parked: list[ApprovalRequest] = field(default_factory=list)
    settled: asyncio.Event = field(default_factory=asyncio.Event)


def _humans(job: Job) -> Humans:
    humans = job.humans
    if humans is None:
        humans = job.humans = Humans()
    return humans


def _listen(stream: MemoryStream, rid: str) -> tuple[asyncio.Future[HumanMessage], Subscription]:
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
    rid = request.request_id
    if answer is None or isinstance(answer, HumanMessage):
        if answer is not None and answer.request_id != rid:
            answer = replace(answer, request_id=rid)
        return answer
    if isinstance(answer, bool):
        return HumanMessage("", rid, answer)
    if isinstance(answer, str):
        return HumanMessage(answer, rid)
    raise ConfigError(
        f"the hitl handler answered request {rid} with {answer!r}; return a HumanMessage, a str "
        "(a text answer), a bool (an approval) or None (leave it to the stream)"
    )


async def _from_hook(hook: HumanHandler, request: HumanRequest, context: Context) -> HumanAnswer:
    function: Callable[..., Any] = hook
    if inspect.iscoroutinefunction(function):
        result = function(request, context)
    else:  # a sync handler may block (a terminal prompt): keep it off the event loop
        result = await asyncio.to_thread(function, request, context)
    if inspect.isawaitable(result):
        result = await result
    return cast(HumanAnswer, result)


def human_terminal(hook: HumanHandler | None) -> InputHandler:
    """The end of the ``around_human_input`` chain: publish the request, then take the answer
    given to ``resume``, the hook's, or the first matching ``HumanMessage`` on the stream."""

    async def resolve(request: HumanRequest, context: Context) -> HumanMessage:
        job = context._job
        humans = _humans(job)
        rid = request.request_id
        given = humans.answers.pop(rid, None)
        if given is not None:
            return given
        wait = humans.waits.get(rid, _Wait(None, "a timeout"))
        inbox, listening = _listen(job.conversation.stream, rid)  # before anyone can answer
        try:
            if rid in humans.published:
                await job.deliver(request)  # asked before a suspension: show it again, live
            else:
                humans.published.add(rid)
                await job.record(request)
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
                    f"nobody answered {_describe(request)} (request {rid}) within "
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


def _describe(request: HumanRequest) -> str:
    if isinstance(request, ApprovalRequest):
        return f"the approval of {request.call.name or 'an action'!r}"
    prompt = request.prompt if len(request.prompt) <= 60 else request.prompt[:57] + "..."
    return f"{prompt!r}"


async def ask_human(
    context: Context, request: HumanRequest, seconds: float | None, hint: str
) -> HumanMessage:
    """Send ``request`` through the ``around_human_input`` chain and record the answer."""
    job = context._job
    humans = _humans(job)
    rid = request.request_id
    humans.waits[rid] = _Wait(seconds, hint)
    try:
        message = await job.plan.chains.human_input(request, context)
    finally:
        del humans.waits[rid]
    if rid not in humans.published:  # a middleware answered without asking anyone
        humans.published.add(rid)
        await job.record(request)
    from_stream = humans.received.pop(rid, None) is message
    await job.record(message, to_stream=not from_stream)
    return message


async def ask_input(
    context: Context, prompt: str, seconds: float | None, default: str | None
) -> str:
    """``Context.input``: the text of a human's answer to ``prompt``."""
    call = CURRENT_CALL.get()
    request = HumanInputRequest(new_id(), prompt, call.id if call is not None else None)
    hint = "context.input(..., timeout=N)"
    message = await _ask_or_default(context, request, seconds, hint, default is not None)
    return (default or "") if message is None else message.text


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
    message = await _ask_or_default(context, request, seconds, hint, default is not None)
    return bool(default) if message is None else message.approved is True


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


# -- approvals -------------------------------------------------------------------------------


class ApprovalPolicy(Middleware):
    """Tool calls that need a human's approval before they run.

    A call needs approval when its tool was made with ``requires_approval=True`` or when
    ``predicate(call)`` is true. The policy emits an ``ApprovalRequest`` and waits for the answer
    (hook or stream, see the module docs); a call not approved (``approved`` other than
    ``True``) is not run and the model reads "The user denied this call: <the answer's text>".

    ``timeout`` (seconds) bounds the wait: past it, the call is not run and the model reads that
    nobody approved it in time. With ``suspend=True`` the ask is suspended instead, and
    immediately when ``timeout`` is None and the hook (if any) did not answer; this needs an
    agent with ``history=`` and ``storage=``, and ``agent.resume`` continues it.
    """

    def __init__(
        self,
        predicate: Callable[[ToolCall], bool] | None = None,
        *,
        reason: str | Callable[[ToolCall], str] | None = None,
        timeout: float | None = None,
        suspend: bool = False,
    ) -> None:
        self.predicate = predicate
        self.reason = reason
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = timeout
        self.suspend = suspend

    def needs_approval(self, call: ToolCall, tool: Tool | None) -> bool:
        """Whether ``call`` waits for approval (calls that can't run, e.g. with invalid
        arguments, never do: they fail without running anyway)."""
        if tool is None or not (
            tool.requires_approval or (self.predicate is not None and self.predicate(call))
        ):
            return False
        try:
            tool.schema.validate_json(call.arguments)
        except ValidationError:
            return False
        return True

    def _reason(self, call: ToolCall) -> str:
        if callable(self.reason):
            return self.reason(call)
        return self.reason if self.reason is not None else f"{call.name} needs approval"

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        if not self.suspend:
            return await self._run(call, context, proceed)
        humans = _humans(context._job)
        humans.running.add(call.id)  # a call in flight: a suspension waits for it to finish
        try:
            return await self._run(call, context, proceed)
        finally:
            humans.running.discard(call.id)
            if not humans.running:
                humans.settled.set()

    async def _run(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        job = context._job
        if not self.needs_approval(call, job.plan.table.get(call.name)):
            return await proceed(call)
        if self.suspend and (job.plan.storage is None or job.conversation.history is None):
            raise ConfigError(
                "ApprovalPolicy(suspend=True) saves suspended asks: give the agent both "
                "history= and storage=, e.g. Agent(..., history=MemoryHistory(), "
                "storage=MemoryStorage())"
            )
        denied = await self._approve(call, context)
        return denied if denied is not None else await proceed(call)

    async def _approve(self, call: ToolCall, context: Context) -> ToolCallError | None:
        humans = _humans(context._job)
        request = humans.reopened.pop(call.id, None)
        if request is None:
            request = ApprovalRequest(new_id(), call, self._reason(call))
        else:
            humans.published.add(request.request_id)
        wait = 0.0 if self.suspend and self.timeout is None else self.timeout
        try:
            message = await ask_human(context, request, wait, "ApprovalPolicy(timeout=N)")
        except HumanInputTimeout:
            if self.suspend:
                await _park(humans, request, context)
            return ToolCallError(
                call.id,
                call.name,
                f"Nobody approved this call within {self.timeout:g} seconds; it was not run.",
                "ApprovalTimeout",
            )
        if message.approved is True:
            return None
        return ToolCallError(
            call.id,
            call.name,
            f"The user denied this call: {message.text or 'no reason given'}",
            "ApprovalDenied",
        )


async def _park(humans: Humans, request: ApprovalRequest, context: Context) -> NoReturn:
    """Wait for the other calls in flight to finish, then suspend the ask."""
    humans.running.discard(request.call.id)
    humans.parked.append(request)
    await asyncio.sleep(0)  # let the calls started with this one begin
    while humans.running:
        humans.settled.clear()
        await humans.settled.wait()
    requests = tuple(humans.parked)
    ids = ", ".join(r.request_id for r in requests)
    names = ", ".join(sorted({r.call.name for r in requests}))
    raise AskSuspended(
        f"the ask waits for approval of {names} (request {ids}) and was suspended; continue it "
        f"with agent.resume({context.conversation_id!r}, HumanMessage(request_id=..., "
        "approved=True or False))",
        conversation_id=context.conversation_id,
        run_id=context.run_id,
        requests=requests,
    )


def with_approval_policy(
    middleware: Sequence[Middleware], table: Mapping[str, Tool]
) -> tuple[Middleware, ...]:
    """The middleware, with an ``ApprovalPolicy()`` added (innermost) when a tool requires
    approval and none of the middleware is an ``ApprovalPolicy``."""
    if any(isinstance(m, ApprovalPolicy) for m in middleware) or not any(
        t.requires_approval for t in table.values()
    ):
        return tuple(middleware)
    return (*middleware, ApprovalPolicy())


# -- suspending and resuming -----------------------------------------------------------------


def _key(conversation_id: str) -> str:
    return _STORAGE_PREFIX + conversation_id


def _outcomes_after(events: Sequence[Event], at: int) -> dict[str, ToolCallResult | ToolCallError]:
    return {e.call_id: e for e in events[at + 1 :] if isinstance(e, ToolCallResult | ToolCallError)}


async def keep_suspended(job: Job, suspended: AskSuspended, response_at: int) -> None:
    """Save what ``resume`` needs: the suspended turn, which of its calls finished and which
    wait, and the ask's usage and variables so far. The history stays as it is (no stand-in
    results, no ``RunFailed``): the run is open until it is resumed."""
    storage = job.plan.storage
    conversation = job.conversation
    response = conversation.events[response_at] if response_at >= 0 else None
    if storage is None or not isinstance(response, ModelResponse):
        raise ConfigError(
            "AskSuspended can only suspend a tool call's approval (ApprovalPolicy(suspend=True) "
            "with Agent(history=..., storage=...))"
        )
    finished = _outcomes_after(conversation.events, response_at)
    try:
        variables = to_jsonable_python(conversation.variables)
    except Exception:
        log.warning("conversation variables are not JSON-able; a resumed ask starts without them")
        variables = {}
    counter = job.context._counter
    await storage.put(
        _key(conversation.id),
        {
            "version": 1,
            "run_id": job.run_id,
            "turn": job.context.turn,
            "response_at": response_at,
            "requests": [to_dict(r) for r in suspended.requests],
            "finished": [c.id for c in response.tool_calls if c.id in finished],
            "pending": [c.id for c in response.tool_calls if c.id not in finished],
            "usage": [to_dict(line) for line in counter.breakdown()],
            "tool_calls": counter.tool_calls,
            "variables": variables,
        },
    )


async def check_not_suspended(job: Job) -> None:
    """A new ask can't start while the conversation's last ask is suspended (its run is open,
    and the storage holds it)."""
    conversation, storage = job.conversation, job.plan.storage
    events = conversation.events
    if storage is None or not events or isinstance(events[-1], RunFinished | RunFailed):
        return
    record = await storage.get(_key(conversation.id))
    if record is None:
        return
    ids = ", ".join(r["request_id"] for r in record["requests"])
    raise ConversationBusy(
        f"conversation {conversation.id} has an ask suspended while waiting for approval "
        f"(request {ids}); finish it first with agent.resume({conversation.id!r}, "
        "HumanMessage(request_id=..., approved=True or False))"
    )


async def resume(
    agent: Agent[Any],
    conversation_id: str,
    answers: Sequence[HumanMessage],
    options: AskOptions,
) -> Reply[Any]:
    """``Agent.resume``: continue a suspended ask (see the module docs)."""
    storage, history = agent.storage, agent.history
    if storage is None or history is None:
        raise ConfigError(
            "agent.resume() continues an ask saved in a history and a storage: build the agent "
            "with the same history= and storage= as the one that was suspended"
        )
    record = await storage.get(_key(conversation_id))
    if record is None:
        raise NotSuspended(
            f"conversation {conversation_id} has no suspended ask (it was never suspended, or "
            "it was resumed already)"
        )
    conversation = await agent._open_conversation({**options, "conversation_id": conversation_id})
    if conversation.busy:
        raise ConversationBusy(f"conversation {conversation_id} is answering another ask")
    events = conversation.events
    at = record["response_at"]
    response = events[at] if 0 <= at < len(events) else None
    requests = [from_dict(r) for r in record["requests"]]
    closed = any(
        isinstance(e, RunFinished | RunFailed) and e.run_id == record["run_id"]
        for e in events[at + 1 :]
    )
    if not isinstance(response, ModelResponse) or closed:
        raise NotSuspended(
            f"the suspended ask of conversation {conversation_id} does not match its history "
            "(was the history changed, or a different history given?)"
        )
    by_id = {r.request_id: r for r in requests}
    for answer in answers:
        if not isinstance(answer, HumanMessage) or answer.request_id not in by_id:
            raise ConfigError(
                f"agent.resume() takes HumanMessage answers to the suspended requests "
                f"({', '.join(by_id)}), got {answer!r}"
            )
    finished = _outcomes_after(events, at)
    request = next((e for e in reversed(events[:at]) if isinstance(e, ModelRequest)), None)
    if not await storage.delete(_key(conversation_id)):  # claim it: only one resume runs it
        raise NotSuspended(f"the suspended ask of conversation {conversation_id} was resumed")
    conversation.variables.update(record["variables"])
    job = agent._prepare(list(request.parts) if request else "", conversation, options)
    job.run_id = job.context.run_id = record["run_id"]
    job.resumed = Resumed(
        record["turn"],
        response,
        at,
        tuple(c for c in response.tool_calls if c.id not in finished),
        tuple(finished[c.id] for c in response.tool_calls if c.id in finished),
    )
    job.humans = Humans(
        answers={a.request_id: a for a in answers if a.request_id is not None},
        reopened={r.call.id: r for r in requests},
    )
    counter = job.context._counter
    for line in record["usage"]:
        usage_line: UsageLine = from_dict(line)
        counter.add(usage_line.usage, usage_line.kind, usage_line.provider, usage_line.model)
    counter.tool_calls = record["tool_calls"]
    return await agent._execute(job)
