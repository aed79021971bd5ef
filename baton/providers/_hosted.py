"""Provider-hosted tool calls read from each provider's answer, as ``HostedToolCall`` events.

Each adapter finds the calls in its own format (Responses output items, Anthropic server-tool
blocks, Gemini code parts and grounding metadata); this module turns what they carry into short
text, the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic_core import to_json

from ..events import HostedToolCall, ModelResponse
from ..models.base import EmitChunk
from ._errors import raised_by_caller

__all__ = ["announced", "as_text", "hosted_call", "search_results"]

_OUTPUT_LIMIT = 4000


def as_text(value: Any) -> str:
    """Strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_json(value, fallback=str).decode()


def search_results(results: Iterable[tuple[str, str]]) -> str:
    """(title, url) pairs as one line each."""
    return "\n".join(f"{title} - {url}" if title else url for title, url in results if url)


def hosted_call(call_id: str, kind: str, name: str, given: Any, output: Any) -> HostedToolCall:
    text = as_text(output)
    if len(text) > _OUTPUT_LIMIT:
        text = text[:_OUTPUT_LIMIT] + "…"
    return HostedToolCall(call_id, kind, name, as_text(given), text)


async def announced(response: ModelResponse, emit: EmitChunk) -> ModelResponse:
    """``response``, after its hosted tool calls went out on the stream (transiently: the
    response itself keeps them)."""
    for call in response.hosted_calls:
        try:
            await emit(call)
        except Exception as exc:
            raised_by_caller(exc)  # the caller's failure, not the connection's (see _errors)
            raise
    return response
