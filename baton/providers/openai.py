"""OpenAI Chat Completions, and every endpoint that speaks it (vLLM, LM Studio, OpenRouter,
Azure OpenAI's v1 API, ...) through ``base_url`` and ``headers``."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from pydantic_core import to_json

from ..errors import ConnectionLost, InvalidRequest, MalformedResponse
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
from ..redaction import logger
from ._cache import MessageCache, append_tool_message, message_list, tool_message_reach
from ._config import ProviderConfig, bounded
from ._errors import malformed, unexpected_event
from ._media import b64, data_url, document_name, media_note, tool_media_intro, unsupported
from ._openai_common import (
    ServiceTier,
    add_cache_and_tier,
    check_cache_and_tier,
    make_openai_client,
    mapped_errors,
    stream_error,
    strict_schema,
)
from ._sdk import post_prepared, post_streamed
from ._sse import field, read_events

log = logger("baton.providers")

__all__ = ["OpenAIChatClient", "OpenAIConfig"]

Message = dict[str, Any]


@dataclass(eq=False)
class OpenAIConfig(ProviderConfig):
    """OpenAI's Chat Completions API. ``OPENAI_API_KEY`` is read when ``api_key`` is not given.

    ``native_output=False`` is for compatible servers without JSON-schema output: the schema is
    then put in the instructions (Baton's prompted mode) instead.

    OpenAI caches long prompt prefixes by itself; ``prompt_cache_key`` (sent when set) groups
    requests that share a prefix (e.g. one key per agent or tenant) so that they land on the
    same cache and hit it more often. ``service_tier`` (``"auto"``, ``"default"``, ``"flex"``,
    ``"scale"``, ``"priority"``) picks the processing tier, sent when set. Cached prompt tokens
    show in ``Usage.cache_read_tokens``.
    """

    native_output: bool = True
    _: KW_ONLY
    prompt_cache_key: str | None = None
    service_tier: ServiceTier | str | None = None

    provider_name: ClassVar[str] = "openai"
    env_keys: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    extra_name: ClassVar[str] = "openai"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_cache_and_tier(self)

    def create_client(self) -> ModelClient:
        return OpenAIChatClient(self)


def _user_content(provider: str, parts: tuple[Part, ...]) -> str | list[dict[str, Any]]:
    if len(parts) == 1 and isinstance(parts[0], Text):
        return parts[0].text
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, Data):
            content.append({"type": "text", "text": to_json(part.value).decode()})
        elif isinstance(part, Image):
            content.append({"type": "image_url", "image_url": {"url": data_url(part)}})
        elif isinstance(part, Audio):
            if part.data is None:
                raise unsupported(provider, part, "pass the audio bytes (Audio(data=...))")
            audio_format = (part.media_type or "audio/wav").rsplit("/", 1)[-1]
            audio_format = "mp3" if audio_format in ("mpeg", "mp3") else audio_format
            content.append(
                {
                    "type": "input_audio",
                    "input_audio": {"data": b64(part.data), "format": audio_format},
                }
            )
        elif isinstance(part, Document):
            if part.data is None:
                raise unsupported(provider, part, "pass the document bytes (Document(data=...))")
            file = {"filename": document_name(part.media_type), "file_data": data_url(part)}
            content.append({"type": "file", "file": file})
        elif isinstance(part, FileUrl):
            if (part.media_type or "").startswith("image/"):
                content.append({"type": "image_url", "image_url": {"url": part.url}})
            else:
                raise unsupported(provider, part, "only images can be given by URL")
        else:
            raise unsupported(provider, part)
    return content


def _append_media_result(provider: str, messages: list[Message], result: ToolCallResult) -> None:
    """A result with media: tool messages take text only, so the tool message says what the
    result holds (text, and a placeholder per media part) and the media follow in a user
    message (media the API takes nowhere are left as their placeholder, with a note)."""
    media: list[dict[str, Any]] = []
    notes: list[str] = []
    for part in result.parts:
        if isinstance(part, Text):
            continue  # in the tool message
        try:
            items = _user_content(provider, (part,))
        except InvalidRequest:
            notes.append(media_note(provider, part))
            continue
        assert isinstance(items, list)
        media.extend(items)
    text = "\n".join([result.content, *notes])
    if media:
        text += "\n(The media follows in the next message.)"
    append_tool_message(messages, {"role": "tool", "tool_call_id": result.call_id, "content": text})
    if media:
        intro = {"type": "text", "text": tool_media_intro(result)}
        messages.append({"role": "user", "content": [intro, *media]})


def append_chat_message(provider: str, messages: list[Message], event: Event) -> None:
    """Convert one conversation event to Chat Completions messages (most convert to none)."""
    if isinstance(event, ModelRequest):
        messages.append({"role": "user", "content": _user_content(provider, event.parts)})
    elif isinstance(event, ModelResponse):
        message: Message = {"role": "assistant", "content": event.text or None}
        if event.tool_calls and event.reasoning and event.provider == provider:
            # Thinking models behind this API (DeepSeek, Qwen, Kimi...) need their reasoning
            # back across a tool round; other providers' reasoning is never sent here.
            message["reasoning_content"] = event.reasoning
        if event.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in event.tool_calls
            ]
        messages.append(message)
    elif isinstance(event, ToolCallResult):
        if event.parts:
            _append_media_result(provider, messages, event)
        else:
            message = {"role": "tool", "tool_call_id": event.call_id, "content": event.content}
            append_tool_message(messages, message)
    elif isinstance(event, ToolCallError):
        message = {"role": "tool", "tool_call_id": event.call_id, "content": event.message}
        append_tool_message(messages, message)
    elif isinstance(event, OutputRejected):
        messages.append({"role": "user", "content": event.message})
    elif isinstance(event, HumanMessage) and event.request_id is None and event.text:
        messages.append({"role": "user", "content": event.text})
    elif isinstance(event, CompactionSummary):
        messages.append({"role": "user", "content": event.message})


def chat_usage(usage: Any) -> Usage:
    """Baton's usage from an answer's ``usage`` (an SDK object, or the plain JSON of a
    stream)."""
    if usage is None:
        return Usage(requests=1)
    prompt_details = field(usage, "prompt_tokens_details")
    completion_details = field(usage, "completion_tokens_details")
    return Usage(
        requests=1,
        input_tokens=field(usage, "prompt_tokens") or 0,
        output_tokens=field(usage, "completion_tokens") or 0,
        cache_read_tokens=field(prompt_details, "cached_tokens") or 0,
        reasoning_tokens=field(completion_details, "reasoning_tokens") or 0,
    )


def _tool_choice(choice: str | None, has_tools: bool) -> Any:
    if choice is None or not has_tools:
        return None
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _shapeless(provider: str, what: str, answer: Any) -> MalformedResponse:
    shown = answer.to_json(indent=None) if hasattr(answer, "to_json") else to_json(answer).decode()
    return malformed(provider, f"{what} without a list of choices: {shown}")


class OpenAIChatClient:
    """Talks to a Chat Completions endpoint through the official ``openai`` SDK."""

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.sdk = make_openai_client(config)
        provider = config.provider_name
        self._cache: MessageCache[Message] = MessageCache(
            lambda messages, event: append_chat_message(provider, messages, event),
            reach=tool_message_reach,
        )

    async def aclose(self) -> None:
        await self.sdk.close()

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        """The keyword arguments for ``chat.completions.create`` (without ``stream``)."""
        config = self.config
        settings: ModelSettings = call.settings
        history = self._cache.messages(call.conversation_id, call.messages, call.agent)
        instructions = call.instructions
        output = call.output
        if output is not None and output.mode == "native" and not config.native_output:
            instructions = (
                f"{instructions}\n\n{output.prompt_text()}"
                if instructions
                else output.prompt_text()
            )
        messages = (
            message_list(history, {"role": "system", "content": instructions})
            if instructions
            else message_list(history)
        )
        request: dict[str, Any] = {"model": config.model, "messages": messages}
        if call.tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                        **({"strict": True} if t.strict else {}),
                    },
                }
                for t in call.tools
            ]
            if settings.parallel_tool_calls is not None:
                request["parallel_tool_calls"] = settings.parallel_tool_calls
        tool_choice = _tool_choice(settings.tool_choice, bool(call.tools))
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        if output is not None and output.mode == "native" and config.native_output:
            schema, strict = strict_schema(output.json_schema)
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": output.name[:64], "schema": schema, "strict": strict},
            }
        for key, value in (
            ("temperature", settings.temperature),
            ("top_p", settings.top_p),
            ("max_completion_tokens", settings.max_tokens),
            ("stop", list(settings.stop) if settings.stop else None),
            ("seed", settings.seed),
            ("reasoning_effort", settings.reasoning_effort),
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
                from openai.types.chat import ChatCompletion

                completion = await post_prepared(
                    self.sdk,
                    "/chat/completions",
                    request,
                    cast_to=ChatCompletion,
                    provider=provider,
                )
                return self._from_completion(completion)
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
            response = await post_streamed(self.sdk, "/chat/completions", request)
            stream = ChatStream(provider)
            try:
                await read_events(response, provider, stream.take, emit)
            finally:  # the connection is released even when the answer is abandoned
                await response.aclose()
            return stream.response(self.config)

    def _from_completion(self, completion: Any) -> ModelResponse:
        if not isinstance(completion.choices, list):
            raise _shapeless(self.config.provider_name, "an answer", completion)
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice is not None else None
        tool_calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments or "{}")
            for c in (getattr(message, "tool_calls", None) or ())
        )
        extra = getattr(message, "model_extra", None) or {}
        return ModelResponse(
            text=(message.content if message is not None else None) or "",
            tool_calls=tool_calls,
            usage=self.config.priced(chat_usage(completion.usage)),
            finish_reason=choice.finish_reason if choice is not None else None,
            model=completion.model,
            provider=self.config.provider_name,
            reasoning=extra.get("reasoning_content") or "",
            response_id=getattr(completion, "id", None) or None,
        )


class ChatStream:
    """A Chat Completions answer assembled from its stream's chunks, as ``read_events`` hands
    them over (each chunk's JSON decoded into the fields read, see ``_wire_chunks``): ``take``
    reads one and returns the pieces to stream, ``response`` is the answer once the stream has
    ended."""

    __slots__ = (
        "calls",
        "done",
        "finish_reason",
        "model",
        "provider",
        "read",
        "response_id",
        "text",
        "thoughts",
        "usage",
    )

    def __init__(self, provider: str) -> None:
        from ._wire_chunks import CHAT, reader  # (msgspec: imported once a stream is read)

        self.provider = provider
        self.read = reader(CHAT, provider)
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self.usage: Any = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.done = False  # ``[DONE]`` came: the server ended the stream itself

    def take(self, name: bytes | None, data: bytes) -> list[Event] | None:
        """Read one event's data; None at ``[DONE]``, the end of the answer."""
        if data[:6] == b"[DONE]":
            self.done = True
            return None
        provider = self.provider
        chunk = self.read(data)
        if chunk.error:  # an error payload in place of a chunk
            raise stream_error(provider, chunk.error)
        choices = chunk.choices
        if choices is None:
            shown = data.decode("utf-8", "replace")
            raise malformed(provider, f"a stream chunk without a list of choices: {shown}")
        if chunk.model:
            self.model = chunk.model
        if not self.response_id:
            self.response_id = chunk.id
        if chunk.usage is not None:
            self.usage = chunk.usage
        pieces: list[Event] = []
        for choice in choices:
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            # (the decoder has checked the types: text fields are strings or None)
            thought = delta.reasoning_content or delta.reasoning
            if thought:
                self.thoughts.append(thought)
                pieces.append(ReasoningChunk(thought))
            content = delta.content
            if content:
                self.text.append(content)
                pieces.append(TextChunk(content))
            for piece in delta.tool_calls or ():
                index = piece.index
                if index is None:
                    raise unexpected_event(provider, data, "a tool call without its index")
                slot = self.calls.setdefault(index, [None, None, []])
                if piece.id:
                    slot[0] = piece.id
                function = piece.function
                if function is not None:
                    if function.name:
                        slot[1] = function.name
                    arguments = function.arguments
                    if arguments:
                        slot[2].append(arguments)
                        pieces.append(
                            ToolCallDelta(slot[0] or f"call_{index}", slot[1] or "", arguments)
                        )
        return pieces

    def response(self, config: OpenAIConfig) -> ModelResponse:
        """The answer the stream delivered; ``ConnectionLost`` when it ended before a finish
        reason came.

        The usage comes in a chunk of its own after the finish reason, then ``[DONE]``. A body
        that ends cleanly after the finish reason with neither is taken as finished, as the
        openai SDK takes it: several compatible servers (older llama.cpp and TGI releases,
        some local servers) end their streams that way, and a connection that drops shows up
        as a transport error instead. Its token counts are unknown, so the reply reports
        none, and a warning says so (a budget counts nothing for it)."""
        if self.finish_reason is None:
            raise ConnectionLost(
                f"the stream from {self.provider} ended before the answer was finished (no "
                "finish reason)",
                provider=self.provider,
            )
        if self.usage is None and not self.done:
            log.warning(
                "the stream from %s ended after its finish reason with neither usage nor "
                "[DONE]: the answer is taken as finished, with no token counts (a server "
                "that supports stream_options.include_usage reports them)",
                self.provider,
            )
        tool_calls = tuple(
            ToolCall(slot[0] or f"call_{index}", slot[1] or "", "".join(slot[2]) or "{}")
            for index, slot in sorted(self.calls.items())
        )
        return ModelResponse(
            text="".join(self.text),
            tool_calls=tool_calls,
            usage=config.priced(chat_usage(self.usage)),
            finish_reason=self.finish_reason,
            model=self.model,
            provider=self.provider,
            reasoning="".join(self.thoughts),
            response_id=self.response_id or None,
        )
