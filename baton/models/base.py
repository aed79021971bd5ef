"""What the agent loop needs from a model provider, and the shared request/settings types.

A ``ModelConfig`` describes a model (provider, name, settings) and owns one ``ModelClient`` (one
SDK client, one connection pool), created on first use and reused by every ask of every agent that
shares the config object.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from ..errors import ConfigError
from ..events import Event, ModelResponse, ReasoningChunk, TextChunk, ToolCall, ToolCallDelta
from ..history import HistoryView
from ..output import OutputSpec
from ..sync import made_client
from ..tools.tool import ToolSpec

if TYPE_CHECKING:
    from .hosted import HostedTool

__all__ = [
    "EmitChunk",
    "ModelCall",
    "ModelClient",
    "ModelConfig",
    "ModelSettings",
    "ValidChunks",
    "valid_data",
    "valid_response",
    "valid_text",
]

EmitChunk = Callable[[Event], Awaitable[None]]

RETRIED_BY_BATON: ContextVar[bool] = ContextVar("baton_retried_by_baton", default=False)
"""True inside a Baton retry layer (``RetryMiddleware``): the provider's SDK then makes one
request per call, so that retries don't multiply (its own retries apply everywhere else)."""


_EFFORTS = ("minimal", "low", "medium", "high")


def _check_range(
    name: str, value: object, low: float, high: float, words: str, *, open_low: bool = False
) -> None:
    if value is None:
        return
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    # NaN fails every comparison, so it is refused with the rest.
    if number is None or not (low < number <= high if open_low else low <= number <= high):
        raise ConfigError(f"{name} must be a number {words}, got {value!r}")


