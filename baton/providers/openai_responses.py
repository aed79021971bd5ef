"""OpenAI's Responses API (``/v1/responses``): reasoning items carried across turns, typed
stream events, and every endpoint that speaks it through ``base_url`` and ``headers``."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
from ._cache import MessageCache, message_list
from ._config import ProviderConfig, bounded
from ._errors import malformed, unexpected_event
from ._hosted import announced, hosted_call, search_results
from ._media import data_url, document_name, media_note, unsupported
from ._openai_common import (
    ServiceTier,
    add_cache_and_tier,
    check_cache_and_tier,
    make_openai_client,
    mapped_errors,
    response_error,
    stream_error,
    strict_schema,
)
from ._sdk import post_prepared, post_streamed
from ._sse import field, read_events

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
    """Baton's usage from a response's ``usage`` (an SDK object or plain JSON)."""
    if usage is None:
        return Usage(requests=1)
    input_details = field(usage, "input_tokens_details")
    output_details = field(usage, "output_tokens_details")
    return Usage(
        requests=1,
        input_tokens=field(usage, "input_tokens") or 0,
        output_tokens=field(usage, "output_tokens") or 0,
        cache_read_tokens=field(input_details, "cached_tokens") or 0,
        cache_write_tokens=field(input_details, "cache_write_tokens") or 0,
        reasoning_tokens=field(output_details, "reasoning_tokens") or 0,
    )


def _raw(item: Any) -> Item:
    """An item (plain JSON or an SDK object) as the plain dict sent back verbatim (absent and
    null fields left out)."""
    if isinstance(item, dict):
        return _without_nulls(item)  # type: ignore[no-any-return]
    raw: Item = item.to_dict(mode="json", exclude_none=True)
    return raw


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class _Streamed:
    """A response assembled from its stream's events, as ``read_events`` hands them over (each
    event's JSON decoded into the fields read, see ``_wire_chunks``): ``take`` reads one and
    returns the pieces to stream; ``final`` is the finished response its last event carries,
    and the rest what the stream delivered piece by piece, for when that response omits it."""

    __slots__ = ("calls", "done", "final", "provider", "read", "text", "thoughts")

    def __init__(self, provider: str) -> None:
        from ._wire_chunks import RESPONSES, reader  # (msgspec: imported once a stream is read)

        self.provider = provider
        self.read = reader(RESPONSES, provider)
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # output_index -> [call_id, name, argument pieces]
        self.done: dict[int, Any] = {}  # output_index -> item from response.output_item.done
        self.final: Item | None = None  # the response of response.completed / .incomplete

    def call(self, index: int) -> list[Any]:
        return self.calls.setdefault(index, [None, None, []])

    def take(self, name: bytes | None, data: bytes) -> Sequence[Event] | None:
        """Read one event's data; None at ``[DONE]``, the end of the answer."""
        if data[:6] == b"[DONE]":
            return None
        provider = self.provider
        event = self.read(data)
        if event.error:  # an error payload in place of an event
            raise stream_error(provider, event.error)
        kind = event.type
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            delta = event.delta
            if delta.__class__ is not str:  # (the hot path: one check, no call)
                delta = _piece(provider, delta, data)
            if delta:
                self.text.append(delta)
                return (TextChunk(delta),)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = _piece(provider, event.delta, data)
            if delta:
                self.thoughts.append(delta)
                return (ReasoningChunk(delta),)
        elif kind == "response.output_item.added":
            item = event.item
            if isinstance(item, dict) and item.get("type") == "function_call":
                index = _index(provider, event.output_index, data)
                slot = self.call(index)
                slot[0], slot[1] = item.get("call_id"), item.get("name")
                arguments = item.get("arguments")
                if arguments and isinstance(arguments, str):
                    slot[2] = [arguments]
                    return (_delta(slot, index, arguments),)
        elif kind == "response.function_call_arguments.delta":
            index = _index(provider, event.output_index, data)
            slot = self.call(index)
            delta = _piece(provider, event.delta, data)
            if delta:
                slot[2].append(delta)
                return (_delta(slot, index, delta),)
        elif kind == "response.function_call_arguments.done":
            index = _index(provider, event.output_index, data)
            slot = self.call(index)
            final_arguments = event.arguments or ""
            if not isinstance(final_arguments, str):
                raise unexpected_event(provider, data)
            sent = "".join(slot[2])
            slot[2] = [final_arguments]
            if final_arguments.startswith(sent) and len(final_arguments) > len(sent):
                # Arguments the deltas left out: the pieces still add up to the call.
                return (_delta(slot, index, final_arguments[len(sent) :]),)
        elif kind == "response.output_item.done":
            self.done[_index(provider, event.output_index, data)] = event.item
        elif kind in ("response.completed", "response.incomplete"):
            final = event.response
            if not isinstance(final, dict):
                raise unexpected_event(provider, data)
            self.final = final
        elif kind == "response.failed":
            error = field(event.response, "error")
            raise response_error(provider, field(error, "code"), field(error, "message"))
        elif kind == "error":
            raise response_error(provider, event.code, event.message)
        return ()


