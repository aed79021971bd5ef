"""``baton chat``: an interactive terminal chat with any provider, streaming, with tools.

Commands inside the chat (``/help`` lists them): ``/new`` starts a new conversation, ``/usage``
prints what the session used so far, ``/exit`` (or ``/quit``, end of input, Ctrl-C at the prompt)
quits. Any other ``/word`` is refused, not sent to the model; start a message with ``//`` to send
one that begins with ``/``. Ctrl-C while an answer streams stops that answer (the ask is
cancelled and its run closed in the history) and the prompt comes back. On a terminal the prompt
has line editing and history (the standard library's ``readline`` where it exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from .agent import Agent
from .console import EventPrinter, TimelinePrinter, describe_usage
from .context import Context
from .conversation import new_id
from .errors import AuthenticationFailed, BatonError, ConfigError
from .events import ModelRequest, ModelResponse, Usage
from .history import MemoryHistory
from .hooks import Middleware, ProceedModel
from .models.base import ModelCall, ModelConfig
from .models.registry import resolve_config
from .providers._config import ProviderConfig
from .reply import Reply
from .testing import ScriptedModel
from .tools.tool import Tool
from .tools.toolkit import Toolkit
from .transcript import transcript

__all__ = ["COMMANDS", "check_ready", "load_tools", "make_config", "run_chat"]

COMMANDS: dict[str, str] = {
    "/new": "start a new conversation",
    "/usage": "what this session used so far",
    "/help": "list these commands",
    "/exit": "quit (also /quit, Ctrl-D, or Ctrl-C at the prompt)",
}
"""The chat's commands and what each does (``/help`` prints this table)."""

_PROMPT = "you> "


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


async def check_ready(config: ModelConfig) -> None:
    """Make ``config``'s client now (on the running loop, which later asks reuse), so that a
    missing SDK or API key is reported before the first message rather than at it.

    Raises ``ConfigError`` naming the fix: the extra to install, or the environment variable
    to set.
    """
    configs: tuple[ModelConfig, ...] = getattr(config, "configs", None) or (config,)
    for each in configs:  # a FallbackModel's models each need their SDK and key
        try:
            each.client()
        except AuthenticationFailed as exc:
            if not isinstance(each, ProviderConfig) or not each.env_keys:
                raise ConfigError(str(exc)) from None
            names = " or ".join(each.env_keys)
            raise ConfigError(
                f"no API key for {each.provider_name}: set {names} in the environment "
                f"(e.g. export {each.env_keys[0]}=...), or try offline with --config scripted"
            ) from None


def load_tools(specs: list[str]) -> list[Tool | Toolkit]:
    """Tools from ``module`` (every Tool and Toolkit defined at its top level) or
    ``module:name`` (one tool, toolkit, function, or list of them).

    Each tool is offered once: a tool a module exports both directly and inside a Toolkit (or
    under two names, or through two specs) is not repeated.
    """
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
    return _once(found)


def _once(items: list[Tool | Toolkit]) -> list[Tool | Toolkit]:
    """``items`` without repeats: the same object twice, or a tool that a toolkit offers."""
    in_toolkits = {id(t) for item in items if isinstance(item, Toolkit) for t in item.tools}
    seen: set[int] = set()
    kept: list[Tool | Toolkit] = []
    for item in items:
        if id(item) in seen or (isinstance(item, Tool) and id(item) in in_toolkits):
            continue
        seen.add(id(item))
        kept.append(item)
    return kept


def _enable_line_editing() -> None:
    """Line editing and history (arrow keys) for ``input()`` on a terminal."""
    if not sys.stdin.isatty():
        return
    # Importing readline is what makes input() use it; where it is missing (Windows), the
    # prompt is plain input().
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


