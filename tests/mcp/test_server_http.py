"""Baton's MCP server over streamable HTTP: the ASGI app served by uvicorn on a free loopback
port (in this event loop, or as ``baton mcp serve --http`` in a subprocess), against the
official ``mcp`` Python SDK client and plain HTTP requests for the guards."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx2
import pytest
from mcp_support import (
    Elicitations,
    RunEnds,
    http_client_for,
    make_agent,
    start_serving,
    stop_serving,
)
from serving import uvicorn_serving
from starlette.applications import Starlette
from starlette.routing import Mount

from baton import ConfigError, MemoryHistory
from baton.events import RunFailed
from baton.mcp import MCPApp

TOKEN = "test-token-0123456789abcdef"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def text(result: Any) -> str:
    return str(result.content[0].text)


async def post(url: str, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})


async def test_a_client_with_the_token_asks_and_continues_with_progress() -> None:
    app = MCPApp(make_agent(history=MemoryHistory()), tools="both")
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    serving = uvicorn_serving(app.http_app(token=TOKEN))
    async with serving as base, http_client_for(f"{base}/mcp", TOKEN) as client:
        first = await client.call_tool("ask", {"prompt": "add 4 5"}, progress_callback=on_progress)
        assert text(first) == "result: 9"
        conversation = first.structured_content["conversation_id"]
        again = await client.call_tool("ask", {"prompt": "next", "conversation_id": conversation})
        assert text(again) == "heard: add 4 5 | next"
        assert text(await client.call_tool("add", {"a": 1, "b": 1})) == "2"
    assert "calling tool add" in progress and progress[-1] == "the model answered"


async def test_elicitation_over_http_in_both_protocol_eras() -> None:
    app = MCPApp(make_agent())
    async with uvicorn_serving(app.http_app(token=TOKEN)) as base:
        for mode in ("legacy", "auto"):
            answers = Elicitations({"answer": "green"})
            client = http_client_for(f"{base}/mcp", TOKEN)
            client.mode, client.elicitation_callback = mode, answers
            async with client:
                result = await client.call_tool("ask", {"prompt": "ask colour?"})
            assert text(result) == "result: the user said: green", mode
            assert answers.asked[0][0] == "colour?"


async def test_the_token_is_required_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http = MCPApp(make_agent()).http_app(token=TOKEN)
    assert TOKEN not in repr(http) and "token required" in repr(http)
    async with uvicorn_serving(http) as base:
        url = f"{base}/mcp"
        missing = await post(url)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await post(url, Authorization="Bearer " + "x" * len(TOKEN))
        assert wrong.status_code == 401 and TOKEN not in wrong.text
        assert (await post(url, Authorization=f"Basic {TOKEN}")).status_code == 401
        assert (await post(url, Authorization=f"Bearer {TOKEN}")).status_code == 200
        with pytest.raises(ExceptionGroup) as refused:
            async with http_client_for(url, "not-the-token") as client:
                await client.list_tools()
        assert refused.group_contains(Exception)  # the SDK reports the 401 as an MCPError
        async with http_client_for(url, TOKEN) as client:  # the SDK's own logs, a whole call
            assert text(await client.call_tool("ask", {"prompt": "add 1 2"})) == "result: 3"
    assert TOKEN not in caplog.text


async def test_a_generated_token_and_bad_tokens() -> None:
    app = MCPApp(make_agent())
    generated = app.http_app()
    assert generated.token is not None and len(generated.token) >= 32
    assert generated.token not in repr(generated)
    assert app.http_app().token != generated.token
    with pytest.raises(ConfigError, match="at least 16 characters"):
        app.http_app(token="short")
    with pytest.raises(ConfigError, match="not both"):
        app.http_app(token=TOKEN, no_token=True)


async def test_a_port_out_of_range_is_a_config_error() -> None:
    from baton.mcp.serve import serve_http

    # (the socket's own OverflowError used to escape as a traceback)
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:99999: a port is 0-65535"):
        await serve_http(make_agent(), "127.0.0.1", 99999, token=TOKEN)
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:eighty: a port is 0-65535"):
        await serve_http(make_agent(), "127.0.0.1", "eighty", token=TOKEN)
    # A port as the environment gives it ("8000") is read as a number: the refusal here
    # comes from what follows the port, a token too short.
    with pytest.raises(ConfigError, match="at least 16 characters"):
        await serve_http(make_agent(), "127.0.0.1", "99", token="short")


async def test_origin_and_host_are_checked_against_dns_rebinding() -> None:
    http = MCPApp(make_agent()).http_app(token=TOKEN, allowed_origins=["https://app.example.com"])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with uvicorn_serving(http) as base:
        url = f"{base}/mcp"
        host = base.removeprefix("http://")
        evil = await post(url, Origin="http://evil.example", **auth)
        assert evil.status_code == 403 and "Origin" in evil.text
        # refused before the token is looked at: a page learns nothing about it
        assert (await post(url, Origin="http://evil.example")).status_code == 403
        rebound = await post(url, Host="evil.example", Origin="http://evil.example", **auth)
        assert rebound.status_code == 421
        assert (await post(url, Origin=f"http://{host}", **auth)).status_code == 200
        assert (await post(url, Origin="https://app.example.com", **auth)).status_code == 200
        assert (await post(url, Host=f"localhost:{host.split(':')[1]}", **auth)).status_code == 200


async def test_without_a_token_only_loopback_clients_are_served() -> None:
    http = MCPApp(make_agent()).http_app(no_token=True)
    assert http.token is None and "loopback clients only" in repr(http)
    async with uvicorn_serving(http) as base, http_client_for(f"{base}/mcp") as client:
        assert text(await client.call_tool("ask", {"prompt": "hi"})) == "heard: hi"
    # the client check itself, with an ASGI scope from another machine
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "server": ("127.0.0.1", 8000),
        "client": ("192.0.2.7", 50000),
    }
    await http(scope, receive, send)
    assert sent[0]["status"] == 403


def test_a_websocket_is_refused_not_a_server_error() -> None:
    """Nothing here takes websockets: a client opening one is refused (403 on the wire), not
    answered with an exception in the server's log."""
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    http = MCPApp(make_agent()).http_app(token=TOKEN)
    with pytest.raises(WebSocketDisconnect) as refused, TestClient(http).websocket_connect("/mcp"):
        pass
    assert refused.value.code == 1008


