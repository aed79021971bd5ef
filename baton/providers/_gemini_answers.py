"""Reading Gemini's answers (a whole response or the chunks of a stream) into Baton's
``ModelResponse``: text, thoughts, calls with ids Baton gives them, produced files, the parts'
thought signatures to replay, usage, code Gemini ran and its Google searches."""

from __future__ import annotations

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
from ._hosted import hosted_call, search_results
from ._media import b64, produced_media

if TYPE_CHECKING:
    from google.genai import types as gt

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


def gemini_usage(metadata: Any) -> Usage:
    """Baton's usage from ``usage_metadata``: output includes the thinking tokens."""
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


def _produced(part: gt.Part) -> Media | None:
    """The file an answer's part holds (inline data or a file URI), unless it is a thought."""
    if part.thought:
        return None
    blob = part.inline_data
    if blob is not None and blob.data:
        return produced_media(blob.mime_type, data=blob.data)
    file = part.file_data
    if file is not None and file.file_uri:
        return produced_media(file.mime_type, url=file.file_uri)
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

    def __init__(self, id_prefix: str) -> None:
        self.id_prefix = id_prefix
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.files: list[Media] = []
        # [kind ("text" | "thought" | "call" | "file"), text pieces or call or file index,
        #  signature, api id]
        self.parts: list[list[Any]] = []
        self.keep = False
        self.metadata: Any = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.finish_reason: str | None = None
        self.blocked: str | None = None
        self.code_runs: list[list[str]] = []  # [code, output] of each code execution part
        self.grounding: Any = None  # Google Search: the queries and sources of the answer

    def observe(self, response: gt.GenerateContentResponse) -> list[gt.Part]:
        """Take a response's metadata; return its candidate's parts."""
        if response.usage_metadata is not None:
            self.metadata = response.usage_metadata
        self.model = response.model_version or self.model
        self.response_id = getattr(response, "response_id", None) or self.response_id
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            reason = str(feedback.block_reason.value)
            detail = feedback.block_reason_message
            self.blocked = f"the prompt was blocked ({reason})" + (f": {detail}" if detail else "")
        candidate = response.candidates[0] if response.candidates else None
        if candidate is None:
            return []
        if getattr(candidate, "grounding_metadata", None) is not None:
            self.grounding = candidate.grounding_metadata
        if candidate.finish_reason is not None:
            self.finish_reason = str(candidate.finish_reason.value)
            if self.finish_reason in _BLOCKED:
                flagged = [
                    str(r.category.value)
                    for r in candidate.safety_ratings or ()
                    if r.blocked and r.category is not None
                ]
                self.blocked = f"the answer was stopped ({self.finish_reason})" + (
                    f": {', '.join(flagged)}" if flagged else ""
                )
        return list(candidate.content.parts or ()) if candidate.content is not None else []

    def add(self, part: gt.Part) -> Event | None:
        """Take one part; return the chunk to stream for it, if any."""
        signature = b64(part.thought_signature) if part.thought_signature else None
        self.keep = self.keep or signature is not None
        call = part.function_call
        if call is not None:
            index = len(self.calls)
            self.calls.append(
                ToolCall(
                    call.id or f"{self.id_prefix}{index}",
                    call.name or "",
                    to_json(valid_data(call.args or {})).decode(),
                )
            )
            self.keep = self.keep or bool(call.id)
            self.parts.append(["call", index, signature, bool(call.id)])
            return None
        code = getattr(part, "executable_code", None)
        if code is not None:  # Gemini ran code itself (the code execution tool)
            self.code_runs.append([code.code or "", ""])
            return None
        result = getattr(part, "code_execution_result", None)
        if result is not None:
            if not self.code_runs:
                self.code_runs.append(["", ""])
            self.code_runs[-1][1] += result.output or ""
            return None
        media = _produced(part)
        if media is not None:
            self.parts.append(["file", len(self.files), signature, False])
            self.files.append(media)
            return None
        text = part.text or ""
        if not text and signature is None:
            return None  # empty, or a kind of part Baton does not use (code execution, ...)
        kind = "thought" if part.thought else "text"
        (self.thoughts if part.thought else self.text).append(text)
        last = self.parts[-1] if self.parts else None
        if signature is None and last is not None and last[0] == kind and last[2] is None:
            last[1].append(text)
        else:
            self.parts.append([kind, [text], signature, False])
        if not text:
            return None
        return ReasoningChunk(text) if part.thought else TextChunk(text)

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
        grounding = self.grounding
        queries = list(getattr(grounding, "web_search_queries", None) or ())
        if queries:
            sources = (
                (getattr(web, "title", "") or "", getattr(web, "uri", "") or "")
                for web in (getattr(c, "web", None) for c in grounding.grounding_chunks or ())
                if web is not None
            )
            calls.append(
                hosted_call(
                    "search_0", "web_search", "google_search", queries, search_results(sources)
                )
            )
        return tuple(calls)
