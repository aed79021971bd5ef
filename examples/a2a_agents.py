"""Two agents talking over A2A: one served as an A2A server, one using it as a tool.

What it shows: ``A2AApp(agent, token=...)`` (an ASGI app: the agent card, JSON-RPC and
HTTP+JSON, streaming; a task is a run, a context a conversation), and ``RemoteAgent(url,
token=...)`` seen from another agent: ``remote.as_tool()`` for its model to hand tasks to,
with the remote progress arriving as ``TaskStarted`` / ``TaskCompleted`` events.

Needs: ``pip install 'baton-agents[a2a]' uvicorn``.

Run it:

    python examples/a2a_agents.py          # serves on a free port on 127.0.0.1, asks, stops
    python examples/a2a_agents.py serve    # only the server, on 127.0.0.1:8000

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from baton import Agent, MemoryHistory, MemoryStorage, ModelConfig, tool
from baton.events import TaskCompleted, TaskStarted
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


@tool
def forecast(city: str) -> str:
    """Tomorrow's forecast for a city.

    Args:
        city: The city's name.
    """
    return f"{city}: 14 °C, showers in the afternoon"


def weather_agent() -> Agent[str]:
    """The served agent. A2A needs a history and a storage (SQL or Redis ones let any replica
    answer any task); memory ones do for one process."""
    return Agent(
        "weather-desk",
        "You give short weather forecasts.",
        config=model("remote"),
        tools=[forecast],
        history=MemoryHistory(),
        storage=MemoryStorage(),
        description="Forecasts for any city",
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


async def main() -> None:
    from baton.a2a import A2AApp, RemoteAgent

    token = secrets.token_urlsafe(16)  # in production: from your secrets, the same on both sides
    async with serving(A2AApp(weather_agent(), token=token)) as url:
        print(f"A2A server at {url}")
        remote = RemoteAgent(url, token=token, name="weather-desk")
        planner = Agent(
            "planner",
            "You plan days out. Ask the weather desk for forecasts.",
            config=model("planner"),
            tools=[remote.as_tool("weather_desk")],
        )
        reply = await planner.ask("Should I cycle to Utrecht tomorrow?")
        for event in reply.events:
            if isinstance(event, TaskStarted):
                print(f"  task started on {event.agent}: {event.task}")
            elif isinstance(event, TaskCompleted):
                print(f"  task completed: {event.text}")
        print(f"planner: {reply.text}")
        await remote.aclose()


async def serve() -> None:
    from baton.a2a import A2AApp

    app = A2AApp(weather_agent())  # no token given: one is generated
    print(f"serving on http://127.0.0.1:8000 with bearer token {app.token}")
    async with serving(app, port=8000):
        await asyncio.Event().wait()


def model(role: str) -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers of each agent."""
    if MODEL != "scripted":
        return MODEL
    if role == "remote":
        return ScriptedModel(
            call("forecast", city="Utrecht"), "Utrecht tomorrow: 14 °C with afternoon showers."
        )
    return ScriptedModel(
        call("weather_desk", task="Tomorrow's forecast for Utrecht"),
        "Cycle there in the morning: showers are expected in the afternoon (14 °C).",
    )


if __name__ == "__main__":
    asyncio.run(serve() if sys.argv[1:] == ["serve"] else main())
