"""Ollama's native chat API (``/api/chat``), local or hosted, through the official ``ollama`` SDK.

The SDK's ``AsyncClient`` is the transport (host parsing, headers, timeouts, ``ResponseError``
for an HTTP error), but the request body is sent as Baton builds it, through the client's request
method (its HTTP client for a stream, whose lines Baton reads itself: see ``_sse``), rather than
through ``AsyncClient.chat``. ``chat`` re-validates every
argument through its pydantic models, and those lose information Baton relies on: tool parameter
schemas are cut down to ``type``/``items``/``description``/``enum`` per property (nested objects,
``anyOf`` for optional parameters, defaults and ``$ref`` are dropped; ollama-python #724), tool
call ids in answers are dropped, and the whole history (images included) is re-validated on every
call. Answers are read as plain JSON objects for the same reasons.

Structured output uses Ollama's ``format`` (the JSON schema, enforced by constrained sampling)
when the call offers no tools. With tools on offer, ``format`` would keep the model from ever
calling one (ollama/ollama#11037), so the schema is put in the instructions instead (Baton's
prompted mode) and the answer is validated as usual.

Tool results carry no call ids on this wire (only the tool's name), so Ollama pairs them with
calls by position: they are sent back in the order of the calls, whatever order they finished in.

Ollama streams a tool call whole (its arguments as one finished JSON object, never in pieces), so
no ``ToolCallDelta`` events are emitted for it: the call appears complete in the ``ModelResponse``.

Ollama has no API for ``tool_choice`` other than sending no tools (``"none"``), and none for
``parallel_tool_calls``; both are otherwise ignored. ``max_retries`` is applied here (the SDK has
no retries): a retryable failure before any chunk was streamed is tried again with backoff.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Literal

from pydantic_core import from_json, to_json

from ..errors import BatonError, ConnectionLost, ModelError, ModelTimeout
from ..events import (
    CompactionSummary,
    Data,
    Event,
    FileUrl,
    HumanMessage,
    Image,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    ReasoningChunk,
    Text,
    TextChunk,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from ..models.base import (
    RETRIED_BY_BATON,
    EmitChunk,
    ModelCall,
    ModelClient,
    ModelSettings,
    valid_data,
)
from ._cache import MessageCache, append_tool_message, message_list, tool_message_reach
from ._config import ProviderConfig, bounded, missing_extra
from ._errors import error_for_status, is_caller_failure, malformed
from ._media import b64, media_note, tool_media_intro, unsupported
from ._sse import read_events

__all__ = ["OllamaChatClient", "OllamaConfig"]

DEFAULT_HOST = "http://127.0.0.1:11434"

Message = dict[str, Any]
ThinkValue = bool | Literal["low", "medium", "high"]


@dataclass(eq=False)
class OllamaConfig(ProviderConfig):
    """A model served by Ollama. ``base_url`` defaults to ``OLLAMA_HOST`` (else
    ``http://127.0.0.1:11434``). No API key is needed locally; for hosted Ollama, ``api_key``
    (or ``OLLAMA_API_KEY``) is sent as a bearer token.

    ``think`` sets Ollama's ``think`` explicitly (``True``/``False``, or a level for models with
    levels, such as gpt-oss); otherwise ``reasoning_effort`` turns it on (as the level, for
    gpt-oss models) and ``thinking_budget`` turns it on or, when 0, off.
    ``num_ctx`` is the context window to load the model with (Ollama's default is small and
    silently truncates long conversations). ``keep_alive`` is how long the model stays loaded
    (seconds, or a duration such as ``"10m"``). ``extra`` is merged into Ollama's ``options``.
    """

    _: KW_ONLY
    think: ThinkValue | None = None
    num_ctx: int | None = None
    keep_alive: float | str | None = None

    provider_name: ClassVar[str] = "ollama"
    env_keys: ClassVar[tuple[str, ...]] = ("OLLAMA_API_KEY",)
    extra_name: ClassVar[str] = "ollama"

    def __post_init__(self) -> None:
        if self.base_url is None:
            self.base_url = os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        super().__post_init__()

    def create_client(self) -> ModelClient:
        return OllamaChatClient(self)


def _user_message(provider: str, parts: tuple[Part, ...]) -> Message:
    texts: list[str] = []
    images: list[str] = []
    for part in parts:
        if isinstance(part, Text):
            texts.append(part.text)
        elif isinstance(part, Data):
            texts.append(to_json(part.value).decode())
        elif isinstance(part, Image):
            if part.data is None:
                raise unsupported(provider, part, "pass the image bytes (Image(data=...))")
            images.append(b64(part.data))
        elif isinstance(part, FileUrl):
            raise unsupported(provider, part, "pass images inline (Image(data=...))")
        else:
            raise unsupported(provider, part)
    message: Message = {"role": "user", "content": "\n".join(texts)}
    if images:
        message["images"] = images
    return message


def _arguments(raw: str) -> Any:
    """Tool call arguments as the JSON object Ollama wants back."""
    try:
        value = from_json(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _append_media_result(provider: str, messages: list[Message], result: ToolCallResult) -> None:
    """A result with media: the tool message says what it holds (text, and a placeholder per
    media part); its inline images follow in a user message (``/api/chat`` takes images only,
    so other media stay placeholders, with a note)."""
    images: list[str] = []
    notes: list[str] = []
    for part in result.parts:
        if isinstance(part, Text):
            continue  # in the tool message
        if isinstance(part, Image) and part.data is not None:
            images.append(b64(part.data))
        else:
            notes.append(media_note(provider, part))
    text = "\n".join([result.content, *notes])
    if images:
        text += "\n(The images follow in the next message.)"
    append_tool_message(messages, {"role": "tool", "content": text, "tool_name": result.name})
    if images:
        messages.append({"role": "user", "content": tool_media_intro(result), "images": images})


def append_ollama_message(provider: str, messages: list[Message], event: Event) -> None:
    """Convert one conversation event to ``/api/chat`` messages (most convert to none)."""
    if isinstance(event, ModelRequest):
        messages.append(_user_message(provider, event.parts))
    elif isinstance(event, ModelResponse):
        message: Message = {"role": "assistant", "content": event.text}
        if event.reasoning:
            message["thinking"] = event.reasoning
        if event.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": _arguments(c.arguments)}}
                for c in event.tool_calls
            ]
        messages.append(message)
    elif isinstance(event, ToolCallResult):
        if event.parts:
            _append_media_result(provider, messages, event)
        else:
            message = {"role": "tool", "content": event.content, "tool_name": event.name}
            append_tool_message(messages, message)
    elif isinstance(event, ToolCallError):
        message = {"role": "tool", "content": event.message, "tool_name": event.name}
        append_tool_message(messages, message)
    elif isinstance(event, OutputRejected):
        messages.append({"role": "user", "content": event.message})
    elif isinstance(event, HumanMessage) and event.request_id is None and event.text:
        messages.append({"role": "user", "content": event.text})
    elif isinstance(event, CompactionSummary):
        messages.append({"role": "user", "content": event.message})


def _think(config: OllamaConfig, settings: ModelSettings) -> ThinkValue | None:
    if config.think is not None:
        return config.think
    if settings.thinking_budget is not None:
        return settings.thinking_budget > 0
    effort = settings.reasoning_effort
    if effort is None:
        return None
    if config.model.startswith("gpt-oss"):  # takes levels and ignores booleans
        return "low" if effort == "minimal" else effort
    return True


def _usage(final: Mapping[str, Any]) -> Usage:
    return Usage(
        requests=1,
        input_tokens=final.get("prompt_eval_count") or 0,
        output_tokens=final.get("eval_count") or 0,
    )


@asynccontextmanager
async def _mapped_errors(provider: str) -> AsyncIterator[None]:
    """Translate the ollama SDK's (and httpx's) exceptions into Baton's."""
    import httpx
    import ollama

    try:
        yield
    except BatonError:
        raise
    except ollama.ResponseError as exc:
        message = str(exc.error)
        if exc.status_code < 0:  # an error object inside the stream, not an HTTP status
            raise ModelError(f"{provider} reported an error: {message}", provider=provider) from exc
        if exc.status_code == 404 and "not found" in message:
            message += " (pull it first: ollama pull <model>)"
        # The SDK raises ResponseError from httpx's HTTPStatusError, which keeps the headers.
        response = getattr(exc.__context__, "response", None)
        headers = getattr(response, "headers", None)
        raise error_for_status(provider, exc.status_code, message, headers, exc.error) from exc
    except httpx.TimeoutException as exc:
        if is_caller_failure(exc):  # the caller's emit failed, not the connection
            raise
        raise ModelTimeout(
            f"{provider} did not answer in time ({exc!r})", provider=provider
        ) from exc
    except (httpx.TransportError, ConnectionError) as exc:
        if is_caller_failure(exc):
            raise
        raise ConnectionLost(
            f"the connection to {provider} failed or dropped ({type(exc).__name__}: {exc})",
            provider=provider,
        ) from exc
    except json.JSONDecodeError as exc:  # a body or a stream line that is not JSON
        raise malformed(provider, exc) from exc


