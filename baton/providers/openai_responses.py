"""OpenAI's Responses API (``/v1/responses``): reasoning items carried across turns, typed
stream events, and every endpoint that speaks it through ``base_url`` and ``headers``."""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from pydantic_core import to_json

from ..errors import ConfigError, ConnectionLost, InvalidRequest
from ..events import (
    Audio,
    CompactionSummary,
    Data,
    Document,
    Event,
    FileUrl,
    HostedToolCall,
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
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelSettings
from ..models.hosted import FileSearch, HostedTool
from ._cache import MessageCache
from ._config import ProviderConfig, bounded
from ._errors import malformed
from ._hosted import announced, hosted_call, search_results
from ._media import data_url, document_name, media_note, unsupported
from ._openai_common import (
    ServiceTier,
    add_cache_and_tier,
    check_cache_and_tier,
    make_openai_client,
    mapped_errors,
    response_error,
    strict_schema,
)
from ._sdk import post_prepared

__all__ = ["OpenAIResponsesClient", "OpenAIResponsesConfig"]

Item = dict[str, Any]

# Where a ModelResponse keeps the raw reasoning items to replay (in ``provider_data``).
REASONING_KEY = "openai_reasoning_items"


@dataclass(eq=False)
class OpenAIResponsesConfig(ProviderConfig):
    """OpenAI's Responses API. ``OPENAI_API_KEY`` is read when ``api_key`` is not given.

    Nothing is stored at OpenAI by default (``store=False``): the whole conversation is sent on
    every call, and reasoning models' reasoning comes back encrypted
    (``include_encrypted_reasoning``) so that it can be replayed on the next call. Models without
    reasoning may reject that request: set ``include_encrypted_reasoning=False`` for them.
    ``native_output=False`` puts a response schema in the instructions instead of ``text.format``.

    OpenAI caches long prompt prefixes by itself; ``prompt_cache_key`` (sent when set) groups
    requests that share a prefix (e.g. one key per agent or tenant) so that they land on the
    same cache and hit it more often. ``service_tier`` (``"auto"``, ``"default"``, ``"flex"``,
    ``"scale"``, ``"priority"``) picks the processing tier, sent when set. Cached prompt tokens
    show in ``Usage.cache_read_tokens``.
    """

    _: KW_ONLY
    native_output: bool = True
    store: bool = False
    include_encrypted_reasoning: bool = True
    prompt_cache_key: str | None = None
    service_tier: ServiceTier | str | None = None

    provider_name: ClassVar[str] = "openai"
    env_keys: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    extra_name: ClassVar[str] = "openai"
    hosted_tools: ClassVar[frozenset[str]] = frozenset(
        {"web_search", "code_interpreter", "file_search"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_cache_and_tier(self)

    def create_client(self) -> ModelClient:
        return OpenAIResponsesClient(self)


# ---------------------------------------------------------------------------------------------
# Events -> input items
# ---------------------------------------------------------------------------------------------


def _user_content(provider: str, parts: tuple[Part, ...]) -> str | list[Item]:
    if len(parts) == 1 and isinstance(parts[0], Text):
        return parts[0].text
    content: list[Item] = []
    for part in parts:
        if isinstance(part, Text):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, Data):
            content.append({"type": "input_text", "text": to_json(part.value).decode()})
        elif isinstance(part, Image):
            content.append({"type": "input_image", "image_url": data_url(part), "detail": "auto"})
        elif isinstance(part, Document):
            if part.url is not None:
                content.append({"type": "input_file", "file_url": part.url})
            else:
                content.append(
                    {
                        "type": "input_file",
                        "filename": document_name(part.media_type),
                        "file_data": data_url(part),
                    }
                )
        elif isinstance(part, FileUrl):
            if (part.media_type or "").startswith("image/"):
                content.append({"type": "input_image", "image_url": part.url, "detail": "auto"})
            else:
                content.append({"type": "input_file", "file_url": part.url})
        elif isinstance(part, Audio):
            raise unsupported(provider, part, "use OpenAIConfig (Chat Completions) for audio")
        else:
            raise unsupported(provider, part)
    return content


def _tool_output(provider: str, parts: tuple[Part, ...]) -> list[Item]:
    """A result with media as a function call's output: text, images and files as input
    items (audio, which an output cannot hold, as its placeholder with a note)."""
    output: list[Item] = []
    for part in parts:
        if isinstance(part, Text):
            if part.text:
                output.append({"type": "input_text", "text": part.text})
            continue
        try:
            items = _user_content(provider, (part,))
        except InvalidRequest:
            output.append({"type": "input_text", "text": media_note(provider, part)})
            continue
        assert isinstance(items, list)
        output.extend(items)
    return output


def _reasoning_items(event: ModelResponse, provider: str, store: bool) -> list[Item]:
    """The raw reasoning items of one of our responses that can be sent back. Without storage
    at OpenAI an item is only usable with its encrypted content."""
    data = event.provider_data
    if event.provider != provider or not isinstance(data, dict):
        return []
    items = data.get(REASONING_KEY) or ()
    return [
        dict(item)
        for item in items
        if isinstance(item, dict) and (store or item.get("encrypted_content"))
    ]


def append_input_items(provider: str, store: bool, items: list[Item], event: Event) -> None:
    """Convert one conversation event to Responses input items (most convert to none)."""
    if isinstance(event, ModelRequest):
        items.append({"role": "user", "content": _user_content(provider, event.parts)})
    elif isinstance(event, ModelResponse):
        if not event.text and not event.tool_calls:
            return  # a reasoning item must be followed by the output it led to
        # Reasoning comes first, as the API emits it: before the message and calls it led to.
        items.extend(_reasoning_items(event, provider, store))
        if event.text:
            items.append(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": event.text}],
                }
            )
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in event.tool_calls
        )
    elif isinstance(event, ToolCallResult):
        output = _tool_output(provider, event.parts) if event.parts else event.content
        items.append({"type": "function_call_output", "call_id": event.call_id, "output": output})
    elif isinstance(event, ToolCallError):
        items.append(
            {"type": "function_call_output", "call_id": event.call_id, "output": event.message}
        )
    elif isinstance(event, OutputRejected):
        items.append({"role": "user", "content": event.message})
    elif isinstance(event, HumanMessage) and event.request_id is None and event.text:
        items.append({"role": "user", "content": event.text})
    elif isinstance(event, CompactionSummary):
        items.append({"role": "user", "content": event.message})


