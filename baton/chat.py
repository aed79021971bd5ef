"""``baton chat``: an interactive terminal chat with any provider, streaming, with tools.

Commands inside the chat: ``/new`` starts a new conversation, ``/usage`` prints what the session
used so far, ``/exit`` (or end of input) quits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import sys
from typing import Any

from .agent import Agent
from .console import EventPrinter, describe_usage
from .errors import BatonError, ConfigError
from .events import ModelRequest, Usage
from .models.base import ModelCall, ModelConfig
from .models.registry import resolve_config
from .providers._config import ProviderConfig
from .reply import Reply
from .testing import ScriptedModel
from .tools.tool import Tool
from .tools.toolkit import Toolkit

__all__ = ["load_tools", "make_config", "run_chat"]


def _echo(call: ModelCall) -> str:
    request = next((e for e in reversed(call.messages) if isinstance(e, ModelRequest)), None)
    return f"(scripted echo) You said: {request.text if request is not None else ''}"


def make_config(shorthand: str, base_url: str | None = None) -> ModelConfig:
    """A config from ``provider:model`` (or ``scripted``), with an optional endpoint override."""
    if shorthand == "scripted":
        return ScriptedModel(_echo, repeat=True, model="scripted-echo")
    config = resolve_config(shorthand)
    if base_url is not None:
        if not isinstance(config, ProviderConfig):
            raise ConfigError(f"--base-url does not apply to {shorthand!r}")
        config = dataclasses.replace(config, base_url=base_url)
    return config


def load_tools(specs: list[str]) -> list[Tool | Toolkit]:
    """Tools from ``module`` (every Tool and Toolkit defined at its top level) or
    ``module:name`` (one tool, toolkit, function, or list of them)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # so `--tools my_tools` finds ./my_tools.py
    found: list[Tool | Toolkit] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"cannot import tools module {module_name!r}: {exc}") from None
        if attr:
            if not hasattr(module, attr):
                raise ConfigError(f"module {module_name!r} has no {attr!r}")
            value = getattr(module, attr)
            items = value if isinstance(value, list | tuple) else [value]
            found.extend(i if isinstance(i, Tool | Toolkit) else Tool(i) for i in items)
        else:
            tools = [v for v in vars(module).values() if isinstance(v, Tool | Toolkit)]
            if not tools:
                raise ConfigError(
                    f"module {module_name!r} defines no @tool functions or Toolkits at top level"
                )
            found.extend(tools)
    return found


async def run_chat(
    shorthand: str, tool_specs: list[str], prompt: str | None, base_url: str | None
) -> int:
    from rich.console import Console

    console = Console(highlight=False)
    try:
        config = make_config(shorthand, base_url)
        agent: Agent[str] = Agent("chat", prompt, config=config, tools=load_tools(tool_specs))
    except BatonError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    tool_names = ", ".join(agent.tools) or "none"
    console.print(
        f"[bold]baton chat[/bold] with {config.provider}:{config.model_name}; tools: {tool_names}. "
        "Type /new, /usage or /exit."
    )
    printer = EventPrinter(console, speaker="Agent")
    reply: Reply[str] | None = None
    total = Usage()
    while True:
        try:
            text = await asyncio.to_thread(input, "you> ")
        except EOFError:
            break
        text = text.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/new":
            reply = None
            console.print("[dim]new conversation[/dim]")
            continue
        if text == "/usage":
            console.print(f"[dim]session: {describe_usage(total)}[/dim]")
            continue
        runner: Any = reply.run(text) if reply is not None else agent.run(text)
        try:
            async with runner as run:
                async for event in run:
                    printer(event)
                reply = await run.result()
        except BatonError as exc:
            printer.end_line()
            console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
            continue
        printer.end_line()
        total = total + reply.usage
        console.print(f"[dim]{describe_usage(reply.usage)}[/dim]")
    await config.aclose()
    return 0
