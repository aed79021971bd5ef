"""Anthropic's Messages API through the official SDK against the loopback wire server."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel
from wire import WireServer, closing

from baton import Agent, Image, ToolResult, tool
from baton.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ContextLengthExceeded,
    InvalidRequest,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import Audio, Data, Document, FileUrl, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.anthropic import AnthropicConfig

pytest.importorskip("anthropic")

Event = tuple[str, dict[str, Any]]


def config(wire: WireServer, **kwargs: Any) -> AnthropicConfig:
    return closing(
        AnthropicConfig(
            "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, **kwargs
        )
    )


# -- non-streamed answers --------------------------------------------------------------------


def message(
    *content: dict[str, Any],
    stop: str = "end_turn",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(content),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 11, "output_tokens": 3},
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def key_sent(headers: dict[str, str]) -> str | None:
    """The API key a request carried: SDK 2.x sends it as a bearer token, 0.x as x-api-key."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme == "Bearer" else None


def error_body(kind: str, text_: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text_}}


# -- streamed answers (named server-sent events, as Anthropic sends them) ----------------------


def start(input_tokens: int = 10, **usage: Any) -> Event:
    payload = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage},
    }
    return ("message_start", {"type": "message_start", "message": payload})


def block_start(index: int, block: dict[str, Any]) -> Event:
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def delta(index: int, payload: dict[str, Any]) -> Event:
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": payload},
    )


def text_delta(index: int, value: str) -> Event:
    return delta(index, {"type": "text_delta", "text": value})


def json_delta(index: int, piece: str) -> Event:
    return delta(index, {"type": "input_json_delta", "partial_json": piece})


def block_stop(index: int) -> Event:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def finish(stop: str = "end_turn", output_tokens: int = 5, **usage: Any) -> list[Event]:
    return [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens, **usage},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


PING: Event = ("ping", {"type": "ping"})


def streamed_text(*pieces: str, stop: str = "end_turn") -> list[Event]:
    return [
        start(),
        block_start(0, {"type": "text", "text": ""}),
        *(text_delta(0, p) for p in pieces),
        block_stop(0),
        *finish(stop),
    ]


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_plain_reply_non_streaming(wire: WireServer) -> None:
    wire.reply_json(message(text("Hello there")))
    agent = Agent("a", "Be brief.", config=config(wire, stream=False, temperature=0.3, seed=7))
    reply = await agent.ask("Hi")
    assert reply.text == "Hello there"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    assert reply.response.finish_reason == "end_turn"
    assert reply.response.model == "claude-test"
    assert wire.last.path == "/v1/messages"
    assert key_sent(wire.last.headers) == "sk-ant-test"
    assert "anthropic-version" in wire.last.headers
    assert wire.last.json == {
        "model": "claude-test",
        "max_tokens": 4096,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.3,
    }


async def test_streamed_reply_emits_chunks_and_assembles_text(wire: WireServer) -> None:
    events = streamed_text("Hel", "lo")
    events.insert(1, PING)
    wire.reply_sse(events, named=True)
    agent = Agent("a", config=config(wire))
    async with agent.run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo"]
    assert reply.text == "Hello"
    assert reply.response.finish_reason == "end_turn"
    assert reply.usage.input_tokens == 10 and reply.usage.output_tokens == 5
    assert wire.last.json["stream"] is True


async def test_one_tool_round_sends_schema_and_results(wire: WireServer) -> None:
    wire.reply_json(
        message(text("Adding."), tool_use("toolu_a", "add", {"a": 2, "b": 3}), stop="tool_use")
    )
    wire.reply_json(message(text("5")))
    agent = Agent("a", config=config(wire, stream=False), tools=[add])
    reply = await agent.ask("2+3?")
    assert reply.text == "5"
    first, second = (r.json for r in wire.requests)
    assert first["tools"] == [
        {"name": "add", "description": "Add two integers.", "input_schema": add.parameters}
    ]
    assert "tool_choice" not in first
    assert second["messages"] == [
        {"role": "user", "content": "2+3?"},
        {
            "role": "assistant",
            "content": [text("Adding."), tool_use("toolu_a", "add", {"a": 2, "b": 3})],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "5"}],
        },
    ]


