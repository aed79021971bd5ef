"""``baton chat --verbose``: the timeline in the terminal, one short line per step."""

from __future__ import annotations

import io

import pytest

rich_console = pytest.importorskip("rich.console")
typer_testing = pytest.importorskip("typer.testing")

from baton import Agent, tool  # noqa: E402
from baton.chat import RequestLine  # noqa: E402
from baton.cli import _build_app  # noqa: E402
from baton.console import TimelinePrinter  # noqa: E402
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
