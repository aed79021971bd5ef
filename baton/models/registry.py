"""``"provider:model"`` shorthands resolved to model configs."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import ConfigError
from .base import ModelConfig

__all__ = ["register_provider", "resolve_config"]

# provider prefix -> (module path, factory name, extra to install)
_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("baton.providers.openai", "OpenAIConfig", "openai"),
    "openai-responses": ("baton.providers.openai_responses", "OpenAIResponsesConfig", "openai"),
    "anthropic": ("baton.providers.anthropic", "AnthropicConfig", "anthropic"),
    "gemini": ("baton.providers.gemini", "GeminiConfig", "gemini"),
    "vertex": ("baton.providers.vertex", "VertexConfig", "gemini"),
    "ollama": ("baton.providers.ollama", "OllamaConfig", "ollama"),
    "dashscope": ("baton.providers.dashscope", "DashScopeConfig", "dashscope"),
}
_FACTORIES: dict[str, Callable[[str], ModelConfig]] = {}


def register_provider(prefix: str, factory: Callable[[str], ModelConfig]) -> None:
    """Make ``"prefix:model"`` resolve through ``factory(model)``."""
    _FACTORIES[prefix] = factory


def resolve_config(config: ModelConfig | str) -> ModelConfig:
    """A ``ModelConfig`` for ``config``; strings look like ``"openai:gpt-5"``."""
    if isinstance(config, ModelConfig):
        return config
    if not isinstance(config, str):
        raise ConfigError(
            f"config must be a ModelConfig (e.g. ScriptedModel(...)) or a 'provider:model' string, "
            f"got {type(config).__name__}"
        )
    prefix, sep, model = config.partition(":")
    if not sep or not model:
        raise ConfigError(
            f"model shorthand {config!r} must look like 'provider:model', e.g. 'openai:gpt-5'"
        )
    factory = _FACTORIES.get(prefix)
    if factory is None and prefix in _PROVIDERS:
        module_name, attr, extra = _PROVIDERS[prefix]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"provider {prefix!r} needs an extra: pip install 'baton-agents[{extra}]' ({exc})"
            ) from None
        factory = getattr(module, attr)
    if factory is None:
        known = ", ".join(sorted({*_FACTORIES, *_PROVIDERS})) or "none installed in this version"
        raise ConfigError(
            f"unknown model provider {prefix!r} in {config!r}; known providers: {known}"
        )
    return factory(model)
