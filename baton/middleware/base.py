"""Middleware: code that wraps the loop's steps (the contract lives in ``baton.hooks``).

``Middleware`` is re-exported here, with the handler types built-in middleware annotate with, so
``from baton.middleware import Middleware`` keeps working.
"""

from __future__ import annotations

from ..hooks import (
    AskHandler,
    Chains,
    InputHandler,
    Middleware,
    ModelHandler,
    ProceedAsk,
    ProceedInput,
    ProceedModel,
    ProceedTool,
    ToolHandler,
)

__all__ = [
    "AskHandler",
    "Chains",
    "InputHandler",
    "Middleware",
    "ModelHandler",
    "ProceedAsk",
    "ProceedInput",
    "ProceedModel",
    "ProceedTool",
    "ToolHandler",
]
