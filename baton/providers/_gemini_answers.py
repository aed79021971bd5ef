"""Reading Gemini's answers (a whole response or the chunks of a stream) into Baton's
``ModelResponse``: text, thoughts, calls with ids Baton gives them, produced files, the parts'
thought signatures to replay, usage, code Gemini ran and its Google searches. It reads the
wire's JSON (camelCase keys, bytes as base64) decoded into ``_wire_chunks.GeminiChunk``: a
streamed chunk as Baton read it off the body, a whole answer as the SDK's typed response dumped
back to that form and converted."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from ..errors import ContentFiltered
from ..events import (
    Event,
    HostedToolCall,
    Media,
    ModelResponse,
    ReasoningChunk,
    TextChunk,
    ToolCall,
    Usage,
)
from ..models.base import valid_data
from ._config import ProviderConfig
from ._gemini_errors import raise_stream_error
from ._hosted import hosted_call, search_results
from ._media import b64, produced_media

if TYPE_CHECKING:
    from ._wire_chunks import GeminiChunk, GeminiPart, GeminiUsage

__all__ = ["GeminiAnswer", "gemini_usage"]

# Finish reasons meaning the answer was withheld under a content policy.
_BLOCKED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "MODEL_ARMOR",
    }
)


def gemini_usage(metadata: GeminiUsage | None) -> Usage:
    """Baton's usage from ``usageMetadata``: output includes the thinking tokens."""
    if metadata is None:
        return Usage(requests=1)
    thoughts = metadata.thoughts_token_count or 0
    return Usage(
        requests=1,
        input_tokens=(metadata.prompt_token_count or 0)
        + (metadata.tool_use_prompt_token_count or 0),
        output_tokens=(metadata.candidates_token_count or 0) + thoughts,
        cache_read_tokens=metadata.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def _decoded(text: str) -> bytes:
    """Bytes from the wire's base64 (standard, or the URL-safe kind protobuf's JSON allows)."""
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _signature(value: Any) -> str | None:
    """A part's thought signature as standard base64."""
    if not isinstance(value, str) or not value:
        return None
    if "-" in value or "_" in value or len(value) % 4:
        return b64(_decoded(value))
    return value


def _produced(part: GeminiPart) -> Media | None:
    """The file an answer's part holds (inline data or a file URI), unless it is a thought."""
    if part.thought:
        return None
    blob = part.inline_data
    if isinstance(blob, dict) and blob.get("data"):
        return produced_media(blob.get("mimeType"), data=_decoded(blob["data"]))
    file = part.file_data
    if isinstance(file, dict) and file.get("fileUri"):
        return produced_media(file.get("mimeType"), url=file["fileUri"])
    return None


class GeminiAnswer:
    """One answer assembled from a response or the chunks of a stream.

    Gemini gives function calls no ids on its own API, so calls get ids that are stable and
    unique in the conversation (``call_<history length>_<n>``). The parts are remembered with
    their thought signatures (base64) in ``provider_data["gemini"]["parts"]`` when there are
    signatures or API call ids to replay: text and thought parts verbatim (unsigned pieces
    merged), calls as ``{"call": index}`` into ``tool_calls``, files (inline data and file
    data the model produced, e.g. images) as ``{"file": index}`` into ``files``. Thought
    images (a model's drafts, marked ``thought``) are not kept.
    """

    def __init__(self, id_prefix: str, provider: str) -> None:
        from ._wire_chunks import GEMINI, reader  # (msgspec: imported once an answer is read)

        self.id_prefix = id_prefix
        self.provider = provider
        self.read = reader(GEMINI, provider)
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.files: list[Media] = []
        # [kind ("text" | "thought" | "call" | "file"), text pieces or call or file index,
        #  signature, api id]
        self.parts: list[list[Any]] = []
        self.keep = False
        self.metadata: GeminiUsage | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.finish_reason: str | None = None
        self.blocked: str | None = None
        self.code_runs: list[list[str]] = []  # [code, output] of each code execution part
        self.grounding: Any = None  # Google Search: the queries and sources of the answer

    def take(self, name: bytes | None, data: bytes) -> list[Event]:
        """Read one streamed chunk (as ``read_events`` hands it over, see ``_sse``); return the
        pieces to stream. An ``{"error": ...}`` chunk is raised as the SDK's ``APIError``, as
        its own reader does."""
        chunk = self.read(data)
        if chunk.error is not None:
            raise_stream_error({"error": chunk.error})
        pieces: list[Event] = []
        for part in self.observe(chunk):
            piece = self.add(part)
            if piece is not None:
                pieces.append(piece)
        return pieces

    def observe(self, response: GeminiChunk) -> list[GeminiPart]:
        """Take a response's metadata (a streamed chunk, or a whole answer converted to the same
        class); return its candidate's parts."""
        if response.usage_metadata is not None:
            self.metadata = response.usage_metadata
        self.model = response.model_version or self.model
        self.response_id = response.response_id or self.response_id
        if response.prompt_feedback is not None:
            feedback = response.prompt_feedback
            reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
            if reason is not None:
                detail = feedback.get("blockReasonMessage")
                self.blocked = f"the prompt was blocked ({reason})" + (
                    f": {detail}" if detail else ""
                )
        candidates = response.candidates
        if not candidates:
            return []
        candidate = candidates[0]
        if candidate.grounding_metadata is not None:
            self.grounding = candidate.grounding_metadata
        if candidate.finish_reason is not None:
            self.finish_reason = str(candidate.finish_reason)
            if self.finish_reason in _BLOCKED:
                flagged = [
                    str(r["category"])
                    for r in candidate.safety_ratings or ()
                    if isinstance(r, dict) and r.get("blocked") and r.get("category") is not None
                ]
                self.blocked = f"the answer was stopped ({self.finish_reason})" + (
                    f": {', '.join(flagged)}" if flagged else ""
                )
        content = candidate.content
        return (content.parts or []) if content is not None else []

    def add(self, part: GeminiPart) -> Event | None:
        """Take one part; return the chunk to stream for it, if any."""
        # The usual streamed part is text alone: the other kinds are absent (None).
        signature = None
        if part.thought_signature is not None:
            signature = _signature(part.thought_signature)
            self.keep = self.keep or signature is not None
        if part.function_call is not None and isinstance(part.function_call, dict):
            call = part.function_call
            index = len(self.calls)
            api_id = call.get("id")
            self.calls.append(
                ToolCall(
                    api_id or f"{self.id_prefix}{index}",
                    call.get("name") or "",
                    to_json(valid_data(call.get("args") or {})).decode(),
                )
            )
            self.keep = self.keep or bool(api_id)
            self.parts.append(["call", index, signature, bool(api_id)])
            return None
        if part.executable_code is not None and isinstance(part.executable_code, dict):
            # Gemini ran code itself (the code execution tool)
            self.code_runs.append([part.executable_code.get("code") or "", ""])
            return None
        if part.code_execution_result is not None and isinstance(part.code_execution_result, dict):
            if not self.code_runs:
                self.code_runs.append(["", ""])
            self.code_runs[-1][1] += part.code_execution_result.get("output") or ""
            return None
        if part.inline_data is not None or part.file_data is not None:
            media = _produced(part)
            if media is not None:
                self.parts.append(["file", len(self.files), signature, False])
                self.files.append(media)
                return None
        text = part.text or ""
        if not text and signature is None:
            return None  # empty, or a kind of part Baton does not use
        thought = bool(part.thought)
        kind = "thought" if thought else "text"
        (self.thoughts if thought else self.text).append(text)
        last = self.parts[-1] if self.parts else None
        if signature is None and last is not None and last[0] == kind and last[2] is None:
            last[1].append(text)
        else:
            self.parts.append([kind, [text], signature, False])
        if not text:
            return None
        return ReasoningChunk(text) if thought else TextChunk(text)

    def provider_data(self) -> dict[str, Any] | None:
        if not self.keep:
            return None
        parts: list[dict[str, Any]] = []
        for kind, value, signature, api_id in self.parts:
            entry: dict[str, Any] = (
                {kind: value} if kind in ("call", "file") else {"text": "".join(value)}
            )
            if kind == "thought":
                entry["thought"] = True
            if signature is not None:
                entry["signature"] = signature
            if api_id:
                entry["api_id"] = True
            parts.append(entry)
        return {"gemini": {"parts": parts}}

    def response(self, config: ProviderConfig) -> ModelResponse:
        provider = config.provider_name
        if self.blocked is not None:
            raise ContentFiltered(f"{provider}: {self.blocked}", provider=provider)
        return ModelResponse(
            text="".join(self.text),
            tool_calls=tuple(self.calls),
            usage=config.priced(gemini_usage(self.metadata)),
            finish_reason=self.finish_reason,
            model=self.model or config.model,
            provider=provider,
            reasoning="".join(self.thoughts),
            provider_data=self.provider_data(),
            response_id=self.response_id,
            files=tuple(self.files),
            hosted_calls=self.hosted_calls(),
        )

    def hosted_calls(self) -> tuple[HostedToolCall, ...]:
        """The code Gemini ran and the Google searches it made, as ``HostedToolCall`` s."""
        calls = [
            hosted_call(f"code_{i}", "code_interpreter", "code_execution", code, output)
            for i, (code, output) in enumerate(self.code_runs)
        ]
        grounding = self.grounding if isinstance(self.grounding, dict) else {}
        queries = list(grounding.get("webSearchQueries") or ())
        if queries:
            chunks = [c for c in grounding.get("groundingChunks") or () if isinstance(c, dict)]
            sources = (
                (web.get("title") or "", web.get("uri") or "")
                for web in (c.get("web") for c in chunks)
                if isinstance(web, dict)
            )
            calls.append(
                hosted_call(
                    "search_0", "web_search", "google_search", queries, search_results(sources)
                )
            )
        return tuple(calls)
