"""The MCP client against ``@modelcontextprotocol/server-everything`` (npm), the reference
server of the protocol's authors, over stdio and over streamable HTTP; and against a server that
answers with broken JSON-RPC."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_support import child_processes
from node_peers import NodePeers
from serving import free_port

from baton import Agent, Context
from baton.errors import ToolSourceUnavailable
from baton.events import HumanInputRequest, Image, ToolCallError, ToolCallResult
from baton.mcp import MCPServer
from baton.mcp.events import MCPProgress
from baton.testing import ScriptedModel, call

MARK = b"server-everything"


def results(events: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]


@pytest.fixture
async def everything(node_peers: NodePeers) -> AsyncIterator[MCPServer]:
    server = MCPServer.stdio(
        str(node_peers.bin("mcp-server-everything")), ["stdio"], name="everything"
    )
    try:
        yield server
    finally:
        await server.aclose()
    assert child_processes(MARK) == []


class HttpEverything:
    """server-everything over streamable HTTP on a free port, as a process of the test's."""

    def __init__(self, peers: NodePeers) -> None:
        self.peers = peers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.peers.bin("mcp-server-everything")), "streamableHttp"],
            env={**os.environ, "PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:  # it says when it listens
            if b"listening on port" in line:
                return
        raise RuntimeError("server-everything did not start listening")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def http_everything(node_peers: NodePeers) -> Iterator[HttpEverything]:
    server = HttpEverything(node_peers)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def test_an_agent_uses_the_reference_servers_tools_over_stdio(
    everything: MCPServer,
) -> None:
    model = ScriptedModel(
        [call("echo", message="hello"), call("get-sum", a=2, b=40), call("get-tiny-image")],
        call("get-structured-content", location="Chicago"),
        "done",
    )
    agent = Agent("a", config=model, tools=[everything])

    reply = await agent.ask("try them")

    # The first answer's three calls run together: their results come as they finish.
    by_name = {r.name: r for r in results(reply.events)}
    echo, total, image, structured = (
        by_name[n] for n in ("echo", "get-sum", "get-tiny-image", "get-structured-content")
    )
    assert isinstance(echo, ToolCallResult) and echo.content == "Echo: hello"
    assert isinstance(total, ToolCallResult) and "42" in total.content
    assert isinstance(image, ToolCallResult)
    [picture] = [p for p in image.parts if isinstance(p, Image)]
    assert picture.media_type == "image/png" and picture.data and picture.data[:4] == b"\x89PNG"
    assert isinstance(structured, ToolCallResult)
    assert isinstance(structured.value, dict) and "temperature" in structured.value
    assert len(child_processes(MARK)) == 1


async def test_progress_elicitation_and_sampling_with_the_reference_server(
    node_peers: NodePeers,
) -> None:
    answers: list[HumanInputRequest] = []

    def hitl(request: HumanInputRequest, context: Context) -> str:
        answers.append(request)
        return '{"name": "Ada Lovelace", "check": true, "email": "ada@example.com"}'

    server = MCPServer.stdio(
        str(node_peers.bin("mcp-server-everything")),
        ["stdio"],
        name="everything",
        sampling=ScriptedModel("a sampled line"),
    )
    model = ScriptedModel(
        call("trigger-long-running-operation", duration=0.3, steps=3),
        call("trigger-elicitation-request"),
        call("trigger-sampling-request", prompt="write a line"),
        "done",
    )
    agent = Agent("a", config=model, tools=[server], hitl=hitl)
    progress: list[MCPProgress] = []
    try:
        async with agent.run("go") as run:
            async for event in run:
                if isinstance(event, MCPProgress):
                    progress.append(event)
            reply = await run.result()
    finally:
        await server.aclose()

    long_running, elicited, sampled = results(reply.events)
    assert isinstance(long_running, ToolCallResult)
    assert [(p.progress, p.total) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert {p.call_id for p in progress} == {long_running.call_id}
    assert isinstance(elicited, ToolCallResult)
    assert "Ada Lovelace" in elicited.content and "accept" in elicited.content
    [question] = answers
    assert "Your full, legal name" in question.prompt
    assert isinstance(sampled, ToolCallResult) and "a sampled line" in sampled.content


async def test_the_reference_server_over_streamable_http(http_everything: HttpEverything) -> None:
    server = MCPServer.http(
        http_everything.url,
        headers={"X-Team": "baton"},
        auth="s3cret-token",
        include=["echo"],
        prefix="ev_",
    )
    assert "s3cret" not in repr(server) and "s3cret" not in server.name
    model = ScriptedModel(call("ev_echo", message="over http"), "ok")
    agent = Agent("a", config=model, tools=[server])
    try:
        reply = await agent.ask("echo")
        assert [t.name for t in await server.list_tools()] == ["ev_echo"]
        assert [str(r.uri) for r in await server.list_resources()][:1] == [
            "demo://resource/static/document/architecture.md"
        ]
    finally:
        await server.aclose()
    [echo] = results(reply.events)
    assert isinstance(echo, ToolCallResult) and echo.content == "Echo: over http"


async def test_an_http_server_that_goes_away_fails_the_call_and_is_reconnected(
    http_everything: HttpEverything,
) -> None:
    server = MCPServer.http(http_everything.url, include=["echo"], reconnect=0)
    try:
        assert [t.name for t in await server.list_tools()] == ["echo"]
        http_everything.kill()
        agent = Agent(
            "a", config=ScriptedModel(call("echo", message="two"), "down"), tools=[server]
        )
        reply = await agent.ask("echo")
        [failed] = results(reply.events)
        assert isinstance(failed, ToolCallError)
        assert failed.error_type in {"ToolSourceUnavailable", "RemoteToolError"}

        http_everything.start()  # back, on the same port: a new session is opened
        again = await reply.ask("again", config=ScriptedModel(call("echo", message="three"), "up"))
        [ok] = results(again.events)[-1:]
        assert isinstance(ok, ToolCallResult) and ok.content == "Echo: three"
    finally:
        await server.aclose()


async def test_a_server_that_cannot_be_reached_is_tried_again_then_given_up() -> None:
    port = free_port()  # nothing listens there
    server = MCPServer.http(f"http://127.0.0.1:{port}/mcp", reconnect=2)
    with pytest.raises(ToolSourceUnavailable, match="gave up after 3 attempts"):
        await server.list_tools()
    assert server.sessions_opened == 3
    await server.aclose()


async def test_a_server_killed_mid_call_fails_that_call_and_the_next_starts_it_again(
    everything: MCPServer,
) -> None:
    model = ScriptedModel(
        call("trigger-long-running-operation", duration=30, steps=30),
        "killed",
        call("echo", message="back"),
        "alive",
    )
    agent = Agent("a", config=model, tools=[everything])

    async def kill_on_first_progress() -> None:
        async with agent.run("long job", conversation_id=None) as run:
            async for event in run:
                if isinstance(event, MCPProgress):
                    [pid] = child_processes(MARK)
                    os.kill(pid, signal.SIGKILL)
            return await run.result()  # type: ignore[return-value]

    reply: Any = await kill_on_first_progress()
    [failed] = results(reply.events)
    assert isinstance(failed, ToolCallError)
    assert failed.error_type == "ToolSourceUnavailable"
    again = await reply.ask("echo")
    [ok] = results(again.events)[-1:]
    assert isinstance(ok, ToolCallResult) and ok.content == "Echo: back"
    assert everything.sessions_opened == 2


BROKEN = r"""
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    if message["method"] == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"], "capabilities":
                  {"tools": {}}, "serverInfo": {"name": "broken", "version": "0"}}
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
    elif message["method"] == "tools/list":
        tool = {"name": "ping", "inputSchema": {"type": "object"}}
        print("this is not JSON-RPC", flush=True)
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [tool]}}),
              flush=True)
    elif message["method"] == "tools/call":
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": "not a result"}),
              flush=True)
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error":
                          {"code": -32601, "message": "no such method"}}), flush=True)
"""


async def test_a_server_sending_broken_json_rpc_gets_clear_errors_not_a_hang(
    tmp_path: Path,
) -> None:
    script = tmp_path / "broken_server.py"
    script.write_text(BROKEN)
    server = MCPServer.stdio(sys.executable, [str(script)], name="broken", timeout=30)
    agent = Agent("a", config=ScriptedModel(call("ping"), "ok"), tools=[server])
    try:
        reply = await asyncio.wait_for(agent.ask("ping"), 60)
    finally:
        await server.aclose()
    [failed] = results(reply.events)
    assert isinstance(failed, ToolCallError)
    assert failed.error_type == "RemoteToolError"  # an answer that can't be read, not a wait
    assert "not valid MCP" in failed.message
    assert "result: Input should be an object" in failed.message


async def test_a_question_two_asks_could_have_caused_is_declined_not_misrouted(
    node_peers: NodePeers, caplog: pytest.LogCaptureFixture
) -> None:
    """Over stdio on the 2025 protocol a server's question carries nothing that names the call
    it is for: with two asks waiting on the server, it is declined rather than guessed."""
    asked: list[HumanInputRequest] = []

    def hitl(request: HumanInputRequest, context: Context) -> str:
        asked.append(request)
        return '{"name": "Ada"}'

    server = MCPServer.stdio(
        str(node_peers.bin("mcp-server-everything")), ["stdio"], name="everything"
    )
    busy = Agent(
        "busy",
        config=ScriptedModel(call("trigger-long-running-operation", duration=60, steps=600), "ok"),
        tools=[server],
    )
    asking = Agent(
        "asking",
        config=ScriptedModel(call("trigger-elicitation-request"), "ok"),
        tools=[server],
        hitl=hitl,
    )
    working = asyncio.Event()

    async def keep_busy() -> Any:
        async with busy.run("work") as run:
            async for event in run:
                if isinstance(event, MCPProgress):
                    working.set()
            return await run.result()

    task = asyncio.create_task(keep_busy())
    try:
        await working.wait()  # the busy ask's call is on the server (for a minute)
        reply = await asking.ask("ask me")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.aclose()

    assert asked == []
    [result] = results(reply.events)
    assert isinstance(result, ToolCallResult) and "decline" in result.content
    assert "could not be told which ask" in caplog.text


async def test_two_questions_of_one_ask_at_once_are_declined_not_mixed_up(
    everything: MCPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Two calls of the same ask wait on the server: a question naming neither is not given
    to one of them (its answer would be filed under the other call)."""
    asked: list[HumanInputRequest] = []

    def hitl(request: HumanInputRequest, context: Context) -> str:
        asked.append(request)
        return '{"name": "Ada"}'

    twice = [call("trigger-elicitation-request"), call("trigger-elicitation-request")]
    agent = Agent("a", config=ScriptedModel(twice, "ok"), tools=[everything], hitl=hitl)
    reply = await agent.ask("ask me twice")
    assert asked == []
    assert all("decline" in r.content for r in results(reply.events))  # type: ignore[union-attr]
    assert "could not be told which ask" in caplog.text
