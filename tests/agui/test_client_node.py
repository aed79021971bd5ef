"""Baton's AG-UI endpoint against the official client, ``@ag-ui/client``'s ``HttpAgent``
under node (which checks the order of the events it gets); every event on the wire is also
validated against ``@ag-ui/core``'s schemas and ``ag_ui.core``'s models (``run_client``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agui_support import TOKEN, run_client, run_served, types
from node_peers import NodePeers
from serving import uvicorn_serving

from baton import (
    Agent,
    Context,
    MemoryHistory,
    MemoryStorage,
    ModelRequest,
    ModelResponse,
    tool,
)
from baton.agui import AGUIApp
from baton.events import ApprovalRequest, HumanMessage, ToolCallResult
from baton.testing import ScriptedModel, call, chunks, reasoning

WEATHER_TOOL = {
    "name": "show_weather",
    "description": "Show the weather card in the page.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@tool
def lookup(city: str, context: Context) -> str:
    """Look the forecast up."""
    context.variables["last_city"] = city
    return f"sunny in {city}"


@tool(requires_approval=True)
def deploy(env: str) -> str:
    """Deploy to an environment."""
    return f"deployed to {env}"


def durable(model: ScriptedModel, **options: Any) -> Agent[Any]:
    return Agent(
        "helper",
        config=model,
        history=options.pop("history", None) or MemoryHistory(),
        storage=options.pop("storage", None) or MemoryStorage(),
        **options,
    )


async def test_a_streamed_answer_with_reasoning_tools_and_state(node_peers: NodePeers) -> None:
    model = ScriptedModel(
        chunks(reasoning("think"), "Let me ", "look.", call("lookup", city="Oslo")),
        chunks("It is ", "sunny."),
    )
    agent = durable(model, tools=[lookup], variables={"units": "metric"})
    report = await run_served(
        node_peers,
        agent,
        {"threadId": "t1", "state": {"mood": "calm"}, "steps": [{"user": "Oslo?"}]},
    )
    [run] = report["runs"]
    assert run["error"] is None and run["outcome"] == "success"
    assert types(run) == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "STATE_SNAPSHOT",
        "TOOL_CALL_RESULT",
        "STATE_DELTA",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    events = run["events"]
    assert events[11]["delta"] == '{"city":"Oslo"}'  # the arguments as they streamed
    assert events[13]["snapshot"] == {"units": "metric", "mood": "calm"}
    assert events[15]["delta"] == [{"op": "add", "path": "/last_city", "value": "Oslo"}]
    # the client built the conversation from the events
    roles = [(m["role"], m.get("content")) for m in report["messages"]]
    assert roles[0] == ("user", "Oslo?")
    assert ("tool", "sunny in Oslo") in roles
    assert roles[-1] == ("assistant", "It is sunny.")
    assert report["state"] == {"units": "metric", "mood": "calm", "last_city": "Oslo"}


async def test_a_front_end_tool_round_trip_driven_by_the_client(node_peers: NodePeers) -> None:
    model = ScriptedModel(call("show_weather", city="Rome"), "Shown: the card says 21C.")
    agent = durable(model)
    report = await run_served(
        node_peers,
        agent,
        {
            "threadId": "t2",
            "tools": [WEATHER_TOOL],
            "steps": [{"user": "weather in Rome?"}, {"toolResult": "card shown: 21C"}],
        },
    )
    first, second = report["runs"]
    assert first["error"] is None and first["outcome"] == "success"
    [call_id] = first["pendingToolCallIds"]
    calls = [t for t in types(first) if t.startswith(("TOOL_CALL", "RUN_FINISHED"))]
    assert calls == ["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_FINISHED"]
    assert first["events"][-1]["outcome"] == {"type": "success", "pendingToolCallIds": [call_id]}
    assert second["error"] is None and second["outcome"] == "success"
    assert "TOOL_CALL_START" not in types(second)  # the call was made in the first run
    # the model read the client's result as the tool's
    stored = await agent.history.load("t2")  # type: ignore[union-attr]
    [result] = [e for e in stored if isinstance(e, ToolCallResult)]
    assert (result.call_id, result.content) == (call_id, "card shown: 21C")
    assert report["messages"][-1]["content"] == "Shown: the card says 21C."


async def test_an_approval_round_trip_driven_by_the_client(node_peers: NodePeers) -> None:
    model = ScriptedModel(call("deploy", env="prod"), "Deployed.")
    agent = durable(model, tools=[deploy])
    report = await run_served(
        node_peers,
        agent,
        {
            "threadId": "t3",
            "steps": [{"user": "ship it"}, {"resolve": {"approved": True, "reason": "ok"}}],
        },
    )
    first, second = report["runs"]
    assert first["error"] is None and first["outcome"] == "interrupt"
    [interrupt] = first["interrupts"]
    [call_id] = [e["toolCallId"] for e in first["events"] if e["type"] == "TOOL_CALL_END"]
    assert interrupt["reason"] == "tool_call" and interrupt["toolCallId"] == call_id
    assert interrupt["responseSchema"]["required"] == ["approved"]
    assert second["error"] is None and second["outcome"] == "success"
    assert types(second)[:2] == ["RUN_STARTED", "TOOL_CALL_RESULT"]
    assert second["events"][1]["content"] == "deployed to prod"
    stored = await agent.history.load("t3")  # type: ignore[union-attr]
    [asked] = [e for e in stored if isinstance(e, ApprovalRequest)]
    assert HumanMessage("ok", asked.request_id, approved=True) in stored


async def test_a_cancelled_approval_denies_the_call(node_peers: NodePeers) -> None:
    model = ScriptedModel(call("deploy", env="prod"), "Not deployed.")
    agent = durable(model, tools=[deploy])
    report = await run_served(
        node_peers, agent, {"threadId": "t4", "steps": [{"user": "ship it"}, {"cancel": True}]}
    )
    second = report["runs"][1]
    assert second["error"] is None and second["outcome"] == "success"
    result = second["events"][1]
    assert result["type"] == "TOOL_CALL_RESULT"
    assert result["content"].startswith("The user denied this call")


async def test_a_paused_run_continues_in_another_replica(
    node_peers: NodePeers, tmp_path: Path, valid_history: Any
) -> None:
    """Two AGUIApps (two replicas) share SQLite: the front-end tool call pauses the run in the
    first, the client's result continues it in the second, then an approval the other way."""
    from baton.backends.sql import SQLHistory, SQLStorage

    url_db = f"sqlite:///{tmp_path / 'agui.db'}"
    async with (
        SQLHistory(url_db) as history_a,
        SQLStorage(url_db) as storage_a,
        SQLHistory(url_db) as history_b,
        SQLStorage(url_db) as storage_b,
    ):
        # each replica's scripted model plays the turns that replica serves
        replica_a = Agent(
            "helper",
            config=ScriptedModel(call("show_weather", city="Rome"), call("deploy", env="x")),
            tools=[deploy],
            history=history_a,
            storage=storage_a,
        )
        replica_b = Agent(
            "helper",
            config=ScriptedModel("Rome is sunny.", "Deployed."),
            tools=[deploy],
            history=history_b,
            storage=storage_b,
        )
        async with (
            uvicorn_serving(AGUIApp(replica_a, token=TOKEN)) as url_a,
            uvicorn_serving(AGUIApp(replica_b, token=TOKEN)) as url_b,
        ):
            report = await run_client(
                node_peers,
                {
                    "url": url_a,
                    "threadId": "t5",
                    "tools": [WEATHER_TOOL],
                    "steps": [
                        {"user": "weather?"},
                        {"url": url_b},
                        {"toolResult": "card shown"},
                        {"url": url_a},
                        {"user": "now deploy"},
                        {"url": url_b},
                        {"resolve": {"approved": True}},
                    ],
                },
            )
        outcomes = [(r["error"], r["outcome"]) for r in report["runs"]]
        assert outcomes == [
            (None, "success"),
            (None, "success"),
            (None, "interrupt"),
            (None, "success"),
        ]
        assert report["runs"][0]["pendingToolCallIds"]
        assert report["messages"][-1]["content"] == "Deployed."
        stored = await history_a.load("t5")
        valid_history(stored)
        assert [r.content for r in stored if isinstance(r, ToolCallResult)] == [
            "card shown",
            "deployed to x",
        ]


