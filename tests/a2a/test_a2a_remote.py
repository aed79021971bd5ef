"""Baton's RemoteAgent against a remote agent built with the a2a-sdk's own server classes
(``sdk_peer.py``), and against Baton's own A2AApp behind a token: as a tool, remote context
kept per conversation, progress streamed, input-required answered by a handler or a pause,
failures as short tool errors, cancel passed on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from a2a_support import TOKEN, make_agent
from sdk_peer import PeerLog, peer_app, point_card
from serving import uvicorn_serving

from baton import Agent
from baton.a2a import A2AApp, RemoteAgent, RemoteStatus, RemoteText
from baton.errors import AskSuspended, ConfigError, RemoteAgentError
from baton.events import (
    HumanMessage,
    RunFailed,
    RunStarted,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    ToolCallError,
    ToolCallResult,
)
from baton.history import MemoryHistory, MemoryStorage
from baton.testing import ScriptedModel, call


@asynccontextmanager
async def peer(first: str = "JSONRPC") -> AsyncIterator[tuple[str, PeerLog]]:
    log = PeerLog()
    app, card = peer_app(log)
    async with uvicorn_serving(app) as base:
        point_card(card, base, first)
        yield base, log


def caller(remote: RemoteAgent, *turns: Any, **options: Any) -> Agent[str]:
    return Agent(
        "caller",
        config=ScriptedModel(*turns, per_conversation=True),
        tools=[remote.as_tool("echo_peer")],
        **options,
    )


def results(events: Any) -> list[Any]:
    return [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]


@pytest.mark.parametrize("transport", ["jsonrpc", "http+json"])
async def test_a_remote_agent_as_a_tool_keeps_its_context(transport: str) -> None:
    async with peer() as (base, log):
        remote = RemoteAgent(base, transport=transport)  # type: ignore[arg-type]
        agent = caller(
            remote,
            call("echo_peer", task="hello"),
            "first done",
            call("echo_peer", task="again"),
            "second done",
        )
        async with agent.run("go") as run:
            seen = [e async for e in run]
            reply = await run.result()
        assert results(reply.events)[0].content == "echo: hello (message 1)"
        second = await reply.ask("more")
        assert results(second.events)[-1].content == "echo: again (message 2)"
        assert len(log.texts) == 1  # one remote context for the one Baton conversation
        other = await agent.ask("go")  # another conversation: another remote context
        assert results(other.events)[0].content == "echo: hello (message 1)"
        assert len(log.texts) == 2
        await remote.aclose()
    kinds = [type(e) for e in seen]
    assert kinds.index(TaskStarted) < kinds.index(RemoteText) < kinds.index(TaskCompleted)
    pieces = [e.text for e in seen if isinstance(e, RemoteText)]
    assert pieces == ["echo: hello", " (message 1)"]
    assert "completed" in [e.state for e in seen if isinstance(e, RemoteStatus)]
    assert remote.name == "echo-peer"


async def test_input_required_goes_to_the_hitl_handler() -> None:
    asked: list[str] = []

    def handler(request: Any, context: Any) -> str:
        asked.append(request.prompt)
        return "blue"

    async with peer("HTTP+JSON") as (base, _):
        remote = RemoteAgent(base)
        agent = caller(remote, call("echo_peer", task="ask colour"), "ok", hitl=handler)
        reply = await agent.ask("go")
        await remote.aclose()
    assert asked == ["What colour?"]
    assert results(reply.events)[0].content == "colour: blue"


async def test_input_required_pauses_and_resume_answers_the_same_remote_task(
    valid_history: Any,
) -> None:
    async with peer() as (base, log):
        remote = RemoteAgent(base)
        options = {"history": MemoryHistory(), "storage": MemoryStorage(), "suspend_on_human": True}
        agent = caller(remote, call("echo_peer", task="ask colour"), "ok", **options)
        with pytest.raises(AskSuspended) as paused:
            await agent.ask("go")
        request = paused.value.requests[0]
        assert request.prompt == "What colour?"  # type: ignore[union-attr]
        reply = await agent.resume(
            paused.value.conversation_id, HumanMessage("green", request_id=request.request_id)
        )
        await remote.aclose()
    assert results(reply.events)[0].content == "colour: green"
    (texts,) = log.texts.values()
    assert texts == ["ask colour", "green"]  # the answer went to the waiting remote task
    valid_history(list(reply.events))


async def test_remote_failures_are_short_tool_errors() -> None:
    async with peer() as (base, _):
        remote = RemoteAgent(base)
        agent = caller(remote, call("echo_peer", task="fail"), "sorry")
        async with agent.run("go") as run:
            seen = [e async for e in run]
            reply = await run.result()
        await remote.aclose()
    (error,) = results(reply.events)
    assert isinstance(error, ToolCallError)
    assert "'echo-peer' failed the task: no such thing" in error.message
    assert any(isinstance(e, TaskFailed) for e in seen)
    nowhere = RemoteAgent("http://127.0.0.1:9", timeout=2)
    with pytest.raises(RemoteAgentError, match="could not read its agent card"):
        await nowhere.send("hi")
    with pytest.raises(ConfigError):
        RemoteAgent("ftp://example.com")


async def test_cancelling_the_caller_cancels_the_remote_task(valid_history: Any) -> None:
    async with peer() as (base, log):
        remote = RemoteAgent(base)
        history = MemoryHistory()
        agent = caller(remote, call("echo_peer", task="slow"), "never", history=history)
        async with agent.run("go") as run:
            async for event in run:
                if isinstance(event, RunStarted):
                    conversation_id = event.conversation_id
                if isinstance(event, RemoteText):  # the remote task is under way
                    break
            await run.cancel()
        await remote.aclose()
        assert len(log.cancelled) == 1
    events = await history.load(conversation_id)
    valid_history(events)
    assert isinstance(events[-1], RunFailed) and events[-1].error_type == "Cancelled"


async def test_remote_agent_against_a_baton_server_with_a_token() -> None:
    served = make_agent("served answer")
    app = A2AApp(served, token=TOKEN)
    async with uvicorn_serving(app) as base:
        without = RemoteAgent(base)
        with pytest.raises(RemoteAgentError, match="401"):
            await without.send("hi")
        await without.aclose()
        remote = RemoteAgent(base, token=TOKEN)
        assert TOKEN not in repr(remote)
        reply = await remote.send("hi")
        assert (reply.text, reply.state) == ("served answer", "completed")
        await remote.aclose()
