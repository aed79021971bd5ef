"""Baton's MCP server over stdio (``baton mcp serve module:agent``), against the official ``mcp``
Python SDK client: each test starts the server as a real subprocess of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_support import (
    Elicitations,
    child_processes,
    serve_command,
    server_env,
    stdio_server,
)

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes in /proc")


def text(result: Any) -> str:
    return str(result.content[0].text)


async def test_ask_is_multi_turn_with_progress_and_lists_the_agents_tools() -> None:
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(stdio_server("mcp_support:agent", "--tools", "both")) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert list(listed) == ["ask", "add", "ask_user", "deploy", "wait_forever", "explode"]
        assert listed["ask"].input_schema["required"] == ["prompt"]
        assert "conversation_id" in listed["ask"].input_schema["properties"]
        add = listed["add"]
        assert add.description and add.description.startswith("Add two integers")
        assert add.input_schema["properties"]["a"]["type"] == "integer"
        assert "context" not in listed["ask_user"].input_schema["properties"]  # injected

        first = await client.call_tool("ask", {"prompt": "add 2 3"}, progress_callback=on_progress)
        assert not first.is_error and text(first) == "result: 5"
        conversation = first.structured_content["conversation_id"]
        assert conversation in first.content[1].text
        assert progress == [
            "the model calls add",
            "calling tool add",
            "tool add returned",
            "the model answered",
        ]
        second = await client.call_tool(
            "ask", {"prompt": "and now?", "conversation_id": conversation}
        )
        assert text(second) == "heard: add 2 3 | and now?"
        assert second.structured_content["conversation_id"] == conversation
        other = await client.call_tool("ask", {"prompt": "fresh"})
        assert text(other) == "heard: fresh"

        direct = await client.call_tool("add", {"a": 20, "b": 22})
        assert not direct.is_error and text(direct) == "42"


async def test_errors_are_short_tool_errors_without_internals() -> None:
    async with Client(stdio_server()) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["ask"]  # the default: the ask tool only
        crashed = await client.call_tool("ask", {"prompt": "crash"})
        assert crashed.is_error
        assert "RuntimeError" in text(crashed) and "model-secret-detail" not in text(crashed)
        assert "Traceback" not in text(crashed)
        bad = await client.call_tool("ask", {"prompt": ""})
        assert bad.is_error and "non-empty 'prompt'" in text(bad)
        unknown = await client.call_tool("ask", {"prompt": "hi", "conversation_id": "nope"})
        assert unknown.is_error and "unknown conversation_id 'nope'" in text(unknown)
        hidden = await client.call_tool("add", {"a": 1, "b": 2})
        assert hidden.is_error and "unknown tool 'add'" in text(hidden)
        # A tool that fails inside an ask is the model's business: the ask still answers.
        failed = await client.call_tool("ask", {"prompt": "explode"})
        assert not failed.is_error and text(failed).startswith("tool failed:")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_human_input_becomes_an_elicitation(mode: str) -> None:
    """Handshake versions ask with ``elicitation/create``; 2026-07-28 (``auto`` picks it)
    with input-required rounds. Either way the tool and the approval get the answers."""
    answers = Elicitations({"answer": "blue"}, {"approve": True}, {"approve": False})
    async with Client(stdio_server(), mode=mode, elicitation_callback=answers) as client:
        assert (client.protocol_version == "2026-07-28") is (mode == "auto")
        asked = await client.call_tool("ask", {"prompt": "ask favourite colour?"})
        assert text(asked) == "result: the user said: blue"
        approved = await client.call_tool("ask", {"prompt": "deploy prod"})
        assert text(approved) == "result: deployed to prod"
        denied = await client.call_tool("ask", {"prompt": "deploy prod"})
        assert text(denied).startswith("tool failed:")
    assert answers.asked[0] == (
        "favourite colour?",
        {
            "type": "object",
            "properties": {"answer": {"type": "string", "title": "Answer"}},
            "required": ["answer"],
        },
    )
    assert 'Arguments: {"env":"prod"}' in answers.asked[1][0]
    assert list(answers.asked[1][1]["properties"]) == ["approve"]


async def test_human_input_without_elicitation_is_a_clear_tool_error() -> None:
    async with Client(stdio_server(), mode="legacy") as client:
        result = await client.call_tool("ask", {"prompt": "ask favourite colour?"})
        assert result.is_error
        assert text(result).startswith("the agent asked for human input ('favourite colour?')")
        assert "did not declare the elicitation capability" in text(result)
        # the server is fine afterwards
        assert text(await client.call_tool("ask", {"prompt": "hi"})) == "heard: hi"


async def test_a_durable_conversation_continues_in_a_restarted_server(tmp_path: Path) -> None:
    database = str(tmp_path / "conversations.db")
    params = stdio_server("mcp_support:sqlite_agent", BATON_TEST_DB=database)
    async with Client(params) as client:
        first = await client.call_tool("ask", {"prompt": "add 1 2"})
        conversation = first.structured_content["conversation_id"]
    assert child_processes(b"mcp_support:sqlite_agent") == []  # the first server is gone
    async with Client(params) as client:
        later = await client.call_tool(
            "ask", {"prompt": "remember?", "conversation_id": conversation}
        )
    assert text(later) == "heard: add 1 2 | remember?"

    from baton.backends.sql import SQLHistory
    from baton.events import RunFinished, RunStarted

    async with SQLHistory(f"sqlite:///{database}") as history:
        events = await history.load(conversation)
    assert [type(e) for e in events if isinstance(e, RunStarted | RunFinished)] == [
        RunStarted,
        RunFinished,
        RunStarted,
        RunFinished,
    ]


async def test_a_client_that_disconnects_mid_ask_leaves_the_run_closed(tmp_path: Path) -> None:
    """The client walks away while a tool runs; the server sees stdin close, cancels the ask
    (recorded as failed in the store) and exits on its own: nothing hangs."""
    database = str(tmp_path / "conversations.db")
    params = stdio_server("mcp_support:sqlite_agent", BATON_TEST_DB=database)
    started = asyncio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if message == "calling tool wait_forever":
            started.set()

    async with Client(params) as client:
        hello = await client.call_tool("ask", {"prompt": "hello"})
        conversation = hello.structured_content["conversation_id"]
        call = asyncio.create_task(
            client.call_tool(
                "ask",
                {"prompt": "wait", "conversation_id": conversation},
                progress_callback=on_progress,
            )
        )
        await started.wait()
        (server,) = child_processes(b"mcp_support:sqlite_agent")
        call.cancel()
    assert child_processes(b"mcp_support:sqlite_agent") == []
    assert server not in child_processes(b"")

    from baton.backends.sql import SQLHistory
    from baton.events import RunFailed, RunFinished, RunStarted

    async with SQLHistory(f"sqlite:///{database}") as history:
        events = await history.load(conversation)
    runs = [e for e in events if isinstance(e, RunStarted | RunFinished | RunFailed)]
    assert [type(e) for e in runs] == [RunStarted, RunFinished, RunStarted, RunFailed]
    assert runs[-1].error_type == "Cancelled"


def test_serve_refuses_a_bad_target_and_options_clearly() -> None:
    env = {**os.environ, **server_env()}
    for args, expected in [
        (["mcp_support:nothing"], "'mcp_support' has no attribute 'nothing'"),
        (["mcp_support:HERE"], "is PosixPath, not a baton Agent or MCPApp"),
        (["nomodule:agent"], "cannot import 'nomodule'"),
        (["mcp_support:agent", "--no-token"], "need --http"),
        (["mcp_support:agent_app", "--tools", "both"], "is an MCPApp: set its tools"),
        (["mcp_support:agent", "--http", "0.0.0.0:0", "--no-token"], "only allowed on a loopback"),
        (["mcp_support:agent", "--tools", "all"], "--tools must be ask, agent-tools or both"),
    ]:
        done = subprocess.run(
            serve_command(*args),
            env=env,
            cwd=str(Path(__file__).parent),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_importing_baton_mcp_does_not_import_the_sdk() -> None:
    code = "import baton, baton.mcp, sys; print('mcp' in sys.modules, 'uvicorn' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False"]


async def test_serve_takes_an_mcpapp_factory() -> None:
    async with Client(stdio_server("mcp_support:agent_app")) as client:
        assert client.server_info is not None and client.server_info.name == "helper-app"
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["add", "ask_user", "deploy", "wait_forever", "explode"]


def test_without_the_sdk_serving_is_a_config_error_naming_the_extra() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None\n"  # as if the SDK were not installed
        "from baton import Agent, ConfigError\n"
        "from baton.mcp import MCPApp\n"
        "try:\n"
        "    MCPApp(Agent('a'))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'baton-agents[mcp]'" in done.stdout
