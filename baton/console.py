"""Drawing an ask's events in a terminal with rich (used by ``baton demo`` and ``baton chat``)."""

from __future__ import annotations

from typing import Any

from .events import (
    Event,
    ModelResponse,
    ReasoningChunk,
    RunFailed,
    TextChunk,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
)

__all__ = ["EventPrinter", "describe_usage"]


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
                console.print(f"[bold cyan]{self.speaker}:[/bold cyan] ", end="")
                self._open_line = True
            console.print(event.text, end="", markup=False, highlight=False)
        elif isinstance(event, ReasoningChunk):
            self.end_line()
            console.print(f"[dim italic]thinking: {event.text}[/dim italic]", highlight=False)
        elif isinstance(event, ModelResponse):
            self.end_line()
        elif isinstance(event, ToolCall):
            self.end_line()
            console.print(
                f"  [magenta]→ {event.name}[/magenta]({event.arguments})", highlight=False
            )
        elif isinstance(event, ToolCallResult):
            console.print(f"  [green]← {event.name}[/green] {event.content}", highlight=False)
        elif isinstance(event, ToolCallError):
            console.print(f"  [red]✗ {event.name}[/red] {event.message}", highlight=False)
        elif isinstance(event, RunFailed):
            self.end_line()
            console.print(f"[red]run failed: {event.error_type}: {event.message}[/red]")
