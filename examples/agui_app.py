"""A UI's view of an agent: served over AG-UI, with an approval as an interrupt.

What it shows: ``AGUIApp(agent, token=...)`` (an ASGI app: a POST of a ``RunAgentInput``
answers with AG-UI events as server-sent events), threads as conversations, a tool needing
approval ending the AG-UI run with an ``interrupt`` outcome, and the next request's
``resume`` answering it (on any replica sharing the history and storage). The client here is
plain ``httpx``, reading the events as a front end (``@ag-ui/client``, CopilotKit) would.

Needs: ``pip install 'baton-agents[agui]' uvicorn httpx``.

Run it:

    python examples/agui_app.py          # serves on a free port on 127.0.0.1, runs, stops
    python examples/agui_app.py serve    # only the server, on 127.0.0.1:8000, for your UI

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from baton import Agent, MemoryHistory, MemoryStorage, ModelConfig, tool
from baton.testing import ScriptedModel, call, chunks

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "anthropic:claude-haiku-4-5"


@tool(requires_approval=True)
def deploy(service: str, version: str) -> str:
    """Deploy a version of a service to production.

    Args:
        service: The service's name.
        version: The version to deploy.
    """
    return f"{service} {version} is live"


def build_agent() -> Agent[str]:
    # Interrupts pause the run: that needs a history and a storage (SQL or Redis to share
    # them between replicas; memory ones for one process).
    return Agent(
        "release-bot",
        "You deploy services when asked.",
        config=model(),
        tools=[deploy],
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )


@asynccontextmanager
async def serving(app: Any, port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (``port=0``: a free one) in this event loop."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # raises what stopped it
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def post_run(client: Any, url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST one RunAgentInput; print and return the AG-UI events of the answer."""
    events: list[dict[str, Any]] = []
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                events.append(event)
                detail = event.get("delta") or event.get("toolCallName") or event.get("content")
                print(f"  {event['type']}" + (f": {detail}" if detail else ""))
    return events


async def main() -> None:
    import httpx

    from baton.agui import AGUIApp

    token = secrets.token_urlsafe(16)
    thread = f"thread-{uuid.uuid4().hex[:8]}"  # a thread is a conversation
    async with (
        serving(AGUIApp(build_agent(), token=token)) as url,
        httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client,
    ):
        print(f"AG-UI endpoint at {url}\nrequest 1: the user asks")
        first = await post_run(
            client,
            url,
            {
                "threadId": thread,
                "runId": "run-1",
                "messages": [
                    {"id": "m1", "role": "user", "content": "Ship checkout 2.4.1, please."}
                ],
            },
        )
        [interrupt] = first[-1]["outcome"]["interrupts"]
        print(f"interrupt: {interrupt['reason']} for tool call {interrupt['toolCallId']}")

        print("request 2: the user approves")
        await post_run(
            client,
            url,
            {
                "threadId": thread,
                "runId": "run-2",
                "messages": [],
                "resume": [
                    {
                        "interruptId": interrupt["id"],
                        "status": "resolved",
                        "payload": {"approved": True},
                    }
                ],
            },
        )


async def serve() -> None:
    from baton.agui import AGUIApp

    app = AGUIApp(build_agent())  # no token given: one is generated
    print(f"AG-UI endpoint on http://127.0.0.1:8000/ with bearer token {app.token}")
    async with serving(app, port=8000):
        await asyncio.Event().wait()


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below."""
    if MODEL != "scripted":
        return MODEL
    return ScriptedModel(
        chunks("Deploying checkout 2.4.1.", call("deploy", service="checkout", version="2.4.1")),
        chunks("Done: checkout ", "2.4.1 is live."),
    )


if __name__ == "__main__":
    asyncio.run(serve() if sys.argv[1:] == ["serve"] else main())