async def test_without_a_history_the_clients_messages_are_the_conversation(
    node_peers: NodePeers,
) -> None:
    model = ScriptedModel(chunks("First ", "answer."), "Second answer.")
    agent = Agent("helper", config=model)  # no history: the client holds the thread
    report = await run_served(
        node_peers, agent, {"threadId": "t6", "steps": [{"user": "one"}, {"user": "two"}]}
    )
    assert [r["outcome"] for r in report["runs"]] == ["success", "success"]
    # the second model call saw the whole conversation the client sent
    seen = [
        (type(e).__name__, e.text)
        for e in model.requests[1].messages
        if isinstance(e, ModelRequest | ModelResponse)
    ]
    assert seen == [
        ("ModelRequest", "one"),
        ("ModelResponse", "First answer."),
        ("ModelRequest", "two"),
    ]


async def test_a_failing_run_ends_with_run_error(node_peers: NodePeers) -> None:
    @tool
    def explode() -> str:
        """Fail."""
        raise RuntimeError("secret detail")

    agent = Agent(
        "helper",
        config=ScriptedModel(chunks("Trying", call("explode"))),
        tools=[explode],
        raise_tool_errors=True,
    )
    report = await run_served(node_peers, agent, {"threadId": "t7", "steps": [{"user": "go"}]})
    [run] = report["runs"]
    assert run["runError"] == {"message": "the agent failed (RuntimeError)", "code": "RuntimeError"}
    assert types(run)[-1] == "RUN_ERROR"
    assert "secret detail" not in json.dumps(run["events"])
