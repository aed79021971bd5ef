"""The a2a-sdk is an optional extra: one place that checks for it and names the extra."""

from __future__ import annotations

import importlib

from ..errors import ConfigError

__all__ = ["require_sdk"]

EXTRA = "pip install 'baton-agents[a2a]'"


def require_sdk() -> None:
    """A ``ConfigError`` naming the extra when the a2a-sdk (with its HTTP server) is missing."""
    try:
        importlib.import_module("a2a.server.request_handlers")
        importlib.import_module("a2a.server.routes")
        importlib.import_module("a2a.client")
    except ImportError as exc:
        raise ConfigError(f"A2A needs the a2a-sdk with its HTTP server: {EXTRA} ({exc})") from None