async def test_the_app_mounts_in_starlette() -> None:
    http = MCPApp(make_agent()).http_app(token=TOKEN)
    parent = Starlette(routes=[Mount("/agents/helper", app=http)], lifespan=http.lifespan)
    serving = uvicorn_serving(parent)
    async with serving as base, http_client_for(f"{base}/agents/helper/mcp", TOKEN) as client:
        assert text(await client.call_tool("ask", {"prompt": "mounted"})) == "heard: mounted"


async def test_a_client_that_disconnects_mid_ask_leaves_the_run_closed() -> None:
    history = MemoryHistory()
    ends = RunEnds()
    app = MCPApp(make_agent(history=history, observers=[ends]))
    started = asyncio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if message == "calling tool wait_forever":
            started.set()

    async with uvicorn_serving(app.http_app(token=TOKEN)) as base:
        async with http_client_for(f"{base}/mcp", TOKEN) as client:
            call = asyncio.create_task(
                client.call_tool("ask", {"prompt": "wait"}, progress_callback=on_progress)
            )
            await started.wait()
            call.cancel()
        await asyncio.wait_for(ends.ended.wait(), 30)  # a bound, not a timing assertion
        (closed,) = ends.closing
        assert isinstance(closed, RunFailed)
        # the server still serves
        async with http_client_for(f"{base}/mcp", TOKEN) as client:
            assert text(await client.call_tool("ask", {"prompt": "after"})) == "heard: after"


def test_baton_mcp_serve_http_prints_the_url_and_a_generated_token() -> None:
    process = start_serving("mcp_support:agent", "--http", "127.0.0.1:0")
    try:
        assert process.stderr is not None
        serving = process.stderr.readline()
        assert serving.startswith("Serving agent 'helper' over MCP at http://127.0.0.1:")
        url = serving.split(" at ")[1].strip()
        token_line = process.stderr.readline()
        assert token_line.startswith("Bearer token (generated")
        token = token_line.rsplit(": ", 1)[1].strip()

        async def use() -> tuple[str, int]:
            async with http_client_for(url, token) as client:
                answer = text(await client.call_tool("ask", {"prompt": "over the wire"}))
            return answer, (await post(url)).status_code

        assert asyncio.run(use()) == ("heard: over the wire", 401)
    finally:
        stop_serving(process)
    rest = process.stderr.read()
    assert token not in rest and "Traceback" not in rest


def test_baton_mcp_serve_http_takes_the_token_from_the_environment() -> None:
    process = start_serving("mcp_support:agent", "--http", "127.0.0.1:0", BATON_MCP_TOKEN=TOKEN)
    try:
        assert process.stderr is not None
        url = process.stderr.readline().split(" at ")[1].strip()

        async def use() -> int:
            return (await post(url, Authorization=f"Bearer {TOKEN}")).status_code

        assert asyncio.run(use()) == 200
    finally:
        stop_serving(process)
    assert TOKEN not in process.stderr.read()


async def test_baton_as_client_of_baton_over_http_sends_its_token() -> None:
    """Baton's own client against Baton's server: the bearer token it is given reaches the
    server, a wrong one is refused once (a 401 is not retried), and neither shows in errors."""
    from baton import Agent
    from baton.errors import ToolSourceUnavailable
    from baton.mcp import MCPServer
    from baton.testing import ScriptedModel, call

    app = MCPApp(make_agent(), name="calc", tools="both")
    async with uvicorn_serving(app.http_app(token=TOKEN)) as base:
        remote = MCPServer.http(f"{base}/mcp", auth=TOKEN, include=["add"], prefix="calc_")
        caller = Agent(
            "caller", config=ScriptedModel(call("calc_add", a=20, b=22), "done"), tools=[remote]
        )
        try:
            reply = await caller.ask("add them remotely")
        finally:
            await remote.aclose()
        [result] = [e for e in reply.events if type(e).__name__ == "ToolCallResult"]
        assert result.content == "42"  # type: ignore[attr-defined]

        wrong = MCPServer.http(f"{base}/mcp", auth="not-the-token", reconnect=3)
        with pytest.raises(ToolSourceUnavailable) as refused:
            await wrong.list_tools()
        assert wrong.sessions_opened == 1  # refused for good: not tried again
        assert "401" in str(refused.value) and "not-the-token" not in str(refused.value)
        await wrong.aclose()
