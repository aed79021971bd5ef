"""Helpers of the AG-UI tests: the official client under node (``client.mjs``), and raw
requests read back as events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from ag_ui.core import Event
from node_peers import NodePeers
from pydantic import TypeAdapter

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "client.mjs"
TOKEN = "agui-test-token-0123456789"
EVENTS: TypeAdapter[Any] = TypeAdapter(Event)


async def run_client(node_peers: NodePeers, plan: dict[str, Any]) -> dict[str, Any]:
    """Run ``client.mjs`` on ``plan`` (see the script) and return its report, each event in it
    checked against both of the protocol's official schemas."""
    report = await node_peers.run_script(
        SCRIPT, BATON_AGUI_PLAN=json.dumps({"token": TOKEN, **plan})
    )
    for run in report["runs"]:
        assert run["schemaErrors"] == [], run["schemaErrors"]
        # the python models read every event too (the protocol's other official schema)
        for event in run["events"]:
            EVENTS.validate_python(event)
    assert report["warnings"] == [], report["warnings"]
    return report


async def run_served(node_peers: NodePeers, runnable: Any, plan: dict[str, Any]) -> dict[str, Any]:
    """Serve ``AGUIApp(runnable)`` (an agent or a team) on loopback with the test token and run
    ``client.mjs`` on ``plan`` against it (``run_client``)."""
    from serving import uvicorn_serving

    from baton.agui import AGUIApp

    async with uvicorn_serving(AGUIApp(runnable, token=TOKEN)) as url:
        return await run_client(node_peers, {"url": url, **plan})


def types(run: dict[str, Any]) -> list[str]:
    return [e["type"] for e in run["events"]]


def sse_events(text: str) -> list[dict[str, Any]]:
    """The events of a server-sent event stream."""
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def client_for(app: Any, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """An in-process client of ``app`` (an ASGI app), calling from address ``peer``."""
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def post(
    client: httpx.AsyncClient, body: Any, token: str | None = TOKEN, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.post("/", json=body, headers=headers)


def user(text: str, id: str = "u") -> dict[str, Any]:
    return {"id": id, "role": "user", "content": text}


def run_input(thread: str, *messages: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"threadId": thread, "runId": os.urandom(4).hex(), "messages": list(messages), **more}
