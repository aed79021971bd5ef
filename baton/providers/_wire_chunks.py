"""The fields Baton reads from each provider's streamed events, as msgspec ``Struct`` s that a
typed decoder fills straight from the event's JSON (``reader``).

Decoding into plain dicts (``pydantic_core.from_json``) builds every key and value of an event,
most of which Baton never reads (ids, indexes, logprobs, timestamps, usage in every Gemini
chunk); a ``msgspec.json.Decoder`` given these classes skips the unknown fields in C and builds
only what is declared, in about a third of the time (a 200-byte Chat chunk: 0.9 µs with
``from_json``, 0.3 µs here; benchmarks/README.md, "Typed decoding of stream events"). The
readers then read attributes instead of dict keys.

How the classes are declared:

- every field has a default, so an absent field reads as ``None`` (or empty), and every typed
  field takes ``null`` too, since providers send it for fields they leave empty;
- a field is typed (``str | None``, a nested class) only where the reader needs that type: a
  value of another type there is a ``MalformedResponse`` naming the field (msgspec's path, e.g.
  ``$.choices[0].delta.content``) and quoting the event, where the readers' own checks raised
  one before or the value was skipped or broke the answer later;
- a field the readers check themselves, whose shape varies, or which is rare (a finished
  response, an error object, usage read once per answer) is ``Any``: its JSON as plain values,
  read as before.

msgspec is a dependency of the provider extras (the clients check for it when they are made);
this module is imported by the readers, once an answer is read (``import baton`` and the config
classes do not need it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from ._errors import unexpected_event
from ._sse import decode

__all__ = [
    "ANTHROPIC",
    "CHAT",
    "GEMINI",
    "OLLAMA",
    "RESPONSES",
    "AnthropicEvent",
    "ChatChunk",
    "GeminiChunk",
    "GeminiPart",
    "OllamaLine",
    "ResponsesEvent",
    "gemini_chunk",
    "reader",
]

T = TypeVar("T")


class _Wire(msgspec.Struct, gc=False):
    """Base of the event classes: not tracked by the garbage collector (they hold no cycles),
    so the many a long stream makes do not count towards the collector's next pass."""


# --- OpenAI Chat Completions (and every server that speaks it) -----------------------------------


class ChatFunction(_Wire):
    """A streamed tool call's function: its name (first piece) and a piece of its arguments."""

    name: str | None = None
    arguments: str | None = None


class ChatToolCall(_Wire):
    """A piece of a streamed tool call; ``index`` says which call it continues."""

    index: int | None = None
    id: str | None = None
    function: ChatFunction | None = None


class ChatDelta(_Wire):
    """What a choice adds: text, reasoning (``reasoning_content`` from DeepSeek, Qwen, vLLM;
    ``reasoning`` from OpenRouter and Ollama's compatible API) and tool call pieces."""

    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ChatToolCall] | None = None


class ChatChoice(_Wire):
    delta: ChatDelta | None = None
    finish_reason: Any = None  # kept as the server sends it


class ChatChunk(_Wire):
    """A ``chat.completion.chunk``, or an ``{"error": ...}`` payload in its place."""

    choices: list[ChatChoice] | None = None
    id: Any = None
    model: Any = None
    usage: Any = None  # one chunk near the end (``include_usage``); read with ``field``
    error: Any = None


# --- OpenAI Responses ----------------------------------------------------------------------------


class ResponsesEvent(_Wire):
    """Any Responses stream event: the fields its kinds carry, all as sent (which of them an
    event has, and their types, depend on its ``type``: the reader checks them per kind)."""

    type: Any = None
    delta: Any = None
    output_index: Any = None
    arguments: Any = None
    item: Any = None
    response: Any = None
    code: Any = None
    message: Any = None
    error: Any = None  # an ``{"error": ...}`` payload (no ``type``)


# --- Anthropic Messages --------------------------------------------------------------------------


class AnthropicDelta(_Wire):
    """A ``content_block_delta``'s delta (text, thinking, tool input, signature pieces) or a
    ``message_delta``'s (the stop reason)."""

    type: Any = None
    text: str | None = None
    thinking: str | None = None
    partial_json: str | None = None
    signature: str | None = None
    stop_reason: Any = None


