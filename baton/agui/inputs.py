"""What a ``RunAgentInput`` asks of the agent: the new user input, the conversation it
continues (when the client holds it), and the answers to a paused run (resume entries and
front-end tool results); and, the other way, a paused run's requests as AG-UI interrupts.

Two modes (see ``baton.agui.app``):

- the agent has a history: the server's history is the truth. The client's messages only add
  the new ones: the user messages after the client's last assistant or tool message (earlier
  messages are the server's already and are not read), and tool messages answering a paused
  run's front-end tool calls.
- the agent has none: the client's messages are the conversation. Everything before the
  trailing user messages becomes the conversation's events (user -> ``ModelRequest``,
  assistant -> ``ModelResponse``, tool -> ``ToolCallResult``/``ToolCallError``); system,
  developer, reasoning and activity messages are not read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    AudioPart,
    DocumentPart,
    ImagePart,
    Interrupt,
    ResumeEntry,
    TextPart,
    ToolMessage,
    UserMessage,
    VideoPart,
)

from ..conversation import new_id
from ..errors import ConfigError
from ..events import (
    ApprovalRequest,
    Audio,
    Document,
    Event,
    HumanInputRequest,
    HumanMessage,
    Image,
    Media,
    ModelRequest,
    ModelResponse,
    Part,
    RunFinished,
    RunStarted,
    Text,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Video,
)
from .frontend import FRONTEND_PREFIX

__all__ = [
    "APPROVAL_SCHEMA",
    "INPUT_SCHEMA",
    "BadInput",
    "answers_for",
    "check_tool_names",
    "interrupts_of",
    "new_user_parts",
    "pending_tool_calls",
    "replayed_conversation",
]

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "reason": {"type": "string"}},
    "required": ["approved"],
}
"""The resume payload an approval interrupt expects: ``{"approved": bool, "reason"?: str}``."""

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}
"""The resume payload an input interrupt expects: ``{"text": str}`` (a bare string is taken
too)."""


class BadInput(ConfigError):
    """A request the endpoint can't act on (its message is sent to the client as-is)."""


_MEDIA: dict[type, type[Media]] = {
    ImagePart: Image,
    AudioPart: Audio,
    DocumentPart: Document,
    VideoPart: Video,
}


def _parts(content: str | Sequence[Any]) -> tuple[Part, ...]:
    """A user or tool message's content as Baton input parts."""
    if isinstance(content, str):
        return (Text(content),)
    parts: list[Part] = []
    for part in content:
        if isinstance(part, str):  # not a protocol shape, but plain text all the same
            parts.append(Text(part))
            continue
        if isinstance(part, TextPart):
            parts.append(Text(part.text))
            continue
        media = _MEDIA.get(type(part))
        if media is None:
            continue
        source = part.source
        if source.type == "url":
            parts.append(media.from_url(source.value, source.mime_type))
        elif source.type == "data":
            try:
                data = base64.b64decode(source.value, validate=True)
            except (binascii.Error, ValueError):
                raise BadInput("a media part's data is not valid base64") from None
            parts.append(media(data=data, media_type=source.mime_type))  # type: ignore[call-arg]
        # a provider file handle ("file") means nothing to another provider: not read
    return tuple(parts)


def _text(content: str | Sequence[Any] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.text for p in content if isinstance(p, TextPart))


def _trailing_users(messages: Sequence[Any]) -> int:
    """Where the trailing run of user messages starts (``len(messages)`` when there is none)."""
    start = len(messages)
    while start > 0 and isinstance(messages[start - 1], UserMessage):
        start -= 1
    return start


def new_user_parts(messages: Sequence[Any]) -> tuple[Part, ...]:
    """The input of the new ask: the user messages after the last non-user message, as parts
    (several messages: their parts in order)."""
    parts: list[Part] = []
    for message in messages[_trailing_users(messages) :]:
        parts.extend(_parts(message.content))
    return tuple(parts)


# Front-end tools one request may declare: OpenAI's limit per call, more than any model is
# good at choosing from; each costs the endpoint a schema to read (about 0.3 ms), so a request
# declaring thousands would hold the event loop for seconds.
MAX_FRONTEND_TOOLS = 128


def check_tool_names(declared: Sequence[Any], own: Collection[str]) -> None:
    """A ``BadInput`` naming a front-end tool the client declares twice, or under the name of
    one of the agent's ``own`` tools (else the agent's own conflict error, whose fix is not
    the client's), or for more than ``MAX_FRONTEND_TOOLS`` of them."""
    if len(declared) > MAX_FRONTEND_TOOLS:
        raise BadInput(
            f"{len(declared)} front-end tools declared: at most {MAX_FRONTEND_TOOLS} in one "
            "request; declare the ones this turn needs"
        )
    seen: set[str] = set()
    for spec in declared:
        if spec.name in own:
            raise BadInput(
                f"the front-end tool {spec.name!r} has the name of one of the agent's own "
                "tools: give it another name in the client"
            )
        if spec.name in seen:
            raise BadInput(f"two front-end tools are named {spec.name!r}: name each its own way")
        seen.add(spec.name)


def pending_tool_calls(messages: Sequence[Any]) -> dict[str, ToolMessage]:
    """The tool messages of ``messages``, by the call they answer."""
    return {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}


