"""Baton's MCP server against the official Node SDK client (``@modelcontextprotocol/sdk``, run
under node 22 by ``server_peer.mjs``), over stdio and over streamable HTTP."""

from __future__ import annotations

import json
from typing import Any

from mcp_support import HERE, make_agent, serve_command, server_env
from node_peers import NodePeers
from serving import uvicorn_serving

from baton.mcp import MCPApp

SCRIPT = HERE / "server_peer.mjs"
TOKEN = "node-peer-token-0123456789"


async def run_peer(node_peers: NodePeers, peer: dict[str, Any]) -> dict[str, Any]:
    """Run the node client on ``peer``; its report."""
    return await node_peers.run_script(SCRIPT, BATON_PEER=json.dumps(peer))


def check(report: dict[str, Any]) -> None:
    assert report["server"]["name"] == "helper"
    assert report["tools"] == ["ask"]
    assert report["first"] == "result: 13"
    assert report["progress"][:2] == ["the model calls ask_user", "calling tool ask_user"]
    assert report["second"] == "heard: add 6 7 | go on"
    assert report["asked"] == "result: the user said: purple"
    assert report["elicited"] == ["mood?"]
    assert report["failed"]["isError"] is True
    assert "model-secret-detail" not in report["failed"]["text"]


async def test_the_node_sdk_client_over_stdio(node_peers: NodePeers) -> None:
    command = serve_command("mcp_support:agent")
    peer = {
        "stdio": {
            "command": command[0],
            "args": command[1:],
            "env": server_env(),
            "cwd": str(HERE),
            "stderr": "inherit",
        }
    }
    check(await run_peer(node_peers, peer))


async def test_the_node_sdk_client_over_http(node_peers: NodePeers) -> None:
    app = MCPApp(make_agent())
    async with uvicorn_serving(app.http_app(token=TOKEN)) as base:
        peer = {"http": {"url": f"{base}/mcp", "token": TOKEN}}
        # the node process runs while this loop serves it
        report = await run_peer(node_peers, peer)
    check(report)