def _string(value: Any) -> str:
    """A text field of a finished response: a string, or empty when the field is missing or of
    another type."""
    return value if isinstance(value, str) else ""


def _piece(provider: str, delta: Any, data: bytes) -> str:
    """A delta event's text piece (empty when absent)."""
    if delta is None or isinstance(delta, str):
        return delta or ""
    raise unexpected_event(provider, data)


def _index(provider: str, index: Any, data: bytes) -> int:
    """The ``output_index`` of an event about one output item."""
    if isinstance(index, int):
        return index
    raise unexpected_event(provider, data)


def _delta(slot: list[Any], index: int, piece: str) -> ToolCallDelta:
    """The streamed piece ``piece`` of the call in ``slot`` (at ``output_index`` ``index``)."""
    return ToolCallDelta(slot[0] or f"call_{index}", slot[1] or "", piece)


def _finish_reason(response: Any, has_calls: bool, refused: bool) -> str:
    if field(response, "status") == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
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
    """A hosted tool's output item (plain JSON from a stream, or the SDK's object) as a
    ``HostedToolCall``; fields of another type than expected are read as absent."""
    if kind == "web_search_call":
        action = field(item, "action")
        given = field(action, "query") or field(action, "url")
        output = search_results(("", _string(field(s, "url"))) for s in _items(action, "sources"))
    elif kind == "code_interpreter_call":
        given = field(item, "code")
        output = "\n".join(
            _string(field(o, "logs")) or _string(field(o, "url")) for o in _items(item, "outputs")
        )
    else:
        given = _items(item, "queries")
        output = search_results(
            (_string(field(r, "filename")), _string(field(r, "file_id")))
            for r in _items(item, "results")
        )
    return hosted_call(_string(field(item, "id")), _HOSTED_ITEMS[kind], kind, given, output)


def _items(value: Any, name: str) -> list[Any]:
    """A list field of a hosted tool's item (empty when absent or of another type)."""
    found = field(value, name)
    return found if isinstance(found, list) else []


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
                return await announced(self._from_response(response, None), emit)
            request["stream"] = True
            http = await post_streamed(self.sdk, "/responses", request)
            streamed = _Streamed(provider)
            try:
                await read_events(http, provider, streamed.take, emit)
            finally:  # the connection is released even when an event ends the answer
                await http.aclose()
            if streamed.final is None:
                raise ConnectionLost(
                    f"the {provider} stream ended before the response was complete",
                    provider=provider,
                )
            return await announced(self._from_response(streamed.final, streamed), emit)

    def _from_response(self, response: Any, streamed: _Streamed | None) -> ModelResponse:
        """A ModelResponse from a finished response (an SDK object, or the plain JSON of a
        stream's last event). Its ``output`` is authoritative; what a stream delivered fills in
        whatever it left out."""
        provider = self.config.provider_name
        if field(response, "status") == "failed":
            error = field(response, "error")
            raise response_error(provider, field(error, "code"), field(error, "message"))
        if streamed is None and not isinstance(field(response, "output"), list):
            raise malformed(provider, f"a response without output: {response.to_json(indent=None)}")
        output = field(response, "output")
        output = list(output) if isinstance(output, list) else []
        if not output and streamed is not None:
            output = [streamed.done[index] for index in sorted(streamed.done)]
        text: list[str] = []
        summaries: list[str] = []
        calls: list[ToolCall] = []
        reasoning: list[Item] = []
        hosted: list[HostedToolCall] = []
        has_message = refused = False
        for item in output:
            kind = field(item, "type")
            if kind == "message":
                has_message = True
                for part in field(item, "content") or ():
                    part_type = field(part, "type")
                    if part_type == "output_text":
                        text.append(_string(field(part, "text")))
                    elif part_type == "refusal":
                        text.append(_string(field(part, "refusal")))
                        refused = True
            elif kind == "reasoning":
                reasoning.append(_raw(item))
                summaries.extend(_string(field(s, "text")) for s in field(item, "summary") or ())
                summaries.extend(_string(field(c, "text")) for c in field(item, "content") or ())
            elif kind == "function_call":
                calls.append(
                    ToolCall(
                        _string(field(item, "call_id")),
                        _string(field(item, "name")),
                        _string(field(item, "arguments")) or "{}",
                    )
                )
            elif isinstance(kind, str) and kind in _HOSTED_ITEMS:
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
            usage=self.config.priced(responses_usage(field(response, "usage"))),
            finish_reason=_finish_reason(response, bool(calls), refused),
            model=field(response, "model"),
            provider=provider,
            reasoning="\n\n".join(summaries),
            provider_data={REASONING_KEY: reasoning} if reasoning else None,
            response_id=field(response, "id") or None,
            hosted_calls=tuple(hosted),
        )
