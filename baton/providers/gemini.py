"""Google's Gemini API through the official ``google-genai`` SDK (``VertexConfig`` in
``vertex.py`` reuses this client for Vertex AI).

Gemini streams each function call whole (its ``args`` complete in one chunk; the Gemini API has
no partial arguments), so no ``ToolCallDelta`` events are emitted for it: the call appears
complete in the ``ModelResponse``. Vertex AI's opt-in ``stream_function_call_arguments``
(``partial_args`` by JSON path) is not requested.

The SDK sends every request (URL, API key or Vertex AI credentials, headers, timeout, retries,
a non-2xx status raised as its error); a streamed answer's body is read by Baton itself
(``_gemini_stream``, ``_sse``) into the wire's JSON, a whole answer is the SDK's response dumped
back to that form, and ``GeminiAnswer`` reads both.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json, to_json

from ..errors import ConfigError, ConnectionLost, InvalidRequest
from ..events import (
    CompactionSummary,
    Data,
    Event,
    FileUrl,
    HumanMessage,
    Media,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    Text,
    ToolCall,
    ToolCallError,
    ToolCallResult,
)
from ..models.base import (
    RETRIED_BY_BATON,
    EmitChunk,
    ModelCall,
    ModelClient,
    ModelSettings,
)
from ..tools.tool import ToolSpec
from ._cache import MessageCache, last_message_reach, message_list
from ._config import ProviderConfig, bounded, missing_extra
from ._gemini_answers import GeminiAnswer
from ._gemini_errors import mapped_errors
from ._gemini_stream import body_taking_client, taking_body
from ._hosted import announced
from ._media import unsupported
from ._sse import read_events

if TYPE_CHECKING:
    from google.genai import types as gt

__all__ = ["REASONING_BUDGETS", "GeminiClient", "GeminiConfig"]

#: Thinking budgets (tokens) used for ``reasoning_effort`` when no ``thinking_budget`` is given.
#: Every value lies inside the ranges the 2.5 models accept (Pro 128-32768, Flash 0-24576,
#: Flash-Lite 512-24576); Gemini 3 models take budgets too.
REASONING_BUDGETS: dict[str, int] = {"minimal": 512, "low": 2048, "medium": 8192, "high": 24576}


@dataclass(eq=False)
class GeminiConfig(ProviderConfig):
    """The Gemini API (Google AI Studio). ``GEMINI_API_KEY``, then ``GOOGLE_API_KEY``, is read
    when ``api_key`` is not given.

    Settings map onto Gemini's generation config: ``max_tokens`` is ``max_output_tokens``,
    ``stop`` is ``stop_sequences``, ``tool_choice="required"`` is function-calling mode ``ANY``
    and a tool's name restricts ``allowed_function_names`` to it. ``thinking_budget`` is sent as
    is (0 turns thinking off, -1 lets the model decide); without it, ``reasoning_effort`` picks a
    budget from ``REASONING_BUDGETS``. Whenever thinking is asked for, thought summaries are
    requested too (``include_thoughts``) and streamed as ``ReasoningChunk``s.
    ``parallel_tool_calls`` has no Gemini equivalent and is ignored. ``extra`` keys that
    ``GenerateContentConfig`` knows (``top_k``, ``safety_settings``, ...) are set on it; any
    other key is merged into the request's ``generationConfig`` untouched.

    Structured output is sent as ``response_json_schema``. Gemini models before 3 refuse JSON
    output together with function calling, so when a call offers tools to one of them (a model
    named ``gemini-1.x`` or ``gemini-2.x``), the schema goes in the instructions instead (Baton's
    prompted mode) and the answer is validated as usual. ``native_output=True`` or ``False``
    decides it for every call instead (e.g. for a tuned model whose name tells no version).

    Parallel calls get their results back in the order of the calls (Gemini matches results to
    calls by position when it gave no call ids).

    Media inputs, ``Video`` included, are sent as inline data (bytes) or file data (a URL: a
    ``gs://`` or uploaded file URI). Files in an answer (inline or file data, e.g. the images
    of an image model) are the response's ``files`` (``reply.files``), given back to the model
    in later turns with their thought signatures.
    """

    _: KW_ONLY
    native_output: bool | None = None

    provider_name: ClassVar[str] = "gemini"
    env_keys: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    extra_name: ClassVar[str] = "gemini"
    hosted_tools: ClassVar[frozenset[str]] = frozenset({"web_search", "code_interpreter"})

    def create_client(self) -> ModelClient:
        return GeminiClient(self)

    def sdk_options(self) -> dict[str, Any]:
        """Keyword arguments for ``genai.Client`` besides ``http_options``."""
        return {"vertexai": False, "api_key": self.resolved_api_key()}


# ---------------------------------------------------------------------------------------------
# Events -> contents
# ---------------------------------------------------------------------------------------------


def _user_part(provider: str, part: Part) -> gt.Part:
    from google.genai import types

    if isinstance(part, Text):
        return types.Part(text=part.text)
    if isinstance(part, Data):
        return types.Part(text=to_json(part.value).decode())
    if isinstance(part, Media):
        mime_type = part.media_type or part.default_media_type
        if part.data is not None:
            return types.Part(inline_data=types.Blob(data=part.data, mime_type=mime_type))
        return types.Part(file_data=types.FileData(file_uri=part.url, mime_type=mime_type))
    if isinstance(part, FileUrl):
        return types.Part(file_data=types.FileData(file_uri=part.url, mime_type=part.media_type))
    raise unsupported(provider, part)


def _arguments(arguments: str) -> dict[str, Any]:
    try:
        value = from_json(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _signature(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _layout(event: ModelResponse) -> list[dict[str, Any]] | None:
    """The part layout an earlier answer kept in ``provider_data`` (see ``GeminiAnswer``), if it
    still describes the event's text and calls."""
    data = event.provider_data
    gemini = data.get("gemini") if isinstance(data, Mapping) else None
    parts = gemini.get("parts") if isinstance(gemini, Mapping) else None
    if not isinstance(parts, list):
        return None
    texts: list[str] = []
    calls: list[int] = []
    files: list[int] = []
    for entry in parts:
        if not isinstance(entry, dict):
            return None
        if isinstance(entry.get("call"), int):
            calls.append(entry["call"])
        elif isinstance(entry.get("file"), int):
            files.append(entry["file"])
        elif isinstance(entry.get("text"), str):
            if not entry.get("thought"):
                texts.append(entry["text"])
        else:
            return None
    if "".join(texts) != event.text or sorted(calls) != list(range(len(event.tool_calls))):
        return None
    if sorted(files) != list(range(len(event.files))):
        return None
    return parts