async def test_tool_error_is_an_error_result(wire: WireServer) -> None:
    @tool
    async def broken(x: int) -> int:
        """Always fails."""
        raise ValueError("no luck")

    wire.reply_json(message(tool_use("toolu_b", "broken", {"x": 1}), stop="tool_use"))
    wire.reply_json(message(text("sorry")))
    await Agent("a", config=config(wire, stream=False), tools=[broken]).ask("go")
    (result,) = wire.last.json["messages"][-1]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_b"
    assert result["is_error"] is True and result["content"]


async def test_parallel_tool_calls_streamed_interleaved(wire: WireServer) -> None:
    # A text block, then two tool_use blocks whose input pieces arrive interleaved.
    wire.reply_sse(
        [
            start(),
            block_start(0, {"type": "text", "text": ""}),
            text_delta(0, "Computing."),
            block_stop(0),
            block_start(1, {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {}}),
            block_start(2, {"type": "tool_use", "id": "toolu_2", "name": "mul", "input": {}}),
            json_delta(1, '{"a": 2,'),
            json_delta(2, '{"a": 4,'),
            PING,
            json_delta(2, ' "b": 5}'),
            json_delta(1, ' "b": 3}'),
            block_stop(1),
            block_stop(2),
            *finish("tool_use"),
        ],
        named=True,
    )
    wire.reply_sse(streamed_text("5 and 20"), named=True)
    agent = Agent("a", config=config(wire, parallel_tool_calls=True), tools=[add, mul])
    reply = await agent.ask("compute")
    results = {e.name: e.value for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": 5, "mul": 20}
    assert reply.text == "5 and 20"
    assert "tool_choice" not in wire.requests[0].json
    messages = wire.requests[1].json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            text("Computing."),
            tool_use("toolu_1", "add", {"a": 2, "b": 3}),
            tool_use("toolu_2", "mul", {"a": 4, "b": 5}),
        ],
    }
    # Both results in one user message: Anthropic needs user and assistant turns to alternate.
    assert len(messages) == 3 and messages[2]["role"] == "user"
    assert sorted((b["tool_use_id"], b["content"]) for b in messages[2]["content"]) == [
        ("toolu_1", "5"),
        ("toolu_2", "20"),
    ]


async def test_tool_results_and_next_question_merge_into_one_user_message(
    wire: WireServer,
) -> None:
    @tool
    async def lookup(key: str) -> ToolResult:
        """Look a key up."""
        return ToolResult(f"value of {key}", final=True)

    wire.reply_json(message(tool_use("toolu_k", "lookup", {"key": "k"}), stop="tool_use"))
    wire.reply_json(message(text("done")))
    agent = Agent("a", config=config(wire, stream=False), tools=[lookup])
    reply = await agent.ask("look up k")
    assert reply.output == "value of k"
    await reply.ask("thanks")
    last = wire.last.json["messages"][-1]
    assert last["role"] == "user"
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]
    assert last["content"][1] == text("thanks")


