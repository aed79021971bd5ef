"""The MCP client against a real MCP server from PyPI (``mcp-server-time``), run as a subprocess.

The server's process is found through ``/proc`` (a child of this process running
``mcp_server_time``), so these tests count real processes: one per session, none after
``aclose()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp_support import child_processes

from baton import Agent, ConfigError, MemoryHistory
from baton.errors import ToolSourceUnavailable
from baton.events import RunFailed, RunStarted, ToolCall, ToolCallError, ToolCallResult
from baton.mcp import MCPServer  # imports no MCP SDK: that happens on use
from baton.testing import ScriptedModel, call
from baton.tools import ToolSource

pytest.importorskip("mcp_server_time")

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes in /proc")


def server_processes() -> list[int]:
    """The pids of this process's children that run mcp-server-time."""
    return child_processes(b"mcp_server_time")


@pytest.fixture
async def time_server() -> AsyncIterator[MCPServer]:
    server = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"])
    try:
        yield server
    finally:
        await server.aclose()
    assert server_processes() == []


def results(events: object) -> list[ToolCallResult | ToolCallError]:
    return [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]  # type: ignore[attr-defined]


async def test_an_agent_calls_a_real_mcp_servers_tool(time_server: MCPServer) -> None:
    assert isinstance(time_server, ToolSource)
    model = ScriptedModel(call("get_current_time", timezone="UTC"), "It is time.")
    agent = Agent("clock", config=model, tools=[time_server])

    reply = await agent.ask("What time is it in UTC?")

    assert reply.text == "It is time."
    spec = {t.name: t for t in model.requests[0].tools}["get_current_time"]
    assert "timezone" in spec.parameters["properties"]
    assert spec.parameters["required"] == ["timezone"]
    assert spec.description
    [result] = results(reply.events)
    assert isinstance(result, ToolCallResult)
    shown = json.loads(result.content)  # the server's text, as it sent it
    assert shown["timezone"] == "UTC"
    assert result.value["timezone"] == "UTC"  # structured content is kept as the value
    assert result.value["datetime"] == shown["datetime"]
    assert len(server_processes()) == 1


async def test_a_tool_error_and_bad_arguments_go_back_to_the_model(
    time_server: MCPServer,
) -> None:
    model = ScriptedModel(
        call("get_current_time", timezone="Nowhere/Atlantis"),
        call("convert_time", source_timezone="UTC"),  # arguments missing
        "sorry",
    )
    agent = Agent("clock", config=model, tools=[time_server])

    reply = await agent.ask("time in Atlantis?")

    assert reply.text == "sorry"
    bad_zone, missing = results(reply.events)
    assert isinstance(bad_zone, ToolCallError)
    assert "Nowhere/Atlantis" in bad_zone.message
    assert bad_zone.error_type == "RemoteToolError"
    assert isinstance(missing, ToolCallError)
    assert "convert_time" in missing.message


async def test_twenty_calls_share_one_session_and_one_process(time_server: MCPServer) -> None:
    zones = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York"] * 5
    parallel = [call("get_current_time", timezone=zone) for zone in zones[:10]]
    one_by_one = [call("get_current_time", timezone=zone) for zone in zones[10:]]
    model = ScriptedModel(parallel, *one_by_one, "done", "done again")
    agent = Agent("clock", config=model, tools=[time_server])
    other = Agent(
        "other",
        config=ScriptedModel(call("get_current_time", timezone="UTC"), "ok"),
        tools=[time_server],
    )

    first, second = await asyncio.gather(agent.ask("twenty times"), other.ask("once"))

    answered = results(first.events)
    assert len(answered) == 20
    assert all(isinstance(r, ToolCallResult) for r in answered)
    assert sorted(r.value["timezone"] for r in answered) == sorted(zones)  # type: ignore[union-attr]
    assert isinstance(results(second.events)[0], ToolCallResult)
    assert time_server.sessions_opened == 1
    assert len(server_processes()) == 1