def _call_part(call: ToolCall, api_id: bool, signature: bytes | None) -> gt.Part:
    from google.genai import types

    function_call = types.FunctionCall(
        name=call.name, args=_arguments(call.arguments), id=call.id if api_id else None
    )
    return types.Part(function_call=function_call, thought_signature=signature)


def _file_part(media: Media, signature: bytes | None) -> gt.Part:
    """A file the model produced, given back as it came (inline data or a file URI)."""
    from google.genai import types

    mime_type = media.media_type or media.default_media_type
    if media.data is not None:
        blob = types.Blob(data=media.data, mime_type=mime_type)
        return types.Part(inline_data=blob, thought_signature=signature)
    file = types.FileData(file_uri=media.url, mime_type=mime_type)
    return types.Part(file_data=file, thought_signature=signature)


def _model_parts(event: ModelResponse) -> list[gt.Part]:
    """The model turn of an answer (the files it produced included), with its thought
    signatures where Gemini gave them."""
    from google.genai import types

    layout = _layout(event)
    if layout is None:
        parts = [types.Part(text=event.text)] if event.text else []
        parts.extend(_file_part(media, None) for media in event.files)
        parts.extend(_call_part(call, False, None) for call in event.tool_calls)
        return parts
    parts = []
    for entry in layout:
        signature = _signature(entry.get("signature"))
        if "file" in entry:
            parts.append(_file_part(event.files[entry["file"]], signature))
        elif "call" in entry:
            call = event.tool_calls[entry["call"]]
            parts.append(_call_part(call, bool(entry.get("api_id")), signature))
        else:
            thought = True if entry.get("thought") else None
            parts.append(
                types.Part(text=entry["text"], thought=thought, thought_signature=signature)
            )
    return parts


