"""Model configs and clients: the provider-independent interface of the loop."""

from .base import EmitChunk, ModelCall, ModelClient, ModelConfig, ModelSettings
from .registry import register_provider, resolve_config

__all__ = [
    "EmitChunk",
    "ModelCall",
    "ModelClient",
    "ModelConfig",
    "ModelSettings",
    "register_provider",
    "resolve_config",
]
