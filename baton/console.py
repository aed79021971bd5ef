"""Drawing an ask's events in a terminal with rich (used by ``baton demo`` and ``baton chat``).

``EventPrinter`` shows the conversation (text as it streams, tool calls and results);
``TimelinePrinter`` (``baton chat --verbose``) adds the timeline the dev page shows, one short
line per step: runs, model turns with model, usage, cost and duration, tool calls with their
durations, human requests and answers, sub-tasks, alerts, retries and rate-limit waits.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.markup import escape

from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelCallRetry,
    ModelResponse,
    ObserverAlert,
    OutputRejected,
    RateLimitWait,
    ReasoningChunk,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
    Usage,
    UsageReport,
)

__all__ = ["EventPrinter", "TimelinePrinter", "describe_duration", "describe_usage"]


_TURN_EVENTS = (TextChunk, ReasoningChunk, ToolCallDelta, ModelResponse)


def describe_duration(seconds: float) -> str:
    """``12 ms`` or ``1.25 s``."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def describe_usage(usage: Usage) -> str:
    text = (
        f"{usage.requests} model call{'s' if usage.requests != 1 else ''}, "
        f"{usage.tool_calls} tool call{'s' if usage.tool_calls != 1 else ''}, "
        f"{usage.input_tokens} input + {usage.output_tokens} output tokens"
    )
    if usage.reasoning_tokens:
        text += f" ({usage.reasoning_tokens} reasoning)"
    if usage.cost:
        text += f", ${usage.cost:.4f}"
    return text


class EventPrinter:
    """Prints streamed text inline, reasoning dimmed, tool calls and results as they happen."""

    def __init__(self, console: Any, *, speaker: str = "Agent") -> None:
        self.console = console
        self.speaker = speaker
        self._open_line = False

    def end_line(self) -> None:
        if self._open_line:
            self.console.print()
            self._open_line = False

    def __call__(self, event: Event) -> None:
        console = self.console
        if isinstance(event, TextChunk):
            if not self._open_line:
                console.print(f"[bold cyan]{escape(self.speaker)}:[/bold cyan] ", end="")
                self._open_line = True
            console.print(event.text, end="", markup=False, highlight=False)
        elif isinstance(event, ReasoningChunk):
            self.end_line()
            console.print(
                f"[dim italic]thinking: {escape(event.text)}[/dim italic]", highlight=False
            )
        elif isinstance(event, ModelResponse):
            self.end_line()
        elif isinstance(event, ToolCall):
            self.end_line()
            console.print(
                f"  [magenta]→ {escape(event.name)}[/magenta]({escape(event.arguments)})",
                highlight=False,
            )
        elif isinstance(event, ToolCallResult):
            console.print(
                f"  [green]← {escape(event.name)}[/green] {escape(event.content)}",
                highlight=False,
            )
        elif isinstance(event, ToolCallError):
            console.print(
                f"  [red]✗ {escape(event.name)}[/red] {escape(event.message)}", highlight=False
            )
        elif isinstance(event, RunFailed):
            self.end_line()
            console.print(
                f"run failed: {event.error_type}: {event.message}", style="red", markup=False
            )


