"""OpenAI's Responses API (``/v1/responses``): reasoning items carried across turns, typed
stream events, and every endpoint that speaks it through ``base_url`` and ``headers``. This is
the request side; its answers are read in ``_responses_answers.py``."""

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
    HumanMessage,
    Image,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    Text,
    ToolCallError,
    ToolCallResult,
)
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelSettings
from ..models.hosted import FileSearch, HostedTool
from ._cache import MessageCache, message_list
from ._config import ProviderConfig, bounded
from ._hosted import announced
from ._media import data_url, document_name, media_note, unsupported
from ._openai_common import (
    ServiceTier,
    add_cache_and_tier,
    check_cache_and_tier,
    make_openai_client,
    mapped_errors,
    strict_schema,
)
from ._responses_answers import REASONING_KEY, StreamedResponse, response_from
from ._sdk import post_prepared, post_streamed
from ._sse import read_events

__all__ = ["OpenAIResponsesClient", "OpenAIResponsesConfig"]

Item = dict[str, Any]


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
            lambda items, event: append_input_items(provider, store, items, event),
            reach=lambda items: 0,  # items are only added
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
            "input": message_list(
                self._cache.messages(call.conversation_id, call.messages, call.agent)
            ),
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
        provider = self.config.provider_name
        async with mapped_errors(provider):
            if not call.settings.stream:
                from openai.types.responses import Response

                response = await post_prepared(
                    self.sdk,
                    "/responses",
                    request,
                    cast_to=Response,
                    provider=provider,
                )
                return await announced(
                    response_from(response, None, provider, self.config.priced), emit
                )
            request["stream"] = True
            http = await post_streamed(self.sdk, "/responses", request)
            streamed = StreamedResponse(provider)
            try:
                await read_events(http, provider, streamed.take, emit)
            finally:  # the connection is released even when an event ends the answer
                await http.aclose()
            if streamed.final is None:
                raise ConnectionLost(
                    f"the {provider} stream ended before the response was complete",
                    provider=provider,
                )
            return await announced(
                response_from(streamed.final, streamed, provider, self.config.priced), emit
            )