class AnthropicEvent(_Wire):
    type: Any = None
    index: Any = None
    delta: AnthropicDelta | None = None
    content_block: Any = None  # once per block: kept whole (a server tool's result is in it)
    message: Any = None  # ``message_start``'s message
    usage: Any = None


# --- Gemini (and Vertex AI) ----------------------------------------------------------------------


class GeminiPart(_Wire, rename="camel"):
    """One part of a candidate's content: text (or a thought's text) in most streamed chunks;
    the rarer kinds (a function call, code Gemini ran and its result, a file) stay plain values,
    read when present."""

    text: str | None = None
    thought: Any = None
    thought_signature: Any = None
    function_call: Any = None
    executable_code: Any = None
    code_execution_result: Any = None
    inline_data: Any = None
    file_data: Any = None


class GeminiContent(_Wire):
    parts: list[GeminiPart] | None = None


class GeminiCandidate(_Wire, rename="camel"):
    content: GeminiContent | None = None
    finish_reason: Any = None
    grounding_metadata: Any = None  # once per answer, read whole
    safety_ratings: Any = None


class GeminiUsage(_Wire, rename="camel"):
    """``usageMetadata`` (in every chunk, the counts so far)."""

    prompt_token_count: Any = None
    tool_use_prompt_token_count: Any = None
    candidates_token_count: Any = None
    thoughts_token_count: Any = None
    cached_content_token_count: Any = None


class GeminiChunk(_Wire, rename="camel"):
    """A ``GenerateContentResponse`` (a streamed chunk, or a whole answer converted with
    ``gemini_chunk``), or an ``{"error": ...}`` chunk in its place."""

    candidates: list[GeminiCandidate] | None = None
    usage_metadata: GeminiUsage | None = None
    model_version: Any = None
    response_id: Any = None
    prompt_feedback: Any = None
    error: Any = None


# --- Ollama --------------------------------------------------------------------------------------


class OllamaMessage(_Wire):
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # each call whole, read as a whole answer's


class OllamaLine(_Wire):
    """One line of ``/api/chat``'s stream; the last (``done``) carries the usage."""

    message: OllamaMessage | None = None
    done: Any = None
    error: Any = None
    model: Any = None
    done_reason: Any = None
    prompt_eval_count: Any = None
    eval_count: Any = None


CHAT = msgspec.json.Decoder(ChatChunk)
RESPONSES = msgspec.json.Decoder(ResponsesEvent)
ANTHROPIC = msgspec.json.Decoder(AnthropicEvent)
GEMINI = msgspec.json.Decoder(GeminiChunk)
OLLAMA = msgspec.json.Decoder(OllamaLine)


def reader(decoder: msgspec.json.Decoder[T], provider: str) -> Callable[[bytes], T]:
    """A function reading one event's JSON into ``decoder``'s class (one per streamed answer,
    made by its reader). An event that is not JSON is a ``MalformedResponse`` with the message
    ``_sse.decode`` gives (quoting where it broke); one with a field of another type than the
    class declares, a ``MalformedResponse`` naming the field and quoting the event."""
    decode_typed = decoder.decode

    def read(data: bytes) -> T:
        try:
            return decode_typed(data)
        except msgspec.ValidationError as exc:  # (a subclass of DecodeError: caught first)
            raise unexpected_event(provider, data, exc) from None
        except msgspec.DecodeError:
            return _read_slowly(decoder, data, provider)

    return read


def _read_slowly(decoder: msgspec.json.Decoder[T], data: bytes, provider: str) -> T:
    """An event msgspec does not take as JSON: ``_sse.decode`` raises the usual error for what is
    not JSON at all, and reads what pydantic-core or the standard library still take (a lone
    surrogate escape, half an emoji at a chunk's end, which the loop later mends; ``NaN``),
    which is then converted as the decoder would have read it."""
    value = decode(data, provider)
    try:
        return msgspec.convert(value, decoder.type)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise unexpected_event(provider, data, exc) from None


def gemini_chunk(value: Any) -> GeminiChunk:
    """A whole Gemini answer (the SDK's response dumped to the wire's JSON form) as the class a
    streamed chunk decodes into, so that one reader reads both."""
    return msgspec.convert(value, GeminiChunk)
