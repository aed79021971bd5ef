"""The a2a-sdk ``AgentExecutor`` that runs a Baton agent: one task is one run, one context is
one conversation (``conversation_id`` = the A2A context id, so a context's messages continue
the same conversation and the client never resends history).

Only Baton's public API is used: ``agent.ask`` / ``agent.resume`` with a stream the executor
watches (a team's ``ask`` / ``resume`` / ``cancel_paused`` the same way). A run, or a team's
ask, that pauses for a human (``AskSuspended``) makes the task ``input-required``; what it
waits on is stored next to the paused run (``baton:a2a:paused:<context id>`` in the agent's
storage), so the client's answer can resume it in any replica.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from ..agent import Agent
from ..errors import AskSuspended, BatonError, NotSuspended
from ..events import (
    Audio,
    Data,
    Document,
    Event,
    FileUrl,
    HumanMessage,
    Image,
    Part,
    Text,
    TextChunk,
    ToolCall,
    ToolCallError,
    ToolCallResult,
)
from ..history import Storage
from ..hooks import Middleware
from ..redaction import logger, redact_text
from ..stream import MemoryStream
from ..teams import Team
from .answers import describe, pending_record, read_answers
from .wire import to_python

if TYPE_CHECKING:
    from a2a.server.agent_execution import RequestContext
    from a2a.server.events import EventQueue
    from a2a.server.tasks.task_store import TaskStore
    from a2a.types.a2a_pb2 import Message, TaskState, TaskStatusUpdateEvent

    from ..context import Context
    from ..events import ModelResponse
    from ..hooks import ProceedModel, ProceedTool
    from ..models.base import ModelCall

__all__ = ["PAUSED_PREFIX", "agent_executor", "short"]

log = logger("baton.a2a")

PAUSED_PREFIX = "baton:a2a:paused:"
ANSWER_ARTIFACT = "answer"
MAX_ERROR = 500


def short(text: str) -> str:
    """``text`` as a client may read it: secrets redacted, one line, at most 500 characters."""
    text = " ".join(redact_text(text).split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def describe_error(exc: BaseException) -> str:
    """Baton's errors by their message; anything else by its type (details go to the log)."""
    if isinstance(exc, BatonError):
        return short(f"{type(exc).__name__}: {exc}")
    return f"the agent failed with an internal error ({type(exc).__name__}); see the server log"


class _Cancelling(Middleware):
    """Given to the resume that closes a paused run whose task was cancelled: no tool runs,
    and the model is never called; the run ends as a cancelled one does (``RunFailed``)."""

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        raise asyncio.CancelledError

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        return ToolCallError(call.id, call.name, "The task was cancelled; not run.", "Cancelled")


_CANCELLING = _Cancelling()  # one instance: the agent caches its plan per middleware tuple


def prompt_parts(message: Message | None) -> list[Part]:
    """The ask's input for an A2A message: text parts as text, data parts as ``Data`` (the
    model reads JSON), files by URL or inline bytes as media parts by their media type."""
    parts: list[Part] = []
    for part in message.parts if message is not None else ():
        media = part.media_type or None
        if part.HasField("text"):
            if part.text:
                parts.append(Text(part.text))
        elif part.HasField("data"):
            parts.append(Data(to_python(part.data)))
        elif part.HasField("url"):
            kind = _media_class(media)
            parts.append(kind(url=part.url, media_type=media) if kind else FileUrl(part.url, media))
        elif part.HasField("raw"):
            kind = _media_class(media) or Document
            parts.append(kind(data=part.raw, media_type=media or kind.default_media_type))
    return parts


def _media_class(media: str | None) -> type[Image] | type[Audio] | type[Document] | None:
    if media is None:
        return None
    if media.startswith("image/"):
        return Image
    if media.startswith("audio/"):
        return Audio
    if media == "application/pdf" or media.startswith("text/"):
        return Document
    return None


