"""The ``baton`` command. Needs the ``cli`` extra (typer and rich)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, cast

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
        verbose: bool = typer.Option(
            False,
            "--verbose",
            "-v",
            help="Show the timeline: runs, model calls and turns with usage, cost and duration, "
            "tool calls with durations, approvals, alerts, retries.",
        ),
    ) -> None:
        """Chat with any provider in the terminal, streaming, with tools from Python modules."""
        from .chat import run_chat

        raise typer.Exit(run_chat(config, tools, prompt, base_url, verbose=verbose))

    @app.command()
    def dev(
        target: str = typer.Argument(..., help="The agent (or team), as 'module:attribute'."),
        history: str | None = typer.Option(
            None,
            "--history",
            help="Where conversations are kept: sqlite:///file.db, postgresql://... or "
            "redis://... (default: the agent's own, else memory).",
        ),
        redis: str | None = typer.Option(
            None,
            "--redis",
            help="Redis whose streams to watch other processes' conversations on (default: "
            "the --history URL when it is Redis).",
        ),
        prefix: str = typer.Option("baton:", "--prefix", help="Redis key prefix."),
        port: int | None = typer.Option(None, "--port", help="Port (default: a free one)."),
        no_browser: bool = typer.Option(
            False, "--no-browser", help="Only print the URL; don't open a browser."
        ),
    ) -> None:
        """A local web page to chat with an agent and watch every step (127.0.0.1, token)."""
        from .devui.serve import serve
        from .errors import ConfigError

        try:
            asyncio.run(
                serve(
                    target,
                    history=history,
                    redis=redis,
                    redis_prefix=prefix,
                    port=port,
                    browser=not no_browser,
                )
            )
        except ConfigError as exc:
            print(f"ConfigError: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            pass

    app.add_typer(_mcp_app(), name="mcp")

    from .worker.cli import worker_app  # imports typer only: the worker's extras load when used

    app.add_typer(worker_app(), name="worker")

    @app.command()
    def version() -> None:
        """Print Baton's version."""
        from . import __version__

        typer.echo(__version__)

    return app


def _mcp_app() -> Any:
    """The ``baton mcp`` commands (the MCP SDK is imported only when one runs)."""
    import typer

    mcp = typer.Typer(
        help="Serve agents over MCP (the Model Context Protocol).", no_args_is_help=True
    )

    @mcp.command()
    def serve(
        target: str = typer.Argument(..., help="The agent to serve, as 'module:attribute'."),
        http: str | None = typer.Option(
            None, "--http", help="Serve streamable HTTP on HOST:PORT (default: stdio)."
        ),
        tools: str | None = typer.Option(
            None, "--tools", help="What clients see: 'ask' (default), 'agent-tools' or 'both'."
        ),
        name: str | None = typer.Option(None, "--name", help="Server name (default: the agent's)."),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="BATON_MCP_TOKEN",
            help="Bearer token HTTP clients must send (default: one is generated and printed).",
            show_default=False,
        ),
        no_token: bool = typer.Option(
            False, "--no-token", help="HTTP without a token: loopback address and clients only."
        ),
        allow_origin: list[str] = typer.Option(
            [], "--allow-origin", help="A browser Origin allowed to call the server (repeatable)."
        ),
        allow_host: list[str] = typer.Option(
            [], "--allow-host", help="A Host header the server answers to (repeatable)."
        ),
    ) -> None:
        """Serve an agent over MCP: stdio by default, or streamable HTTP with --http."""
        from .errors import ConfigError

        try:
            code = asyncio.run(
                _serve_mcp(target, http, tools, name, token, no_token, allow_origin, allow_host)
            )
        except ConfigError as exc:
            print(f"ConfigError: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            code = 0
        raise typer.Exit(code)

    return mcp


async def _serve_mcp(
    target: str,
    http: str | None,
    tools: str | None,
    name: str | None,
    token: str | None,
    no_token: bool,
    allow_origin: list[str],
    allow_host: list[str],
) -> int:
    from .endpoint_guard import host_and_port
    from .errors import ConfigError
    from .mcp import MCPApp, ToolsMode
    from .mcp.serve import load_target, serve_http, serve_stdio

    if tools not in (None, "ask", "agent-tools", "both"):
        raise ConfigError(f"--tools must be ask, agent-tools or both, not {tools!r}")
    mode = cast("ToolsMode | None", tools)
    agent = load_target(target)
    if isinstance(agent, MCPApp) and (tools is not None or name is not None):
        raise ConfigError(f"{target!r} is an MCPApp: set its tools and name in code, not here")
    if http is None:
        # (a token alone may come from BATON_MCP_TOKEN in the environment: stdio ignores it)
        if no_token or allow_origin or allow_host:
            raise ConfigError("--no-token, --allow-origin and --allow-host need --http")
        await serve_stdio(agent, name=name, tools=mode)
        return 0
    host, port = host_and_port(http)
    await serve_http(
        agent,
        host,
        port,
        name=name,
        tools=mode,
        token=token,
        no_token=no_token,
        allowed_origins=allow_origin,
        allowed_hosts=allow_host,
    )
    return 0


async def _run_demo(requested_model: str | None) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from .console import EventPrinter, describe_usage
    from .demo import QUESTION, build_agent, choose_model
    from .errors import BatonError, ConfigError
    from .testing import ScriptedModel

    console = Console(highlight=False)
    try:
        config, notice = choose_model(requested_model)
    except ConfigError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"baton demo: {exc}", style="red", markup=False
        )
        return 2
    scripted = isinstance(config, ScriptedModel)
    # Texts from outside (errors, tool output, the model's answer) are printed as plain text:
    # rich would take "[openai]" or "[/etc]" in them for markup, drop it or fail on it.
    console.print(
        Panel(Text(notice), title="model", border_style="yellow" if scripted else "green")
    )
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
        console.print(f"{type(exc).__name__}: {exc}", style="red", markup=False)
        return 1
    printer.end_line()
    advice = reply.output
    table = Table(title=f"Structured answer ({type(advice).__name__})")
    for column in ("city", "°C", "°F", "conditions"):
        table.add_column(column)
    for city in advice.cities:
        table.add_row(
            Text(city.city), f"{city.celsius:g}", f"{city.fahrenheit:g}", Text(city.conditions)
        )
    console.print()
    console.print(table)
    console.print(f"[bold]Best city:[/bold] {escape(advice.best_city)} — {escape(advice.reason)}")
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
