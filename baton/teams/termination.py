"""When a team's ask stops. A condition is checked after every member turn; the first that
fires ends the ask normally (``TeamFinished`` names it, the reply holds the last answer).
Conditions compose: ``a | b`` fires when either fires, ``a & b`` once both have fired at
some point in the ask. Every team also stops after ``max_turns`` member turns (20 by default;
a ``MaxTurns`` condition above it is refused when the team is made, as it could never fire).

Conditions are plain values (no state of their own): what an ask has seen lives in its
``TeamState``, so one condition serves every ask and every conversation at once."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import ConfigError
from ..options import check_one_argument
from .state import TeamState

T = TypeVar("T", bound="Termination")

__all__ = [
    "AllOf",
    "AnyOf",
    "CostLimit",
    "FunctionCondition",
    "HandoffTo",
    "MaxTurns",
    "StopTool",
    "Termination",
    "TextMention",
    "Timeout",
    "TokenLimit",
]


class Termination:
    """Base of every termination condition: override ``check`` (``True`` when it fires)."""

    async def fired(self, state: TeamState) -> bool:
        """Whether this condition has fired, given the ask so far."""
        return self.check(state)

    def check(self, state: TeamState) -> bool:
        raise NotImplementedError

    def __or__(self, other: Termination) -> Termination:
        return AnyOf(self, _checked(other))

    def __and__(self, other: Termination) -> Termination:
        return AllOf(self, _checked(other))

    def __ror__(self, other: object) -> Termination:  # "DONE" | MaxTurns(5)
        return AnyOf(_checked(other), self)

    def __rand__(self, other: object) -> Termination:
        return AllOf(_checked(other), self)


def _checked(condition: object) -> Termination:
    if not isinstance(condition, Termination):
        raise ConfigError(
            f"termination conditions combine with other conditions (MaxTurns, TextMention, ...), "
            f"got {condition!r}"
        )
    return condition


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(f"{name} takes a positive number, got {value!r}")
    return value


class MaxTurns(Termination):
    """Stops after ``n`` member turns in one ask (the task is not a turn)."""

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"MaxTurns takes a whole number of turns of at least 1, got {n!r}")
        self.n = n

    def check(self, state: TeamState) -> bool:
        return len(state.turns) >= self.n

    def __repr__(self) -> str:
        return f"MaxTurns({self.n})"


class TextMention(Termination):
    """Stops when a member's answer contains ``text`` (a ``Human`` member's answer too; never
    the task's text or a remark sent on the stream: only members' turns are read)."""

    def __init__(self, text: str, *, case_sensitive: bool = True) -> None:
        if not isinstance(text, str) or not text:
            raise ConfigError(f"TextMention takes non-empty text, got {text!r}")
        self.text = text
        self.case_sensitive = case_sensitive

    def check(self, state: TeamState) -> bool:
        if not state.turns:
            return False
        said = state.turns[-1].text
        if self.case_sensitive:
            return self.text in said
        return self.text.lower() in said.lower()

    def __repr__(self) -> str:
        return f"TextMention({self.text!r})"


class TokenLimit(Termination):
    """Stops once the ask's members used ``tokens`` tokens (input plus output) or more."""

    def __init__(self, tokens: int) -> None:
        self.tokens = int(_positive("TokenLimit", tokens))

    def check(self, state: TeamState) -> bool:
        return state.usage.total_tokens >= self.tokens

    def __repr__(self) -> str:
        return f"TokenLimit({self.tokens})"


class CostLimit(Termination):
    """Stops once the ask cost ``usd`` dollars or more (for models with a price)."""

    def __init__(self, usd: float) -> None:
        self.usd = _positive("CostLimit", usd)

    def check(self, state: TeamState) -> bool:
        return state.usage.cost >= self.usd

    def __repr__(self) -> str:
        return f"CostLimit({self.usd})"


class Timeout(Termination):
    """Stops the ask ``seconds`` after it began: checked after every turn, and a turn still
    running then is cut short (its run closes as cancelled; the reply holds the last answer
    before it). Combined with ``&``, it is only checked after turns."""

    def __init__(self, seconds: float) -> None:
        self.seconds = _positive("Timeout", seconds)

    def check(self, state: TeamState) -> bool:
        return state.elapsed >= self.seconds

    def __repr__(self) -> str:
        return f"Timeout({self.seconds})"


class HandoffTo(Termination):
    """Stops when a member hands off to ``target`` (a name that need not be a member: e.g.
    ``"user"``, for a swarm whose members may give the conversation back)."""

    def __init__(self, target: str) -> None:
        if not isinstance(target, str) or not target:
            raise ConfigError(f"HandoffTo takes the name handed off to, got {target!r}")
        self.target = target

    def check(self, state: TeamState) -> bool:
        return bool(state.turns) and state.turns[-1].handoff == self.target

    def __repr__(self) -> str:
        return f"HandoffTo({self.target!r})"