async def _raise_for_status(response: Any) -> None:
    """A non-2xx answer to a streamed request as the SDK raises it: ``ResponseError`` with the
    body's text and the status (its ``__context__`` keeping the response, for the headers)."""
    import httpx
    import ollama

    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        await exc.response.aread()
        raise ollama.ResponseError(exc.response.text, exc.response.status_code) from None


class _OllamaStream:
    """An ``/api/chat`` answer assembled from its stream's lines, as ``read_events`` hands them
    over (each line's JSON decoded into the fields read, see ``_wire_chunks``): ``take`` reads
    one and returns the pieces to stream. An ``{"error": ...}`` line raises, as the SDK's
    streaming does."""

    __slots__ = ("calls", "final", "provider", "read", "text", "thoughts", "tool_call")

    def __init__(self, provider: str, tool_call: Callable[[Mapping[str, Any]], ToolCall]) -> None:
        from ._wire_chunks import OLLAMA, reader  # (msgspec: imported once a stream is read)

        self.provider = provider
        self.read = reader(OLLAMA, provider)
        self.tool_call = tool_call
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.final: dict[str, Any] | None = None  # what the last line (``done``) says

    @property
    def emitted(self) -> bool:
        """Whether a piece of the answer went out on the stream (then it is not retried)."""
        return bool(self.text or self.thoughts)

    def take(self, name: bytes | None, line: bytes) -> Sequence[Event]:
        provider = self.provider
        part = self.read(line)
        error = part.error
        if error:
            raise ModelError(f"{provider} reported an error: {error}", provider=provider)
        if part.done:
            self.final = {
                "model": part.model,
                "done_reason": part.done_reason,
                "prompt_eval_count": part.prompt_eval_count,
                "eval_count": part.eval_count,
            }
        message = part.message
        if message is None:
            return ()
        # (the decoder has checked the types: the text fields are strings or None)
        pieces: list[Event] = []
        thought = message.thinking
        if thought:
            self.thoughts.append(thought)
            pieces.append(ReasoningChunk(thought))
        content = message.content
        if content:
            self.text.append(content)
            pieces.append(TextChunk(content))
        # Ollama sends each tool call whole, possibly spread over several chunks.
        for raw in message.tool_calls or ():
            self.calls.append(self.tool_call(raw))
        return pieces


