"""Reading Anthropic's answers: a whole ``Message`` (the SDK's object) or a stream of events read
as plain JSON from the HTTP response (see ``_sse``), into a ``ModelResponse``; and the SDK's
failures mapped onto Baton's errors. The request side is ``anthropic.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pydantic_core import to_json

from ..errors import (
    AuthenticationFailed,
    BatonError,
    ConnectionLost,
    InvalidRequest,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from ..events import (
    Event,
    HostedToolCall,
    ModelResponse,
    ReasoningChunk,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ..models.base import valid_data
from ._config import ProviderConfig
from ._errors import (
    connection_dropped,
    error_for_status,
    is_transport_error,
    malformed,
    unexpected_event,
)
from ._hosted import hosted_call, search_results
from ._sse import field

__all__ = [
    "THINKING_TYPES",
    "AnthropicStream",
    "anthropic_usage",
    "from_message",
    "mapped_errors",
]

Block = dict[str, Any]

THINKING_TYPES = ("thinking", "redacted_thinking")
# Error types Anthropic can send inside a stream (an ``error`` event after HTTP 200) -> the
# Baton error for them.
_STREAM_ERRORS: dict[str, type[ModelError]] = {
    "overloaded_error": ProviderUnavailable,
    "api_error": ProviderUnavailable,
    "rate_limit_error": RateLimited,
    "timeout_error": ModelTimeout,
    "authentication_error": AuthenticationFailed,
    "permission_error": AuthenticationFailed,
    "invalid_request_error": InvalidRequest,
    "request_too_large": InvalidRequest,
}
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "output_tokens_details",
)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def stream_error(provider: str, body: Any, fallback: str) -> ModelError:
    """The Baton error for an ``error`` event sent inside a stream."""
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    message = (error.get("message") if isinstance(error, dict) else None) or fallback
    cls = _STREAM_ERRORS.get(kind or "", ModelError)
    return cls(f"{provider} reported {kind or 'an error'} mid-answer: {message}", provider=provider)


@asynccontextmanager
async def mapped_errors(provider: str) -> AsyncIterator[None]:
    """Translate the Anthropic SDK's (and its HTTP layer's) exceptions into Baton's."""
    import anthropic

    try:
        yield
    except BatonError:
        raise
    except anthropic.APITimeoutError as exc:
        raise ModelTimeout(f"{provider} did not answer in time ({exc})", provider=provider) from exc
    except anthropic.APIStatusError as exc:
        if exc.status_code < 400:  # an error event inside a stream that began with HTTP 200
            raise stream_error(provider, exc.body, exc.message) from exc
        message = getattr(exc, "api_message", None) or exc.message
        raise error_for_status(
            provider, exc.status_code, message, exc.response.headers, exc.body
        ) from exc
    except anthropic.APIConnectionError as exc:
        raise ConnectionLost(f"connection to {provider} failed: {exc}", provider=provider) from exc
    except anthropic.APIError as exc:
        raise ModelError(f"{provider} reported an error: {exc}", provider=provider) from exc
    except json.JSONDecodeError as exc:  # a body or a stream line that is not JSON
        raise malformed(provider, exc) from exc
    except Exception as exc:
        if is_transport_error(exc):
            raise connection_dropped(provider, exc) from exc
        raise


# ---------------------------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------------------------


def merge_usage(into: dict[str, Any], usage: Any) -> dict[str, Any]:
    """Fold one of Anthropic's usage reports (an SDK object or plain JSON) into ``into``: later
    ones (a stream's ``message_delta``) are cumulative and win where they give a value."""
    for name in _USAGE_FIELDS:
        value = field(usage, name)
        if value is not None:
            into[name] = value
    return into