def _api_call_id(contents: list[gt.Content], call_id: str) -> str | None:
    """``call_id`` when the latest model turn sent it (ids Baton made up are not sent)."""
    for content in reversed(contents):
        if content.role == "model":
            for part in content.parts or ():
                if part.function_call is not None and part.function_call.id == call_id:
                    return call_id
            return None
    return None


def _add(contents: list[gt.Content], role: str, parts: list[gt.Part]) -> None:
    """Append a turn, merging it into the previous one of the same role (Gemini wants the
    function responses of one turn, and any user text after them, in one content)."""
    from google.genai import types

    if not parts:
        return
    last = contents[-1] if contents else None
    if last is not None and last.role == role and last.parts is not None:
        # Replaced, not changed in place: the message cache may share the old one with a fork.
        contents[-1] = types.Content(role=role, parts=[*last.parts, *parts])
    else:
        contents.append(types.Content(role=role, parts=parts))


# The media a function response holds itself (Gemini's multimodal function responses); other
# media of a result follow the responses in the same turn, as parts of their own.
_RESPONSE_MEDIA = ("image/", "application/pdf", "text/plain")


def _response_media(
    provider: str, parts: tuple[Part, ...]
) -> tuple[list[gt.FunctionResponsePart], list[gt.Part]]:
    """A result's media: the parts of its function response, and the parts after it."""
    from google.genai import types

    inside: list[gt.FunctionResponsePart] = []
    after: list[gt.Part] = []
    for part in parts:
        if isinstance(part, Text):
            continue  # in the response's text
        mime_type = part.media_type if isinstance(part, Media | FileUrl) else None
        if isinstance(part, Media):
            mime_type = mime_type or part.default_media_type
        if not (mime_type or "").startswith(_RESPONSE_MEDIA):
            after.append(_user_part(provider, part))
        elif isinstance(part, Media) and part.data is not None:
            blob = types.FunctionResponseBlob(data=part.data, mime_type=mime_type)
            inside.append(types.FunctionResponsePart(inline_data=blob))
        else:
            url = part.url if isinstance(part, Media | FileUrl) else None
            file = types.FunctionResponseFileData(file_uri=url, mime_type=mime_type)
            inside.append(types.FunctionResponsePart(file_data=file))
    return inside, after


def _add_response(contents: list[gt.Content], response: gt.Part, after: list[gt.Part]) -> None:
    """Add a function response to the user turn, after the turn's other responses and before
    the media parts that follow them."""
    from google.genai import types

    last = contents[-1] if contents else None
    if last is None or last.role != "user" or not last.parts:
        _add(contents, "user", [response, *after])
        return
    parts = last.parts
    at = len(parts)
    while at and parts[at - 1].function_response is None:
        at -= 1
    if at == 0:  # no responses in this turn yet (a user's text): append as before
        _add(contents, "user", [response, *after])
        return
    # A new content with the response in place (see _add: contents are never changed).
    contents[-1] = types.Content(role="user", parts=[*parts[:at], response, *parts[at:], *after])


