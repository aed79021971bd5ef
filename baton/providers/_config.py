"""What every provider config shares: model, credentials, endpoint, timeouts and the settings
vocabulary, mapped per provider by its adapter."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from ..errors import AuthenticationFailed, ConfigError, ModelTimeout
from ..events import ModelResponse, Usage
from ..models.base import ModelConfig, ModelSettings
from ..models.pricing import Price

__all__ = ["ProviderConfig", "bounded", "missing_extra"]


def missing_extra(provider: str, extra: str, error: ImportError) -> ConfigError:
    """The error raised when what a provider's extra installs (its SDK, msgspec for reading
    its streams) is missing."""
    return ConfigError(
        f"the {provider} provider needs its extra (its SDK and msgspec): "
        f"pip install 'baton-agents[{extra}]' ({error})"
    )


@dataclass(eq=False)
class ProviderConfig(ModelConfig):
    """Base of the provider configs. Generation settings may be given directly
    (``OpenAIConfig("gpt-5", temperature=0.2)``) or as ``settings=ModelSettings(...)``; direct
    ones win. ``extra`` is passed to the provider's API untouched.

    ``timeout`` (seconds, ``None`` for none; 600 by default, as the OpenAI and Anthropic SDKs
    bound a request) bounds each whole model call, a streamed answer included: a stream that
    keeps sending keep-alives or empty chunks ends in ``ModelTimeout`` once it has run that
    long. It also bounds each connect and read. Long answers from reasoning models can take
    minutes: lower it for fast models to notice a stalled call sooner.

    ``max_retries`` is how often the provider's SDK retries a failed request by itself (2 by
    default, as the SDKs do). Inside ``RetryMiddleware`` it makes one request per attempt:
    that middleware is then the one retry layer (with ``ModelCallRetry`` events,
    ``Retry-After``, attempt and time budgets, the same on every provider), so
    ``RetryMiddleware(attempts=3)`` against a failing server makes 3 requests, not 9.
    """

    model: str
    _: KW_ONLY
    # Secrets stay out of repr() and str(): a config is often logged or printed.
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    timeout: float | None = 600.0
    max_retries: int = 2
    headers: Mapping[str, str] | None = field(default=None, repr=False)
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
    settings: ModelSettings = field(default_factory=ModelSettings)
    price: Price | None = None

    provider_name: ClassVar[str] = "provider"
    env_keys: ClassVar[tuple[str, ...]] = ()
    extra_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"{type(self).__name__} needs a model name, e.g. model='...'")
        if self.timeout is not None and not 0 < self.timeout < float("inf"):  # NaN included
            raise ConfigError(
                f"timeout must be a finite, positive number of seconds or None, got "
                f"{self.timeout!r}"
            )
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {self.max_retries!r}")
        direct = ModelSettings(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=tuple(self.stop) if self.stop is not None else None,
            seed=self.seed,
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            reasoning_effort=self.reasoning_effort,
            thinking_budget=self.thinking_budget,
            stream=self.stream,
            extra=dict(self.extra),
        )
        self.settings = self.settings.merge(direct)

    @property
    def provider(self) -> str:
        return self.provider_name

    @property
    def model_name(self) -> str:
        return self.model

    def priced(self, usage: Usage) -> Usage:
        """``usage`` with its cost, when this config has a price."""
        return usage if self.price is None else self.price.apply(usage)

    def resolved_api_key(self, *, required: bool = True) -> str | None:
        """The api key given, or the first of the provider's environment variables that is set."""
        if self.api_key:
            return self.api_key
        for name in self.env_keys:
            value = os.environ.get(name)
            if value:
                return value
        if required:
            names = " or ".join(self.env_keys) or "api_key"
            raise AuthenticationFailed(
                f"no API key for {self.provider_name}: set {names}, or pass "
                f"{type(self).__name__}(..., api_key=...)",
                provider=self.provider_name,
            )
        return None


class _Client(Protocol):
    @property
    def config(self) -> ProviderConfig: ...


C = TypeVar("C", bound=_Client)
P = ParamSpec("P")
Respond = Callable[Concatenate[C, P], Coroutine[Any, Any, ModelResponse]]


def bounded(respond: Respond[C, P]) -> Respond[C, P]:
    """Decorate a provider client's ``respond`` so that the whole call, however the answer
    trickles in, ends within the config's ``timeout`` (the SDKs bound each read only)."""

    @functools.wraps(respond)
    async def bounded_respond(client: C, /, *args: P.args, **kwargs: P.kwargs) -> ModelResponse:
        config = client.config
        if config.timeout is None:
            return await respond(client, *args, **kwargs)
        deadline = asyncio.timeout(config.timeout)
        try:
            async with deadline:
                return await respond(client, *args, **kwargs)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise ModelTimeout(
                f"{config.provider_name} did not finish answering within timeout="
                f"{config.timeout:g} seconds (the whole call, streaming included): raise it "
                f"with {type(config).__name__}(..., timeout=...), or pass timeout=None for no "
                "limit",
                provider=config.provider_name,
            ) from None

    return bounded_respond
