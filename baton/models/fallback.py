"""A model config that falls back to the next one when a call fails.

    config = FallbackModel("openai:gpt-5", "anthropic:claude-sonnet-4-5")
    agent = Agent("a", config=config)

Each call goes to the first config's client; when it fails with an error the fallback is for
(by default a ``ModelError`` with ``retryable=True``: rate limits, overload, timeouts, dropped
connections), the same call goes to the next config, and so on; the last one's error is raised
as is. Any other error (an invalid request, a failed authentication) propagates at once: another
model would not fix it. The response's ``provider`` and ``model`` tell which config answered.

Before falling back, a ``ModelCallRetry`` event (``delay=0``) is delivered live, so that UIs
discard text the failed model streamed. Combine with ``RetryMiddleware`` to retry the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import ConfigError, ModelError
from ..events import ModelCallRetry, ModelResponse
from .base import EmitChunk, ModelCall, ModelClient, ModelConfig, ModelSettings
from .registry import resolve_config

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FallbackModel", "is_retryable"]

ErrorTest = Callable[[BaseException], bool]


def is_retryable(error: BaseException) -> bool:
    """The default fallback test: a ``ModelError`` that says trying again may succeed."""
    return isinstance(error, ModelError) and error.retryable


def _error_test(on: ErrorTest | tuple[type[BaseException], ...] | None) -> ErrorTest:
    if on is None:
        return is_retryable
    if isinstance(on, tuple):
        kinds = on
        if not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
            raise ConfigError(f"FallbackModel(on=...) takes exception classes, got {on!r}")

        def matches(error: BaseException) -> bool:
            return isinstance(error, kinds)

        return matches
    if callable(on):
        return on
    raise ConfigError(
        "FallbackModel(on=...) takes a tuple of exception classes or a function of the error "
        f"returning bool, got {on!r}"
    )


class FallbackModel(ModelConfig):
    """Try ``primary``, then ``secondary``, then each further config, on failures ``on`` accepts.

    Configs may be ``ModelConfig`` objects or ``"provider:model"`` strings. ``on`` is a tuple of
    exception classes or a predicate of the error (default: retryable ``ModelError`` s). The
    fallback's own ``settings`` (agent and per-ask settings merge onto them as usual) are
    applied on top of each config's own. ``provider`` and ``model_name`` are the primary's.
    """

    def __init__(
        self,
        primary: ModelConfig | str,
        secondary: ModelConfig | str,
        *others: ModelConfig | str,
        on: ErrorTest | tuple[type[BaseException], ...] | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        self.configs: tuple[ModelConfig, ...] = tuple(
            resolve_config(c) for c in (primary, secondary, *others)
        )
        self.should_fall_back: ErrorTest = _error_test(on)
        if settings is not None:
            self.settings = settings

    def __repr__(self) -> str:
        inner = ", ".join(f"{c.provider}:{c.model_name}" for c in self.configs)
        return f"FallbackModel({inner})"

    @property
    def provider(self) -> str:
        return self.configs[0].provider

    def supports_hosted(self, kind: str) -> bool:
        """Only what every config runs: any of them may answer a call."""
        return all(config.supports_hosted(kind) for config in self.configs)

    @property
    def model_name(self) -> str:
        return self.configs[0].model_name

    def create_client(self) -> ModelClient:
        return _FallbackClient(self.configs, self.should_fall_back)

    async def aclose(self) -> None:
        await super().aclose()
        for config in self.configs:
            await config.aclose()


class _FallbackClient:
    __slots__ = ("_configs", "_settings", "_should_fall_back")

    def __init__(self, configs: Sequence[ModelConfig], should_fall_back: ErrorTest) -> None:
        self._configs = tuple(configs)
        self._should_fall_back = should_fall_back
        # Per config: (the call's settings, those merged onto the config's own), reused while
        # calls keep arriving with the same settings object (the agent caches it).
        self._settings: list[tuple[ModelSettings, ModelSettings] | None] = [None] * len(configs)

    def _call_for(self, index: int, call: ModelCall) -> ModelCall:
        own = self._configs[index].settings
        if own == _DEFAULT_SETTINGS:
            return call
        cached = self._settings[index]
        if cached is None or cached[0] is not call.settings:
            cached = self._settings[index] = (call.settings, own.merge(call.settings))
        return replace(call, settings=cached[1])

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        configs = self._configs
        last = len(configs) - 1
        for index, config in enumerate(configs):
            try:
                response = await config.client().respond(self._call_for(index, call), emit)
            except Exception as error:
                if index == last or not self._should_fall_back(error):
                    raise
                following = configs[index + 1]
                await emit(
                    ModelCallRetry(
                        index + 1,
                        0.0,
                        type(error).__name__,
                        f"{config.provider}:{config.model_name} failed ({error}); falling back "
                        f"to {following.provider}:{following.model_name}",
                    )
                )
                continue
            if response.provider is None or response.model is None:
                response = replace(
                    response,
                    provider=response.provider or config.provider,
                    model=response.model or config.model_name,
                )
            return response
        raise AssertionError("unreachable: a FallbackModel has at least two configs")

    async def aclose(self) -> None:
        return None


_DEFAULT_SETTINGS = ModelSettings()
