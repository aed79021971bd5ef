"""Ollama's /api/chat through the official ``ollama`` SDK against the loopback wire server
(newline-delimited JSON streams)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from wire import WireServer

from baton import Agent, Image, Tool, tool
from baton.errors import (
    ConnectionLost,
    InvalidRequest,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import Audio, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.ollama import OllamaConfig

pytest.importorskip("ollama")


@pytest.fixture(autouse=True)
def _no_ollama_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The SDK reads OLLAMA_API_KEY by itself; keep a developer's key out of the tests.
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    yield


def config(wire: WireServer, **kwargs: Any) -> OllamaConfig:
    return OllamaConfig("llama-test", base_url=wire.url, max_retries=0, **kwargs)


def final(
    *,
    done_reason: str = "stop",
    prompt: int = 11,
    output: int = 3,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "model": "llama-test",
        "created_at": "2025-01-01T00:00:00Z",
        "message": message or {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": done_reason,
        "total_duration": 1000,
        "prompt_eval_count": prompt,
        "eval_count": output,
    }


def answer(
    content: str = "Hello",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    thinking: str | None = None,
    prompt: int = 11,
    output: int = 3,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking:
        message["thinking"] = thinking
    return final(message=message, prompt=prompt, output=output)


def piece(
    content: str = "",
    *,
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"model": "llama-test", "created_at": "2025-01-01T00:00:00Z", "message": message}


def fn_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Point(BaseModel):
    x: int
    y: int


@tool
async def plot(point: Point, label: str | None = None) -> str:
    """Plot a point."""
    return f"{label or 'p'}@{point.x},{point.y}"


async def test_plain_reply_non_streaming(wire: WireServer) -> None:
    wire.reply_json(answer("Hello there"))
    cfg = config(wire, stream=False, temperature=0.3, seed=7, max_tokens=50, stop=("END",))
    reply = await Agent("a", "Be brief.", config=cfg).ask("Hi")
    assert reply.text == "Hello there"
    assert reply.response.finish_reason == "stop"
    assert reply.response.provider == "ollama" and reply.response.model == "llama-test"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    assert wire.last.path == "/api/chat"
    assert "authorization" not in wire.last.headers
    body = wire.last.json
    assert body["model"] == "llama-test"
    assert body["stream"] is False
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert body["options"] == {"temperature": 0.3, "seed": 7, "num_predict": 50, "stop": ["END"]}
    assert "tools" not in body and "format" not in body and "think" not in body


async def test_streamed_reply_emits_chunks_and_assembles_text(wire: WireServer) -> None:
    wire.reply_ndjson([piece("Hel"), piece("lo"), piece("!"), final(prompt=20, output=5)])
    agent = Agent("a", config=config(wire))
    async with agent.run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo", "!"]
    assert reply.text == "Hello!"
    assert reply.response.finish_reason == "stop"
    assert reply.usage.input_tokens == 20 and reply.usage.output_tokens == 5
    assert wire.last.json["stream"] is True


async def test_one_tool_round_sends_schema_and_results(wire: WireServer) -> None:
    wire.reply_json(answer("", tool_calls=[fn_call("add", {"a": 2, "b": 3})]))
    wire.reply_json(answer("5"))
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
        "content": "",
        "tool_calls": [fn_call("add", {"a": 2, "b": 3})],
    }
    assert second["messages"][-1] == {"role": "tool", "content": "5", "tool_name": "add"}


async def test_tool_schemas_are_sent_whole(wire: WireServer) -> None:
    # The SDK's own Tool model would drop nested properties, anyOf and $defs.
    wire.reply_json(answer("ok"))
    await Agent("a", config=config(wire, stream=False), tools=[plot]).ask("plot")
    assert wire.last.json["tools"][0]["function"]["parameters"] == plot.parameters


async def test_two_tool_calls_in_a_streamed_answer(wire: WireServer) -> None:
    # Ollama sends each call whole; several calls may come in separate chunks.
    wire.reply_ndjson(
        [
            piece(tool_calls=[fn_call("add", {"a": 2, "b": 3})]),
            piece(tool_calls=[{"id": "ollama-7", **fn_call("mul", {"a": 4, "b": 5})}]),
            final(),
        ]
    )
    wire.reply_ndjson([piece("5 and 20"), final()])
    agent = Agent("a", config=config(wire), tools=[add, mul])
    reply = await agent.ask("compute")
    assert reply.text == "5 and 20"
    results = {e.name: (e.call_id, e.value) for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": ("call_0", 5), "mul": ("ollama-7", 20)}
    messages = wire.requests[1].json["messages"]
    assert messages[-3]["tool_calls"] == [
        fn_call("add", {"a": 2, "b": 3}),
        fn_call("mul", {"a": 4, "b": 5}),
    ]
    tool_messages = [m for m in messages if m["role"] == "tool"]
    assert sorted((m["tool_name"], m["content"]) for m in tool_messages) == [
        ("add", "5"),
        ("mul", "20"),
    ]


async def test_parallel_calls_to_one_function_get_results_in_call_order(
    wire: WireServer, delay: Tool
) -> None:
    # No call ids on the wire: Ollama pairs results with calls by position.
    calls = [fn_call("delay", {"ms": 80}), fn_call("delay", {"ms": 10})]
    wire.reply_json(answer("", tool_calls=calls))
    wire.reply_json(answer("done"))
    reply = await Agent("a", config=config(wire, stream=False), tools=[delay]).ask("wait")
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [10, 80]
    tool_messages = [m for m in wire.last.json["messages"] if m["role"] == "tool"]
    assert tool_messages == [
        {"role": "tool", "content": "80", "tool_name": "delay"},
        {"role": "tool", "content": "10", "tool_name": "delay"},
    ]


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_sends_the_schema_as_format(wire: WireServer) -> None:
    wire.reply_json(answer('{"name": "Lisbon", "population": 545000}'))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    schema = wire.last.json["format"]
    assert schema == City.model_json_schema()
    assert schema["required"] == ["name", "population"]


async def test_structured_output_with_tools_goes_into_the_instructions(wire: WireServer) -> None:
    # ``format`` would keep the model from calling tools, so it is only sent without them.
    wire.reply_json(answer("", tool_calls=[fn_call("add", {"a": 2, "b": 3})]))
    wire.reply_json(answer('{"name": "Five", "population": 5}'))
    agent = Agent("a", "Be brief.", config=config(wire, stream=False), tools=[add])
    reply = await agent.ask("A city", response_schema=City)
    assert reply.output == City(name="Five", population=5)
    for request in wire.requests:
        body = request.json
        assert "format" not in body and body["tools"]
        system = body["messages"][0]
        assert system["role"] == "system" and system["content"].startswith("Be brief.\n\n")
        assert '"population"' in system["content"]


async def test_image_input_is_sent_as_base64(wire: WireServer) -> None:
    wire.reply_json(answer("a red dot"))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(["What is this?", Image(data=b"\x89PNG", media_type="image/png")])
    assert wire.last.json["messages"][-1] == {
        "role": "user",
        "content": "What is this?",
        "images": ["iVBORw=="],
    }


async def test_unsupported_inputs_are_refused_before_sending(wire: WireServer) -> None:
    agent = Agent("a", config=config(wire, stream=False))
    with pytest.raises(InvalidRequest, match="from a URL"):
        await agent.ask(["What is this?", Image.from_url("https://example.com/x.png")])
    with pytest.raises(InvalidRequest, match="audio"):
        await Agent("a", config=config(wire, stream=False)).ask([Audio(data=b"RIFF")])
    assert wire.requests == []


async def test_thinking_is_streamed_and_replayed_across_a_tool_round(wire: WireServer) -> None:
    wire.reply_ndjson(
        [
            piece(thinking="I should "),
            piece(thinking="add."),
            piece(tool_calls=[fn_call("add", {"a": 1, "b": 1})]),
            final(prompt=10, output=4),
        ]
    )
    wire.reply_ndjson([piece("2"), final(prompt=12, output=1)])
    agent = Agent("a", config=config(wire, reasoning_effort="high"), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should ", "add."]
    assert reply.text == "2"
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    first, second = (r.json for r in wire.requests)
    assert first["think"] is True and second["think"] is True
    assert second["messages"][-2] == {
        "role": "assistant",
        "content": "",
        "thinking": "I should add.",
        "tool_calls": [fn_call("add", {"a": 1, "b": 1})],
    }


async def test_think_levels_and_options(wire: WireServer) -> None:
    for _ in range(3):
        wire.reply_json(answer("ok"))
    await Agent("a", config=config(wire, stream=False, think="low")).ask("go")
    assert wire.last.json["think"] == "low"
    oss = OllamaConfig(
        "gpt-oss:20b",
        base_url=wire.url,
        stream=False,
        reasoning_effort="high",
        num_ctx=8192,
        keep_alive="10m",
        extra={"top_k": 20},
    )
    await Agent("a", config=oss).ask("go")
    body = wire.last.json
    assert body["think"] == "high"
    assert body["options"] == {"num_ctx": 8192, "top_k": 20}
    assert body["keep_alive"] == "10m"
    cfg = config(wire, stream=False, thinking_budget=0, tool_choice="none")
    await Agent("a", config=cfg, tools=[add]).ask("go")
    assert wire.last.json["think"] is False and "tools" not in wire.last.json


async def test_usage_and_price(wire: WireServer) -> None:
    from baton.models.pricing import Price

    wire.reply_json(answer("hi", prompt=1_000_000, output=500_000))
    cfg = config(wire, stream=False, price=Price(input=2.0, output=8.0))
    reply = await Agent("a", config=cfg).ask("hi")
    assert reply.usage.input_tokens == 1_000_000 and reply.usage.output_tokens == 500_000
    assert reply.usage.cost == pytest.approx(2.0 + 4.0)


async def test_rate_limit_is_rate_limited(wire: WireServer) -> None:
    wire.reply_error(429, {"error": "too many requests"}, headers={"retry-after": "3"})
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert caught.value.status == 429
    assert caught.value.retry_after == 3.0
    assert "too many requests" in str(caught.value)


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(500, {"error": "boom"})
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == 500


async def test_retryable_failures_are_retried_up_to_max_retries(wire: WireServer) -> None:
    wire.reply_error(503, {"error": "server busy"}, headers={"retry-after": "0"})
    wire.reply_json(answer("finally"))
    cfg = OllamaConfig("llama-test", base_url=wire.url, stream=False, max_retries=1)
    reply = await Agent("a", config=cfg).ask("hi")
    assert reply.text == "finally" and len(wire.requests) == 2


async def test_missing_model_is_invalid_request_with_a_hint(wire: WireServer) -> None:
    wire.reply_error(404, {"error": "model 'llama-test' not found"})
    with pytest.raises(InvalidRequest, match="ollama pull") as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is False


async def test_error_inside_the_stream(wire: WireServer) -> None:
    wire.reply_ndjson([piece("Hel"), {"error": "model runner crashed"}])
    with pytest.raises(ModelError, match="model runner crashed"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_ndjson([piece("Hel"), piece("lo"), piece("!"), final()], cut_after=2)
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_stream_without_its_final_chunk_is_connection_lost(wire: WireServer) -> None:
    wire.reply_ndjson([piece("Hel"), piece("lo")])
    with pytest.raises(ConnectionLost, match="final chunk"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, answer("late"))
    with pytest.raises(ModelTimeout):
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")


async def test_connection_refused_is_connection_lost(wire: WireServer) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for stream in (False, True):
        cfg = OllamaConfig(
            "llama-test", base_url=f"http://127.0.0.1:{port}", stream=stream, max_retries=0
        )
        with pytest.raises(ConnectionLost):
            await Agent("a", config=cfg).ask("hi")


async def test_host_from_environment_and_hosted_api_key(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", wire.url)
    cfg = OllamaConfig("llama-test", stream=False)
    assert cfg.base_url == wire.url
    wire.reply_json(answer("hi"))
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.path == "/api/chat"
    monkeypatch.delenv("OLLAMA_HOST")
    assert OllamaConfig("llama-test").base_url == "http://127.0.0.1:11434"
    wire.reply_json(answer("hi"))
    hosted = config(wire, stream=False, api_key="olk-test", headers={"X-Title": "baton"})
    await Agent("a", config=hosted).ask("hi")
    assert wire.last.headers["authorization"] == "Bearer olk-test"
    assert wire.last.headers["x-title"] == "baton"


async def test_one_client_per_config_and_incremental_conversion(wire: WireServer) -> None:
    cfg = config(wire, stream=False)
    for text in ("one", "two", "three"):
        wire.reply_json(answer(text))
    agent = Agent("a", config=cfg)
    reply = await agent.ask("1")
    client = cfg.client()
    reply = await reply.ask("2")
    reply = await reply.ask("3")
    assert cfg.client() is client
    assert [m["content"] for m in wire.last.json["messages"]] == ["1", "one", "2", "two", "3"]
    await cfg.aclose()


async def test_string_shorthand_resolves_to_ollama_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("ollama:qwen3:8b")
    assert isinstance(resolved, OllamaConfig) and resolved.model == "qwen3:8b"


def test_importing_the_module_does_not_import_the_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, baton.providers.ollama, baton.providers; "
        "baton.providers.OllamaConfig('m'); print('ollama' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