# ---------------------------------------------------------------------------------------------
# Answers -> Baton
# ---------------------------------------------------------------------------------------------


def responses_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage(requests=1)
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return Usage(
        requests=1,
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_read_tokens=getattr(input_details, "cached_tokens", 0) or 0,
        cache_write_tokens=getattr(input_details, "cache_write_tokens", 0) or 0,
        reasoning_tokens=getattr(output_details, "reasoning_tokens", 0) or 0,
    )


def _raw(item: Any) -> Item:
    """An SDK item as the plain dict sent back verbatim (absent and null fields left out)."""
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if v is not None}
    raw: Item = item.to_dict(mode="json", exclude_none=True)
    return raw


class _Streamed:
    """What a stream delivered piece by piece, for when the final response omits it."""

    __slots__ = ("calls", "done", "text", "thoughts")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # output_index -> [call_id, name, argument pieces]
        self.done: dict[int, Any] = {}  # output_index -> item from response.output_item.done

    def call(self, index: int) -> list[Any]:
        return self.calls.setdefault(index, [None, None, []])


def _delta(slot: list[Any], index: int, piece: str) -> ToolCallDelta:
    """The streamed piece ``piece`` of the call in ``slot`` (at ``output_index`` ``index``)."""
    return ToolCallDelta(slot[0] or f"call_{index}", slot[1] or "", piece)


def _finish_reason(response: Any, has_calls: bool, refused: bool) -> str:
    if getattr(response, "status", None) == "incomplete":
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        return {"max_output_tokens": "length"}.get(reason or "", reason or "incomplete")
    if refused:
        return "refusal"
    return "tool_calls" if has_calls else "stop"


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


def _hosted_tool(spec: HostedTool) -> dict[str, Any]:
    """A provider-hosted tool as the Responses API names it."""
    if isinstance(spec, FileSearch):
        tool: dict[str, Any] = {
            "type": "file_search",
            "vector_store_ids": list(spec.vector_store_ids),
        }
        if spec.max_results is not None:
            tool["max_num_results"] = spec.max_results
        return tool
    if spec.kind == "code_interpreter":
        return {"type": "code_interpreter", "container": {"type": "auto"}}
    return {"type": "web_search"}


_HOSTED_ITEMS = {
    "web_search_call": "web_search",
    "code_interpreter_call": "code_interpreter",
    "file_search_call": "file_search",
}


