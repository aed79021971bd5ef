"""The server asking back: elicitation, sampling, progress and log messages, routed to the ask
whose tool call is running on the server.

A server's requests and notifications arrive on the shared session, not in the ask's task, so
each call in flight registers its caller (the ask's ``Context`` and its ``ToolCall``) in a
context variable of the task making the request. A request the SDK handles in that context
finds its caller there: the 2026 protocol's input rounds run inside the call, and the SDK hands
a request the context of the task that sent it (so an in-process server's questions carry the
call's). One that comes with no such context (an older protocol over a pipe or HTTP) goes to
the only ask with a call on the server, and is declined when several could have caused it,
rather than shown to the wrong person.
"""

from __future__ import annotations

import importlib
import json
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import HumanInputTimeout
from ..events import Event, HumanInputRequest, ModelRequest, ModelResponse, Part, Text, ToolCall
from ..redaction import logger
from .content import blob_part
from .events import MCPLog

if TYPE_CHECKING:
    from mcp.types import (
        CreateMessageRequestParams,
        CreateMessageResult,
        ElicitRequestParams,
        ElicitResult,
        ErrorData,
        LoggingMessageNotificationParams,
    )

    from ..context import Context
    from ..models.base import ModelConfig

__all__ = ["Caller", "Callers"]

log = logger("baton.mcp")


@dataclass(eq=False, slots=True)
class Caller:
    """The ask (and its tool call) a request to the server was made for; ``token`` restores
    the context variable when its request is done. ``asked`` counts the server's questions
    during the call (their request ids are made of the call's id and this count, so the same
    call run again after a pause asks under the same ids); ``pause_for`` is a question the ask
    pauses for once the call is over."""

    context: Context
    call: ToolCall | None
    token: Token[Caller | None] | None = None
    asked: int = 0
    pause_for: HumanInputRequest | None = None


_CALLER: ContextVar[Caller | None] = ContextVar("baton_mcp_caller", default=None)