def anthropic_usage(values: dict[str, Any]) -> Usage:
    """Baton's usage from Anthropic's (whose ``input_tokens`` excludes cached tokens)."""
    cache_read = values.get("cache_read_input_tokens") or 0
    cache_write = values.get("cache_creation_input_tokens") or 0
    details = values.get("output_tokens_details")
    return Usage(
        requests=1,
        input_tokens=(values.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=values.get("output_tokens") or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=field(details, "thinking_tokens") or 0,
    )


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


def _response(
    config: ProviderConfig,
    blocks: list[Block],
    usage: Usage,
    finish_reason: str | None,
    model: str | None,
    response_id: str | None = None,
    hosted: tuple[HostedToolCall, ...] = (),
) -> ModelResponse:
    thinking = [b for b in blocks if b["type"] in THINKING_TYPES]
    return ModelResponse(
        text="".join(b["text"] for b in blocks if b["type"] == "text"),
        tool_calls=tuple(
            ToolCall(b["id"], b["name"], b["arguments"]) for b in blocks if b["type"] == "tool_use"
        ),
        usage=config.priced(usage),
        finish_reason=finish_reason,
        model=model,
        provider=config.provider_name,
        reasoning="".join(b.get("thinking", "") for b in thinking),
        provider_data=thinking or None,
        response_id=response_id or None,
        hosted_calls=hosted,
    )


def from_message(config: ProviderConfig, message: Any) -> ModelResponse:
    """The answer from a whole ``Message`` (the SDK's object)."""
    if not isinstance(message.content, list):
        provider = config.provider_name
        raise malformed(provider, f"a message without content: {message.to_json(indent=None)}")
    blocks: list[Block] = []
    server_blocks: list[Any] = []
    for block in message.content or ():
        kind = block.type
        if kind == "text":
            blocks.append({"type": "text", "text": block.text})
        elif kind == "thinking":
            blocks.append(
                {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
            )
        elif kind == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": block.data})
        elif kind == "tool_use":
            arguments = to_json(valid_data(block.input or {})).decode()
            blocks.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "arguments": arguments}
            )
        elif is_server_block(kind):
            server_blocks.append(block)
    return _response(
        config,
        blocks,
        anthropic_usage(merge_usage({}, message.usage)),
        message.stop_reason,
        message.model,
        getattr(message, "id", None),
        server_tool_calls((block, "") for block in server_blocks),
    )


class _StreamBlock:
    """One content block being assembled from a stream."""

    __slots__ = ("block", "data", "id", "input", "kind", "name", "pieces", "signature")

    def __init__(self, block: dict[str, Any]) -> None:
        self.block = block  # as it started: a server tool's result comes whole in it
        self.kind: str = block.get("type") or ""
        self.pieces: list[str] = []
        self.id: str = block.get("id") or ""
        self.name: str = block.get("name") or ""
        self.signature: str = block.get("signature") or ""
        self.data: str = block.get("data") or ""
        self.input: Any = block.get("input")
        initial = block.get("text") or block.get("thinking")
        if initial and isinstance(initial, str):
            self.pieces.append(initial)


class AnthropicStream:
    """A Messages answer assembled from its stream's events, as ``read_events`` hands them over
    (each event's JSON decoded into the fields read, see ``_wire_chunks``): ``take`` reads one
    and returns the pieces to stream, ``response`` is the answer once the stream has ended.
    Pings, unnamed events and events with empty data are skipped, as the SDK skips them; an
    ``error`` event raises its Baton error."""

    __slots__ = (
        "finish_reason",
        "model",
        "open_blocks",
        "provider",
        "read",
        "response_id",
        "stopped",
        "usage",
    )

    def __init__(self, provider: str) -> None:
        from ._wire_chunks import ANTHROPIC, reader  # (msgspec: imported once a stream is read)

        self.provider = provider
        self.read = reader(ANTHROPIC, provider)
        self.open_blocks: dict[int, _StreamBlock] = {}
        self.usage: dict[str, Any] = {}
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.stopped = False

    def take(self, name: bytes | None, data: bytes) -> Sequence[Event] | None:
        """Read one event."""
        provider = self.provider
        if name is None or name == b"ping" or (not data and name != b"error"):
            return ()
        if name == b"error":
            try:
                body: Any = json.loads(data)
            except ValueError:
                body = data.decode("utf-8", "replace")
            raise stream_error(provider, body, str(body) or "no details given")
        event = self.read(data)
        kind = event.type
        # (the decoder has checked the delta's types: its text fields are strings or None)
        if kind == "content_block_delta":
            index = event.index
            slot = self.open_blocks.get(index) if index.__class__ is int else None
            if slot is None:
                return ()
            delta = event.delta
            if delta is None:
                raise unexpected_event(provider, data, "a delta event without its delta")
            delta_type = delta.type
            if delta_type == "text_delta":
                text = delta.text
                if text:
                    slot.pieces.append(text)
                    return (TextChunk(text),)
            elif delta_type == "thinking_delta":
                thought = delta.thinking
                if thought:
                    slot.pieces.append(thought)
                    return (ReasoningChunk(thought),)
            elif delta_type == "input_json_delta":
                partial = delta.partial_json
                if partial:
                    slot.pieces.append(partial)
                    if slot.kind == "tool_use":
                        return (ToolCallDelta(slot.id, slot.name, partial),)
            elif delta_type == "signature_delta":
                slot.signature += delta.signature or ""
        elif kind == "content_block_start":
            block = event.content_block
            index = event.index
            if not isinstance(block, dict) or not isinstance(index, int):
                raise unexpected_event(provider, data)
            slot = self.open_blocks[index] = _StreamBlock(block)
            if slot.pieces and slot.kind in ("text", "thinking"):
                chunk_type = TextChunk if slot.kind == "text" else ReasoningChunk
                return (chunk_type(slot.pieces[0]),)
        elif kind == "message_start":
            message = event.message
            if not isinstance(message, dict):
                raise unexpected_event(provider, data)
            self.model = message.get("model")
            self.response_id = message.get("id")
            merge_usage(self.usage, message.get("usage"))
        elif kind == "message_delta":
            delta = event.delta
            if delta is not None and delta.stop_reason:
                self.finish_reason = delta.stop_reason
            merge_usage(self.usage, event.usage)
        elif kind == "message_stop":
            self.stopped = True
        return ()

    def response(self, config: ProviderConfig) -> ModelResponse:
        """The answer the stream delivered; ``ConnectionLost`` when it ended before
        ``message_stop``."""
        if not self.stopped:
            raise ConnectionLost(
                f"the stream from {self.provider} ended before the answer was complete",
                provider=self.provider,
            )
        slots = [slot for _, slot in sorted(self.open_blocks.items())]
        blocks = [_finished(slot) for slot in slots]
        return _response(
            config,
            [b for b in blocks if b is not None],
            anthropic_usage(self.usage),
            self.finish_reason,
            self.model,
            self.response_id,
            server_tool_calls(
                (slot.block, "".join(slot.pieces)) for slot in slots if is_server_block(slot.kind)
            ),
        )