async def test_tool_choice_and_parallel_settings(wire: WireServer) -> None:
    for _ in range(3):
        wire.reply_json(message(text("ok")))
    await Agent("a", config=config(wire, stream=False, parallel_tool_calls=False), tools=[add]).ask(
        "go"
    )
    assert wire.last.json["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    await Agent("a", config=config(wire, stream=False, tool_choice="add"), tools=[add]).ask("go")
    assert wire.last.json["tool_choice"] == {"type": "tool", "name": "add"}
    await Agent("a", config=config(wire, stream=False, tool_choice="none"), tools=[add]).ask("go")
    assert wire.last.json["tool_choice"] == {"type": "none"}


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_uses_native_json_schema(wire: WireServer) -> None:
    wire.reply_json(message(text('{"name": "Lisbon", "population": 545000}')))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    body = wire.last.json
    assert "tools" not in body and "tool_choice" not in body
    output_format = body["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    schema = output_format["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "population"]
    assert schema["properties"]["population"]["type"] == "integer"


async def test_structured_output_streamed_with_a_rejected_first_answer(wire: WireServer) -> None:
    wire.reply_sse(streamed_text('{"name": "Oslo"}'), named=True)
    wire.reply_sse(streamed_text('{"name": "Oslo", ', '"population": 700000}'), named=True)
    agent = Agent("a", config=config(wire), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Oslo", population=700000)
    messages = wire.last.json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "population" in messages[2]["content"]


async def test_structured_output_falls_back_to_prompted(wire: WireServer) -> None:
    wire.reply_json(message(text('{"name": "Oslo", "population": 700000}')))
    agent = Agent(
        "a",
        "Be brief.",
        config=config(wire, stream=False, native_output=False),
        response_schema=City,
    )
    reply = await agent.ask("A city")
    assert reply.output.name == "Oslo"
    body = wire.last.json
    assert "output_config" not in body
    assert body["system"].startswith("Be brief.") and '"population"' in body["system"]


async def test_image_and_document_inputs(wire: WireServer) -> None:
    wire.reply_json(message(text("a red dot")))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(
        [
            "What is this?",
            Image(data=b"\x89PNG", media_type="image/png"),
            Image.from_url("https://example.com/cat.jpg"),
            Document(data=b"%PDF-1.4"),
            FileUrl("https://example.com/paper.pdf", media_type="application/pdf"),
            Data({"k": 1}),
        ]
    )
    content = wire.last.json["messages"][-1]["content"]
    assert content == [
        text("What is this?"),
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
        text('{"k":1}'),
    ]


async def test_audio_input_is_refused_before_any_request(wire: WireServer) -> None:
    agent = Agent("a", config=config(wire, stream=False))
    with pytest.raises(InvalidRequest, match="audio"):
        await agent.ask(["Listen", Audio(data=b"RIFF")])
    assert wire.requests == []


async def test_thinking_is_streamed_and_replayed_with_its_signature(wire: WireServer) -> None:
    wire.reply_sse(
        [
            start(),
            block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(0, {"type": "thinking_delta", "thinking": "I should "}),
            delta(0, {"type": "thinking_delta", "thinking": "add."}),
            delta(0, {"type": "signature_delta", "signature": "sig-123"}),
            block_stop(0),
            block_start(1, {"type": "tool_use", "id": "toolu_t", "name": "add", "input": {}}),
            json_delta(1, '{"a": 1, "b": 1}'),
            block_stop(1),
            *finish("tool_use", 40, output_tokens_details={"thinking_tokens": 30}),
        ],
        named=True,
    )
    wire.reply_sse(streamed_text("2"), named=True)
    agent = Agent("a", config=config(wire, thinking_budget=2000), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should ", "add."]
    assert reply.text == "2"
    assert reply.usage.reasoning_tokens == 30 and reply.usage.requests == 2
    first, second = (r.json for r in wire.requests)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert first["max_tokens"] == 4096 + 2000
    assert second["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should add.", "signature": "sig-123"},
            tool_use("toolu_t", "add", {"a": 1, "b": 1}),
        ],
    }
    assert second["messages"][2]["content"][0]["type"] == "tool_result"


async def test_redacted_thinking_is_replayed_non_streaming(wire: WireServer) -> None:
    wire.reply_json(
        message(
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig-a"},
            {"type": "redacted_thinking", "data": "opaque"},
            tool_use("toolu_r", "add", {"a": 1, "b": 2}),
            stop="tool_use",
        )
    )
    wire.reply_json(message(text("3")))
    agent = Agent("a", config=config(wire, stream=False, reasoning_effort="low"), tools=[add])
    reply = await agent.ask("1+2")
    first, second = (r.json for r in wire.requests)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert second["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "opaque"},
        tool_use("toolu_r", "add", {"a": 1, "b": 2}),
    ]
    responses = [e for e in reply.events if type(e).__name__ == "ModelResponse"]
    assert responses[0].reasoning == "Hmm."


async def test_settings_vocabulary_is_mapped(wire: WireServer) -> None:
    wire.reply_json(message(text("ok")))
    cfg = config(
        wire,
        stream=False,
        top_p=0.5,
        max_tokens=99,
        stop=("END",),
        tool_choice="required",
        reasoning_effort="medium",
        extra={"metadata": {"user_id": "u-1"}},
    )
    await Agent("a", config=cfg, tools=[add]).ask("go")
    body = wire.last.json
    assert body["top_p"] == 0.5
    assert body["max_tokens"] == 99
    assert body["stop_sequences"] == ["END"]
    assert body["tool_choice"] == {"type": "any"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["metadata"] == {"user_id": "u-1"}
    assert "seed" not in body


async def test_usage_counts_cache_tokens_and_is_priced(wire: WireServer) -> None:
    from baton.models.pricing import Price

    wire.reply_sse(
        [
            start(200_000, cache_read_input_tokens=400_000, cache_creation_input_tokens=400_000),
            block_start(0, {"type": "text", "text": ""}),
            text_delta(0, "hi"),
            block_stop(0),
            *finish(output_tokens=500_000),
        ],
        named=True,
    )
    price = Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    reply = await Agent("a", config=config(wire, price=price)).ask("hi")
    usage = reply.usage
    assert usage.input_tokens == 1_000_000  # Baton's input includes cached and cache-written
    assert usage.cache_read_tokens == 400_000 and usage.cache_write_tokens == 400_000
    assert usage.output_tokens == 500_000
    # 200k fresh x $3 + 400k read x $0.3 + 400k written x $3.75 + 500k out x $15 per million
    assert usage.cost == pytest.approx(0.6 + 0.12 + 1.5 + 7.5)


async def test_rate_limit_with_retry_after(wire: WireServer) -> None:
    wire.reply_error(429, error_body("rate_limit_error", "Slow down"), headers={"retry-after": "7"})
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert "Slow down" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "kind"), [(500, "api_error"), (529, "overloaded_error"), (503, "api_error")]
)
async def test_server_errors_are_retryable_unavailable(
    wire: WireServer, status: int, kind: str
) -> None:
    wire.reply_error(status, error_body(kind, "try later"))
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == status


