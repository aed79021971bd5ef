"""``baton chat --verbose``: the timeline in the terminal, one short line per step."""

from __future__ import annotations

import io

import pytest

rich_console = pytest.importorskip("rich.console")
typer_testing = pytest.importorskip("typer.testing")

from baton import Agent, tool  # noqa: E402
from baton.chat import RequestLine  # noqa: E402
from baton.cli import _build_app  # noqa: E402
from baton.console import EventPrinter, TimelinePrinter  # noqa: E402
from baton.errors import ProviderUnavailable  # noqa: E402
from baton.history import MemoryHistory  # noqa: E402
from baton.middleware import RetryMiddleware  # noqa: E402
from baton.testing import ScriptedModel, call, chunks  # noqa: E402


async def _no_wait(seconds: float) -> None:
    return None


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_chat_verbose_shows_the_run_its_model_call_and_turn() -> None:
    result = typer_testing.CliRunner().invoke(_build_app(), ["chat", "-v"], input="hi\n/exit\n")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    start = next(i for i, line in enumerate(lines) if "┌ run " in line)
    assert lines[start].endswith("of chat")
    assert lines[start + 1] == "│ model call: 1 message"
    assert lines[start + 2] == "Agent: (scripted echo) You said: hi"
    assert lines[start + 3].startswith("│ turn 1 · scripted:scripted-echo · ")
    assert lines[start + 4].startswith("│ usage: 1 model call")
    assert lines[start + 5].startswith("└ finished in ")


async def test_the_timeline_printer_shows_tool_calls_with_durations_and_retries() -> None:
    output = io.StringIO()
    console = rich_console.Console(file=output, width=200, highlight=False, color_system=None)
    printer = TimelinePrinter(console)
    model = ScriptedModel(
        ProviderUnavailable("overloaded, try again"),
        chunks("Adding. ", call("add", a=2, b=3)),
        "It is 5.",
    )
    agent = Agent(
        "calc",
        config=model,
        tools=[add],
        history=MemoryHistory(),
        middleware=[
            RetryMiddleware(attempts=2, base_delay=0, sleep=_no_wait),
            RequestLine(printer),
        ],
    )
    async with agent.run("2 + 3?") as run:
        async for event in run:
            printer(event)
        await run.result()
    printer.end_line()
    lines = output.getvalue().splitlines()
    assert lines[0].startswith("┌ run ") and lines[0].endswith("of calc")
    assert lines[1] == "│ model call: 1 message, tools add"
    assert lines[2].startswith("│ retry 1 in ") and "overloaded, try again" in lines[2]
    assert lines[3] == "│ model call: 1 message, tools add"
    assert lines[4] == "Agent: Adding. "
    assert lines[5].startswith("│ turn 1 · scripted:scripted · ") and "1 tool call(s)" in lines[5]
    assert lines[6] == '  → add({"a":2,"b":3})'
    assert lines[7] == "  ← add 5"
    assert lines[8].startswith("│ add took ")
    assert lines[9] == "│ model call: 3 messages, tools add"
    assert lines[10] == "Agent: It is 5."
    assert lines[11].startswith("│ turn 2 · ")
    assert lines[12].startswith("│ usage: 2 model calls, 1 tool call")
    assert lines[13].startswith("└ finished in ")


@tool
def listing(path: str) -> str:
    """List a folder."""
    return f"files: [{path}] done"


@tool
def installer() -> str:
    """Fail as a missing extra does."""
    raise ValueError("install baton-agents[openai] first")


async def test_the_printer_shows_brackets_in_tool_output_as_they_are() -> None:
    # rich reads "[/etc]" as a closing tag (a MarkupError that ended the chat) and "[openai]"
    # as a style (silently dropped): the printer shows both as plain text.
    output = io.StringIO()
    console = rich_console.Console(file=output, width=200, highlight=False, color_system=None)
    printer = EventPrinter(console, speaker="[bold]bot[/]")
    model = ScriptedModel(
        chunks("Looking in [/etc]. ", call("listing", path="/etc"), call("installer")),
        "Done with [red]care[/red].",
    )
    agent = Agent("files", config=model, tools=[listing, installer])
    async with agent.run("list /etc") as run:
        async for event in run:
            printer(event)
        await run.result()
    printer.end_line()
    text = output.getvalue()
    assert "[bold]bot[/]: Looking in [/etc]." in text
    assert '→ listing({"path":"/etc"})' in text
    assert "← listing files: [/etc] done" in text
    assert "install baton-agents[openai] first" in text
    assert "Done with [red]care[/red]." in text
