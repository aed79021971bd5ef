"""RedisHistory and RedisStorage against a real Redis, alone and under agents (continuing a
conversation from another Agent object, suspending and resuming an ask)."""

from __future__ import annotations

import pytest

from baton import Agent, tool
from baton.backends.redis import RedisHistory, RedisStorage
from baton.errors import AskSuspended
from baton.events import (
    HumanMessage,
    Image,
    ModelRequest,
    ModelResponse,
    RunFinished,
    Text,
    ToolCall,
    Usage,
)
from baton.history import History, Storage
from baton.hitl import ApprovalPolicy
from baton.testing import ScriptedModel, call


async def test_history_round_trips_events_in_order(redis_url: str, prefix: str) -> None:
    history = RedisHistory(redis_url, prefix=prefix)
    assert isinstance(history, History)
    assert await history.load("c1") == [] and await history.length("c1") == 0
    events = [
        ModelRequest((Text("hi"), Image(data=b"\x89PNG"))),
        ModelResponse("", (ToolCall("1", "t", '{"a": 1}'),), Usage(1, 2, 3)),
        RunFinished("r", "done", {"x": [1, 2]}),
    ]
    await history.append("c1", events[:1])
    await history.append("c1", events[1:])
    await history.append("c1", [])
    assert await history.load("c1") == events
    assert await history.length("c1") == 3
    assert await history.conversation_ids() == ["c1"]
    assert await history.delete("c1") and await history.load("c1") == []


async def test_storage_keeps_json_values(redis_url: str, prefix: str) -> None:
    storage = RedisStorage(redis_url, prefix=prefix)
    assert isinstance(storage, Storage)
    assert await storage.get("a") is None
    await storage.put("a:1", {"n": 1, "l": [1, "x"], "u": "é"})
    await storage.put("a:2", 2)
    await storage.put("b*[?]", "glob characters are plain")
    assert await storage.get("a:1") == {"n": 1, "l": [1, "x"], "u": "é"}
    assert await storage.keys("a:") == ["a:1", "a:2"]
    assert await storage.keys("b*") == ["b*[?]"]
    assert await storage.delete("a:1") is True
    assert await storage.delete("a:1") is False
    with pytest.raises(TypeError, match="JSON"):
        await storage.put("bad", object())


async def test_a_conversation_continues_from_another_agent_object(
    redis_url: str, prefix: str
) -> None:
    def make(answer: str) -> Agent[str]:
        return Agent(
            "a", config=ScriptedModel(answer), history=RedisHistory(redis_url, prefix=prefix)
        )

    first = await make("one").ask("1", conversation_id="c1")
    second = await make("two").ask("2", conversation_id="c1")  # e.g. in another process
    assert first.text == "one" and second.text == "two"
    loaded = await RedisHistory(redis_url, prefix=prefix).load("c1")
    assert [e.text for e in loaded if isinstance(e, ModelResponse)] == ["one", "two"]
    assert list(second.events) == loaded


@tool(requires_approval=True)
def launch(target: str) -> str:
    """Launch something."""
    return f"launched {target}"


async def test_a_suspended_ask_resumes_from_redis(redis_url: str, prefix: str) -> None:
    def make() -> Agent[str]:
        return Agent(
            "a",
            config=ScriptedModel(call("launch", target="moon"), "Launched."),
            tools=[launch],
            middleware=[ApprovalPolicy(suspend=True)],
            history=RedisHistory(redis_url, prefix=prefix),
            storage=RedisStorage(redis_url, prefix=prefix),
        )

    model_script = make()
    with pytest.raises(AskSuspended) as suspended:
        await model_script.ask("launch it", conversation_id="c1")
    (request,) = suspended.value.requests
    assert await RedisStorage(redis_url, prefix=prefix).keys() != []
    # a fresh agent (another process, later) resumes it; the model continues its script
    resumer = make()
    resumer.config = model_script.config
    reply = await resumer.resume("c1", HumanMessage(request_id=request.request_id, approved=True))
    assert reply.text == "Launched."
    assert await RedisStorage(redis_url, prefix=prefix).keys() == []


async def test_ids_and_keys_under_a_non_ascii_prefix(redis_url: str, prefix: str) -> None:
    history = RedisHistory(redis_url, prefix=f"{prefix}bätön:")
    storage = RedisStorage(redis_url, prefix=f"{prefix}bätön:")
    await history.append("conv-1", [ModelRequest((Text("hi"),))])
    await storage.put("notes/a", {"x": 1})
    assert await history.conversation_ids() == ["conv-1"]
    assert await storage.keys("notes/") == ["notes/a"]