def agent_executor(
    agent: Agent[Any] | Team,
    storage: Storage,
    middleware: Sequence[Middleware],
    tasks: TaskStore,
) -> Any:
    """The SDK ``AgentExecutor`` serving ``agent`` (the SDK's classes are loaded on use).
    ``middleware`` is given to every ask (an approval policy that pauses, when the agent, or
    a team's members, have none); ``tasks`` is the task store, read to see whether a paused
    run's task still waits. A team (checked by the app) is asked with the options a team
    takes; its ask pauses on a ``Human(..., suspend=True)`` member or a member's own pause."""
    from a2a.helpers import new_data_part
    from a2a.server.agent_execution import AgentExecutor
    from a2a.types.a2a_pb2 import (
        Artifact,
        Message,
        Role,
        Task,
        TaskArtifactUpdateEvent,
        TaskState,
        TaskStatus,
        TaskStatusUpdateEvent,
    )
    from a2a.types.a2a_pb2 import Part as WirePart

    terminal = {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_REJECTED,
    }
    extra = tuple(middleware)
    # How each ask pauses for a human: an agent's run suspends on a question (an
    # input-required task), and so does a team member's (the team's ask pauses with it).
    pausing: dict[str, Any] = {"suspend_on_human": True}

    def wire_parts(text: str, data: Any = None) -> list[WirePart]:
        parts = [WirePart(text=text)] if text else []
        if data is not None:
            parts.append(new_data_part(data))
        return parts

    def status(
        task_id: str,
        context_id: str,
        state: TaskState,
        text: str = "",
        data: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> TaskStatusUpdateEvent:
        stamp = TaskStatus(state=state)
        stamp.timestamp.FromDatetime(datetime.now(UTC))
        if text or data is not None:
            stamp.message.CopyFrom(
                Message(
                    message_id=str(uuid.uuid4()),
                    role=Role.ROLE_AGENT,
                    task_id=task_id,
                    context_id=context_id,
                    parts=wire_parts(text, data),
                )
            )
        event = TaskStatusUpdateEvent(task_id=task_id, context_id=context_id, status=stamp)
        if metadata:
            event.metadata.update(metadata)
        return event

    class Forwarder:
        """The run's events, as they happen, as task updates: text chunks become the answer
        artifact, tool calls ``working`` statuses carrying ``{"baton": {...}}`` metadata."""

        def __init__(self, queue: EventQueue, task_id: str, context_id: str) -> None:
            self.queue, self.task_id, self.context_id = queue, task_id, context_id
            self.chunks = 0

        async def see(self, event: Event) -> None:
            if isinstance(event, TextChunk):
                if not event.text:
                    return
                await self.queue.enqueue_event(self.artifact(event.text, append=self.chunks > 0))
                self.chunks += 1
                return
            if isinstance(event, ToolCall):
                note = {"event": "tool-call", "tool": event.name, "call_id": event.id}
            elif isinstance(event, ToolCallResult):
                note = {"event": "tool-result", "tool": event.name, "call_id": event.call_id}
            elif isinstance(event, ToolCallError):
                note = {"event": "tool-error", "tool": event.name, "call_id": event.call_id}
            else:
                return
            working = TaskState.TASK_STATE_WORKING
            await self.queue.enqueue_event(
                status(self.task_id, self.context_id, working, metadata={"baton": note})
            )

        def artifact(
            self, text: str, *, append: bool, last: bool = False, data: Any = None
        ) -> TaskArtifactUpdateEvent:
            return TaskArtifactUpdateEvent(
                task_id=self.task_id,
                context_id=self.context_id,
                artifact=Artifact(
                    artifact_id=ANSWER_ARTIFACT, name="answer", parts=wire_parts(text, data)
                ),
                append=append,
                last_chunk=last,
            )

    class BatonExecutor(AgentExecutor):
        """Runs the agent for each task (see the module docs)."""

        def __init__(self) -> None:
            self.agent = agent
            self._running: dict[str, asyncio.Task[None]] = {}

        def __repr__(self) -> str:
            return f"BatonExecutor({agent.name!r})"

        async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
            task_id, context_id = str(context.task_id), str(context.context_id)
            current = context.current_task
            if current is None:
                first = Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                )
                if context.message is not None:
                    first.history.append(context.message)
                await event_queue.enqueue_event(first)
            paused = await storage.get(PAUSED_PREFIX + context_id)
            answers: list[HumanMessage] | None = None
            if paused is not None and paused.get("task_id") == task_id:
                read = read_answers(paused, context.message)
                if isinstance(read, str):
                    await event_queue.enqueue_event(
                        status(
                            task_id,
                            context_id,
                            TaskState.TASK_STATE_INPUT_REQUIRED,
                            f"{read}\n\n{describe(paused)}",
                            paused,
                        )
                    )
                    return
                answers = read
            elif paused is not None:
                other = await tasks.get(paused["task_id"], context.call_context)
                if other is not None and other.status.state not in terminal:
                    await event_queue.enqueue_event(
                        status(
                            task_id,
                            context_id,
                            TaskState.TASK_STATE_REJECTED,
                            f"This context's task {paused['task_id']} is waiting for input: "
                            "answer it (send the message with that taskId) or cancel it first.",
                        )
                    )
                    return
                # Its task was cancelled (in another replica) or is gone: close the run.
                await self._close_paused(context_id, paused)
            elif current is not None and current.status.state != TaskState.TASK_STATE_SUBMITTED:
                await event_queue.enqueue_event(
                    status(
                        task_id,
                        context_id,
                        TaskState.TASK_STATE_FAILED,
                        "This task is not waiting for input (its run was answered or closed "
                        "elsewhere); send a new message without a taskId.",
                    )
                )
                return
            prompt = prompt_parts(context.message) if answers is None else []
            if answers is None and not prompt:  # only empty text, or parts of unknown kinds
                await event_queue.enqueue_event(
                    status(
                        task_id,
                        context_id,
                        TaskState.TASK_STATE_REJECTED,
                        "The message has nothing to ask: send a text, data or file (url or "
                        "raw bytes) part.",
                    )
                )
                return
            await event_queue.enqueue_event(
                status(task_id, context_id, TaskState.TASK_STATE_WORKING)
            )
            runner = asyncio.create_task(
                self._run(event_queue, task_id, context_id, prompt, answers)
            )
            self._running[task_id] = runner
            try:
                await asyncio.wait([runner])  # a cancel of the runner alone ends this quietly
            except asyncio.CancelledError:
                runner.cancel()
                await asyncio.wait([runner])
                raise
            finally:
                self._running.pop(task_id, None)
            if not runner.cancelled() and runner.exception() is not None:
                raise runner.exception()  # type: ignore[misc]

        async def _run(
            self,
            queue: EventQueue,
            task_id: str,
            context_id: str,
            prompt: list[Part],
            answers: list[HumanMessage] | None,
        ) -> None:
            stream = MemoryStream()
            forward = Forwarder(queue, task_id, context_id)
            stream.subscribe(forward.see)
            try:
                try:
                    if answers is not None:
                        reply = await agent.resume(
                            context_id, *answers, stream=stream, middleware=extra, **pausing
                        )
                    else:
                        reply = await agent.ask(
                            prompt,
                            conversation_id=context_id,
                            stream=stream,
                            middleware=extra,
                            **pausing,
                        )
                finally:
                    if answers is not None:
                        await storage.delete(PAUSED_PREFIX + context_id)
            except AskSuspended as suspended:
                record = pending_record(task_id, suspended.requests)
                await storage.put(PAUSED_PREFIX + context_id, record)
                await queue.enqueue_event(
                    status(
                        task_id,
                        context_id,
                        TaskState.TASK_STATE_INPUT_REQUIRED,
                        describe(record),
                        record,
                    )
                )
                return
            except Exception as exc:
                if not isinstance(exc, BatonError):
                    log.exception("A2A task %s of agent %r failed", task_id, agent.name)
                await queue.enqueue_event(
                    status(task_id, context_id, TaskState.TASK_STATE_FAILED, describe_error(exc))
                )
                return
            output = reply.output
            data = None if output is None or isinstance(output, str) else to_jsonable_python(output)
            await queue.enqueue_event(
                forward.artifact(reply.text, append=False, last=True, data=data)
            )
            await queue.enqueue_event(
                status(task_id, context_id, TaskState.TASK_STATE_COMPLETED, reply.text)
            )

        async def _close_paused(self, context_id: str, record: dict[str, Any]) -> None:
            """End the paused run of a cancelled task: resumed with every request refused,
            no tool run and no model call, it closes as cancelled (the history stays valid).
            A team's paused ask is ended unanswered (``cancel_paused``): resumed, a human
            member's refusal would be taken as its answer and the ask would go on."""
            if isinstance(agent, Team):
                try:
                    await agent.cancel_paused(context_id, reason="The A2A task was cancelled.")
                except NotSuspended as gone:  # resumed elsewhere: nothing to close
                    log.info("closing paused team ask of %s: %s", context_id, gone)
                await storage.delete(PAUSED_PREFIX + context_id)
                return
            refusals = [
                HumanMessage(
                    "the A2A task was cancelled",
                    request_id=r["request_id"],
                    approved=False if r["kind"] == "approval" else None,
                )
                for r in record["requests"]
            ]
            closing = asyncio.create_task(
                agent.resume(
                    context_id,
                    *refusals,
                    stream=MemoryStream(),
                    middleware=(*extra, _CANCELLING),
                )
            )
            await asyncio.wait([closing])
            if not closing.cancelled() and closing.exception() is not None:
                # Not paused any more (resumed elsewhere): nothing to close.
                log.info("closing paused run of %s: %s", context_id, closing.exception())
            await storage.delete(PAUSED_PREFIX + context_id)

        async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
            task_id, context_id = str(context.task_id), str(context.context_id)
            runner = self._running.get(task_id)
            if runner is not None:
                runner.cancel()
                await asyncio.wait([runner])  # the run is closed in its history first
            else:
                paused = await storage.get(PAUSED_PREFIX + context_id)
                if paused is not None and paused.get("task_id") == task_id:
                    await self._close_paused(context_id, paused)
            await event_queue.enqueue_event(
                status(
                    task_id, context_id, TaskState.TASK_STATE_CANCELED, "The task was cancelled."
                )
            )

    return BatonExecutor()
