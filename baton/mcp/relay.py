"""How one MCP tool call drives an ask: its events become progress notifications, its
human-input requests become elicitations, and its end becomes the call's outcome.

The ask's requests are read from its events, in order (after the progress that led to them),
and answered with a ``HumanMessage`` on the ask's stream, which is where an agent without a
``hitl=`` handler waits for its answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelResponse,
    TaskProgress,
    ToolCall,
    ToolCallError,
    ToolCallResult,
)
from ..redaction import logger, redact_text
from ..reply import Reply, Run
from ..stream import Stream

if TYPE_CHECKING:
    import mcp_types
    from mcp.server.context import ServerRequestContext

__all__ = [
    "AskRelay",
    "Finished",
    "HumanRequest",
    "NeedsInput",
    "Outcome",
    "Stopped",
    "elicitation_form",
    "short",
]

log = logger("baton.mcp.server")

MAX_ERROR = 500  # characters of an error message a client sees


def short(text: str) -> str:
    """``text`` as a client may see it: secrets redacted, on one line, at most ``MAX_ERROR``
    characters."""
    text = " ".join(redact_text(text).split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


# -- the client as the human -------------------------------------------------------------------

HumanRequest = HumanInputRequest | ApprovalRequest


def elicitation_form(request: HumanRequest) -> tuple[str, dict[str, Any]]:
    """The elicitation (message, requested schema) that asks ``request``."""
    if isinstance(request, ApprovalRequest):
        message = request.reason or f"Allow the agent to call {request.call.name!r}?"
        if request.call.name:
            message += f"\n\nTool: {request.call.name}\nArguments: {request.call.arguments}"
        schema = {
            "type": "object",
            "properties": {"approve": {"type": "boolean", "title": "Approve"}},
            "required": ["approve"],
        }
        return message, schema
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "title": "Answer"}},
        "required": ["answer"],
    }
    return request.prompt, schema


def _answer(request: HumanRequest, result: mcp_types.ElicitResult) -> HumanMessage:
    """The agent's ``HumanMessage`` for the client's elicitation result."""
    rid = request.request_id
    content = result.content or {}
    if isinstance(request, ApprovalRequest):
        approved = result.action == "accept" and content.get("approve") is True
        reason = "approved" if approved else f"not approved (the user chose {result.action})"
        return HumanMessage(reason, request_id=rid, approved=approved)
    if result.action != "accept":
        return HumanMessage(f"(the user chose {result.action} and gave no answer)", request_id=rid)
    if "answer" in content:
        return HumanMessage(str(content["answer"]), request_id=rid)
    # A client that filled in other fields: the agent reads them all.
    return HumanMessage(json.dumps(content), request_id=rid)


# -- one tools/call --------------------------------------------------------------------------

_END = object()


@dataclass(frozen=True)
class Finished:
    """The ask ended: its reply, and the tool results it produced."""

    reply: Reply[Any]
    seen: tuple[ToolCallResult | ToolCallError, ...]


@dataclass(frozen=True)
class Stopped:
    """The ask was stopped because the client cannot answer its request: why."""

    problem: str


@dataclass(frozen=True)
class NeedsInput:
    """The client must answer ``request`` in a new ``tools/call`` (an input-required round)."""

    request: HumanRequest


Outcome = Finished | Stopped | NeedsInput


class AskRelay:
    """One ask started by a ``tools/call``: relays its events as progress and its human-input
    requests to the client, and reports how it ended.

    The ask's requests are read from its events, in order (after the progress that led to
    them), and answered with a ``HumanMessage`` on the ask's stream, which is where an agent
    without a ``hitl=`` handler waits for its answers (an agent with one answers itself, and
    its requests are left alone). Over a connection that can carry server requests (the
    handshake protocol versions) the client is asked with ``elicitation/create`` while the
    call waits. On 2026-07-28 connections, which cannot, the call returns an input-required
    result and the ask waits, still running, for the client to call again with the answer
    (``answer``, then ``step`` with the new call's context)."""

    def __init__(self, stream: Stream, agent_answers: bool) -> None:
        self.stream = stream
        self._agent_answers = agent_answers
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._exits = contextlib.AsyncExitStack()
        self._run: Run[Any] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._seen: list[ToolCallResult | ToolCallError] = []
        self._waiting: HumanRequest | None = None
        self._progress = 0
        self.ctx: ServerRequestContext[Any, Any] | None = None

    async def start(self, run: Run[Any]) -> None:
        self._run = await self._exits.enter_async_context(run)
        self._pump = asyncio.create_task(self._forward(run))

    async def close(self) -> None:
        """End the ask (cancelled if it still runs) and stop relaying it. Idempotent."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._exits.aclose()  # leaving the run's `async with` cancels an unfinished ask

    async def answer(self, result: mcp_types.ElicitResult) -> None:
        """The client's answer to the request the last round returned."""
        request, self._waiting = self._waiting, None
        if request is not None:
            await self.stream.send(_answer(request, result))

    async def step(self, ctx: ServerRequestContext[Any, Any]) -> Outcome:
        """Relay the ask until it ends or needs an answer the client gives in another call.
        The ask's own error is raised. Anything but ``NeedsInput`` closes the ask."""
        self.ctx = ctx
        try:
            outcome = await self._relay()
        except BaseException:
            # Also when this call is cancelled (the client went away). The SDK cancels with an
            # anyio scope, which would cancel every await of the clean-up too: shield it, so the
            # ask is closed in its history before the call ends.
            import anyio

            with anyio.CancelScope(shield=True):
                await self.close()
            raise
        if not isinstance(outcome, NeedsInput):
            await self.close()
        return outcome

    async def _relay(self) -> Outcome:
        assert self._run is not None
        while True:
            item = await self.inbox.get()
            if item is _END:
                return Finished(await self._run.result(), tuple(self._seen))
            if isinstance(item, HumanInputRequest | ApprovalRequest) and not self._agent_answers:
                how = self._how_to_ask()
                if how == "elicit":
                    problem = await self._elicit(item)
                    if problem is None:
                        continue
                    return Stopped(_unanswerable(item, problem))
                if how == "input-required":
                    self._waiting = item
                    return NeedsInput(item)
                return Stopped(_unanswerable(item, how))
            if isinstance(item, ToolCallResult | ToolCallError):
                self._seen.append(item)
            await self._report(item)

    async def _forward(self, run: Run[Any]) -> None:
        try:
            async for event in run:
                await self.inbox.put(event)
        finally:
            await self.inbox.put(_END)

    async def _report(self, event: Event) -> None:
        """A progress notification for the steps a client cares about (a no-op when the client
        sent no progress token)."""
        if isinstance(event, ModelResponse):
            names = ", ".join(c.name for c in event.tool_calls)
            message = f"the model calls {names}" if names else "the model answered"
        elif isinstance(event, ToolCall):
            message = f"calling tool {event.name}"
        elif isinstance(event, ToolCallResult):
            message = f"tool {event.name} returned"
        elif isinstance(event, ToolCallError):
            message = f"tool {event.name} failed"
        elif isinstance(event, TaskProgress):
            message = f"sub-task {event.task_id}: {event.kind} {event.detail}".rstrip()
        else:
            return
        self._progress += 1
        assert self.ctx is not None
        try:
            await self.ctx.session.report_progress(self._progress, None, message)
        except Exception as exc:  # a client gone mid-call must not fail the ask here
            log.debug("progress notification not delivered: %s", type(exc).__name__)

    def _how_to_ask(self) -> str:
        """``"elicit"``, ``"input-required"``, or why this client cannot be asked."""
        assert self.ctx is not None
        session = self.ctx.session
        capabilities = session.client_capabilities
        elicitation = capabilities.elicitation if capabilities is not None else None
        # A bare `elicitation: {}` (from before modes existed) means form support.
        if elicitation is None or (elicitation.form is None and elicitation.url is not None):
            return (
                "this MCP client did not declare the elicitation capability, so the server "
                "cannot ask it; use a client that supports form elicitation, or give the "
                "agent a hitl= handler"
            )
        if session.can_send_request:
            return "elicit"
        return "input-required"

    async def _elicit(self, request: HumanRequest) -> str | None:
        """Ask the client with ``elicitation/create``; None once answered, else the problem."""
        assert self.ctx is not None
        message, schema = elicitation_form(request)
        try:
            result = await self.ctx.session.elicit_form(
                message, schema, related_request_id=self.ctx.request_id
            )
        except Exception as exc:
            return f"asking the client failed ({type(exc).__name__}: {short(str(exc))})"
        await self.stream.send(_answer(request, result))
        return None


def _unanswerable(request: HumanRequest, problem: str) -> str:
    what = (
        f"approval of {request.call.name!r}"
        if isinstance(request, ApprovalRequest)
        else f"input ({short(request.prompt)!r})"
    )
    return f"the agent asked for human {what}, but {problem}"
