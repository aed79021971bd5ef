"""The worker's optional libraries, imported when first needed, with an error naming the extra."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigError

__all__ = ["require", "require_jsonschema", "require_yaml"]


def require(module: str, extra: str, what: str) -> Any:
    """Import ``module`` or raise a ``ConfigError`` naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{what} needs {module}: pip install 'baton-agents[{extra}]'") from None


def require_yaml() -> Any:
    """PyYAML (the ``worker`` extra)."""
    return require("yaml", "worker", "reading a *.worker.md file's front matter")


def require_jsonschema() -> Any:
    """jsonschema (the ``worker`` extra)."""
    return require("jsonschema", "worker", "checking a worker's schemas")