def _finished(slot: _StreamBlock) -> Block | None:
    text = "".join(slot.pieces)
    if slot.kind == "text":
        return {"type": "text", "text": text}
    if slot.kind == "thinking":
        return {"type": "thinking", "thinking": text, "signature": slot.signature}
    if slot.kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": slot.data}
    if slot.kind == "tool_use":
        arguments = text or (to_json(valid_data(slot.input)).decode() if slot.input else "{}")
        return {"type": "tool_use", "id": slot.id, "name": slot.name, "arguments": arguments}
    return None


# ---------------------------------------------------------------------------------------------
# Server tools (provider-hosted: web search, code execution)
# ---------------------------------------------------------------------------------------------


def is_server_block(kind: Any) -> bool:
    """Whether a content block of type ``kind`` is a server tool's use or its result."""
    return isinstance(kind, str) and (kind == "server_tool_use" or kind.endswith("_tool_result"))


def server_tool_calls(blocks: Iterable[tuple[Any, str]]) -> tuple[HostedToolCall, ...]:
    """The server tools Anthropic ran, as ``HostedToolCall`` events, from its ``server_tool_use``
    blocks and their ``*_tool_result`` blocks: each block (plain JSON from a stream, the SDK's
    object from a whole message) with the input streamed into it, if any. Fields of another
    type than expected are read as absent."""
    uses: dict[str, tuple[str, Any]] = {}
    results: dict[str, Any] = {}
    for block, streamed in blocks:
        if field(block, "type") == "server_tool_use":
            given = field(block, "input")
            uses[_text(field(block, "id"))] = (
                _text(field(block, "name")),
                streamed or (valid_data(given) if given else ""),
            )
        else:
            used = _text(field(block, "tool_use_id"))
            if used:
                results[used] = field(block, "content")
    return tuple(
        hosted_call(
            call_id,
            "web_search" if name.startswith("web_") else "code_interpreter",
            name,
            given,
            _server_result_text(results.get(call_id)),
        )
        for call_id, (name, given) in uses.items()
    )


def _server_result_text(content: Any) -> Any:
    """A server tool result's content as text: search hits one per line, a code run's output,
    or the error it reports."""
    if isinstance(content, list):
        return search_results(
            (_text(field(hit, "title")), _text(field(hit, "url"))) for hit in content
        )
    if content is None:
        return ""
    stdout, stderr = field(content, "stdout"), field(content, "stderr")
    if stdout is not None or stderr is not None:
        return _text(stdout) + _text(stderr)
    error = _text(field(content, "error_code"))
    if error:
        return f"error: {error}"
    dump = getattr(content, "model_dump", None)
    return dump(mode="json") if callable(dump) else content


def _text(value: Any) -> str:
    """A text field of a server tool block: a string, or empty when absent or of another type."""
    return value if isinstance(value, str) else ""
