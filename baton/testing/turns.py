"""What a script says: the turns a ``ScriptedModel`` plays and the helpers that write them
(``call``, ``chunks``, ``reasoning``; the turn kinds are in ``baton.testing``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from ..models.base import ModelCall

__all__ = ["Chunks", "Reasoning", "ScriptedCall", "TurnFunction", "call", "chunks", "reasoning"]


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """A tool call in a script; it gets a fresh call id each time it is played."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reasoning:
    text: str


@dataclass(frozen=True, slots=True)
class Chunks:
    pieces: tuple[Any, ...]


def call(name: str, /, arguments: str | None = None, **kwargs: Any) -> ScriptedCall:
    """A scripted tool call. ``arguments`` gives raw JSON text (even malformed, for tests)."""
    if arguments is not None:
        return ScriptedCall(name, arguments)
    return ScriptedCall(name, to_json(kwargs).decode())


def reasoning(text: str) -> Reasoning:
    """A piece of scripted reasoning, for ``chunks(...)``."""
    return Reasoning(text)


def chunks(*pieces: str | ScriptedCall | Reasoning) -> Chunks:
    """A streamed turn: text pieces, reasoning pieces and tool calls, emitted one by one (a
    tool call as a ``ToolCallDelta`` with its whole arguments, as a provider streams one)."""
    return Chunks(pieces)


TurnFunction = Callable[[ModelCall], Any]
