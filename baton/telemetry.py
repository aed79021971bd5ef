"""OpenTelemetry traces and metrics for agents, following the GenAI semantic conventions.

    pip install 'baton-agents[otel]'

    from baton.telemetry import Telemetry

    agent = Agent("assistant", config=..., tools=[...], middleware=[Telemetry()])
    reply = await other.ask("...", middleware=[telemetry])  # or for one ask only

Put ``Telemetry`` first in ``middleware=[...]`` so its spans cover the rest of the chain (before a
retry middleware: one ``chat`` span per logical call; after it: one per attempt). It uses the
global providers unless given ``tracer_provider=`` / ``meter_provider=``. Only the OpenTelemetry
API is imported, and only when a ``Telemetry`` is made: ``import baton`` (or ``baton.telemetry``)
never loads OpenTelemetry, an agent without this middleware pays nothing, and with no SDK
configured spans are non-recording and their attributes are not computed. There is no
``instrument(agent)``: an agent compiles its middleware when it is made.

Spans (semantic conventions 1.37+, where the GenAI ones are still "development"):

- ``invoke_agent {agent}`` (INTERNAL), per ask: ``gen_ai.operation.name``,
  ``gen_ai.provider.name``, ``gen_ai.agent.name``, ``gen_ai.conversation.id``,
  ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.response.finish_reasons``,
  ``gen_ai.response.id`` (the last answer's), the ask's total ``gen_ai.usage.input_tokens`` /
  ``output_tokens``, ``server.address`` / ``server.port`` and ``baton.run.id``.
- ``chat {model}`` (CLIENT), per model call, a child of the ask's span: the same, per call, plus
  ``gen_ai.request.temperature`` / ``top_p`` / ``max_tokens`` / ``seed`` / ``stop_sequences``
  when set, ``gen_ai.output.type`` = ``json`` when a response schema is requested, and
  ``gen_ai.usage.cache_read.input_tokens`` / ``cache_creation.input_tokens`` /
  ``reasoning.output_tokens`` when non-zero. ``gen_ai.response.id`` is the provider's id for
  the answer (``ModelResponse.response_id``: OpenAI Chat and Responses, Anthropic, Gemini send
  one); ``server.address`` / ``server.port`` come from the config's ``base_url``, else the
  provider's default endpoint (none for a ``ScriptedModel`` or a ``FallbackModel``).
- ``execute_tool {tool}`` (INTERNAL), per tool call, a child of the ask's span (concurrent calls
  each run in their own copy of the context, so work inside a tool nests under its own span):
  ``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``gen_ai.tool.type`` = ``function``,
  ``gen_ai.tool.description``.
- ``human_input {agent}`` (INTERNAL), per wait for a human (``context.input``, an approval),
  a child of the span that asked (usually the tool call's): ``baton.human_input.kind``
  (``input`` / ``approval``), ``baton.human_input.request_id``, ``gen_ai.tool.call.id`` (and
  ``gen_ai.tool.name`` for an approval), ``baton.human_input.approved`` when the answer says,
  ``baton.human_input.suspended`` when the ask paused instead of waiting (not an error).

Trace context: every span starts in the current OpenTelemetry context, so an ask made while
a server's instrumentation handles a request (which extracts its ``traceparent``) joins that
trace, as does a sub-agent run as a tool (under the ``execute_tool`` span, when it has this
middleware too). Without such an instrumentation, extract the header yourself::

    from opentelemetry import context, propagate

    token = context.attach(propagate.extract(request.headers))  # reads ``traceparent``
    try:
        reply = await agent.ask(question)
    finally:
        context.detach(token)

``gen_ai.provider.name`` is Baton's provider name, but ``gemini`` -> ``gcp.gemini`` and ``vertex``
-> ``gcp.vertex_ai`` (the deprecated ``gen_ai.system`` is not set). A failure (cancellation too)
sets status ERROR and ``error.type``: the exception's class name (``RateLimited``,
``CancelledError``) or, for a tool call answered by a ``ToolCallError``, its ``error_type``.

Metrics (histograms with the conventions' advisory buckets), attributes
``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model`` and ``error.type`` on failure:

- ``gen_ai.client.token.usage`` ({token}), per model call, by ``gen_ai.token.type`` (``input`` /
  ``output``); never per ask, so sums don't double count;
- ``gen_ai.client.operation.duration`` (s), per model call (``chat``) and per ask
  (``invoke_agent``);
- ``gen_ai.client.operation.time_to_first_chunk`` (s), per streamed model call that sent a
  chunk (text, reasoning or a tool call forming): from the call to its first chunk on the
  conversation's stream (Telemetry subscribes to it for the length of the call).

``server.address`` / ``server.port`` are on the metrics too when known.

Message content is captured only when opted in: ``capture_content=True``, or (with the default
``None``) ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (or ``span_only`` /
``span_and_event``); ``capture_content=False`` wins over the variable. It goes into span
attributes as JSON in the conventions' message format: ``gen_ai.input.messages``,
``gen_ai.output.messages`` (``chat``, ``invoke_agent``), ``gen_ai.system_instructions``
(``chat``), ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result`` (``execute_tool``).
Inline media bytes are never copied (a ``blob`` part has only its media type and size), and
capturing serializes the whole history on every model call.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import AskSuspended, ConfigError
from .events import (
    ApprovalRequest,
    CompactionSummary,
    Data,
    Event,
    FileUrl,
    HumanInputRequest,
    HumanMessage,
    Media,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    ReasoningChunk,
    Text,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from .middleware.base import Middleware, ProceedAsk, ProceedInput, ProceedModel, ProceedTool
from .stream import EventFilter
from .transcript import transcript

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter, MeterProvider
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

    from .context import Context
    from .models.base import ModelCall, ModelConfig
    from .reply import Reply

__all__ = ["CAPTURE_CONTENT_ENV", "Telemetry"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
RESPONSE_ID = "gen_ai.response.id"
OUTPUT_TYPE = "gen_ai.output.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"
RUN_ID = "baton.run.id"
HUMAN_KIND = "baton.human_input.kind"
HUMAN_REQUEST_ID = "baton.human_input.request_id"
HUMAN_APPROVED = "baton.human_input.approved"
HUMAN_SUSPENDED = "baton.human_input.suspended"

_PROVIDERS = {"gemini": "gcp.gemini", "vertex": "gcp.vertex_ai"}
# Where a provider's SDK sends requests when the config names no ``base_url``.
_ENDPOINTS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "vertex": "https://aiplatform.googleapis.com",
}
_SETTINGS = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("seed", "gen_ai.request.seed"),
    ("stop", "gen_ai.request.stop_sequences"),
)
_USAGE_DETAILS = (
    ("cache_read_tokens", "gen_ai.usage.cache_read.input_tokens"),
    ("cache_write_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
)
# The conventions' advisory bucket boundaries: 1, 4, 16, ... 4**13 and 0.01, 0.02, ... 81.92.
_TOKENS = ("Number of input and output tokens used.", tuple(float(4**i) for i in range(14)))
_SECONDS = ("GenAI operation duration.", tuple(round(0.01 * 2**i, 2) for i in range(14)))
_FIRST_CHUNK = ("Time to receive the first chunk of a streamed answer.", _SECONDS[1])
_CHUNKS = EventFilter((TextChunk, ReasoningChunk, ToolCallDelta))
_CAPTURE_VALUES = frozenset({"true", "1", "span_only", "span_and_event"})


class Telemetry(Middleware):
    """Spans and metrics for every ask, model call and tool call (see the module docs). Sub-
    agents an ask runs are traced by it too (``inherited``), their spans under the tool call
    that ran them."""

    inherited = True

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise ConfigError(
                "Telemetry needs OpenTelemetry: pip install 'baton-agents[otel]'"
            ) from exc
        from . import __version__

        self._tracer: Tracer = trace.get_tracer(
            "baton", __version__, tracer_provider, schema_url=_SCHEMA_URL
        )
        meter = metrics.get_meter("baton", __version__, meter_provider, schema_url=_SCHEMA_URL)
        self._token_usage = _histogram(meter, "gen_ai.client.token.usage", "{token}", _TOKENS)
        self._duration = _histogram(meter, "gen_ai.client.operation.duration", "s", _SECONDS)
        self._first_chunk = _histogram(
            meter, "gen_ai.client.operation.time_to_first_chunk", "s", _FIRST_CHUNK
        )
        self._client: SpanKind = trace.SpanKind.CLIENT
        self._internal: SpanKind = trace.SpanKind.INTERNAL
        self._status: type[Status] = trace.Status
        self._error: StatusCode = trace.StatusCode.ERROR
        if capture_content is None:
            env = os.environ.get(CAPTURE_CONTENT_ENV, "")
            capture_content = env.strip().lower() in _CAPTURE_VALUES
        self.capture_content = capture_content

    # -- hooks -------------------------------------------------------------------------------

    async def around_ask(self, context: Context, proceed: ProceedAsk) -> Reply[Any]:
        provider, model = _model_of(context)
        agent = context.agent_name
        attributes = {
            OPERATION: "invoke_agent",
            PROVIDER: provider,
            AGENT_NAME: agent,
            CONVERSATION_ID: context.conversation_id,
            REQUEST_MODEL: model,
            RUN_ID: context.run_id,
            **_server(context.model_config),
        }
        first = len(context.events)
        with self._span(f"invoke_agent {agent}", self._internal, attributes) as span:
            began = time.perf_counter()
            try:
                reply = await proceed()
            except BaseException as exc:
                error = self._fail(span, exc)
                if self.capture_content and span.is_recording():
                    self._ask_content(span, context, first, None)
                self._record_duration(began, "invoke_agent", provider, model, None, error)
                raise
            response = reply.response
            response_model = response.model or model
            if span.is_recording():
                span.set_attributes(_response_attributes(response_model, response, reply.usage))
                if self.capture_content:
                    self._ask_content(span, context, first, reply)
            self._record_duration(began, "invoke_agent", provider, model, response_model, None)
            return reply

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        provider, model = _model_of(context)
        attributes: dict[str, Any] = {
            OPERATION: "chat",
            PROVIDER: provider,
            REQUEST_MODEL: model,
            AGENT_NAME: call.agent,
            CONVERSATION_ID: call.conversation_id,
        }
        server = _server(context.model_config)
        attributes.update(server)
        if call.output is not None:
            attributes[OUTPUT_TYPE] = "json"
        settings = call.settings
        for field, key in _SETTINGS:
            value = getattr(settings, field)
            if value is not None:
                attributes[key] = value
        with self._span(f"chat {model}", self._client, attributes) as span:
            if self.capture_content and span.is_recording():
                if call.instructions:
                    span.set_attribute(
                        "gen_ai.system_instructions",
                        _json([{"type": "text", "content": call.instructions}]),
                    )
                span.set_attribute(
                    "gen_ai.input.messages", _json(_messages(call.messages, call.agent))
                )
            began = time.perf_counter()
            first_chunk: list[float] = []
            watch = None
            if call.settings.stream:
                # The first streamed piece the model sends (text, reasoning or a call forming).
                def on_chunk(event: Event) -> None:
                    if not first_chunk:
                        first_chunk.append(time.perf_counter())

                watch = context.stream.subscribe(on_chunk, where=_CHUNKS)
            try:
                response = await proceed(call)
            except BaseException as exc:
                error = self._fail(span, exc)
                self._record_duration(began, "chat", provider, model, None, error, server)
                raise
            finally:
                if watch is not None:
                    watch.unsubscribe()
            response_model = response.model or model
            usage = response.usage
            if span.is_recording():
                span.set_attributes(_response_attributes(response_model, response, usage))
                for field, key in _USAGE_DETAILS:
                    count = getattr(usage, field)
                    if count:
                        span.set_attribute(key, count)
                if self.capture_content:
                    span.set_attribute("gen_ai.output.messages", _json([_output_message(response)]))
            metric = self._record_duration(
                began, "chat", provider, model, response_model, None, server
            )
            if first_chunk:
                self._first_chunk.record(first_chunk[0] - began, metric)
            if usage.input_tokens or usage.output_tokens:
                record = self._token_usage.record
                record(usage.input_tokens, {**metric, TOKEN_TYPE: "input"})
                record(usage.output_tokens, {**metric, TOKEN_TYPE: "output"})
            return response

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        attributes = {
            OPERATION: "execute_tool",
            TOOL_NAME: call.name,
            TOOL_CALL_ID: call.id,
            TOOL_TYPE: "function",
            CONVERSATION_ID: context.conversation_id,
        }
        tool = context.tool(call.name)
        if tool is not None and tool.description:
            attributes[TOOL_DESCRIPTION] = tool.description
        with self._span(f"execute_tool {call.name}", self._internal, attributes) as span:
            if self.capture_content and span.is_recording():
                span.set_attribute("gen_ai.tool.call.arguments", call.arguments)
            try:
                outcome = await proceed(call)
            except BaseException as exc:
                self._fail(span, exc)
                raise
            if span.is_recording():
                if isinstance(outcome, ToolCallError):
                    span.set_attribute(ERROR_TYPE, outcome.error_type)
                    span.set_status(self._status(self._error, outcome.error_type))
                if self.capture_content:
                    span.set_attribute("gen_ai.tool.call.result", _tool_response(outcome))
            return outcome

    async def around_human_input(
        self,
        request: HumanInputRequest | ApprovalRequest,
        context: Context,
        proceed: ProceedInput,
    ) -> HumanMessage:
        approval = isinstance(request, ApprovalRequest)
        attributes: dict[str, Any] = {
            HUMAN_KIND: "approval" if approval else "input",
            HUMAN_REQUEST_ID: request.request_id,
            AGENT_NAME: context.agent_name,
            CONVERSATION_ID: context.conversation_id,
        }
        call_id = request.call.id if isinstance(request, ApprovalRequest) else request.call_id
        if call_id:
            attributes[TOOL_CALL_ID] = call_id
        if isinstance(request, ApprovalRequest):
            attributes[TOOL_NAME] = request.call.name
        with self._span(f"human_input {context.agent_name}", self._internal, attributes) as span:
            try:
                answer = await proceed(request)
            except AskSuspended:
                # Not a failure: the run is saved and waits for ``agent.resume``.
                if span.is_recording():
                    span.set_attribute(HUMAN_SUSPENDED, True)
                raise
            except BaseException as exc:
                self._fail(span, exc)
                raise
            if span.is_recording() and answer.approved is not None:
                span.set_attribute(HUMAN_APPROVED, answer.approved)
            return answer

    # -- helpers -----------------------------------------------------------------------------

    def _span(
        self, name: str, kind: SpanKind, attributes: dict[str, Any]
    ) -> AbstractContextManager[Span]:
        # Failures are recorded by hand (``_fail``): cancellation is not an exception to record.
        return self._tracer.start_as_current_span(
            name,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def _fail(self, span: Span, exc: BaseException) -> str:
        error = type(exc).__qualname__
        if span.is_recording():
            span.set_attribute(ERROR_TYPE, error)
            if isinstance(exc, asyncio.CancelledError):
                span.set_status(self._status(self._error, "cancelled"))
            else:
                span.set_status(self._status(self._error, f"{error}: {exc}"))
                span.record_exception(exc)
        return error

    def _record_duration(
        self,
        began: float,
        operation: str,
        provider: str,
        model: str,
        response_model: str | None,
        error: str | None,
        server: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            OPERATION: operation,
            PROVIDER: provider,
            REQUEST_MODEL: model,
        }
        if server:
            attributes.update(server)
        if response_model:
            attributes[RESPONSE_MODEL] = response_model
        if error is not None:
            attributes[ERROR_TYPE] = error
        self._duration.record(time.perf_counter() - began, attributes)
        return attributes

    def _ask_content(
        self, span: Span, context: Context, first: int, reply: Reply[Any] | None
    ) -> None:
        requests = [e for e in context.events.tail(first) if isinstance(e, ModelRequest)]
        span.set_attribute("gen_ai.input.messages", _json(_messages(requests)))
        if reply is not None:
            message = _output_message(reply.response)
            message["parts"] = [{"type": "text", "content": reply.text}]
            span.set_attribute("gen_ai.output.messages", _json([message]))


def _histogram(
    meter: Meter, name: str, unit: str, advice: tuple[str, Sequence[float]]
) -> Histogram:
    description, buckets = advice
    try:
        return meter.create_histogram(
            name, unit, description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # opentelemetry-api < 1.30 has no advisory parameter
        return meter.create_histogram(name, unit, description)


def _model_of(context: Context) -> tuple[str, str]:
    """The ask's provider (by its semantic-convention name) and model."""
    config: ModelConfig = context.model_config
    return _PROVIDERS.get(config.provider, config.provider), config.model_name


