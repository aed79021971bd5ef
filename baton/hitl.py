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

Suspending. With ``Agent(history=..., storage=...)``, an ask can pause instead of waiting:
``ApprovalPolicy(suspend=True)`` pauses on an approval not answered at once (or within
``timeout``), and ``suspend_on_human=True`` (agent or ask) makes ``context.input`` pause the same
way. The other calls in flight finish and their results are stored, the run's ``RunState`` is
saved in the storage, and the ask raises ``AskSuspended`` (answer its ``request_ids``; there is
no ``Reply`` yet). Later, in any process, an ``Agent`` built the same way continues it: ``await
agent.resume(conversation_id, HumanMessage(request_id=rid, approved=True))`` records the answer,
runs the calls that had not finished (never those that had; a call that paused runs again from
its start, and its request gets the answer, as do the requests it had answered before a later
pause: a call may ask several times) and goes on to the ``Reply``. Until then a new ask there
raises ``ConversationBusy``.

Sub-agents. A request made by an agent running as a sub-task (``agent.as_tool()``,
``run_subtasks``) goes to the parent ask, marked with the sub-task's ``task_id``: the parent's
handler answers it, or its stream, or the parent pauses with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError

from .conversation import new_id
from .errors import ConfigError, HumanInputTimeout
from .events import ApprovalRequest, HumanMessage, ToolCall, ToolCallError, ToolCallResult
from .humans import Approval, HumanAnswer, HumanHandler, HumanRequest, current_call
from .middleware.base import Middleware, ProceedTool

if TYPE_CHECKING:
    from .context import Context
    from .tools.tool import Tool

__all__ = [
    "Approval",
    "ApprovalPolicy",
    "HumanAnswer",
    "HumanHandler",
    "HumanRequest",
    "current_call",
    "with_approval_policy",
]


class ApprovalPolicy(Middleware):
    """Tool calls that need a human's approval before they run.

    A call needs approval when its tool was made with ``requires_approval=True`` or when
    ``predicate(call)`` is true. The policy emits an ``ApprovalRequest`` and waits for the answer
    (hook or stream, see the module docs); a call not approved (``approved`` other than
    ``True``) is not run and the model reads "The user denied this call: <the answer's text>".

    An answer with ``always=True`` (``Approval(True, always=True)``, or a ``HumanMessage`` with
    ``approved=True, always=True``) approves that tool for the rest of the conversation: the
    policy reads it from the conversation's events, so it holds in any process.

    ``timeout`` (seconds) bounds the wait: past it, the call is not run and the model reads that
    nobody approved it in time. With ``suspend=True`` the ask pauses instead, and immediately
    when ``timeout`` is None and the hook (if any) did not answer; this needs an agent with
    ``history=`` and ``storage=``, and ``agent.resume`` continues it.
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
        if not self.needs_approval(call, context.tool(call.name)):
            return await proceed(call)
        if call.name in _always_approved(context, self):
            return await proceed(call)
        if self.suspend and not context.can_pause:
            raise ConfigError(
                "ApprovalPolicy(suspend=True) saves suspended asks: give the agent both "
                "history= and storage=, e.g. Agent(..., history=MemoryHistory(), "
                "storage=MemoryStorage())"
            )
        denied = await self._approve(call, context)
        return denied if denied is not None else await proceed(call)

    async def _approve(self, call: ToolCall, context: Context) -> ToolCallError | None:
        request = ApprovalRequest(new_id(), call, self._reason(call))
        wait = 0.0 if self.suspend and self.timeout is None else self.timeout
        try:
            message = await context.ask_human(
                request, timeout=wait, hint="ApprovalPolicy(timeout=N)"
            )
        except HumanInputTimeout as timed_out:
            if self.suspend:
                context.pause(_asked(request, timed_out.request_id))
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


class _Always:
    """The tools a human approved for the rest of a conversation, read from its events (the
    store is the truth: a conversation continued in another process keeps them)."""

    __slots__ = ("read", "tools")

    def __init__(self) -> None:
        self.read = 0  # events looked at so far
        self.tools: set[str] = set()


def _always_approved(context: Context, policy: ApprovalPolicy) -> set[str]:
    seen = context.state(policy, _Always)
    events = context.events
    if seen.read > len(events):  # the conversation was reloaded shorter (a branch)
        seen.read, seen.tools = 0, set()
    asked: dict[str, str] = {}
    for event in events.tail(seen.read):
        if isinstance(event, ApprovalRequest):
            asked[event.request_id] = event.call.name
        elif isinstance(event, HumanMessage) and event.always and event.approved is True:
            name = asked.get(event.request_id or "") or _asked_name(events, event.request_id)
            if name:
                seen.tools.add(name)
    seen.read = len(events)
    return seen.tools


def _asked_name(events: Sequence[Any], request_id: str | None) -> str | None:
    for event in events:
        if isinstance(event, ApprovalRequest) and event.request_id == request_id:
            return event.call.name
    return None


def _asked(request: ApprovalRequest, request_id: str) -> ApprovalRequest:
    """The request as it was asked (asked again after a pause, it keeps its first id)."""
    if request.request_id == request_id:
        return request
    return ApprovalRequest(request_id, request.call, request.reason, request.task_id)


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