def _check_count(name: str, value: object, minimum: int) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise ConfigError(f"{name} must be an integer of at least {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Provider-independent generation settings; ``None`` means the provider's default.

    ``extra`` is passed through to the provider untouched.
    """

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tool_choice: Literal["auto", "required", "none"] | str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    thinking_budget: int | None = None
    stream: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_range("temperature", self.temperature, 0.0, 2.0, "from 0 to 2")
        _check_range("top_p", self.top_p, 0.0, 1.0, "above 0 and at most 1", open_low=True)
        _check_count("max_tokens", self.max_tokens, 1)
        _check_count("thinking_budget", self.thinking_budget, 0)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.reasoning_effort is not None and self.reasoning_effort not in _EFFORTS:
            raise ConfigError(
                f"reasoning_effort must be one of {', '.join(_EFFORTS)}, got "
                f"{self.reasoning_effort!r}"
            )

    def merge(self, override: ModelSettings | None) -> ModelSettings:
        """These settings with every field that ``override`` sets taken from it."""
        if override is None:
            return self
        changes: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(override, f.name)
            if f.name == "extra":
                if value:
                    changes["extra"] = {**self.extra, **value}
            elif f.name == "stream":
                if value is not True:
                    changes["stream"] = value
            elif value is not None:
                changes[f.name] = value
        return replace(self, **changes) if changes else self


@dataclass(slots=True)
class ModelCall:
    """Everything one model call needs. ``messages`` is a view of the conversation (no copy)."""

    agent: str
    conversation_id: str
    run_id: str
    instructions: str | None
    messages: HistoryView
    tools: tuple[ToolSpec, ...]
    output: OutputSpec | None
    settings: ModelSettings
    provider: str = ""
    model: str = ""
    hosted: tuple[HostedTool, ...] = ()
    """Provider-hosted tools to offer (``baton.models.hosted``), next to ``tools``."""

    @property
    def last(self) -> Event | None:
        """The most recent event the model sees (handy in scripted turns)."""
        return self.messages[-1] if len(self.messages) else None

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]


@runtime_checkable
class ModelClient(Protocol):
    """Talks to one provider. ``emit`` receives streamed chunks as they arrive."""

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse: ...

    async def aclose(self) -> None: ...


class ModelConfig(ABC):
    """Base of every model configuration (``OpenAIConfig``, ..., ``ScriptedModel``)."""

    settings: ModelSettings = ModelSettings()
    hosted_tools: ClassVar[frozenset[str]] = frozenset()
    """Kinds of provider-hosted tools this model runs (``baton.models.hosted``)."""

    def supports_hosted(self, kind: str) -> bool:
        """Whether this model runs the hosted tool ``kind`` (e.g. ``"web_search"``) itself."""
        return kind in self.hosted_tools

    @property
    @abstractmethod
    def provider(self) -> str:
        """Provider name, e.g. ``"openai"``."""

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The model's name at the provider."""

    @abstractmethod
    def create_client(self) -> ModelClient:
        """Build the client; called once per config instance."""

    def client(self) -> ModelClient:
        """The config's client (one connection pool), created on first use and reused.

        Connection pools belong to an event loop, so a config used from several loops gets
        one client per loop (``ask_sync`` calls all run on one loop, see ``baton.sync``).
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        cached = self.__dict__.get("_baton_client")
        if cached is not None and cached[0]() is loop:
            return cached[1]  # type: ignore[no-any-return]
        client = self.create_client()
        self.__dict__["_baton_client"] = (weakref.ref(loop) if loop else lambda: None, client)
        made_client(self, loop)  # the blocking API's loop closes its clients at exit
        return client

    async def aclose(self) -> None:
        """Close the client (and its connection pool) if one was made."""
        cached = self.__dict__.pop("_baton_client", None)
        if cached is not None:
            await cached[1].aclose()


# ---------------------------------------------------------------------------------------------
# Valid Unicode out of every model
# ---------------------------------------------------------------------------------------------

# A JSON escape of a UTF-16 surrogate (tool call arguments are JSON text).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: a surrogate pair becomes the character it stands for, a lone
    surrogate becomes U+FFFD. The same object when it already was valid (the usual case)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def valid_data(value: Any) -> Any:
    """JSON-like ``value`` (strings, lists, tuples, dicts) with every string made valid by
    ``valid_text``; the same object when nothing needed changing."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        items = [(valid_data(k), valid_data(v)) for k, v in value.items()]
        if all(k2 is k and v2 is v for (k2, v2), (k, v) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        cleaned = [valid_data(v) for v in value]
        if all(a is b for a, b in zip(cleaned, value, strict=True)):
            return value
        return cleaned if isinstance(value, list) else tuple(cleaned)
    return value


def _valid_arguments(arguments: str) -> str:
    arguments = valid_text(arguments)
    if "\\u" in arguments and _SURROGATE_ESCAPE.search(arguments):
        # Escaped lone surrogates would come back as soon as the tool decodes its arguments.
        try:
            value = json.loads(arguments)
        except ValueError:
            return arguments
        cleaned = valid_data(value)
        if cleaned is not value:
            return json.dumps(cleaned, ensure_ascii=False)
    return arguments


def _valid_call(call: ToolCall) -> ToolCall:
    name, arguments = valid_text(call.name), _valid_arguments(call.arguments)
    if name is call.name and arguments is call.arguments:
        return call
    return replace(call, name=name, arguments=arguments)


def valid_response(response: ModelResponse) -> ModelResponse:
    """``response`` as valid Unicode: its text, reasoning, tool calls (arguments included, as
    decoded JSON too) and provider data pass through ``valid_text``. The loop applies it to
    every model's answer, so a stored conversation never holds text its store or the next
    request cannot encode. The same object when nothing needed changing."""
    # The usual answer: ASCII, no escapes in its arguments, nothing to walk.
    if response.text.isascii() and response.reasoning.isascii() and response.provider_data is None:
        for c in response.tool_calls:
            if not (c.name.isascii() and c.arguments.isascii()) or "\\u" in c.arguments:
                break
        else:
            return response
    text = valid_text(response.text)
    reasoning = valid_text(response.reasoning)
    calls = tuple(_valid_call(c) for c in response.tool_calls)
    data = valid_data(response.provider_data)
    if (
        text is response.text
        and reasoning is response.reasoning
        and data is response.provider_data
        and all(a is b for a, b in zip(calls, response.tool_calls, strict=True))
    ):
        return response
    return replace(response, text=text, reasoning=reasoning, tool_calls=calls, provider_data=data)


class ValidChunks:
    """Passes streamed chunks on (to ``emit``) as valid Unicode. A ``TextChunk`` or
    ``ReasoningChunk`` ending in the first half of a surrogate pair keeps that half back for the
    next chunk of its kind (a ``ToolCallDelta`` for the next piece of the same call), so a pair
    split across two chunks arrives joined; lone surrogates become U+FFFD (``valid_text``).
    Other events pass untouched. ``flush()`` at the end of the answer sends whatever is still
    held back (as U+FFFD)."""

    __slots__ = ("_emit", "_held", "_held_calls")

    def __init__(self, emit: EmitChunk) -> None:
        self._emit = emit
        self._held: dict[type[TextChunk] | type[ReasoningChunk], str] = {}
        # Per call id: the half pair held back, and the delta it came in (for name and id).
        self._held_calls: dict[str, tuple[ToolCallDelta, str]] = {}

    @property
    def holding(self) -> bool:
        """Whether half a surrogate pair waits for its other half (``flush`` sends it)."""
        return bool(self._held) or bool(self._held_calls)

    def emit(self, event: Event) -> Awaitable[None]:
        # Not a coroutine itself: valid chunks (nearly all) cost no extra frame on their way.
        kind = type(event)
        if kind is not TextChunk and kind is not ReasoningChunk:
            if kind is ToolCallDelta:
                return self._delta(event)  # type: ignore[arg-type]
            return self._emit(event)
        text: str = event.text  # type: ignore[attr-defined]
        if not self._held and (
            text.isascii() or (not "\ud800" <= text[-1] <= "\udbff" and valid_text(text) is text)
        ):
            return self._emit(event)
        return self._repair(event)

    async def _repair(self, event: Event) -> None:
        if not isinstance(event, TextChunk | ReasoningChunk):
            await self._emit(event)
            return
        kind = type(event)
        held = self._held.pop(kind, None)
        text = event.text
        if held is not None:
            text = held + text
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._held[kind] = text[-1]
            text = text[:-1]
        text = valid_text(text)
        if text:
            await self._emit(event if text == event.text else replace(event, text=text))

    def _delta(self, event: ToolCallDelta) -> Awaitable[None]:
        text = event.delta
        if not self._held_calls and (
            text.isascii() or (not "\ud800" <= text[-1] <= "\udbff" and valid_text(text) is text)
        ):
            name = event.name
            if name.isascii() or valid_text(name) is name:
                return self._emit(event)
        return self._repair_delta(event)

    async def _repair_delta(self, event: ToolCallDelta) -> None:
        held = self._held_calls.pop(event.call_id, None)
        text = event.delta if held is None else held[1] + event.delta
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._held_calls[event.call_id] = (event, text[-1])
            text = text[:-1]
        text = valid_text(text)
        name = valid_text(event.name)
        if text:
            if text != event.delta or name is not event.name:
                event = replace(event, name=name, delta=text)
            await self._emit(event)

    async def flush(self) -> None:
        held, self._held = self._held, {}
        for kind, text in held.items():
            await self._emit(kind(valid_text(text)))
        calls, self._held_calls = self._held_calls, {}
        for delta, text in calls.values():
            await self._emit(replace(delta, name=valid_text(delta.name), delta=valid_text(text)))