def replayed_conversation(
    messages: Sequence[Any], agent: str, conversation_id: str
) -> tuple[list[Event], ModelResponse | None]:
    """The client-held conversation before the new user input, as Baton events (one run per
    user message), and its last model response."""
    events: list[Event] = []
    names: dict[str, str] = {}
    last: ModelResponse | None = None
    open_run: RunStarted | None = None
    text = ""

    def close() -> None:
        if open_run is not None:
            events.append(RunFinished(open_run.run_id, text))

    for message in messages[: _trailing_users(messages)]:
        if isinstance(message, UserMessage):
            close()
            open_run = RunStarted(new_id(), agent, conversation_id)
            text = ""
            events.extend((open_run, ModelRequest(_parts(message.content))))
        elif open_run is None:
            continue  # an answer before any question: nothing to attach it to
        elif isinstance(message, AssistantMessage):
            calls = tuple(
                ToolCall(c.id, c.function.name, c.function.arguments or "{}")
                for c in message.tool_calls or ()
            )
            names.update((c.id, c.name) for c in calls)
            text = _text(message.content)
            last = ModelResponse(text, calls, agent=agent)
            events.append(last)
        elif isinstance(message, ToolMessage):
            name = names.get(message.tool_call_id, "")
            if message.error:
                events.append(ToolCallError(message.tool_call_id, name, message.error))
            else:
                content = _text(message.content)
                events.append(ToolCallResult(message.tool_call_id, name, content))
    close()
    return events, last


# -- paused runs ----------------------------------------------------------------------------


def interrupts_of(
    requests: Sequence[ApprovalRequest | HumanInputRequest],
) -> tuple[list[Interrupt], list[str]]:
    """A paused run's requests as AG-UI interrupts, and its front-end tool calls (the call ids
    the client is to answer with tool messages)."""
    interrupts: list[Interrupt] = []
    calls: list[str] = []
    for request in requests:
        if isinstance(request, HumanInputRequest) and request.request_id.startswith(
            FRONTEND_PREFIX
        ):
            calls.append(request.request_id[len(FRONTEND_PREFIX) :])
        elif isinstance(request, ApprovalRequest):
            own = request.task_id is None  # a sub-agent's call was never shown to the client
            interrupts.append(
                Interrupt(
                    id=request.request_id,
                    reason="tool_call" if own else "confirmation",
                    message=request.reason or f"Approve the call of {request.call.name!r}?",
                    tool_call_id=request.call.id if own else None,
                    response_schema=APPROVAL_SCHEMA,
                    metadata={"tool": request.call.name, "arguments": request.call.arguments},
                )
            )
        else:
            interrupts.append(
                Interrupt(
                    id=request.request_id,
                    reason="input_required",
                    message=request.prompt,
                    response_schema=INPUT_SCHEMA,
                )
            )
    return interrupts, calls


def _approval(entry: ResumeEntry, request_id: str) -> HumanMessage:
    if entry.status == "cancelled":
        return HumanMessage("cancelled by the user", request_id, approved=False)
    payload = entry.payload
    if isinstance(payload, bool):
        return HumanMessage("", request_id, approved=payload)
    if isinstance(payload, dict) and isinstance(payload.get("approved"), bool):
        reason = payload.get("reason")
        return HumanMessage(
            reason if isinstance(reason, str) else "", request_id, approved=payload["approved"]
        )
    raise BadInput(
        f"the answer to interrupt {request_id!r} (an approval) must be a payload "
        '{"approved": true|false, "reason"?: "..."}'
    )


def _input(entry: ResumeEntry, request_id: str) -> HumanMessage:
    if entry.status == "cancelled":
        return HumanMessage("(the user declined to answer)", request_id)
    payload = entry.payload
    if isinstance(payload, str):
        return HumanMessage(payload, request_id)
    if isinstance(payload, dict) and isinstance(payload.get("text"), str):
        return HumanMessage(payload["text"], request_id)
    raise BadInput(
        f'the answer to interrupt {request_id!r} (a question) must be a payload {{"text": "..."}}'
    )


def answers_for(
    requests: Sequence[ApprovalRequest | HumanInputRequest],
    resume: Sequence[ResumeEntry],
    tool_messages: dict[str, ToolMessage],
) -> list[HumanMessage]:
    """The answers a paused run's ``requests`` get from a request: the resume entries answer
    its interrupts (all of them, as the protocol requires) and the tool messages its front-end
    tool calls (those not answered yet are asked again: the run pauses again)."""
    by_id = {r.request_id: r for r in requests}
    answers: list[HumanMessage] = []
    answered: set[str] = set()
    for entry in resume:
        request = by_id.get(entry.interrupt_id)
        if request is None or entry.interrupt_id.startswith(FRONTEND_PREFIX):
            raise BadInput(
                f"resume names interrupt {entry.interrupt_id!r}, which this thread is not "
                "waiting for"
            )
        if isinstance(request, ApprovalRequest):
            answers.append(_approval(entry, request.request_id))
        else:
            answers.append(_input(entry, request.request_id))
        answered.add(request.request_id)
    missing = [rid for rid in by_id if rid not in answered and not rid.startswith(FRONTEND_PREFIX)]
    if missing:
        raise BadInput(
            f"this thread waits for answers to interrupts {', '.join(missing)}: send a resume "
            "entry for each of them"
        )
    for rid in by_id:
        if rid.startswith(FRONTEND_PREFIX):
            message = tool_messages.get(rid[len(FRONTEND_PREFIX) :])
            if message is not None:
                content = message.content
                text = _text(content)
                if message.error:
                    text = f"Error: {message.error}" + (f"\n{text}" if text else "")
                answers.append(HumanMessage(text, rid))
    return answers