def append_gemini_content(provider: str, contents: list[gt.Content], event: Event) -> None:
    """Convert one conversation event to Gemini contents (most convert to none)."""
    from google.genai import types

    if isinstance(event, ModelRequest):
        _add(contents, "user", [_user_part(provider, p) for p in event.parts])
    elif isinstance(event, ModelResponse):
        _add(contents, "model", _model_parts(event))
    elif isinstance(event, ToolCallResult | ToolCallError):
        response = (
            {"result": event.content}
            if isinstance(event, ToolCallResult)
            else {"error": event.message}
        )
        media, after = _response_media(
            provider, event.parts if isinstance(event, ToolCallResult) else ()
        )
        function_response = types.FunctionResponse(
            name=event.name,
            response=response,
            id=_api_call_id(contents, event.call_id),
            parts=media or None,
        )
        _add_response(contents, types.Part(function_response=function_response), after)
    elif isinstance(event, OutputRejected):
        _add(contents, "user", [types.Part(text=event.message)])
    elif isinstance(event, HumanMessage) and event.request_id is None and event.text:
        _add(contents, "user", [types.Part(text=event.text)])
    elif isinstance(event, CompactionSummary):
        _add(contents, "user", [types.Part(text=event.message)])


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


_VERSION = re.compile(r"(?:^|/)gemini-(\d+)(?:[.-]|$)")


def _native_output(config: GeminiConfig, call: ModelCall) -> bool:
    """Whether this call's structured output is sent as Gemini's JSON output (or prompted)."""
    if config.native_output is not None:
        return config.native_output
    if not call.tools:
        return True
    version = _VERSION.search(config.model)
    return version is None or int(version.group(1)) >= 3  # before 3: no JSON with tools


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _thinking(settings: ModelSettings) -> gt.ThinkingConfig | None:
    from google.genai import types

    budget = settings.thinking_budget
    if budget is None and settings.reasoning_effort is not None:
        budget = REASONING_BUDGETS[settings.reasoning_effort]
    if budget is None:
        return None
    return types.ThinkingConfig(thinking_budget=budget, include_thoughts=True if budget else None)


def _tool_config(choice: str | None) -> gt.ToolConfig | None:
    from google.genai import types

    if choice is None:
        return None
    modes = types.FunctionCallingConfigMode
    mode = {"auto": modes.AUTO, "required": modes.ANY, "none": modes.NONE}.get(choice)
    calling = (
        types.FunctionCallingConfig(mode=mode)
        if mode is not None
        else types.FunctionCallingConfig(mode=modes.ANY, allowed_function_names=[choice])
    )
    return types.ToolConfig(function_calling_config=calling)


