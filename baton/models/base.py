"""What the agent loop needs from a model provider, and the shared request/settings types.

A ``ModelConfig`` describes a model (provider, name, settings) and owns one ``ModelClient`` (one
SDK client, one connection pool), created on first use and reused by every ask of every agent that
shares the config object.
"""

from __future__ import annotations

import asyncio
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Protocol, runtime_checkable

from ..errors import ConfigError
from ..events import Event, ModelResponse
from ..history import HistoryView
from ..output import OutputSpec
from ..tools.tool import ToolSpec

__all__ = ["EmitChunk", "ModelCall", "ModelClient", "ModelConfig", "ModelSettings"]

EmitChunk = Callable[[Event], Awaitable[None]]


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

        Connection pools belong to an event loop, so a config used from several loops (e.g.
        successive ``ask_sync`` calls, each running its own loop) gets one client per loop.
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
        return client

    async def aclose(self) -> None:
        """Close the client (and its connection pool) if one was made."""
        cached = self.__dict__.pop("_baton_client", None)
        if cached is not None:
            await cached[1].aclose()