class StopTool(Termination):
    """Stops when a member called the tool ``name`` in its turn."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"StopTool takes a tool's name, got {name!r}")
        self.name = name

    def check(self, state: TeamState) -> bool:
        return bool(state.turns) and self.name in state.turns[-1].tools

    def __repr__(self) -> str:
        return f"StopTool({self.name!r})"


class FunctionCondition(Termination):
    """Stops when ``function(state)`` (sync or async) returns true."""

    def __init__(self, function: Callable[[TeamState], bool | Awaitable[bool]]) -> None:
        check_one_argument(
            function,
            "FunctionCondition takes a function of the TeamState (one argument, e.g. "
            "lambda state: len(state.turns) > 3)",
        )
        self.function = function

    async def fired(self, state: TeamState) -> bool:
        result = self.function(state)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    def check(self, state: TeamState) -> bool:
        raise ConfigError("FunctionCondition is checked with fired() (its function may be async)")

    def __repr__(self) -> str:
        name = getattr(self.function, "__name__", type(self.function).__name__)
        return f"FunctionCondition({name})"


class AnyOf(Termination):
    """``a | b``: fires when either part fires."""

    def __init__(self, *parts: Termination) -> None:
        self.parts = parts

    async def fired(self, state: TeamState) -> bool:
        for part in self.parts:
            if await part.fired(state):
                return True
        return False

    def check(self, state: TeamState) -> bool:
        return any(part.check(state) for part in self.parts)

    def __repr__(self) -> str:
        return " | ".join(map(_grouped, self.parts))


class AllOf(Termination):
    """``a & b``: fires once every part has fired at some point in the ask (not necessarily
    after the same turn)."""

    def __init__(self, *parts: Termination) -> None:
        self.parts = parts

    async def fired(self, state: TeamState) -> bool:
        for part in self.parts:
            if id(part) not in state.fired and await part.fired(state):
                state.fired.add(id(part))
        return all(id(part) in state.fired for part in self.parts)

    def check(self, state: TeamState) -> bool:
        for part in self.parts:
            if id(part) not in state.fired and part.check(state):
                state.fired.add(id(part))
        return all(id(part) in state.fired for part in self.parts)

    def __repr__(self) -> str:
        return " & ".join(map(_grouped, self.parts))


def _grouped(condition: Termination) -> str:
    text = repr(condition)
    return f"({text})" if isinstance(condition, AnyOf | AllOf) else text


def either(condition: Termination, kind: type[T]) -> list[T]:
    """The conditions of class ``kind`` that stop the ask by themselves: ``condition``
    itself, or a part of an ``|`` (not of an ``&``, where another part must fire too)."""
    return _found(condition, kind, (AnyOf,))


def within(condition: Termination, kind: type[T]) -> list[T]:
    """Every condition of class ``kind`` in ``condition``, the parts of an ``|`` or an ``&``
    included."""
    return _found(condition, kind, (AnyOf, AllOf))


def _found(
    condition: Termination, kind: type[T], through: tuple[type[AnyOf] | type[AllOf], ...]
) -> list[T]:
    """``condition`` if it is a ``kind``, else those found in the parts of the ``through``
    combinations it is."""
    if isinstance(condition, kind):
        return [condition]
    if isinstance(condition, through):
        return [found for part in condition.parts for found in _found(part, kind, through)]
    return []


def checked_only(condition: Termination) -> bool:
    """Whether ``condition`` is decided by ``check`` alone, parts included (no ``fired`` of
    its own, such as a ``FunctionCondition``'s, that may await): then checking its
    ``checked_parts`` in turn gives what ``first_fired`` would, without a coroutine per part on
    every turn."""
    if type(condition) is AnyOf or type(condition) is AllOf:
        return all(checked_only(part) for part in condition.parts)
    return type(condition).fired is Termination.fired  # AnyOf and AllOf have their own


def checked_parts(condition: Termination) -> tuple[Termination, ...]:
    """The parts ``first_fired`` tries, in its order: those of an ``|`` (nested ones
    flattened), or ``condition`` itself. For a ``checked_only`` condition, checking each in
    turn and naming the first that holds gives what ``first_fired`` gives, without a call per
    level on every turn."""
    if isinstance(condition, AnyOf):
        return tuple(found for part in condition.parts for found in checked_parts(part))
    return (condition,)


async def first_fired(condition: Termination, state: TeamState) -> str | None:
    """The name of what fired in ``condition`` (the innermost part of an ``|``; the whole of
    an ``&``), or ``None``."""
    if isinstance(condition, AnyOf):
        for part in condition.parts:
            name = await first_fired(part, state)
            if name is not None:
                return name
        return None
    return repr(condition) if await condition.fired(state) else None
