"""Finding what a command serves or runs: ``module:attribute`` names, as uvicorn reads them.

``baton mcp serve``, ``baton dev`` and ``baton worker run|serve`` all take their agent this way,
so they read it the same way: the module is imported from the working directory, the attribute
may be dotted (``app:agents.triage``), and a function found there is called to make the object
(a factory), unless it is already what the command takes.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

__all__ = ["load_target"]


def load_target(
    target: str,
    accepts: Callable[[Any], bool],
    expected: str,
    *,
    option: str = "the agent",
) -> Any:
    """The object ``target`` (``module:attribute``) names, made by calling it when it is a
    factory. ``accepts`` says whether an object is what the command takes (``expected``
    names it in the error); ``option`` names what the target is (``--agent``).
    Every problem is a ``ConfigError`` naming the target."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"name {option} as 'module:attribute', e.g. 'myapp.agents:agent', not {target!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} ({exc})") from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigError(f"{target!r}: {module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    if not accepts(found) and callable(found):
        found = found()  # a factory
    if not accepts(found):
        raise ConfigError(f"{target!r} is {type(found).__name__}, not {expected}")
    return found
