"""The ``baton`` command. Needs the ``cli`` extra (typer and rich)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

__all__ = ["main"]

_MISSING_EXTRA = (
    "The baton command needs the 'cli' extra: pip install 'baton-agents[cli]' "
    "(or run 'python3 dev.py demo' from a checkout)."
)


def _build_app() -> Any:
    import typer

    app = typer.Typer(
        name="baton",
        help="Baton: async-first LLM agents.",
        no_args_is_help=True,
        add_completion=False,
    )

    @app.command()
    def demo(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Model shorthand, e.g. openai:gpt-5 (default: scripted)."
        ),
    ) -> None:
        """Run the demo agent: two tools and a structured answer, streamed live."""
        code = asyncio.run(_run_demo(model))
        raise typer.Exit(code)

    @app.command()
    def version() -> None:
        """Print Baton's version."""
        from . import __version__

        typer.echo(__version__)

    return app


async def _run_demo(requested_model: str | None) -> int:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from .demo import QUESTION, build_agent, choose_model
    from .errors import BatonError
    from .events import (
        ModelResponse,
        ReasoningChunk,
        RunFailed,
        TextChunk,
        ToolCall,
        ToolCallError,
        ToolCallResult,
    )
    from .testing import ScriptedModel

    console = Console(highlight=False)
    config, notice = choose_model(requested_model)
    scripted = isinstance(config, ScriptedModel)
    console.print(Panel(notice, title="model", border_style="yellow" if scripted else "green"))
    if scripted:
        console.print(
            "[dim]To use a real model, change one line in baton/demo.py "
            '(config=... -> config="openai:gpt-5") or run: baton demo --model openai:gpt-5[/dim]'
        )
    agent = build_agent(config)
    console.print(f"\n[bold]You:[/bold] {QUESTION}\n")
    streaming = False  # whether a line of streamed text is open

    def end_line() -> None:
        nonlocal streaming
        if streaming:
            console.print()
            streaming = False

    try:
        async with agent.run(QUESTION) as run:
            async for event in run:
                if isinstance(event, TextChunk):
                    if not streaming:
                        console.print("[bold cyan]Agent:[/bold cyan] ", end="")
                        streaming = True
                    console.print(event.text, end="", markup=False)
                elif isinstance(event, ReasoningChunk):
                    end_line()
                    console.print(f"[dim italic]thinking: {event.text}[/dim italic]")
                elif isinstance(event, ModelResponse):
                    end_line()
                elif isinstance(event, ToolCall):
                    end_line()
                    console.print(f"  [magenta]→ {event.name}[/magenta]({event.arguments})")
                elif isinstance(event, ToolCallResult):
                    console.print(f"  [green]← {event.name}[/green] {event.content}")
                elif isinstance(event, ToolCallError):
                    console.print(f"  [red]✗ {event.name}[/red] {event.message}")
                elif isinstance(event, RunFailed):
                    end_line()
                    console.print(f"[red]run failed: {event.error_type}: {event.message}[/red]")
            reply = await run.result()
    except BatonError as exc:
        end_line()
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        return 1
    end_line()
    advice = reply.output
    table = Table(title=f"Structured answer ({type(advice).__name__})")
    for column in ("city", "°C", "°F", "conditions"):
        table.add_column(column)
    for city in advice.cities:
        table.add_row(city.city, f"{city.celsius:g}", f"{city.fahrenheit:g}", city.conditions)
    console.print()
    console.print(table)
    console.print(f"[bold]Best city:[/bold] {advice.best_city} — {advice.reason}")
    usage = reply.usage
    console.print(
        f"\n[dim]usage: {usage.requests} model calls, {usage.tool_calls} tool calls, "
        f"{usage.input_tokens} input + {usage.output_tokens} output tokens "
        f"({usage.reasoning_tokens} reasoning); "
        f"{len(reply.events)} events in the conversation[/dim]"
    )
    return 0


def main() -> None:
    """Entry point of the ``baton`` console script."""
    try:
        app = _build_app()
    except ImportError:
        print(_MISSING_EXTRA, file=sys.stderr)
        raise SystemExit(2) from None
    app()


if __name__ == "__main__":
    main()
