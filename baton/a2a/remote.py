"""``RemoteAgent``: an agent served over A2A anywhere (Baton or not), used from Baton as a tool
or a sub-task.

    travel = RemoteAgent("https://agents.example.com/travel", token=os.environ["TRAVEL_TOKEN"])
    planner = Agent("planner", config=..., tools=[travel.as_tool()])

Per Baton conversation it keeps the remote context id, so the caller's follow-ups continue the
remote conversation. The remote agent's progress is streamed into the caller's stream
(``TaskStarted`` / ``TaskProgress`` / ``TaskCompleted`` or ``TaskFailed`` like any sub-task,
plus the live ``RemoteStatus`` and ``RemoteText``). A remote ``input-required`` task is a
question for the caller's human (``context.input``: the ``hitl=`` handler, the stream, or a
pause with ``suspend_on_human=True``; resumed, the answer goes to the same remote task). A
remote failure is a ``RemoteAgentError`` with a short message, which a calling model reads as
a tool error.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..context import Context
from ..errors import AskSuspended, ConfigError, RemoteAgentError
from ..events import TaskCompleted, TaskFailed, TaskProgress, TaskStarted
from ..harness.subtasks import SubtaskResult
from ..redaction import logger
from ..tools.tool import Tool
from .events import RemoteStatus, RemoteText
from .executor import short
from .sdk import require_sdk

if TYPE_CHECKING:
    from a2a.client import Client
    from a2a.types.a2a_pb2 import StreamResponse

    from ..agent import Agent
    from .member import Render

__all__ = ["RemoteAgent", "RemoteReply"]

log = logger("baton.a2a")

Transport = Literal["jsonrpc", "http+json"]
_BINDINGS = {"jsonrpc": "JSONRPC", "http+json": "HTTP+JSON"}
_DONE = ("completed",)
_FAILED = ("failed", "rejected", "canceled", "auth-required")


@dataclass(frozen=True, slots=True)
class RemoteReply:
    """The remote agent's answer to one message: its text, and the remote ids."""

    text: str
    task_id: str
    context_id: str
    state: str


def _state_name(value: int) -> str:
    from a2a.types.a2a_pb2 import TaskState

    name: str = TaskState.Name(value)
    return name.removeprefix("TASK_STATE_").lower().replace("_", "-")


def _text(parts: Any) -> str:
    return "\n".join(p.text for p in parts if p.HasField("text"))


class _Exchange:
    """What one message's answer stream says so far."""

    def __init__(self) -> None:
        self.task_id = ""
        self.context_id = ""
        self.state = "submitted"
        self.status_text = ""
        self.artifacts: dict[str, str] = {}
        self.streamed: set[str] = set()
        self.on_text: Callable[[str], Awaitable[None]] | None = None


