"""Model providers. Each module needs its extra (its SDK, and msgspec for its streams) only when
its client is made, so importing a config class is always cheap; ``"provider:model"`` strings
resolve here too."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .anthropic import AnthropicConfig
    from .dashscope import DashScopeConfig
    from .gemini import GeminiConfig
    from .ollama import OllamaConfig
    from .openai import OpenAIConfig
    from .openai_responses import OpenAIResponsesConfig
    from .vertex import VertexConfig

__all__ = [
    "AnthropicConfig",
    "DashScopeConfig",
    "GeminiConfig",
    "OllamaConfig",
    "OpenAIConfig",
    "OpenAIResponsesConfig",
    "VertexConfig",
]

_LAZY = {
    "GeminiConfig": ".gemini",
    "VertexConfig": ".vertex",
    "AnthropicConfig": ".anthropic",
    "OpenAIConfig": ".openai",
    "OllamaConfig": ".ollama",
    "DashScopeConfig": ".dashscope",
    "OpenAIResponsesConfig": ".openai_responses",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'baton.providers' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