def _hosted_call(item: Any, kind: str) -> HostedToolCall:
    """A hosted tool's output item as a ``HostedToolCall``."""
    if kind == "web_search_call":
        action = getattr(item, "action", None)
        given = getattr(action, "query", None) or getattr(action, "url", None)
        sources = getattr(action, "sources", None) or ()
        output = search_results(("", getattr(s, "url", "") or "") for s in sources)
    elif kind == "code_interpreter_call":
        given = getattr(item, "code", None)
        outputs = getattr(item, "outputs", None) or ()
        output = "\n".join(
            getattr(o, "logs", None) or getattr(o, "url", None) or "" for o in outputs
        )
    else:
        given = list(getattr(item, "queries", None) or ())
        results = getattr(item, "results", None) or ()
        output = search_results(
            (getattr(r, "filename", "") or "", getattr(r, "file_id", "") or "") for r in results
        )
    return hosted_call(getattr(item, "id", "") or "", _HOSTED_ITEMS[kind], kind, given, output)


def _tool_choice(choice: str | None, has_tools: bool) -> Any:
    if choice is None or not has_tools:
        return None
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "name": choice}


class OpenAIResponsesClient:
    """Talks to a Responses endpoint through the official ``openai`` SDK."""

    def __init__(self, config: OpenAIResponsesConfig) -> None:
        self.config = config
        self.sdk = make_openai_client(config)
        provider, store = config.provider_name, config.store
        self._cache: MessageCache[Item] = MessageCache(
            lambda items, event: append_input_items(provider, store, items, event)
        )

    async def aclose(self) -> None:
        await self.sdk.close()

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        """The keyword arguments for ``responses.create`` (without ``stream``)."""
        config = self.config
        settings: ModelSettings = call.settings
        for name in ("stop", "seed"):
            if getattr(settings, name) is not None:
                raise ConfigError(
                    f"the OpenAI Responses API has no {name!r} setting: remove it, or use "
                    "OpenAIConfig (Chat Completions)"
                )
        instructions = call.instructions
        output = call.output
        native = output is not None and output.mode == "native"
        if output is not None and native and not config.native_output:
            prompt = output.prompt_text()
            instructions = f"{instructions}\n\n{prompt}" if instructions else prompt
        request: dict[str, Any] = {
            "model": config.model,
            "input": list(self._cache.messages(call.conversation_id, call.messages, call.agent)),
            "store": config.store,
        }
        if instructions:
            request["instructions"] = instructions
        if not config.store and config.include_encrypted_reasoning:
            request["include"] = ["reasoning.encrypted_content"]
        if call.tools:
            request["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": bool(t.strict),
                }
                for t in call.tools
            ]
            if settings.parallel_tool_calls is not None:
                request["parallel_tool_calls"] = settings.parallel_tool_calls
        if call.hosted:
            request.setdefault("tools", []).extend(_hosted_tool(h) for h in call.hosted)
        tool_choice = _tool_choice(settings.tool_choice, bool(call.tools))
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        if output is not None and native and config.native_output:
            schema, strict = strict_schema(output.json_schema)
            name = re.sub(r"[^a-zA-Z0-9_-]", "_", output.name)[:64]
            request["text"] = {
                "format": {"type": "json_schema", "name": name, "schema": schema, "strict": strict}
            }
        if settings.reasoning_effort is not None:
            request["reasoning"] = {"effort": settings.reasoning_effort, "summary": "auto"}
        for key, value in (
            ("temperature", settings.temperature),
            ("top_p", settings.top_p),
            ("max_output_tokens", settings.max_tokens),
        ):
            if value is not None:
                request[key] = value
        add_cache_and_tier(request, config)
        if settings.extra:
            request["extra_body"] = dict(settings.extra)
        return request

    @bounded
    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        request = self.build_request(call)
        from openai import AsyncStream
        from openai.types.responses import Response, ResponseStreamEvent

        async with mapped_errors(self.config.provider_name):
            if not call.settings.stream:
                response = await post_prepared(
                    self.sdk,
                    "/responses",
                    request,
                    cast_to=Response,
                    stream=False,
                    stream_cls=None,
                    provider=self.config.provider_name,
                )
                return await announced(self._from_response(response, None), emit)
            request["stream"] = True
            stream = await post_prepared(
                self.sdk,
                "/responses",
                request,
                cast_to=Response,
                stream=True,
                stream_cls=AsyncStream[ResponseStreamEvent],
                provider=self.config.provider_name,
            )
            async with stream:  # the connection is released even when an event ends the answer
                return await announced(await self._from_stream(stream, emit), emit)

    async def _from_stream(self, stream: Any, emit: EmitChunk) -> ModelResponse:
        provider = self.config.provider_name
        streamed = _Streamed()
        final: Any = None
        async for event in stream:
            kind = getattr(event, "type", None)
            if kind in ("response.output_text.delta", "response.refusal.delta"):
                if event.delta:
                    streamed.text.append(event.delta)
                    await emit(TextChunk(event.delta))
            elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                if event.delta:
                    streamed.thoughts.append(event.delta)
                    await emit(ReasoningChunk(event.delta))
            elif kind == "response.output_item.added":
                item = event.item
                if getattr(item, "type", None) == "function_call":
                    slot = streamed.call(event.output_index)
                    slot[0], slot[1] = item.call_id, item.name
                    if item.arguments:
                        slot[2] = [item.arguments]
                        await emit(_delta(slot, event.output_index, item.arguments))
            elif kind == "response.function_call_arguments.delta":
                slot = streamed.call(event.output_index)
                if event.delta:
                    slot[2].append(event.delta)
                    await emit(_delta(slot, event.output_index, event.delta))
            elif kind == "response.function_call_arguments.done":
                slot = streamed.call(event.output_index)
                sent, final_arguments = "".join(slot[2]), event.arguments or ""
                if final_arguments.startswith(sent) and len(final_arguments) > len(sent):
                    # Arguments the deltas left out: the pieces still add up to the call.
                    await emit(_delta(slot, event.output_index, final_arguments[len(sent) :]))
                slot[2] = [final_arguments]
            elif kind == "response.output_item.done":
                streamed.done[event.output_index] = event.item
            elif kind in ("response.completed", "response.incomplete"):
                final = event.response
            elif kind == "response.failed":
                error = getattr(event.response, "error", None)
                raise response_error(
                    provider, getattr(error, "code", None), getattr(error, "message", None)
                )
            elif kind == "error":
                raise response_error(
                    provider, getattr(event, "code", None), getattr(event, "message", None)
                )
        if final is None:
            raise ConnectionLost(
                f"the {provider} stream ended before the response was complete", provider=provider
            )
        return self._from_response(final, streamed)

    def _from_response(self, response: Any, streamed: _Streamed | None) -> ModelResponse:
        """A ModelResponse from a finished response object. Its ``output`` is authoritative;
        what a stream delivered fills in whatever it left out."""
        provider = self.config.provider_name
        if getattr(response, "status", None) == "failed":
            error = getattr(response, "error", None)
            raise response_error(
                provider, getattr(error, "code", None), getattr(error, "message", None)
            )
        if streamed is None and not isinstance(getattr(response, "output", None), list):
            raise malformed(provider, f"a response without output: {response.to_json(indent=None)}")
        output = list(getattr(response, "output", None) or ())
        if not output and streamed is not None:
            output = [streamed.done[index] for index in sorted(streamed.done)]
        text: list[str] = []
        summaries: list[str] = []
        calls: list[ToolCall] = []
        reasoning: list[Item] = []
        hosted: list[HostedToolCall] = []
        has_message = refused = False
        for item in output:
            kind = getattr(item, "type", None)
            if kind == "message":
                has_message = True
                for part in getattr(item, "content", None) or ():
                    if part.type == "output_text":
                        text.append(part.text)
                    elif part.type == "refusal":
                        text.append(part.refusal)
                        refused = True
            elif kind == "reasoning":
                reasoning.append(_raw(item))
                summaries.extend(s.text for s in getattr(item, "summary", None) or ())
                summaries.extend(c.text for c in getattr(item, "content", None) or ())
            elif kind == "function_call":
                calls.append(ToolCall(item.call_id, item.name, item.arguments or "{}"))
            elif kind in _HOSTED_ITEMS:
                hosted.append(_hosted_call(item, kind))
        if streamed is not None:
            if not has_message:
                text = streamed.text
            if not calls:
                calls = [
                    ToolCall(slot[0] or f"call_{index}", slot[1] or "", "".join(slot[2]) or "{}")
                    for index, slot in sorted(streamed.calls.items())
                ]
            if not summaries and streamed.thoughts:
                summaries = ["".join(streamed.thoughts)]
        return ModelResponse(
            text="".join(text),
            tool_calls=tuple(calls),
            usage=self.config.priced(responses_usage(getattr(response, "usage", None))),
            finish_reason=_finish_reason(response, bool(calls), refused),
            model=getattr(response, "model", None),
            provider=provider,
            reasoning="\n\n".join(summaries),
            provider_data={REASONING_KEY: reasoning} if reasoning else None,
            response_id=getattr(response, "id", None) or None,
            hosted_calls=tuple(hosted),
        )
