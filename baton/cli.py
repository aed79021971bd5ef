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
    def chat(
        config: str = typer.Option(
            "scripted",
            "--config",
            "-c",
            help="Model shorthand, e.g. openai:gpt-5 or anthropic:claude-sonnet-4-5; 'scripted' "
            "echoes offline.",
        ),
        tools: list[str] = typer.Option(
            [], "--tools", "-t", help="Tools from a module: 'pkg.module' or 'pkg.module:name'."
        ),
        prompt: str | None = typer.Option(None, "--prompt", "-p", help="System prompt."),
        base_url: str | None = typer.Option(None, "--base-url", help="Override the endpoint."),
    ) -> None:
        """Chat with any provider in the terminal, streaming, with tools from Python modules."""
        from .chat import run_chat

        raise typer.Exit(run_chat(config, tools, prompt, base_url))

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

    from .console import EventPrinter, describe_usage
    from .demo import QUESTION, build_agent, choose_model
    from .errors import BatonError
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
    printer = EventPrinter(console)
    try:
        async with agent.run(QUESTION) as run:
            async for event in run:
                printer(event)
            reply = await run.result()
    except BatonError as exc:
        printer.end_line()
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        return 1
    printer.end_line()
    advice = reply.output
    table = Table(title=f"Structured answer ({type(advice).__name__})")
    for column in ("city", "°C", "°F", "conditions"):
        table.add_column(column)
    for city in advice.cities:
        table.add_row(city.city, f"{city.celsius:g}", f"{city.fahrenheit:g}", city.conditions)
    console.print()
    console.print(table)
    console.print(f"[bold]Best city:[/bold] {advice.best_city} — {advice.reason}")
    console.print(
        f"\n[dim]usage: {describe_usage(reply.usage)}; "
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
