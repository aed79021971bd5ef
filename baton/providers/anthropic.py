"""Anthropic's Messages API through the official ``anthropic`` SDK.

Structured output is native: this SDK's ``messages.create`` takes
``output_config={"format": {"type": "json_schema", "schema": ...}}``, so the response schema is
sent there (adapted by the SDK's own ``transform_schema``: objects closed, constraints the API
does not enforce moved into descriptions) and the answer's text is the JSON that Baton
validates. ``native_output=False`` is for models without structured outputs: the schema then goes
into the system prompt (Baton's prompted mode). A forced tool is not used, since Anthropic
refuses forced tool choice together with extended thinking.

Settings: ``temperature`` and ``top_p`` (through ``extra_body``: this SDK's ``create`` no longer
takes them, as the newest models refuse them; older ones still honour them), ``stop``
(``stop_sequences``), ``tool_choice`` ("auto",
"required" -> "any", "none", or a tool's name), ``parallel_tool_calls=False``
(``disable_parallel_tool_use``), ``extra`` (``extra_body``). ``max_tokens`` is required by
Anthropic: the settings' value, else 4096 (plus the thinking budget when thinking is on).
``thinking_budget=N`` enables extended thinking with ``budget_tokens=N`` (0 disables it); without
a budget, ``reasoning_effort`` picks one: minimal 1024, low 2048, medium 8192, high 24576 tokens.
``seed`` has no Anthropic counterpart and is not sent.

Signed thinking blocks (``thinking`` with its ``signature``, ``redacted_thinking``) are kept as
raw dicts in ``ModelResponse.provider_data`` and replayed verbatim ahead of the text and tool_use
blocks, as Anthropic requires across tool rounds.

A streamed ``tool_use`` block's arguments (``input_json_delta``) are emitted piece by piece as
``ToolCallDelta`` events while the call forms.

Answers are read in ``_anthropic_answers.py``: a stream's events by Baton itself, as plain JSON
from the SDK's raw response (see ``_sse``).

``cache=True`` (or the places to cache) marks cache breakpoints (``cache_control``) on the
tools, the system prompt and the conversation so far; see ``AnthropicConfig``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, Literal, get_args

from pydantic_core import from_json, to_json

from ..errors import (
    ConfigError,
    InvalidRequest,
)
from ..events import (
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
from ..models.hosted import HostedTool, WebSearch
from ..output import OutputSpec
from ._anthropic_answers import (
    THINKING_TYPES,
    AnthropicStream,
    from_message,
    mapped_errors,
)
from ._cache import MessageCache, last_message_reach, merge_or_append, message_list
from ._config import ProviderConfig, bounded, missing_extra
from ._hosted import announced
from ._media import b64, media_note, unsupported
from ._sdk import post_prepared, post_streamed
from ._sse import read_events

__all__ = ["AnthropicClient", "AnthropicConfig", "CachePoint"]

Message = dict[str, Any]
Block = dict[str, Any]

DEFAULT_MAX_TOKENS = 4096
EFFORT_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}


CachePoint = Literal["system", "tools", "messages"]
"""A place ``AnthropicConfig(cache=...)`` marks with a cache breakpoint."""
_CACHE_POINTS: tuple[str, ...] = get_args(CachePoint)
_CACHE_TTLS = ("5m", "1h")


def _cache_points(cache: object) -> frozenset[str]:
    """The places ``cache`` names (all of them for ``True``), or a ``ConfigError``."""
    if isinstance(cache, bool):
        return frozenset(_CACHE_POINTS) if cache else frozenset()
    names = (cache,) if isinstance(cache, str) else cache
    if isinstance(names, Collection) and all(isinstance(name, str) for name in names):
        unknown = [name for name in names if name not in _CACHE_POINTS]
        if not unknown:
            return frozenset(names)
    accepted = ", ".join(map(repr, _CACHE_POINTS))
    raise ConfigError(
        f"cache must be True, False, or one or more of {accepted} (the places to mark with a "
        f"cache breakpoint), got {cache!r}"
    )


@dataclass(eq=False)
class AnthropicConfig(ProviderConfig):
    """Anthropic's Messages API. ``ANTHROPIC_API_KEY`` is read when ``api_key`` is not given.

    ``native_output=False`` puts a response schema into the system prompt (prompted mode)
    instead of Anthropic's JSON-schema output, for models without structured outputs.

    Prompt caching: Anthropic caches a prompt's prefix only up to the blocks marked with a
    cache breakpoint (``cache_control``), and Baton marks none unless told. ``cache=True``
    marks the three places worth caching: the tools (the last tool's definition), the system
    prompt, and the conversation so far (the last block of the last message, so the next call,
    e.g. after a tool round, reads the whole conversation from the cache). ``cache`` may
    instead name the places to mark: ``"system"``, ``"tools"``, ``"messages"``, or a collection
    of them (``cache={"system", "tools"}``). That is at most 3 of the 4 breakpoints Anthropic
    allows per request. ``cache_ttl`` (``"5m"``, the API's default, or ``"1h"``) sets how long
    the cached prefix lives. A prefix shorter than the model's minimum (1024 or more tokens) is
    not cached. Cache writes and reads show in ``Usage.cache_write_tokens`` and
    ``Usage.cache_read_tokens``.
    """

    _: KW_ONLY
    native_output: bool = True
    cache: bool | CachePoint | Collection[CachePoint] = False
    cache_ttl: Literal["5m", "1h"] | None = None
    # The places ``cache`` marks, checked and normalized once.
    _cache_points: frozenset[str] = field(init=False, repr=False, default=frozenset())

    provider_name: ClassVar[str] = "anthropic"
    env_keys: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    extra_name: ClassVar[str] = "anthropic"
    hosted_tools: ClassVar[frozenset[str]] = frozenset({"web_search", "code_interpreter"})

    def __post_init__(self) -> None:
        super().__post_init__()
        self._cache_points = _cache_points(self.cache)
        if self.cache_ttl is not None:
            if self.cache_ttl not in _CACHE_TTLS:
                raise ConfigError(
                    f"cache_ttl must be one of {', '.join(map(repr, _CACHE_TTLS))} or None, got "
                    f"{self.cache_ttl!r}"
                )
            if not self._cache_points:
                raise ConfigError(
                    "cache_ttl has no effect without caching: pass cache=True (or the places "
                    "to cache) as well"
                )

    def create_client(self) -> ModelClient:
        return AnthropicClient(self)


# ---------------------------------------------------------------------------------------------
# Events -> Messages API params
# ---------------------------------------------------------------------------------------------


def _source(part: Image | Document) -> dict[str, Any]:
    if part.url is not None:
        return {"type": "url", "url": part.url}
    assert part.data is not None
    media_type = part.media_type or part.default_media_type
    return {"type": "base64", "media_type": media_type, "data": b64(part.data)}


def _part_block(provider: str, part: Part) -> Block | None:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, Data):
        return {"type": "text", "text": to_json(part.value).decode()}
    if isinstance(part, Image):
        return {"type": "image", "source": _source(part)}
    if isinstance(part, Document):
        media_type = part.media_type or part.default_media_type
        if part.data is not None and media_type == "text/plain":
            text = part.data.decode("utf-8", errors="replace")
            return {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": text},
            }
        if media_type != "application/pdf":
            raise unsupported(provider, part, f"only PDF and plain-text documents ({media_type})")
        return {"type": "document", "source": _source(part)}
    if isinstance(part, FileUrl):
        media_type = part.media_type or ""
        if media_type.startswith("image/"):
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        if media_type == "application/pdf":
            return {"type": "document", "source": {"type": "url", "url": part.url}}
        raise unsupported(provider, part, "only images and PDFs can be given by URL")
    raise unsupported(provider, part)


def _user_content(provider: str, parts: tuple[Part, ...]) -> str | list[Block]:
    if len(parts) == 1 and isinstance(parts[0], Text) and parts[0].text:
        return parts[0].text
    return [block for part in parts if (block := _part_block(provider, part)) is not None]


def thinking_blocks(provider_data: Any) -> list[Block]:
    """The signed thinking blocks kept in a response's ``provider_data`` (none if it holds
    something else, e.g. another provider's data)."""
    if not isinstance(provider_data, list):
        return []
    return [
        block
        for block in provider_data
        if isinstance(block, dict) and block.get("type") in THINKING_TYPES
    ]


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = from_json(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _assistant_content(response: ModelResponse) -> list[Block]:
    content = thinking_blocks(response.provider_data)
    if response.text:
        content.append({"type": "text", "text": response.text})
    for call in response.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": _tool_input(call.arguments),
            }
        )
    return content


def _tool_result_content(provider: str, parts: tuple[Part, ...]) -> list[Block]:
    """A result with media as a ``tool_result``'s content: text, images and documents as
    blocks (media a tool result cannot hold, e.g. audio, as its placeholder with a note)."""
    blocks: list[Block] = []
    for part in parts:
        try:
            block = _part_block(provider, part)
        except InvalidRequest:
            block = {"type": "text", "text": media_note(provider, part)}
        if block is not None:
            blocks.append(block)
    return blocks


def _tool_result(call_id: str, content: str | list[Block], *, error: bool = False) -> Block:
    block: Block = {"type": "tool_result", "tool_use_id": call_id, "content": content}
    if error:
        block["is_error"] = True
    return block


def append_anthropic_message(provider: str, messages: list[Message], event: Event) -> None:
    """Convert one conversation event to Messages API messages. User-side items in a row (tool
    results, then a user's text) merge into one user message, as the API needs roles to
    alternate."""
    if isinstance(event, ModelRequest):
        content: str | list[Block] = _user_content(provider, event.parts)
        role = "user"
    elif isinstance(event, ModelResponse):
        if not event.text and not event.tool_calls:
            return  # an empty answer: nothing the API would accept, and nothing to replay
        content, role = _assistant_content(event), "assistant"
    elif isinstance(event, ToolCallResult):
        shown = _tool_result_content(provider, event.parts) if event.parts else event.content
        content, role = [_tool_result(event.call_id, shown)], "user"
    elif isinstance(event, ToolCallError):
        content, role = [_tool_result(event.call_id, event.message, error=True)], "user"
    elif isinstance(event, OutputRejected):
        content, role = event.message, "user"
    elif isinstance(event, HumanMessage) and event.request_id is None and event.text:
        content, role = event.text, "user"
    elif isinstance(event, CompactionSummary):
        content, role = event.message, "user"
    else:
        return
    if content:
        merge_or_append(messages, {"role": role, "content": content})


def _mark_last_message(messages: list[Message], control: Block) -> None:
    """Put a cache breakpoint on the last block of ``messages``' last message (its last block
    that can take one: signed thinking cannot). The message and the block are replaced by
    marked copies: the messages belong to the message cache, and the next call must not find
    this call's breakpoint."""
    if not messages:
        return
    last = messages[-1]
    content = last["content"]
    if isinstance(content, str):
        marked: list[Block] = [{"type": "text", "text": content, "cache_control": control}]
    else:
        at = len(content) - 1
        while at >= 0 and content[at].get("type") in THINKING_TYPES:
            at -= 1
        if at < 0:
            return
        marked = [*content[:at], {**content[at], "cache_control": control}, *content[at + 1 :]]
    messages[-1] = {**last, "content": marked}


CODE_EXECUTION_BETA = "code-execution-2025-08-25"


def _hosted_tool(spec: HostedTool) -> dict[str, Any]:
    """A provider-hosted tool as Anthropic's server tools name it."""
    if spec.kind == "code_interpreter":
        return {"type": "code_execution_20250825", "name": "code_execution"}
    tool: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search"}
    if isinstance(spec, WebSearch) and spec.max_uses is not None:
        tool["max_uses"] = spec.max_uses
    return tool


def _tool_choice(settings: ModelSettings, has_tools: bool) -> dict[str, Any] | None:
    if not has_tools:
        return None
    choice = settings.tool_choice
    if choice == "none":
        return {"type": "none"}
    if choice is None:
        result: dict[str, Any] | None = (
            {"type": "auto"} if settings.parallel_tool_calls is False else None
        )
    elif choice in ("auto", "required"):
        result = {"type": "any" if choice == "required" else "auto"}
    else:
        result = {"type": "tool", "name": choice}
    if result is not None and settings.parallel_tool_calls is False:
        result["disable_parallel_tool_use"] = True
    return result


def _thinking(settings: ModelSettings) -> dict[str, Any] | None:
    budget = settings.thinking_budget
    if budget is None and settings.reasoning_effort is not None:
        budget = EFFORT_BUDGETS[settings.reasoning_effort]
    if budget is None:
        return None
    if budget <= 0:
        return {"type": "disabled"}
    return {"type": "enabled", "budget_tokens": budget}


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


def make_anthropic_client(config: ProviderConfig) -> Any:
    """An ``anthropic.AsyncAnthropic`` for a config (one per config: one connection pool)."""
    try:
        import anthropic
        import msgspec  # noqa: F401  (streamed events are decoded with it: see _wire_chunks)
    except ImportError as exc:
        raise missing_extra(config.provider_name, config.extra_name or "anthropic", exc) from None
    return anthropic.AsyncAnthropic(
        api_key=config.resolved_api_key(),
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
        default_headers=dict(config.headers) if config.headers else None,
    )


class AnthropicClient:
    """Talks to the Messages API through the official ``anthropic`` SDK."""

    def __init__(self, config: AnthropicConfig) -> None:
        self.config = config
        self.sdk = make_anthropic_client(config)
        provider = config.provider_name
        self._cache: MessageCache[Message] = MessageCache(
            lambda messages, event: append_anthropic_message(provider, messages, event),
            reach=last_message_reach,  # merged into the last message
        )
        self._schema: tuple[OutputSpec, dict[str, Any]] | None = None

    async def aclose(self) -> None:
        await self.sdk.close()

    def _output_schema(self, output: OutputSpec) -> dict[str, Any]:
        if self._schema is None or self._schema[0] is not output:
            from anthropic import transform_schema

            self._schema = (output, transform_schema(output.json_schema))
        return self._schema[1]

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        """The keyword arguments for ``messages.create`` (without ``stream``)."""
        config = self.config
        settings = call.settings
        output = call.output
        native = output is not None and output.mode == "native" and config.native_output
        instructions = call.instructions
        if output is not None and output.mode == "native" and not config.native_output:
            prompt = output.prompt_text()
            instructions = f"{instructions}\n\n{prompt}" if instructions else prompt
        thinking = _thinking(settings)
        max_tokens = settings.max_tokens
        if max_tokens is None:
            max_tokens = DEFAULT_MAX_TOKENS + (
                thinking["budget_tokens"] if thinking and thinking["type"] == "enabled" else 0
            )
        request: dict[str, Any] = {
            "model": config.model,
            "max_tokens": max_tokens,
            "messages": message_list(
                self._cache.messages(call.conversation_id, call.messages, call.agent)
            ),
        }
        points = config._cache_points
        control: Block | None = None
        if points:
            control = {"type": "ephemeral"}
            if config.cache_ttl is not None:
                control["ttl"] = config.cache_ttl
        if instructions:
            if control is not None and "system" in points:
                request["system"] = [
                    {"type": "text", "text": instructions, "cache_control": control}
                ]
            else:
                request["system"] = instructions
        if call.tools:
            request["tools"] = [
                {
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.parameters,
                    **({"strict": True} if t.strict else {}),
                }
                for t in call.tools
            ]
            if control is not None and "tools" in points:
                request["tools"][-1]["cache_control"] = control
        if call.hosted:
            request.setdefault("tools", []).extend(_hosted_tool(h) for h in call.hosted)
            if any(h.kind == "code_interpreter" for h in call.hosted):
                request["extra_headers"] = {"anthropic-beta": CODE_EXECUTION_BETA}
        if control is not None and "messages" in points:
            _mark_last_message(request["messages"], control)
        tool_choice = _tool_choice(settings, bool(call.tools))
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        if thinking is not None:
            request["thinking"] = thinking
        if native:
            assert output is not None
            schema = self._output_schema(output)
            request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        if settings.stop:
            request["stop_sequences"] = list(settings.stop)
        # This SDK's create() has no sampling parameters (newer models refuse them): when set,
        # they travel in the body untyped, and a model that refuses them answers with a 400.
        extra_body = {
            key: value
            for key, value in (("temperature", settings.temperature), ("top_p", settings.top_p))
            if value is not None
        }
        extra_body.update(settings.extra)
        if extra_body:
            request["extra_body"] = extra_body
        return request

    @bounded
    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        request = self.build_request(call)
        provider = self.config.provider_name
        async with mapped_errors(provider):
            if not call.settings.stream:
                from anthropic.types import Message

                message = await post_prepared(
                    self.sdk,
                    "/v1/messages",
                    request,
                    cast_to=Message,
                    provider=provider,
                )
                return await announced(from_message(self.config, message), emit)
            request["stream"] = True
            response = await post_streamed(self.sdk, "/v1/messages", request)
            stream = AnthropicStream(provider)
            try:
                await read_events(response, provider, stream.take, emit)
            finally:  # the connection is released even when the answer is abandoned
                await response.aclose()
            return await announced(stream.response(self.config), emit)