class RemoteAgent:
    """A remote A2A agent at ``url`` (its agent card is read from
    ``<url>/.well-known/agent-card.json`` on first use).

    ``token``: a bearer token sent with every request (never shown in reprs, logs or errors);
    ``headers``: more HTTP headers. ``transport``: ``"jsonrpc"`` or ``"http+json"`` (default:
    the first the card lists of the two). ``timeout``: seconds to wait for the remote agent
    between two pieces of its answer. ``streaming=False`` asks with ``SendMessage`` instead of
    ``SendStreamingMessage``. ``name`` and ``description`` default to the card's.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        description: str | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        timeout: float = 300.0,
        streaming: bool = True,
        max_conversations: int = 1000,
    ) -> None:
        require_sdk()
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"RemoteAgent needs the agent's http(s) base URL, got {url!r}")
        if transport is not None and transport not in _BINDINGS:
            raise ConfigError(f"transport must be 'jsonrpc' or 'http+json', got {transport!r}")
        if isinstance(timeout, bool) or not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.name = name
        self.description = description
        self.transport = transport
        self.timeout = float(timeout)
        self.streaming = streaming
        self._headers = dict(headers or {})
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._max = max_conversations
        self._contexts: OrderedDict[str, str] = OrderedDict()
        self._client: Client | None = None
        self._http: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RemoteAgent({self.url!r}, name={self.name!r})"

    # -- the connection --------------------------------------------------------------------

    async def _connect(self) -> Client:
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is loop:
            return self._client
        async with self._opening:
            if self._client is not None and self._loop is loop:
                return self._client
            import httpx
            from a2a.client import A2ACardResolver, ClientConfig, ClientFactory

            self._http = httpx.AsyncClient(
                headers=self._headers, timeout=httpx.Timeout(self.timeout, connect=10.0)
            )
            bindings = [_BINDINGS[self.transport]] if self.transport else list(_BINDINGS.values())
            config = ClientConfig(
                streaming=self.streaming,
                httpx_client=self._http,
                supported_protocol_bindings=bindings,
            )
            try:
                card = await A2ACardResolver(self._http, self.url).get_agent_card()
                client = ClientFactory(config).create(card)
            except Exception as exc:
                await self._http.aclose()
                self._http = None
                raise RemoteAgentError(
                    self._problem("could not read its agent card", exc)
                ) from None
            self.name = self.name or card.name
            self.description = self.description or card.description
            self._client, self._loop = client, loop
            return client

    async def aclose(self) -> None:
        """Close the HTTP connections (the next call opens new ones)."""
        client, http = self._client, self._http
        self._client = self._http = None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        if http is not None:
            await http.aclose()

    def _label(self) -> str:
        return self.name or self.url

    def _problem(self, what: str, exc: BaseException | None = None) -> str:
        detail = ""
        if exc is not None:
            text = short(str(exc)) if str(exc) else ""
            detail = f" ({type(exc).__name__}{': ' + text if text else ''})"
        return f"the remote agent {self._label()!r} {what}{detail}"

    # -- one message -----------------------------------------------------------------------

    async def send(
        self,
        text: str,
        *,
        context_id: str | None = None,
        task_id: str | None = None,
        context: Context | None = None,
        subtask_id: str = "",
        on_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> RemoteReply:
        """Send one message (in the remote context ``context_id``, answering the remote task
        ``task_id`` when it waits for input) and return the answer as it stands: completed,
        or ``input-required`` with its question as the text. With ``context``, its progress
        is published on that ask's stream; ``on_text`` gets each piece of the answer as it
        streams. Failures raise ``RemoteAgentError``."""
        from a2a.client import A2AClientError
        from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest

        client = await self._connect()
        message = Message(
            message_id=str(uuid.uuid4()),
            role=Role.ROLE_USER,
            parts=[Part(text=text)],
            context_id=context_id or "",
            task_id=task_id or "",
        )
        seen = _Exchange()
        seen.on_text = on_text
        try:
            async for response in client.send_message(SendMessageRequest(message=message)):
                await self._take(response, seen, context, subtask_id)
        except asyncio.CancelledError:
            if seen.task_id and seen.state not in (*_DONE, *_FAILED, "input-required"):
                await self._cancel_remote(client, seen.task_id)
            raise
        except A2AClientError as exc:
            raise RemoteAgentError(self._problem("refused the request", exc)) from None
        except Exception as exc:  # the connection, a timeout, a broken answer
            raise RemoteAgentError(self._problem("could not be reached", exc)) from None
        if seen.state in _FAILED:
            why = f": {short(seen.status_text)}" if seen.status_text else ""
            raise RemoteAgentError(f"the remote agent {self._label()!r} {seen.state} the task{why}")
        if seen.state not in (*_DONE, "input-required"):
            raise RemoteAgentError(
                self._problem(f"stopped answering with its task still {seen.state}")
            )
        answer = seen.status_text
        if seen.state in _DONE and seen.artifacts:
            answer = "\n".join(t for t in seen.artifacts.values() if t)
        return RemoteReply(answer, seen.task_id, seen.context_id, seen.state)

    async def _take(
        self, response: StreamResponse, seen: _Exchange, context: Context | None, sub: str
    ) -> None:
        kind = response.WhichOneof("payload")
        if kind == "message":
            seen.context_id = response.message.context_id or seen.context_id
            seen.status_text, seen.state = _text(response.message.parts), "completed"
            return
        if kind == "task":
            task = response.task
            seen.task_id, seen.context_id = task.id, task.context_id
            for artifact in task.artifacts:
                seen.artifacts[artifact.artifact_id] = _text(artifact.parts)
            await self._status(seen, task.status, context, sub)
        elif kind == "status_update":
            update = response.status_update
            seen.task_id, seen.context_id = update.task_id, update.context_id
            await self._status(seen, update.status, context, sub)
        elif kind == "artifact_update":
            update = response.artifact_update
            seen.task_id, seen.context_id = update.task_id, update.context_id
            key, piece = update.artifact.artifact_id, _text(update.artifact.parts)
            had = seen.artifacts.get(key, "")
            seen.artifacts[key] = had + piece if update.append else piece
            # A closing update that repeats text already streamed is not news.
            repeat = not update.append and key in seen.streamed and piece == had
            if context is not None and piece and not repeat:
                await context.emit(RemoteText(sub, self._label(), piece))
            if seen.on_text is not None and piece and not repeat:
                await seen.on_text(piece)
            seen.streamed.add(key)

    async def _status(
        self, seen: _Exchange, status: Any, context: Context | None, sub: str
    ) -> None:
        state = _state_name(status.state)
        text = _text(status.message.parts) if status.HasField("message") else ""
        changed = state != seen.state
        seen.state = state
        if text:
            seen.status_text = text
        if context is not None and (changed or text):
            await context.emit(RemoteStatus(sub, self._label(), seen.task_id, state, text))
            if changed:
                await context.emit(TaskProgress(sub, "remote", state))

    async def _cancel_remote(self, client: Client, task_id: str) -> None:
        """Best effort, bounded: the caller is being cancelled, so is the remote task."""
        from a2a.types.a2a_pb2 import CancelTaskRequest

        async def cancel() -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await client.cancel_task(CancelTaskRequest(id=task_id))

        task = asyncio.ensure_future(cancel())
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)

    # -- a conversation with the remote agent ----------------------------------------------

    def _key(self) -> str:
        return f"baton.a2a.remote:{self.url}"

    async def ask(self, context: Context, text: str, *, subtask_id: str = "") -> str:
        """Ask the remote agent for the ask ``context`` belongs to: in the remote context
        kept for its conversation, answering a remote ``input-required`` with
        ``context.input`` (which may pause the ask: resumed, the answer goes to the same
        remote task). Returns the remote agent's final text."""
        key = self._key()
        state = context.variables.get(key)
        kept: dict[str, Any] = dict(state) if isinstance(state, dict) else {}
        remote_context = kept.get("context_id") or self._contexts.get(context.conversation_id)
        waiting = kept.get("waiting")
        outgoing: str | None = text
        task_id: str | None = None
        if isinstance(waiting, dict):  # resumed after a pause: answer the remote question
            outgoing, task_id, question = None, waiting["task_id"], waiting["question"]
        while True:
            if outgoing is None:
                outgoing = await context.input(question)
                kept.pop("waiting", None)
                context.variables[key] = kept
            reply = await self.send(
                outgoing,
                context_id=remote_context,
                task_id=task_id,
                context=context,
                subtask_id=subtask_id,
            )
            remote_context = reply.context_id or remote_context
            if remote_context:
                self._remember(context.conversation_id, remote_context)
                kept["context_id"] = remote_context
                context.variables[key] = kept
            if reply.state != "input-required":
                return reply.text
            # Kept in the conversation's variables, which a paused run saves: resumed, the
            # same question gets the answer, and the answer goes to the same remote task.
            question = reply.text or f"The remote agent {self._label()!r} needs more input."
            task_id, outgoing = reply.task_id, None
            kept["waiting"] = {"task_id": task_id, "question": question}
            context.variables[key] = kept

    def context_of(self, conversation_id: str) -> str | None:
        """The remote context kept for the Baton conversation ``conversation_id``, if any."""
        return self._contexts.get(conversation_id)

    def remember(self, conversation_id: str, remote_context: str) -> None:
        """Keep ``remote_context`` as the remote conversation of ``conversation_id``."""
        self._remember(conversation_id, remote_context)

    def as_member(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        render: Render | None = None,
    ) -> Agent[str]:
        """This remote agent as a team member (``baton.teams``): each of its turns sends it
        what the team said since its last turn (``render``: another text, e.g.
        ``baton.a2a.member.latest_text``), in the remote context kept for the team's
        conversation, and its answer streams into the team's as that member's text."""
        from .member import remote_member

        return remote_member(self, name, description, render)

    def _remember(self, conversation_id: str, remote_context: str) -> None:
        self._contexts[conversation_id] = remote_context
        self._contexts.move_to_end(conversation_id)
        while len(self._contexts) > self._max:
            self._contexts.popitem(last=False)

    async def subtask(
        self, context: Context, task: str, *, task_id: str | None = None
    ) -> SubtaskResult:
        """Run ``task`` on the remote agent as a sub-task of the ask ``context`` belongs to:
        ``TaskStarted``, progress, then ``TaskCompleted`` or ``TaskFailed`` on its stream
        (like ``baton.harness.subtasks.run_subtask``). A failure is returned, not raised;
        cancellation and a pause propagate."""
        sub = task_id or uuid.uuid4().hex
        label = self._label()
        await context.emit(TaskStarted(sub, label, task))
        try:
            text = await self.ask(context, task, subtask_id=sub)
        except asyncio.CancelledError:
            await context.emit(TaskFailed(sub, "Cancelled", "The sub-task was cancelled."))
            raise
        except AskSuspended:
            await context.emit(TaskFailed(sub, "Paused", "The ask paused for a human."))
            raise
        except Exception as exc:
            message = short(str(exc)) or type(exc).__name__
            await context.emit(TaskFailed(sub, type(exc).__name__, message))
            return SubtaskResult(
                sub, self._label(), task, error_type=type(exc).__name__, error=message
            )
        await context.emit(TaskCompleted(sub, text))
        return SubtaskResult(sub, self._label(), task, text, text)

    def as_tool(self, name: str | None = None, description: str | None = None) -> Tool:
        """This remote agent as a tool a model calls with a task in plain words. Its failures
        reach the model as a short tool error."""
        remote = self
        label = name or self.name or re.sub(r"^https?://", "", self.url)
        tool_name = re.sub(r"[^a-zA-Z0-9_-]", "_", label)[:64]

        async def delegate(task: str, context: Context) -> Any:
            """Hand a task to the remote agent.

            Args:
                task: The task for the agent, in plain words, with everything it needs to know.
            """
            return (await remote.subtask(context, task)).unwrap()

        return Tool(
            delegate,
            name=tool_name,
            description=description
            or self.description
            or f"Ask the remote agent {label!r} to handle a task and return its answer.",
        )
