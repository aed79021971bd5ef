"""RecordingModel around a real provider config (OpenAI Chat through the official SDK, against
the loopback wire server): it records what was sent and received and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from wire import WireServer

from baton import Agent, tool
from baton.events import ToolCallResult
from baton.providers.openai import OpenAIConfig
from baton.testing import RecordingModel

pytest.importorskip("openai")


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def completion(content: str | None, tool_calls: list[dict[str, Any]] | None = None) -> Any:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


async def test_recording_a_real_provider(wire: WireServer) -> None:
    arguments = json.dumps({"a": 2, "b": 3})
    wire.reply_json(
        completion(
            None,
            [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "add", "arguments": arguments},
                }
            ],
        )
    )
    wire.reply_json(completion("5"))
    inner = OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
    )
    model = RecordingModel(inner)
    try:
        reply = await Agent("a", config=model, tools=[add]).ask("2+3?")
    finally:
        await model.aclose()

    assert reply.text == "5"
    assert (model.provider, model.model_name) == ("openai", "gpt-test")
    assert model.settings.stream is False  # the wrapped config's settings apply
    assert len(wire.requests) == 2 and len(model.calls) == 2
    first, second = model.calls
    assert first.call.tool_names == ["add"] and first.call.settings.stream is False
    assert first.response is not None
    assert [(c.id, c.name, c.arguments) for c in first.response.tool_calls] == [
        ("call_a", "add", arguments)
    ]
    assert first.response.usage.input_tokens == 11
    last_sent = second.call.messages[-1]
    assert isinstance(last_sent, ToolCallResult) and last_sent.content == "5"
    assert second.response is not None and second.response.text == "5"
    assert wire.requests[1].json["messages"][-1]["content"] == "5"  # what the SDK sent