class _Chat:
    """One terminal session: the prompt loop, its commands, and one ask at a time."""

    def __init__(
        self,
        agent: Agent[str],
        console: Any,
        loop: asyncio.AbstractEventLoop,
        *,
        verbose: bool = False,
    ) -> None:
        self.agent = agent
        self.console = console
        self.loop = loop
        self.printer: EventPrinter = (
            TimelinePrinter(console, speaker="Agent")
            if verbose
            else EventPrinter(console, speaker="Agent")
        )
        # --verbose: each model call's request, in a line, before it is made
        self.middleware: tuple[Middleware, ...] = (
            (RequestLine(self.printer),) if isinstance(self.printer, TimelinePrinter) else ()
        )
        self.conversation_id = new_id()
        self.total = Usage()

    def loop_forever(self) -> None:
        """Read and answer lines until the user leaves."""
        try:
            self._loop()
        except KeyboardInterrupt:  # Ctrl-C outside an answer (at the prompt or in between)
            self.console.print()

    def _loop(self) -> None:
        while True:
            try:
                text = input(_PROMPT)
            except EOFError:  # Ctrl-D, or the end of piped input
                self.console.print()
                return
            text = text.strip()
            if not text:
                continue
            if text.startswith("/") and not text.startswith("//"):
                if not self.command(text):
                    return
                continue
            self.answer(text[1:] if text.startswith("//") else text)

    def command(self, text: str) -> bool:
        """Run a ``/command``; False when the session should end."""
        name = text.split()[0].lower()
        if name in ("/exit", "/quit"):
            return False
        if name == "/new":
            self.conversation_id = new_id()
            self.console.print("[dim]new conversation[/dim]")
        elif name == "/usage":
            self.console.print(f"[dim]session: {describe_usage(self.total)}[/dim]")
        elif name == "/help":
            for command, meaning in COMMANDS.items():
                self.console.print(f"  [bold]{command:<7}[/bold] {meaning}")
            self.console.print(
                "  Ctrl-C while an answer streams stops it; start a message with // to send "
                "one that begins with /"
            )
        else:
            self.console.print(
                f"unknown command {name} (not sent to the model); type /help for the commands",
                style="yellow",
                markup=False,
            )
        return True

    def answer(self, text: str) -> None:
        """Ask and stream the answer; Ctrl-C (SIGINT) cancels this ask, not the session."""
        task = self.loop.create_task(self.ask(text))
        stopping = False

        def interrupt(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            if not stopping:  # a second Ctrl-C while the ask closes its run changes nothing
                stopping = True
                self.loop.call_soon_threadsafe(task.cancel)

        # Python runs signal handlers in the main thread only; elsewhere Ctrl-C is not ours.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, interrupt) if main else None
        try:
            reply = self.loop.run_until_complete(task)
        except asyncio.CancelledError:
            self.printer.end_line()
            self.console.print("[yellow]answer stopped[/yellow]")
            return
        except BatonError as exc:
            self.printer.end_line()
            self.console.print(f"{type(exc).__name__}: {exc}", style="red", markup=False)
            return
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        self.printer.end_line()
        self.total = self.total + reply.usage
        self.console.print(f"[dim]{describe_usage(reply.usage)}[/dim]")

    async def ask(self, text: str) -> Reply[str]:
        async with self.agent.run(
            text, conversation_id=self.conversation_id, middleware=self.middleware
        ) as run:
            async for event in run:
                self.printer(event)
            return await run.result()


class RequestLine(Middleware):
    """``baton chat --verbose``: a timeline line for each model call as it is made (what the
    model is given: messages, tools, the settings set)."""

    def __init__(self, printer: TimelinePrinter) -> None:
        self.printer = printer

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        messages = sum(1 for _ in transcript(call.messages, call.agent))
        line = f"model call: {messages} message{'s' if messages != 1 else ''}"
        if call.tools:
            line += f", tools {', '.join(call.tool_names)}"
        settings = {
            f.name: getattr(call.settings, f.name)
            for f in dataclasses.fields(call.settings)
            if f.name not in ("stream", "extra") and getattr(call.settings, f.name) is not None
        }
        if settings:
            line += ", " + ", ".join(f"{k}={v}" for k, v in settings.items())
        self.printer.requests.append(line)
        return await proceed(call)


def run_chat(
    shorthand: str,
    tool_specs: list[str],
    prompt: str | None,
    base_url: str | None,
    *,
    verbose: bool = False,
) -> int:
    """Run the chat until the user leaves; the exit code (2: the model or tools can't be used:
    an unknown provider, a missing SDK or API key, a tools module that doesn't load)."""
    from rich.console import Console

    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    with asyncio.Runner() as runner:
        try:
            config = make_config(shorthand, base_url)
        except BatonError as exc:
            errors.print(f"baton chat: {exc}", style="red", markup=False)
            return 2
        try:
            try:
                agent: Agent[str] = Agent(
                    "chat",
                    prompt,
                    config=config,
                    tools=load_tools(tool_specs),
                    history=MemoryHistory(),
                )
                runner.run(check_ready(config))
            except BatonError as exc:
                errors.print(f"baton chat: {exc}", style="red", markup=False)
                return 2
            tool_names = ", ".join(agent.tools) or "none"
            console.print(
                f"[bold]baton chat[/bold] with {config.provider}:{config.model_name}; tools: "
                f"{tool_names}. Type /help for the commands."
            )
            _enable_line_editing()
            _Chat(agent, console, runner.get_loop(), verbose=verbose).loop_forever()
        finally:
            runner.run(config.aclose())
    return 0