def _make_sdk(config: OllamaConfig) -> Any:
    try:
        import msgspec  # noqa: F401  (streamed lines are decoded with it: see _wire_chunks)
        import ollama
    except ImportError as exc:
        raise missing_extra(config.provider_name, config.extra_name, exc) from None
    headers = dict(config.headers or {})
    api_key = config.resolved_api_key(required=False)
    if api_key and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {api_key}"
    return ollama.AsyncClient(host=config.base_url, timeout=config.timeout, headers=headers)


class OllamaChatClient:
    """Talks to Ollama's ``/api/chat`` through the official ``ollama`` SDK's ``AsyncClient``."""

    def __init__(self, config: OllamaConfig) -> None:
        self.config = config
        self.sdk = _make_sdk(config)
        provider = config.provider_name
        self._cache: MessageCache[Message] = MessageCache(
            lambda messages, event: append_ollama_message(provider, messages, event),
            reach=tool_message_reach,
            results_in_call_order=True,  # no call ids on the wire: matched by position
        )
        self._ids = itertools.count()

    async def aclose(self) -> None:
        await self.sdk.close()

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        """The JSON body for ``/api/chat``."""
        config = self.config
        settings = call.settings
        history = self._cache.messages(call.conversation_id, call.messages, call.agent)
        request: dict[str, Any] = {"model": config.model, "messages": [], "stream": settings.stream}
        if call.tools and settings.tool_choice != "none":
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in call.tools
            ]
        instructions = call.instructions
        output = call.output
        if output is not None and output.mode == "native":
            if "tools" in request:
                # ``format`` constrains every token, so the model could never call a tool:
                # with tools on offer the schema goes into the instructions instead.
                prompt = output.prompt_text()
                instructions = f"{instructions}\n\n{prompt}" if instructions else prompt
            else:
                request["format"] = output.json_schema
        request["messages"] = (
            message_list(history, {"role": "system", "content": instructions})
            if instructions
            else message_list(history)
        )
        think = _think(config, settings)
        if think is not None:
            request["think"] = think
        options: dict[str, Any] = {}
        for key, value in (
            ("num_ctx", config.num_ctx),
            ("temperature", settings.temperature),
            ("top_p", settings.top_p),
            ("num_predict", settings.max_tokens),
            ("stop", list(settings.stop) if settings.stop else None),
            ("seed", settings.seed),
        ):
            if value is not None:
                options[key] = value
        options.update(settings.extra)
        if options:
            request["options"] = options
        if config.keep_alive is not None:
            request["keep_alive"] = config.keep_alive
        return request

    @bounded
    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        request = self.build_request(call)
        attempt = 0
        # Inside RetryMiddleware one request per attempt: Baton's layer does the retrying.
        retries = 0 if RETRIED_BY_BATON.get() else self.config.max_retries
        while True:
            stream = _OllamaStream(self.config.provider_name, self._tool_call)
            try:
                return await self._respond_once(request, stream, emit)
            except ModelError as exc:
                if not exc.retryable or stream.emitted or attempt >= retries:
                    raise
                wait = exc.retry_after
                await asyncio.sleep(
                    wait if wait is not None and wait <= 60 else min(0.5 * 2**attempt, 8.0)
                )
                attempt += 1

    async def _respond_once(
        self, request: dict[str, Any], stream: _OllamaStream, emit: EmitChunk
    ) -> ModelResponse:
        provider = self.config.provider_name
        async with _mapped_errors(provider):
            if not request["stream"]:
                # ``_request(dict, ...)``: the SDK's transport, with the answer left a plain
                # JSON object (see the module docstring for why ``chat()`` is not used).
                answer = await self.sdk._request(dict, "POST", "/api/chat", json=request)
                if not isinstance(answer.get("message"), dict):
                    raise malformed(provider, f"an answer without a message: {answer!r}")
                message = answer["message"]
                return self._response(
                    message.get("content") or "",
                    message.get("thinking") or "",
                    [self._tool_call(c) for c in message.get("tool_calls") or ()],
                    answer,
                )
            # Streamed: the SDK's HTTP client (host, headers, timeouts) sends the request, and
            # a non-2xx status becomes the SDK's ``ResponseError`` as in its own streaming;
            # Baton reads the lines itself (``_sse``), without the SDK's per-line copies.
            async with self.sdk._client.stream("POST", "/api/chat", json=request) as response:
                await _raise_for_status(response)
                await read_events(response, provider, stream.take, emit, lines=True)
            if stream.final is None:
                raise ConnectionLost(
                    f"the {provider} stream ended before its final chunk", provider=provider
                )
            return self._response(
                "".join(stream.text), "".join(stream.thoughts), stream.calls, stream.final
            )

    def _tool_call(self, raw: Mapping[str, Any]) -> ToolCall:
        function = raw.get("function") or {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = to_json(valid_data(arguments or {})).decode()
        call_id = raw.get("id") or f"call_{next(self._ids)}"
        return ToolCall(call_id, function.get("name") or "", arguments or "{}")

    def _response(
        self, text: str, reasoning: str, calls: list[ToolCall], final: Mapping[str, Any]
    ) -> ModelResponse:
        return ModelResponse(
            text=text,
            tool_calls=tuple(calls),
            usage=self.config.priced(_usage(final)),
            finish_reason=final.get("done_reason"),
            model=final.get("model"),
            provider=self.config.provider_name,
            reasoning=reasoning,
        )
