"""Token counting of real content, with tiktoken when its encodings are available offline.

tiktoken downloads its encodings on first use; where that can't happen (no network, no cache)
Baton falls back to an estimate calibrated on English prose and JSON (about 4 characters a token
for prose, denser for code and JSON, with a floor per word). Counts always measure the actual
content of events (text, tool arguments and results), never their repr.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from ..events import (
    CompactionSummary,
    Data,
    Event,
    HumanMessage,
    Media,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Text,
    ToolCallError,
    ToolCallResult,
)
from ..transcript import sent_to_model

__all__ = ["count_tokens", "event_tokens", "events_tokens", "tokenizer"]

_WORDS = re.compile(r"\S+")
# Per-message overhead providers add for roles and separators.
MESSAGE_OVERHEAD = 4
# A rough charge for an image or other media part (providers bill far more for large images).
MEDIA_TOKENS = 256


def _estimate(text: str) -> int:
    if not text:
        return 0
    words = len(_WORDS.findall(text))
    symbols = sum(1 for ch in text if not ch.isalnum() and not ch.isspace())
    # Prose runs ~4 chars/token; punctuation-heavy text (JSON, code) about one token per symbol.
    return max(words, (len(text) + 3) // 4 + symbols // 3)


@functools.cache
def tokenizer(model: str | None = None) -> Callable[[str], int]:
    """A counting function for ``model``: tiktoken's when available offline, else the estimate."""
    try:
        import tiktoken

        try:
            encoding = tiktoken.encoding_for_model(model) if model else None
        except KeyError:
            encoding = None
        encoding = encoding or tiktoken.get_encoding("o200k_base")
    except Exception:
        return _estimate

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def count_tokens(text: str, model: str | None = None) -> int:
    return tokenizer(model)(text)


def event_tokens(event: Event, model: str | None = None) -> int:
    """Tokens the model will read for one event (0 for events providers don't send)."""
    if not sent_to_model(event):
        return 0
    count = tokenizer(model)
    if isinstance(event, ModelRequest):
        total = MESSAGE_OVERHEAD
        for part in event.parts:
            if isinstance(part, Text):
                total += count(part.text)
            elif isinstance(part, Data):
                from pydantic_core import to_json

                total += count(to_json(part.value).decode())
            elif isinstance(part, Media):
                total += MEDIA_TOKENS
            else:
                total += MEDIA_TOKENS
        return total
    if isinstance(event, ModelResponse):
        total = MESSAGE_OVERHEAD + count(event.text) + count(event.reasoning)
        for call in event.tool_calls:
            total += MESSAGE_OVERHEAD + count(call.name) + count(call.arguments)
        return total
    if isinstance(event, ToolCallResult):
        if event.parts:  # media: a flat charge each, never its bytes as text
            return MESSAGE_OVERHEAD + sum(
                count(part.text) if isinstance(part, Text) else MEDIA_TOKENS for part in event.parts
            )
        return MESSAGE_OVERHEAD + count(event.content)
    if isinstance(event, ToolCallError):
        return MESSAGE_OVERHEAD + count(event.message)
    if isinstance(event, OutputRejected | CompactionSummary):
        return MESSAGE_OVERHEAD + count(event.message)
    if isinstance(event, HumanMessage) and event.request_id is None:
        return MESSAGE_OVERHEAD + count(event.text)
    return 0


def events_tokens(events: Iterable[Event], model: str | None = None) -> int:
    return sum(event_tokens(e, model) for e in events)