def _response_attributes(model: str, response: ModelResponse, usage: Usage) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        RESPONSE_MODEL: model,
        INPUT_TOKENS: usage.input_tokens,
        OUTPUT_TOKENS: usage.output_tokens,
    }
    if response.finish_reason:
        attributes[FINISH_REASONS] = (response.finish_reason,)
    if response.response_id:
        attributes[RESPONSE_ID] = response.response_id
    return attributes


def _server(config: ModelConfig) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of the endpoint ``config`` calls: its
    ``base_url``, else the provider's default endpoint; nothing when neither is known (a
    ``ScriptedModel``, a ``FallbackModel``)."""
    url = getattr(config, "base_url", None) or _ENDPOINTS.get(config.provider)
    if url == _ENDPOINTS["vertex"]:  # regional unless the location is "global"
        location = getattr(config, "location", None) or os.environ.get("GOOGLE_CLOUD_LOCATION")
        if location and location != "global":
            url = f"https://{location}-aiplatform.googleapis.com"
    if not isinstance(url, str):
        return {}
    parts = urlsplit(url if "//" in url else f"//{url}")
    if not parts.hostname:
        return {}
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 80 if parts.scheme == "http" else 443
    return {SERVER_ADDRESS: parts.hostname, SERVER_PORT: port}


# -- content, in the semantic conventions' message format -------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _messages(events: Iterable[Event], agent: str | None = None) -> list[dict[str, Any]]:
    """The messages a model reads, as the transcript shows them (``baton.transcript``)."""
    messages: list[dict[str, Any]] = []
    for role, event in transcript(events, agent):
        if isinstance(event, ModelRequest):
            parts = [_part(p) for p in event.parts]
        elif isinstance(event, ModelResponse):
            parts = _response_parts(event)
        elif isinstance(event, ToolCallResult | ToolCallError):
            part = {"type": "tool_call_response", "id": event.call_id}
            parts = [{**part, "response": _tool_response(event)}]
        elif isinstance(event, HumanMessage):
            parts = [_text(event.text)]
        elif isinstance(event, OutputRejected | CompactionSummary):
            parts = [_text(event.message)]
        else:
            continue
        messages.append({"role": role, "parts": parts})
    return messages


def _output_message(response: ModelResponse) -> dict[str, Any]:
    finish = response.finish_reason or ("tool_calls" if response.tool_calls else "stop")
    return {"role": "assistant", "parts": _response_parts(response), "finish_reason": finish}


def _response_parts(response: ModelResponse) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if response.reasoning:
        parts.append({"type": "reasoning", "content": response.reasoning})
    if response.text:
        parts.append(_text(response.text))
    for call in response.tool_calls:
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.name,
                "arguments": _arguments(call.arguments),
            }
        )
    return parts


def _tool_response(outcome: ToolCallResult | ToolCallError) -> str:
    return outcome.content if isinstance(outcome, ToolCallResult) else outcome.message


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, Text):
        return _text(part.text)
    if isinstance(part, Data):
        return _text(_json(part.value))
    if isinstance(part, FileUrl):
        return {"type": "uri", "uri": part.url, "mime_type": part.media_type}
    if isinstance(part, Media):
        modality = type(part).__name__.lower()
        described = {"modality": modality, "mime_type": part.media_type}
        if part.url is not None:
            return {"type": "uri", **described, "uri": part.url}
        return {"type": "blob", **described, "size": len(part.data or b"")}
    return {"type": type(part).__name__.lower()}