async def test_a_cancelled_ask_mid_call_leaves_the_session_usable(
    time_server: MCPServer, caplog: pytest.LogCaptureFixture, valid_history
) -> None:
    history = MemoryHistory()
    model = ScriptedModel(call("get_current_time", timezone="UTC"), "after", "later")
    agent = Agent("clock", config=model, tools=[time_server], history=history)
    await time_server.list_tools()  # the session is open
    [pid] = server_processes()
    calling = asyncio.Event()

    async def ask() -> None:
        async with agent.run("time?", conversation_id="c") as run:
            async for event in run:
                if isinstance(event, ToolCall):
                    calling.set()
            await run.result()

    os.kill(pid, signal.SIGSTOP)  # the server can't answer: the call stays in flight
    try:
        task = asyncio.create_task(ask())
        await calling.wait()
        await asyncio.sleep(0.2)  # let the request reach the server's stdin
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        os.kill(pid, signal.SIGCONT)

    events = await history.load("c")
    valid_history(events)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFailed)

    # the same session (and process) serves the next call
    with caplog.at_level(logging.WARNING):
        reply = await agent.ask(
            "and now?",
            conversation_id="c",
            config=ScriptedModel(call("get_current_time", timezone="Asia/Tokyo"), "now"),
        )
    [result] = results(reply.events)[-1:]
    assert isinstance(result, ToolCallResult)
    assert result.value["timezone"] == "Asia/Tokyo"
    assert time_server.sessions_opened == 1
    assert server_processes() == [pid]
    await time_server.aclose()
    assert server_processes() == []
    assert not [r for r in caplog.records if "cancel scope" in r.getMessage().lower()]


async def test_aclose_stops_the_process_and_the_server_opens_again(
    time_server: MCPServer,
) -> None:
    async with time_server:
        assert len(server_processes()) == 1
        first = await time_server.list_tools()
        assert {t.name for t in first} == {"get_current_time", "convert_time"}
        assert await time_server.list_tools() is first  # listed once per session
    assert server_processes() == []

    agent = Agent(
        "clock",
        config=ScriptedModel(call("get_current_time", timezone="UTC"), "ok"),
        tools=[time_server],
    )
    reply = await agent.ask("time?")
    assert isinstance(results(reply.events)[0], ToolCallResult)
    assert time_server.sessions_opened == 2
    await agent.aclose()  # closes the agent's sources
    assert server_processes() == []


async def test_a_server_that_dies_fails_the_call_and_the_next_call_starts_it_again(
    time_server: MCPServer,
) -> None:
    model = ScriptedModel(
        call("get_current_time", timezone="UTC"),
        "dead",
        call("get_current_time", timezone="UTC"),
        "alive",
    )
    agent = Agent("clock", config=model, tools=[time_server])
    await time_server.list_tools()
    [pid] = server_processes()
    os.kill(pid, signal.SIGKILL)

    reply = await agent.ask("time?")
    [failed] = results(reply.events)
    assert isinstance(failed, ToolCallError)
    assert "closed the connection" in failed.message

    again = await reply.ask("and now?")
    [result] = results(again.events)[-1:]
    assert isinstance(result, ToolCallResult)
    assert time_server.sessions_opened == 2
    assert len(server_processes()) == 1


_STARTS_COUNTED = """
import os, sys
counter = sys.argv[1]
started = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(started + 1))
if started == 1:
    sys.exit(1)  # the second start fails (the instance before it still exiting, say)
os.execv(sys.executable, [sys.executable, "-m", "mcp_server_time"])
"""


async def test_a_server_that_worked_is_tried_again_when_a_restart_fails_once(
    tmp_path: Path,
) -> None:
    """Only a command that never got to a handshake fails at once: a server that has
    worked and dies is started again, and a failed restart is tried again."""
    counter = tmp_path / "starts"
    server = MCPServer.stdio(sys.executable, ["-c", _STARTS_COUNTED, str(counter)], reconnect=3)
    model = ScriptedModel(
        call("get_current_time", timezone="UTC"),
        "dead",
        call("get_current_time", timezone="UTC"),
        "back",
    )
    agent = Agent("clock", config=model, tools=[server])
    try:
        await server.list_tools()
        [pid] = server_processes()
        os.kill(pid, signal.SIGKILL)
        reply = await agent.ask("time?")
        assert isinstance(results(reply.events)[0], ToolCallError)
        again = await reply.ask("and now?")
        assert isinstance(results(again.events)[-1], ToolCallResult)
        assert counter.read_text() == "3" and server.sessions_opened == 3
    finally:
        await server.aclose()
    assert server_processes() == []