class Callers:
    """The asks with a call in flight on one server, and what to do when the server asks back."""

    def __init__(self, server: str, sampling: ModelConfig | None) -> None:
        self.server = server
        self.sampling = sampling
        self._active: dict[Caller, int] = {}

    def enter(self, caller: Caller | None) -> None:
        """``caller`` is about to wait on the server, in this task (pair with ``leave``)."""
        if caller is not None:
            caller.token = _CALLER.set(caller)
            self._active[caller] = self._active.get(caller, 0) + 1

    def leave(self, caller: Caller | None) -> None:
        """``caller``'s request is done."""
        if caller is not None:
            if caller.token is not None:
                _CALLER.reset(caller.token)
                caller.token = None
            left = self._active[caller] - 1
            if left:
                self._active[caller] = left
            else:
                del self._active[caller]

    def route(self) -> Caller | None:
        """The call a request from the server belongs to, or None when it can't be told (no
        context names it, and more than one call waits on the server, even of one ask: the
        answer is keyed by the call)."""
        caller = _CALLER.get()
        if caller is not None and caller in self._active:
            return caller
        return next(iter(self._active)) if len(self._active) == 1 else None

    # -- the session's callbacks ------------------------------------------------------------------

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        """A log message: on the stream of the ask whose call it came from, or of the only ask
        with calls on the server; else (nobody, or it can't be told whose) logged here, never
        shown to an ask it may not belong to."""
        caller = _CALLER.get()
        if caller is None or caller not in self._active:
            asks = {id(c.context): c for c in self._active}
            caller = next(iter(asks.values())) if len(asks) == 1 else None
        if caller is None:
            log.info("MCP server %s [%s]: %s", self.server, params.level, params.data)
            return
        event = MCPLog(self.server, params.level, params.data, params.logger or "")
        await caller.context.emit(event)

    async def on_elicit(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        """An elicitation as a ``HumanInputRequest`` to the ask's human (its ``hitl`` handler,
        or whoever answers on its stream, or a pause). A form's answer is the fields as a JSON
        object (or, for a one-field form, just the value); ``approved=False`` declines; no
        answer in time cancels."""
        from mcp.types import ElicitRequestURLParams, ElicitResult

        caller = self.route()
        if caller is None:
            log.warning(
                "MCP server %s asked for input, but it could not be told which ask it is for "
                "(several asks have calls on it); declined",
                self.server,
            )
            return ElicitResult(action="decline")
        if isinstance(params, ElicitRequestURLParams):
            schema = None
            prompt = f"{self.server} asks you to open {params.url}: {params.message}"
        else:
            schema = params.requested_schema
            prompt = f"{self.server} asks: {params.message}{_describe(schema)}"
        call_id = caller.call.id if caller.call is not None else None
        caller.asked += 1
        rid = f"mcp-{call_id}-{caller.asked}" if call_id else f"mcp-{uuid.uuid4().hex}"
        request = HumanInputRequest(rid, prompt, call_id)
        # An ask that pauses for humans (suspend_on_human=True) takes only an answer that is
        # there already (given to resume); else the server hears "cancel", and once the call is
        # over the ask pauses for this question. Resumed, the call runs again, the server asks
        # again under the same id, and the answer is there.
        ask = caller.context
        pausing = ask.pauses_for_humans and ask.can_pause
        try:
            answer = await ask.ask_human(request, timeout=0 if pausing else None)
        except HumanInputTimeout:
            if pausing and call_id is not None:
                caller.pause_for = request
            return ElicitResult(action="cancel")
        if answer.approved is False:
            return ElicitResult(action="decline")
        if schema is None:  # a URL: the human went there
            return ElicitResult(action="accept")
        content = _form_answer(answer.text, schema)
        if isinstance(content, str):
            log.warning(
                "the answer to %s's question does not fit its form: %s", self.server, content
            )
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content=content)

    async def on_sample(
        self, context: Any, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        """A sampling request, answered by the model config the server was given
        (``sampling=``); its usage counts for the ask that caused it."""
        from mcp.types import INVALID_PARAMS, CreateMessageResult, ErrorData, TextContent

        from ..history import HistoryView
        from ..models.base import ModelCall, ModelSettings

        config = self.sampling
        assert config is not None  # the callback is only given with a config
        try:
            messages = _sampling_events(params)
        except ValueError as exc:
            return ErrorData(code=INVALID_PARAMS, message=str(exc))
        caller = self.route()
        # The server may ask for more tokens than this config allows; its own setting caps it.
        cap = config.settings.max_tokens
        settings = config.settings.merge(
            ModelSettings(
                max_tokens=min(params.max_tokens, cap) if cap else params.max_tokens,
                temperature=params.temperature,
                stop=tuple(params.stop_sequences) if params.stop_sequences else None,
                stream=False,
            )
        )
        call = ModelCall(
            agent=f"mcp-sampling:{self.server}",
            conversation_id=caller.context.conversation_id if caller else "",
            run_id=caller.context.run_id if caller else "",
            instructions=params.system_prompt,
            messages=HistoryView(messages),
            tools=(),
            output=None,
            settings=settings,
            provider=config.provider,
            model=config.model_name,
        )

        async def ignore(_chunk: Event) -> None:
            return None

        try:
            response = await config.client().respond(call, ignore)
        except Exception as exc:  # the server gets a short error; the ask goes on
            log.warning("sampling for MCP server %s failed: %s", self.server, exc)
            # The server is a third party: it learns that the model failed, not the details.
            return ErrorData(
                code=INVALID_PARAMS, message=f"the client's model failed ({type(exc).__name__})"
            )
        if caller is not None:
            caller.context.add_usage(
                response.usage, "mcp-sampling", config.provider, config.model_name
            )
        stop = "maxTokens" if response.finish_reason in {"length", "max_tokens"} else "endTurn"
        return CreateMessageResult(
            role="assistant",
            content=TextContent(type="text", text=response.text),
            model=response.model or config.model_name,
            stop_reason=stop,
        )


def _describe(schema: Any) -> str:
    """A form's fields as lines a person can answer."""
    properties: dict[str, Any] = dict(schema.get("properties") or {}) if schema else {}
    if not properties:
        return ""
    required = set(schema.get("required") or ())
    lines = []
    for name, spec in properties.items():
        about = spec.get("description") or spec.get("title") or ""
        kind = spec.get("type", "string")
        if "enum" in spec:
            kind = " | ".join(str(v) for v in spec["enum"])
        mark = "" if name in required else ", optional"
        lines.append(f"\n- {name} ({kind}{mark}){': ' + about if about else ''}")
    hint = "\nAnswer with a JSON object of these fields." if len(properties) > 1 else ""
    return "".join(lines) + hint


def _form_answer(text: str, schema: Any) -> dict[str, Any] | str:
    """A human's answer as a form's content, or why it does not fit (a str)."""
    properties: dict[str, Any] = dict(schema.get("properties") or {}) if schema else {}
    try:
        content = json.loads(text)
    except ValueError:
        content = None
    if not isinstance(content, dict):
        if len(properties) != 1:
            return "expected a JSON object of the form's fields"
        [(name, spec)] = properties.items()
        content = {name: _coerce(text.strip(), spec.get("type"))}
    for name, spec in properties.items():  # defaults for what the human left out
        if name not in content and "default" in spec:
            content[name] = spec["default"]
    # The MCP SDK depends on jsonschema (it has no type stubs here).
    jsonschema = importlib.import_module("jsonschema")
    try:
        jsonschema.validate(content, dict(schema))
    except jsonschema.ValidationError as exc:
        return str(exc.message)
    return content


def _coerce(text: str, kind: Any) -> Any:
    """A one-field form's text answer as the field's type (left as text when it isn't one)."""
    if kind == "boolean" and text.lower() in {"true", "yes", "y", "1", "false", "no", "n", "0"}:
        return text.lower() in {"true", "yes", "y", "1"}
    if kind in {"integer", "number"}:
        try:
            return int(text) if kind == "integer" else float(text)
        except ValueError:
            return text
    return text


def _sampling_events(params: CreateMessageRequestParams) -> list[Event]:
    """A sampling request's messages as the events a model call reads."""
    from mcp.types import AudioContent, ImageContent, TextContent

    events: list[Event] = []
    for message in params.messages:
        parts: list[Part] = []
        for block in message.content_as_list:
            if isinstance(block, TextContent):
                parts.append(Text(block.text))
            elif isinstance(block, ImageContent | AudioContent):
                parts.append(blob_part(block.data, block.mime_type))
            else:
                raise ValueError(f"sampling content of type {block.type!r} is not supported")
        if message.role == "user":
            events.append(ModelRequest(tuple(parts)))
        else:
            text = "\n".join(p.text for p in parts if isinstance(p, Text))
            events.append(ModelResponse(text=text))
    return events