class GeminiClient:
    """Talks to the Gemini API (or Vertex AI) through ``genai.Client(...).aio``."""

    def __init__(self, config: GeminiConfig) -> None:
        provider = config.provider_name
        try:
            import msgspec  # noqa: F401  (answers are decoded with it: see _wire_chunks)
            from google import genai
            from google.genai import types
        except ImportError as exc:
            raise missing_extra(provider, config.extra_name or "gemini", exc) from None
        self.config = config
        options = config.sdk_options()
        # Streams are read by Baton (see ``_gemini_stream``); the SDK leaves closing it to us.
        self._http = body_taking_client()
        http_options = types.HttpOptions(
            base_url=config.base_url,
            headers=dict(config.headers) if config.headers else None,
            timeout=None if config.timeout is None else max(1, round(config.timeout * 1000)),
            retry_options=(
                types.HttpRetryOptions(attempts=config.max_retries + 1)
                if config.max_retries
                else None
            ),
            httpx_async_client=self._http,
        )
        try:
            self.google = genai.Client(**options, http_options=http_options)
        except ValueError as exc:
            raise ConfigError(f"cannot make the {provider} client: {exc}") from None
        self.sdk = self.google.aio
        self._fields = frozenset(types.GenerateContentConfig.model_fields)
        self._tools: tuple[tuple[ToolSpec, ...], gt.Tool] | None = None
        self._cache: MessageCache[gt.Content] = MessageCache(
            lambda contents, event: append_gemini_content(provider, contents, event),
            reach=last_message_reach,  # a turn merges into the last content
            results_in_call_order=True,  # matched to calls by position when no ids are sent
        )

    async def aclose(self) -> None:
        close = getattr(self.sdk, "aclose", None)  # not in older google-genai releases
        if close is not None:
            await close()
        await self._http.aclose()
        self.google.close()

    def _tool(self, specs: tuple[ToolSpec, ...]) -> gt.Tool:
        from google.genai import types

        if self._tools is None or self._tools[0] is not specs:
            declarations = [
                types.FunctionDeclaration(
                    name=t.name, description=t.description, parameters_json_schema=t.parameters
                )
                for t in specs
            ]
            self._tools = (specs, types.Tool(function_declarations=declarations))
        return self._tools[1]

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        """The keyword arguments for ``models.generate_content(_stream)``."""
        from google.genai import types

        config = self.config
        settings = call.settings
        instructions = call.instructions
        output = call.output
        native = output is not None and output.mode == "native" and _native_output(config, call)
        if output is not None and output.mode == "native" and not native:
            prompt = output.prompt_text()
            instructions = f"{instructions}\n\n{prompt}" if instructions else prompt
        options: dict[str, Any] = {
            "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True)
        }
        if instructions:
            options["system_instruction"] = instructions
        if call.tools:
            options["tools"] = [self._tool(call.tools)]
            tool_config = _tool_config(settings.tool_choice)
            if tool_config is not None:
                options["tool_config"] = tool_config
        for hosted in call.hosted:  # Google Search and code execution, run by Gemini itself
            options.setdefault("tools", []).append(
                types.Tool(code_execution=types.ToolCodeExecution())
                if hosted.kind == "code_interpreter"
                else types.Tool(google_search=types.GoogleSearch())
            )
        if output is not None and native:
            options["response_mime_type"] = "application/json"
            # JSON Schema as is; SDKs without response_json_schema only take response_schema.
            schema_key = (
                "response_json_schema"
                if "response_json_schema" in self._fields
                else "response_schema"
            )
            options[schema_key] = output.json_schema
        for key, value in (
            ("temperature", settings.temperature),
            ("top_p", settings.top_p),
            ("max_output_tokens", settings.max_tokens),
            ("stop_sequences", list(settings.stop) if settings.stop else None),
            ("seed", settings.seed),
            ("thinking_config", _thinking(settings)),
        ):
            if value is not None:
                options[key] = value
        raw: dict[str, Any] = {}
        for key, value in settings.extra.items():
            if _snake(key) in self._fields:
                options[_snake(key)] = value
            else:
                raw[key] = value
        retried = RETRIED_BY_BATON.get()  # inside RetryMiddleware: one request per attempt
        if raw or retried:
            options["http_options"] = types.HttpOptions(
                extra_body={"generationConfig": raw} if raw else None,
                retry_options=types.HttpRetryOptions(attempts=1) if retried else None,
            )
        try:
            generation = types.GenerateContentConfig(**options)
        except ValueError as exc:  # pydantic's ValidationError
            raise InvalidRequest(
                f"{config.provider_name} settings were rejected: {exc}",
                provider=config.provider_name,
            ) from None
        contents = self._cache.messages(call.conversation_id, call.messages, call.agent)
        return {"model": config.model, "contents": message_list(contents), "config": generation}

    @bounded
    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        request = self.build_request(call)
        provider = self.config.provider_name
        answer = GeminiAnswer(f"call_{len(call.messages)}_", provider)
        async with mapped_errors(provider):
            if not call.settings.stream:
                response = await self.sdk.models.generate_content(**request)
                from ._wire_chunks import gemini_chunk

                whole = response.model_dump(mode="json", by_alias=True, exclude_none=True)
                for part in answer.observe(gemini_chunk(whole)):
                    answer.add(part)
                return await announced(answer.response(self.config), emit)
            async with taking_body() as taken:
                stream = await self.sdk.models.generate_content_stream(**request)
                async for _ in stream:  # nothing: the body is Baton's to read
                    pass
            if not taken:  # not sent through the body-taking client (never expected)
                raise ConnectionLost(f"{provider} sent no stream", provider=provider)
            body = taken[0]
            try:
                await read_events(body, provider, answer.take, emit)
            finally:
                await body.aclose()
            if answer.finish_reason is None and answer.blocked is None:
                raise ConnectionLost(
                    f"the stream from {provider} ended before the answer was finished",
                    provider=provider,
                )
            return await announced(answer.response(self.config), emit)
