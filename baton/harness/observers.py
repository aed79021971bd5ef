"""Observers: watchers of an ask's events that raise alerts.

An observer sees every event of the asks it is attached to (chunks and tool-call notices
included) and may answer with an ``ObserverAlert``. Alerts are recorded in the conversation; a
``fatal`` one halts the ask at the next step boundary with ``ObserverHalt``, leaving a valid
history.

Built in: ``LoopDetector`` (the same tool called with the same arguments again and again) and
``TokenMonitor`` (token usage past warning and hard limits). Observer objects are shared by
every conversation of an agent; their state lives in ``context.state(self, ...)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError
from ..events import Event, ModelResponse, ObserverAlert, RunStarted, ToolCall, UsageReport
from ..hooks import Observer

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["LoopDetector", "Observer", "TokenMonitor"]


class LoopDetector(Observer):
    """Alerts when a conversation calls the same tool with the same arguments ``max_repeats``
    times (arguments compared as canonical JSON, so key order and spacing don't matter).

    Each call is counted once, when it starts running (its ``ToolCall`` notice); the alert is
    raised once per (tool, arguments), on the ``max_repeats``-th call, and recorded right after
    that call's result. With ``fatal=True`` it halts the ask (``ObserverHalt``) once the tool
    calls of that step are answered. Counts belong to the conversation and last across its asks.
    """

    name = "loop-detector"

    def __init__(
        self, max_repeats: int = 3, *, fatal: bool = False, name: str | None = None
    ) -> None:
        if isinstance(max_repeats, bool) or not isinstance(max_repeats, int) or max_repeats < 2:
            raise ConfigError(f"max_repeats must be an integer of at least 2, got {max_repeats!r}")
        self.max_repeats = max_repeats
        self.fatal = fatal
        if name is not None:
            self.name = name

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        if not isinstance(event, ToolCall):
            return None
        counts: dict[bytes, int] = context.state(self, dict)
        key = _call_key(event)
        seen = counts.get(key, 0) + 1
        counts[key] = seen
        if seen != self.max_repeats:
            return None
        arguments = " ".join(event.arguments.split())
        if len(arguments) > 80:
            arguments = arguments[:77] + "..."
        return ObserverAlert(
            self.name,
            f"tool {event.name!r} was called {seen} times with the same arguments ({arguments}); "
            "the agent may be stuck in a loop",
            "error" if self.fatal else "warning",
            self.fatal,
        )


def _call_key(call: ToolCall) -> bytes:
    try:
        canonical = json.dumps(
            json.loads(call.arguments or "{}"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    except ValueError:  # malformed JSON: compare the text itself
        canonical = call.arguments.strip()
    # A digest keeps the state small however large the arguments are.
    return hashlib.blake2b(f"{call.name}\0{canonical}".encode(), digest_size=16).digest()


class _TokenState:
    __slots__ = ("base", "crossed", "current", "halted_run", "run_id")

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.base = 0  # tokens of the conversation's earlier asks
        self.current = 0  # tokens of the current ask so far
        self.crossed: set[int] = set()
        self.halted_run: str | None = None


class TokenMonitor(Observer):
    """Alerts when token usage (input + output tokens, sub-tasks included) crosses thresholds.

    ``scope="conversation"`` (the default) counts every ask of the conversation, starting from
    the usage reports already in its history; ``scope="ask"`` counts each ask on its own. Each
    ``warn_at`` threshold (one number or several) alerts at most once per scope. Crossing
    ``halt_at`` raises a fatal alert that halts the ask (``ObserverHalt``); a conversation over
    its ``halt_at`` budget is halted again, once, in every later ask.

    Usage is read at each event kept in history (final model responses, tool results, sub-task
    results...), so a halt lands at the next step boundary: the model call that crossed the line
    has been made and is counted, and the tools it asked for have run.
    """

    name = "token-monitor"

    def __init__(
        self,
        warn_at: int | Sequence[int] = (),
        halt_at: int | None = None,
        *,
        scope: Literal["conversation", "ask"] = "conversation",
        name: str | None = None,
    ) -> None:
        thresholds = (warn_at,) if isinstance(warn_at, int) else tuple(warn_at)
        for value in (*thresholds, *(() if halt_at is None else (halt_at,))):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"token thresholds must be positive integers, got {value!r}")
        if not thresholds and halt_at is None:
            raise ConfigError("TokenMonitor needs warn_at=..., halt_at=..., or both")
        if scope not in ("conversation", "ask"):
            raise ConfigError(f"scope must be 'conversation' or 'ask', got {scope!r}")
        self.warn_at: tuple[int, ...] = tuple(sorted(set(thresholds), reverse=True))
        self.halt_at = halt_at
        self.scope = scope
        if name is not None:
            self.name = name

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        if event.transient or (isinstance(event, ModelResponse) and event.tool_calls):
            # A response asking for tools is counted at its first tool result: halting right
            # after it would leave its calls unanswered (the loop answers pending calls only
            # once they started).
            return None
        state: _TokenState = context.state(self, _TokenState)
        if state.run_id != context.run_id:
            if state.run_id is None and self.scope == "conversation":
                state.base = _earlier_tokens(context)
            elif self.scope == "conversation":
                state.base += state.current
            else:
                state.crossed.clear()
            state.run_id = context.run_id
        state.current = context.usage.total_tokens
        used = state.current + (state.base if self.scope == "conversation" else 0)
        where = "this conversation" if self.scope == "conversation" else "this ask"
        if self.halt_at is not None and used >= self.halt_at:
            state.crossed.update(t for t in self.warn_at if t <= used)
            if state.halted_run != context.run_id:
                state.halted_run = context.run_id
                return ObserverAlert(
                    self.name,
                    f"{where} used {used:,} tokens, over the limit of {self.halt_at:,}",
                    "error",
                    True,
                )
            return None
        for threshold in self.warn_at:  # highest first: one alert covers the ones below it
            if used >= threshold:
                if threshold in state.crossed:
                    return None
                state.crossed.update(t for t in self.warn_at if t <= threshold)
                return ObserverAlert(
                    self.name, f"{where} used {used:,} tokens, past {threshold:,}", "warning"
                )
        return None


def _earlier_tokens(context: Context) -> int:
    """Tokens of the asks before the current one, from history: an ask's usage report, or
    for an ask that failed before its report (halted, for one), its model responses' usage.
    Read from the store's events, so a conversation reloaded in memory (or in another
    process) keeps its budget."""
    total = 0
    unreported = 0  # the model responses of an ask whose report has not come (yet)
    for event in context.events:
        if isinstance(event, RunStarted):
            if event.run_id == context.run_id:
                break
            total += unreported
            unreported = 0
        elif isinstance(event, ModelResponse):
            unreported += event.usage.total_tokens
        elif isinstance(event, UsageReport):
            total += event.usage.total_tokens
            unreported = 0
    return total + unreported
