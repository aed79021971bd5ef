"""DashScope (Alibaba Cloud Model Studio) in its OpenAI-compatible mode, through the official
``openai`` SDK against the loopback wire server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from test_openai_chat import chunk, completion, fn_call, usage_chunk
from wire import WireServer, closing

from baton import Agent, Image, tool
from baton.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import ModelResponse, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.dashscope import (
    DASHSCOPE_BASE_URL,
    DASHSCOPE_INTL_BASE_URL,
    DashScopeConfig,
)

pytest.importorskip("openai")

PATH = "/compatible-mode/v1/chat/completions"


def config(wire: WireServer, **kwargs: Any) -> DashScopeConfig:
    made = DashScopeConfig(
        "qwen-test",
        api_key="sk-ds-test",
        base_url=f"{wire.url}/compatible-mode/v1",
        max_retries=0,
        **kwargs,
    )
    closing(made)
    return made


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_plain_reply_non_streaming(wire: WireServer) -> None:
    wire.reply_json(completion("Hello there"))
    cfg = config(wire, stream=False, temperature=0.3, seed=7, max_tokens=64)
    reply = await Agent("a", "Be brief.", config=cfg).ask("Hi")
    assert reply.text == "Hello there"
    assert reply.response.provider == "dashscope"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    assert wire.last.path == PATH
    assert wire.last.headers["authorization"] == "Bearer sk-ds-test"
    body = wire.last.json
    assert body["model"] == "qwen-test"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert body["temperature"] == 0.3 and body["seed"] == 7
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert "stream" not in body and "tools" not in body and "enable_thinking" not in body


async def test_streamed_reply_emits_chunks_and_assembles_text(wire: WireServer) -> None:
    wire.reply_sse(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, finish="stop"),
            usage_chunk(20, 5, prompt_tokens_details={"cached_tokens": 8}),
        ]
    )
    agent = Agent("a", config=config(wire))
    async with agent.run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo"]
    assert reply.text == "Hello"
    assert reply.response.finish_reason == "stop"
    assert reply.usage.input_tokens == 20 and reply.usage.cache_read_tokens == 8
    assert wire.last.path == PATH
    body = wire.last.json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_one_tool_round_sends_schema_and_results(wire: WireServer) -> None:
    wire.reply_json(
        completion(
            None, tool_calls=[fn_call("call_a", "add", {"a": 2, "b": 3})], finish="tool_calls"
        )
    )
    wire.reply_json(completion("5"))
    agent = Agent("a", config=config(wire, stream=False), tools=[add])
    reply = await agent.ask("2+3?")
    assert reply.text == "5"
    first, second = (r.json for r in wire.requests)
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": add.parameters,
            },
        }
    ]
    assert second["messages"][-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [fn_call("call_a", "add", {"a": 2, "b": 3})],
    }
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_a", "content": "5"}
    results = [e for e in reply.events if isinstance(e, ToolCallResult)]
    assert [(r.call_id, r.value) for r in results] == [("call_a", 5)]


def call_start(index: int, call_id: str, name: str) -> dict[str, Any]:
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }


def call_piece(index: int, arguments: str) -> dict[str, Any]:
    # DashScope repeats an empty id and the type on every continuation chunk of a call.
    return {"index": index, "id": "", "type": "function", "function": {"arguments": arguments}}


async def test_parallel_tool_calls_streamed_interleaved(wire: WireServer) -> None:
    # Two calls whose argument pieces arrive interleaved across chunks.
    wire.reply_sse(
        [
            chunk(
                {"role": "assistant", "content": None, "tool_calls": [call_start(0, "c1", "add")]}
            ),
            chunk({"tool_calls": [call_start(1, "c2", "mul")]}),
            chunk({"tool_calls": [call_piece(0, '{"a": 2,')]}),
            chunk({"tool_calls": [call_piece(1, '{"a": 4,')]}),
            chunk({"tool_calls": [call_piece(1, ' "b": 5}')]}),
            chunk({"tool_calls": [call_piece(0, ' "b": 3}')]}),
            chunk({}, finish="tool_calls"),
            usage_chunk(),
        ]
    )
    wire.reply_sse([chunk({"content": "5 and 20"}), chunk({}, finish="stop"), usage_chunk()])
    agent = Agent("a", config=config(wire, parallel_tool_calls=True), tools=[add, mul])
    reply = await agent.ask("compute")
    assert reply.text == "5 and 20"
    results = {e.name: (e.call_id, e.value) for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": ("c1", 5), "mul": ("c2", 20)}
    assert reply.usage.requests == 2
    first, second = wire.requests
    assert first.path == PATH and second.path == PATH
    assert first.json["parallel_tool_calls"] is True
    assert [t["function"]["name"] for t in first.json["tools"]] == ["add", "mul"]
    messages = second.json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            fn_call("c1", "add", {"a": 2, "b": 3}),
            fn_call("c2", "mul", {"a": 4, "b": 5}),
        ],
    }
    assert sorted((m["tool_call_id"], m["content"]) for m in messages if m["role"] == "tool") == [
        ("c1", "5"),
        ("c2", "20"),
    ]


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_uses_json_schema(wire: WireServer) -> None:
    wire.reply_json(completion('{"name": "Hangzhou", "population": 12000000}'))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Hangzhou", population=12_000_000)
    response_format = wire.last.json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"
    assert response_format["json_schema"]["strict"] is True
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"name", "population"}


async def test_image_input_is_sent_as_data_url(wire: WireServer) -> None:
    wire.reply_json(completion("a red dot"))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(["What is this?", Image(data=b"\x89PNG", media_type="image/png")])
    content = wire.last.json["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
    ]


async def test_reasoning_content_is_streamed_with_thinking_enabled(wire: WireServer) -> None:
    wire.reply_sse(
        [
            chunk({"role": "assistant", "content": None, "reasoning_content": "Two plus "}),
            chunk({"content": None, "reasoning_content": "two is four."}),
            chunk({"content": "4"}),
            chunk({}, finish="stop"),
            usage_chunk(10, 9, completion_tokens_details={"reasoning_tokens": 8}),
        ]
    )
    agent = Agent("a", config=config(wire, reasoning_effort="high", thinking_budget=500))
    async with agent.run("2+2") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["Two plus ", "two is four."]
    assert reply.text == "4"
    assert reply.response.reasoning == "Two plus two is four."
    assert reply.usage.reasoning_tokens == 8
    body = wire.last.json
    assert body["enable_thinking"] is True and body["thinking_budget"] == 500
    assert "reasoning_effort" not in body


async def test_reasoning_content_is_streamed_and_replayed_across_a_tool_round(
    wire: WireServer,
) -> None:
    wire.reply_sse(
        [
            chunk({"role": "assistant", "content": None, "reasoning_content": "I should "}),
            chunk({"content": None, "reasoning_content": "add."}),
            chunk({"tool_calls": [call_start(0, "c1", "add")]}),
            chunk({"tool_calls": [call_piece(0, '{"a": 1, "b": 1}')]}),
            chunk({}, finish="tool_calls"),
            usage_chunk(10, 4, completion_tokens_details={"reasoning_tokens": 3}),
        ]
    )
    wire.reply_sse(
        [
            chunk({"role": "assistant", "content": None, "reasoning_content": "Done."}),
            chunk({"content": "2"}),
            chunk({}, finish="stop"),
            usage_chunk(12, 2, completion_tokens_details={"reasoning_tokens": 1}),
        ]
    )
    agent = Agent("a", config=config(wire, reasoning_effort="high"), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should ", "add.", "Done."]
    assert reply.text == "2"
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    assert reply.usage.reasoning_tokens == 4
    first_response = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert first_response.reasoning == "I should add."
    first, second = (r.json for r in wire.requests)
    assert first["enable_thinking"] is True and second["enable_thinking"] is True
    assert "reasoning_effort" not in first and "reasoning_effort" not in second
    assistant, result = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert assistant["tool_calls"] == [fn_call("c1", "add", {"a": 1, "b": 1})]
    assert result == {"role": "tool", "tool_call_id": "c1", "content": "2"}
    # The thinking that led to the call goes back with it: models served here with interleaved
    # thinking (Qwen3's template, deepseek-v3.2, kimi-k2-thinking) read it from the assistant
    # message of a tool round.
    assert assistant.get("reasoning_content") == "I should add."


async def test_thinking_switches(wire: WireServer) -> None:
    for _ in range(3):
        wire.reply_json(completion("ok"))
    await Agent("a", config=config(wire, stream=False, reasoning_effort="low")).ask("go")
    assert wire.last.json["enable_thinking"] is True and "thinking_budget" not in wire.last.json
    await Agent("a", config=config(wire, stream=False, reasoning_effort="minimal")).ask("go")
    assert wire.last.json["enable_thinking"] is False
    cfg = config(wire, stream=False, thinking_budget=0, extra={"enable_search": True})
    await Agent("a", config=cfg).ask("go")
    assert wire.last.json["enable_thinking"] is False and wire.last.json["enable_search"] is True


async def test_usage_and_price(wire: WireServer) -> None:
    from baton.models.pricing import Price

    wire.reply_json(
        completion(
            "hi",
            usage={
                "prompt_tokens": 1_000_000,
                "completion_tokens": 500_000,
                "total_tokens": 1_500_000,
            },
        )
    )
    cfg = config(wire, stream=False, price=Price(input=0.4, output=1.2))
    reply = await Agent("a", config=cfg).ask("hi")
    assert reply.usage.input_tokens == 1_000_000 and reply.usage.output_tokens == 500_000
    assert reply.usage.cost == pytest.approx(0.4 + 0.6)


async def test_rate_limit_with_retry_after(wire: WireServer) -> None:
    wire.reply_error(
        429,
        {
            "error": {
                "message": "Requests rate limit exceeded",
                "type": "limit_requests",
                "code": "limit_requests",
            }
        },
        headers={"retry-after": "7"},
    )
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert caught.value.provider == "dashscope"
    assert "rate limit exceeded" in str(caught.value)


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(
        500,
        {
            "error": {
                "message": "An internal error has occured, please try again later.",
                "type": "internal_error",
                "code": "internal_error",
            }
        },
    )
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == 500
    assert caught.value.provider == "dashscope"
    assert "internal error" in str(caught.value)
    assert wire.last.path == PATH and wire.last.json["stream"] is True
    assert len(wire.requests) == 1  # max_retries=0: the SDK does not retry by itself


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(
        [chunk({"content": "Hel"}), chunk({"content": "lo"}), chunk({"content": "!"})], cut_after=2
    )
    agent = Agent("a", config=config(wire))
    pieces: list[str] = []
    with pytest.raises(ConnectionLost) as caught:
        async with agent.run("hi") as run:
            pieces.extend([e.text async for e in run if isinstance(e, TextChunk)])
    assert pieces == ["Hel", "lo"]
    assert caught.value.retryable is True and caught.value.provider == "dashscope"
    assert wire.last.path == PATH and wire.last.json["stream"] is True


async def test_stream_ending_without_a_finish_reason_is_connection_lost(wire: WireServer) -> None:
    # The connection closes cleanly (no finish_reason, no [DONE]): the answer is truncated, as
    # the Anthropic, Responses, Gemini and Ollama adapters report it, not a finished reply.
    wire.reply_sse([chunk({"content": "Hel"}), chunk({"content": "lo"})], done=False)
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True and caught.value.provider == "dashscope"


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, completion("late"))
    with pytest.raises(ModelTimeout) as caught:
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")
    assert caught.value.retryable is True and caught.value.provider == "dashscope"
    assert wire.last.path == PATH and wire.last.json["messages"][-1]["content"] == "hi"


async def test_missing_api_key_names_the_variable(wire: WireServer) -> None:
    agent = Agent("a", config=DashScopeConfig("qwen-test", base_url=f"{wire.url}/v1"))
    with pytest.raises(AuthenticationFailed, match="DASHSCOPE_API_KEY"):
        await agent.ask("hi")
    assert wire.requests == []


async def test_api_key_is_read_from_the_environment(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-ds-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-be-used")
    wire.reply_json(completion("hi"))
    cfg = DashScopeConfig("qwen-test", base_url=f"{wire.url}/compatible-mode/v1", stream=False)
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.headers["authorization"] == "Bearer sk-ds-env"
    assert wire.last.path == PATH


async def test_default_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/never")
    assert DashScopeConfig("qwen-plus").base_url == DASHSCOPE_BASE_URL
    assert DASHSCOPE_BASE_URL == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    intl = DashScopeConfig("qwen-plus", international=True)
    assert intl.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert intl.base_url == DASHSCOPE_INTL_BASE_URL
    client = DashScopeConfig("qwen-plus", api_key="sk").client()
    assert str(client.sdk.base_url).rstrip("/") == DASHSCOPE_BASE_URL  # type: ignore[attr-defined]
    await client.aclose()


async def test_string_shorthand_resolves_to_dashscope_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("dashscope:qwen-plus")
    assert isinstance(resolved, DashScopeConfig) and resolved.model == "qwen-plus"
    assert resolved.provider == "dashscope" and resolved.base_url == DASHSCOPE_BASE_URL