@pytest.mark.parametrize(
    ("status", "kind", "text_", "expected"),
    [
        (401, "authentication_error", "invalid x-api-key", AuthenticationFailed),
        (400, "invalid_request_error", "prompt is too long: 210000 tokens", ContextLengthExceeded),
        (400, "invalid_request_error", "messages: roles must alternate", InvalidRequest),
    ],
)
async def test_client_errors_are_mapped(
    wire: WireServer, status: int, kind: str, text_: str, expected: type[Exception]
) -> None:
    wire.reply_error(status, error_body(kind, text_))
    with pytest.raises(expected) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert getattr(caught.value, "retryable", None) is False


async def test_error_event_inside_the_stream_is_mapped_by_type(wire: WireServer) -> None:
    wire.reply_sse(
        [
            start(),
            block_start(0, {"type": "text", "text": ""}),
            text_delta(0, "Hel"),
            ("error", error_body("overloaded_error", "Overloaded")),
        ],
        named=True,
    )
    with pytest.raises(ProviderUnavailable, match="overloaded_error") as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(streamed_text("Hel", "lo", "!"), named=True, cut_after=3)
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_stream_ending_without_message_stop_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(streamed_text("Hel", "lo")[:-2], named=True)
    with pytest.raises(ConnectionLost, match="ended before"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, message(text("late")))
    with pytest.raises(ModelTimeout):
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")


async def test_missing_api_key_names_the_variable(wire: WireServer) -> None:
    agent = Agent("a", config=closing(AnthropicConfig("claude-test", base_url=wire.url)))
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_API_KEY"):
        await agent.ask("hi")


async def test_api_key_is_read_from_the_environment(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    wire.reply_json(message(text("hi")))
    cfg = closing(
        AnthropicConfig("claude-test", base_url=wire.url, stream=False, headers={"X-T": "b"})
    )
    await Agent("a", config=cfg).ask("hi")
    assert key_sent(wire.last.headers) == "sk-ant-env"
    assert wire.last.headers["x-t"] == "b"


async def test_one_client_per_config_and_incremental_conversion(wire: WireServer) -> None:
    cfg = config(wire, stream=False)
    for answer in ("one", "two", "three"):
        wire.reply_json(message(text(answer)))
    reply = await Agent("a", config=cfg).ask("1")
    client = cfg.client()
    reply = await reply.ask("2")
    reply = await reply.ask("3")
    assert cfg.client() is client
    messages = wire.last.json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2 + ["user"]
    assert [m["content"] for m in messages[::2]] == ["1", "2", "3"]
    assert messages[1]["content"] == [text("one")]
    await cfg.aclose()


async def test_string_shorthand_resolves_to_anthropic_config() -> None:
    from baton.models import resolve_config
    from baton.providers import AnthropicConfig as Exported

    resolved = resolve_config("anthropic:claude-sonnet-4-5")
    assert isinstance(resolved, AnthropicConfig) and resolved.model == "claude-sonnet-4-5"
    assert Exported is AnthropicConfig


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = "import sys, baton.providers.anthropic; print('anthropic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