class TimelinePrinter(EventPrinter):
    """``EventPrinter`` plus the timeline, compactly (see the module docs). Durations are
    measured here, as the events arrive: a model turn from the end of the step before it."""

    def __init__(self, console: Any, *, speaker: str = "Agent") -> None:
        super().__init__(console, speaker=speaker)
        self._turn = 0
        self._run_started = self._step_started = time.perf_counter()
        self._calls: dict[str, float] = {}
        self._in_turn = False
        # Lines about model calls, told by whoever made them (``baton chat``'s middleware):
        # printed when their turn's first event arrives here, so that they keep their place
        # (the ask runs ahead of the events it delivers to this printer).
        self.requests: deque[str] = deque()

    def note(self, text: str) -> None:
        """One dim timeline line (the open text line is ended first)."""
        self.end_line()
        # Plain text (markup off): a tool's arguments may hold "[...]" that rich would eat.
        self.console.print(f"│ {text}", style="dim", markup=False, highlight=False)

    def __call__(self, event: Event) -> None:
        now = time.perf_counter()
        kind = type(event)
        if kind in _TURN_EVENTS and not self._in_turn:
            self._in_turn = True
            if self.requests:
                self.note(self.requests.popleft())
        if kind is RunStarted:
            self._turn = 0
            self._run_started = self._step_started = now
            self._calls.clear()
            self.end_line()
            run: RunStarted = event  # type: ignore[assignment]
            self.console.print(f"┌ run {run.run_id[:12]} of {run.agent}", style="dim", markup=False)
        elif kind is ModelResponse:
            super().__call__(event)
            self._turn += 1
            response: ModelResponse = event  # type: ignore[assignment]
            parts = [f"turn {self._turn}"]
            if response.model:
                parts.append(f"{response.provider}:{response.model}")
            usage = response.usage
            parts.append(f"{usage.input_tokens} in / {usage.output_tokens} out tokens")
            if usage.cost:
                parts.append(f"${usage.cost:.4f}")
            if response.tool_calls:
                parts.append(f"{len(response.tool_calls)} tool call(s)")
            parts.append(describe_duration(now - self._step_started))
            self.note(" · ".join(parts))
            self._step_started = now
            self._in_turn = False
        elif kind is ToolCall:
            super().__call__(event)
            self._calls[event.id] = now  # type: ignore[attr-defined]
        elif kind is ToolCallResult or kind is ToolCallError:
            started = self._calls.pop(event.call_id, None)  # type: ignore[attr-defined]
            super().__call__(event)
            if started is not None:
                self.note(f"{event.name} took {describe_duration(now - started)}")  # type: ignore[attr-defined]
            self._step_started = now
        else:
            self._other(event, now)

    def _other(self, event: Event, now: float) -> None:
        if isinstance(event, ModelCallRetry):
            if not self._in_turn and self.requests:  # the failed attempt's, before its failure
                self.note(self.requests.popleft())
            self._in_turn = False  # the next attempt is a model call of its own
            self.note(
                f"retry {event.attempt} in {describe_duration(event.delay)}: "
                f"{event.error_type}: {event.message}"
            )
        elif isinstance(event, ApprovalRequest):
            self.note(f"approval asked: {event.call.name}({event.call.arguments})")
        elif isinstance(event, HumanInputRequest):
            self.note(f"question: {event.prompt}")
        elif isinstance(event, HumanMessage):
            verdict = {True: "approved", False: "denied"}.get(event.approved, "answer")  # type: ignore[arg-type]
            self.note(f"{verdict if event.request_id else 'remark'}: {event.text}".rstrip(": "))
        elif isinstance(event, RateLimitWait):
            self.note(f"rate limit {event.limiter}: waiting {describe_duration(event.seconds)}")
        elif isinstance(event, ObserverAlert):
            self.note(f"alert from {event.observer} ({event.severity}): {event.message}")
        elif isinstance(event, OutputRejected):
            self.note(f"output rejected: {event.message}")
        elif isinstance(event, TaskStarted):
            self.note(f"sub-task {event.task_id[:8]} → {event.agent}: {event.task}")
        elif isinstance(event, TaskCompleted):
            self.note(f"sub-task {event.task_id[:8]} done ({describe_usage(event.usage)})")
        elif isinstance(event, TaskFailed):
            self.note(f"sub-task {event.task_id[:8]} failed: {event.error_type}: {event.message}")
        elif isinstance(event, UsageReport):
            self.note(f"usage: {describe_usage(event.usage)}")
        elif isinstance(event, RunFinished):
            self.end_line()
            self.console.print(
                f"└ finished in {describe_duration(now - self._run_started)}",
                style="dim",
                markup=False,
            )
        else:
            super().__call__(event)