async def test_the_per_server_timeout_stops_a_call_and_keeps_the_session() -> None:
    server = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], timeout=0.5)
    model = ScriptedModel(call("get_current_time", timezone="UTC"), "slow")
    agent = Agent("clock", config=model, tools=[server])
    try:
        await server.list_tools()
        [pid] = server_processes()
        os.kill(pid, signal.SIGSTOP)  # a server that hangs
        try:
            reply = await agent.ask("time?")
        finally:
            os.kill(pid, signal.SIGCONT)
        [timed_out] = results(reply.events)
        assert isinstance(timed_out, ToolCallError)
        assert timed_out.error_type == "ToolTimeout"

        again = await reply.ask(
            "again?", config=ScriptedModel(call("get_current_time", timezone="UTC"), "ok")
        )
        assert isinstance(results(again.events)[-1], ToolCallResult)
        assert server.sessions_opened == 1
        assert server_processes() == [pid]
    finally:
        await server.aclose()
    assert server_processes() == []


def test_the_end_of_the_event_loop_stops_the_server_without_aclose() -> None:
    code = f"""
import asyncio, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from mcp_support import child_processes
from baton.mcp import MCPServer

server = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"])

async def main():
    await server.call_tool("get_current_time", {{"timezone": "UTC"}})
    assert len(child_processes(b"mcp_server_time")) == 1

asyncio.run(main())  # ends with the session open: the loop's end cancels its supervisor
assert child_processes(b"mcp_server_time") == []
print("clean")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"
    assert "Traceback" not in done.stderr and "cancel scope" not in done.stderr


async def test_a_server_that_never_answers_the_handshake_is_given_up_on() -> None:
    """A command that starts but never speaks MCP: the session is not waited for past
    ``connect_timeout``, the ask fails clearly, and ``aclose()`` stops the process."""
    server = MCPServer.stdio(
        sys.executable, ["-c", "import time; time.sleep(600)"], connect_timeout=1, reconnect=0
    )
    agent = Agent("a", config=ScriptedModel("never"), tools=[server])
    with pytest.raises(ToolSourceUnavailable, match="did not finish connecting within 1 s"):
        await agent.ask("hi")
    await server.aclose()
    assert child_processes(b"time.sleep(600)") == []


async def test_a_server_given_up_on_is_stopped_before_the_error_is_raised() -> None:
    """Without an ``aclose()``: the program may end its event loop right after the error, and
    a loop's end that cancels the SDK's shutdown half-way left the process running (or hung
    ``asyncio.run`` until it ended)."""
    server = MCPServer.stdio(
        sys.executable, ["-c", "import time; time.sleep(601)"], connect_timeout=1, reconnect=0
    )
    with pytest.raises(ToolSourceUnavailable, match="did not finish connecting"):
        await server.list_tools()
    assert child_processes(b"time.sleep(601)") == []


async def test_a_server_that_cannot_start_is_a_clear_error() -> None:
    server = MCPServer.stdio("/nonexistent/mcp-server")
    agent = Agent("a", config=ScriptedModel("never"), tools=[server])
    with pytest.raises(Exception, match="/nonexistent/mcp-server"):
        await agent.ask("hi")
    await server.aclose()


async def test_a_server_that_exits_at_start_is_said_once_without_trying_again() -> None:
    """A command that ends before the handshake (here: an error and exit status 3) is not
    started four times: trying again can't help, and the error says what likely happened."""
    crash = "import sys; sys.stderr.write('no module named mcp_server_x\\n'); sys.exit(3)"
    server = MCPServer.stdio(sys.executable, ["-c", crash], reconnect=3)
    agent = Agent("a", config=ScriptedModel("never"), tools=[server])
    with pytest.raises(ToolSourceUnavailable) as failed:
        await agent.ask("hi")
    assert "closed the connection before the MCP handshake" in str(failed.value)
    assert "attempts" not in str(failed.value)
    assert server.sessions_opened == 1
    await server.aclose()


def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # `import mcp` fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'baton-agents\[mcp\]'"):
        MCPServer.stdio("anything")


def test_importing_baton_does_not_import_the_sdk() -> None:
    code = "import sys, baton, baton.mcp; assert 'mcp' not in sys.modules, 'mcp imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
