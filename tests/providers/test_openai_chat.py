"""OpenAI Chat Completions through the official SDK against the loopback wire server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from wire import WireServer, closing

from baton import Agent, Document, Image, tool
from baton.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ContextLengthExceeded,
    InvalidRequest,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import ModelResponse, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.openai import OpenAIConfig

pytest.importorskip("openai")


def config(wire: WireServer, **kwargs: Any) -> OpenAIConfig:
    made = OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, **kwargs
    )
    closing(made)
    return made


def completion(
    content: str | None = "Hello",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **(extra or {})}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def fn_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(prompt: int = 20, completion_tokens: int = 5, **details: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    usage.update(details)
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": [],
        "usage": usage,
    }


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
    agent = Agent("a", "Be brief.", config=config(wire, stream=False, temperature=0.3, seed=7))
    reply = await agent.ask("Hi")
    assert reply.text == "Hello there"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    body = wire.last.json
    assert wire.last.path == "/v1/chat/completions"
    assert wire.last.headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-test"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert body["temperature"] == 0.3 and body["seed"] == 7
    assert "stream" not in body and "tools" not in body


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


async def test_parallel_tool_calls_streamed_interleaved(wire: WireServer) -> None:
    # Two calls whose argument pieces arrive interleaved across chunks.
    wire.reply_sse(
        [
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "add", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "mul", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 2,'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"a": 4,'}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": ' "b": 5}'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "b": 3}'}}]}),
            chunk({}, finish="tool_calls"),
            usage_chunk(),
        ]
    )
    wire.reply_sse([chunk({"content": "5 and 20"}), chunk({}, finish="stop"), usage_chunk()])
    agent = Agent("a", config=config(wire, parallel_tool_calls=True), tools=[add, mul])
    reply = await agent.ask("compute")
    results = {e.name: e.value for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": 5, "mul": 20}
    assert wire.requests[0].json["parallel_tool_calls"] is True
    tool_messages = [m for m in wire.requests[1].json["messages"] if m["role"] == "tool"]
    assert sorted((m["tool_call_id"], m["content"]) for m in tool_messages) == [
        ("c1", "5"),
        ("c2", "20"),
    ]


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_uses_strict_json_schema(wire: WireServer) -> None:
    wire.reply_json(completion('{"name": "Lisbon", "population": 545000}'))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    response_format = wire.last.json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "City"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["additionalProperties"] is False


async def test_structured_output_falls_back_to_prompted_without_native_support(
    wire: WireServer,
) -> None:
    wire.reply_json(completion('{"name": "Oslo", "population": 700000}'))
    agent = Agent(
        "a",
        "Be brief.",
        config=config(wire, stream=False, native_output=False),
        response_schema=City,
    )
    reply = await agent.ask("A city")
    assert reply.output.name == "Oslo"
    body = wire.last.json
    assert "response_format" not in body
    assert "JSON schema" in body["messages"][0]["content"]
    assert '"population"' in body["messages"][0]["content"]


async def test_image_input_is_sent_as_data_url(wire: WireServer) -> None:
    wire.reply_json(completion("a red dot"))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(["What is this?", Image(data=b"\x89PNG", media_type="image/png")])
    content = wire.last.json["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
    ]


async def test_documents_are_named_after_their_media_type(wire: WireServer) -> None:
    wire.reply_json(completion("read"))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(
        [
            "Read these.",
            Document(data=b"a,b\n1,2\n", media_type="text/csv"),
            Document(data=b"%PDF-1.7"),
            Document(data=b"# Notes", media_type="text/markdown"),
        ]
    )
    files = [p["file"] for p in wire.last.json["messages"][-1]["content"] if p["type"] == "file"]
    assert files == [
        {"filename": "document.csv", "file_data": "data:text/csv;base64,YSxiCjEsMgo="},
        {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjc="},
        {"filename": "document.md", "file_data": "data:text/markdown;base64,IyBOb3Rlcw=="},
    ]


async def test_reasoning_content_is_streamed_and_kept_across_a_tool_round(wire: WireServer) -> None:
    wire.reply_sse(
        [
            chunk({"reasoning_content": "I should add."}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a":1,"b":1}'},
                        }
                    ]
                }
            ),
            chunk({}, finish="tool_calls"),
            usage_chunk(10, 4, completion_tokens_details={"reasoning_tokens": 3}),
        ]
    )
    wire.reply_sse([chunk({"content": "2"}), chunk({}, finish="stop"), usage_chunk(12, 1)])
    agent = Agent("a", config=config(wire), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should add."]
    assert reply.text == "2"
    assert reply.usage.reasoning_tokens == 3
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    first_response = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert first_response.reasoning == "I should add."
    second = wire.requests[1].json
    assistant, result = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert assistant["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":1}'}}
    ]
    assert result == {"role": "tool", "tool_call_id": "c1", "content": "2"}
    # Servers that stream reasoning_content (DeepSeek, Qwen, Kimi) want it back on the
    # assistant message of a tool round; DeepSeek's thinking mode answers 400 without it.
    assert assistant.get("reasoning_content") == "I should add."


async def test_settings_vocabulary_is_mapped(wire: WireServer) -> None:
    wire.reply_json(completion("ok"))
    cfg = config(
        wire,
        stream=False,
        top_p=0.5,
        max_tokens=99,
        stop=("END",),
        tool_choice="required",
        reasoning_effort="low",
        extra={"user": "u-1"},
    )
    await Agent("a", config=cfg, tools=[add]).ask("go")
    body = wire.last.json
    assert body["top_p"] == 0.5
    assert body["max_completion_tokens"] == 99
    assert body["stop"] == ["END"]
    assert body["tool_choice"] == "required"
    assert body["reasoning_effort"] == "low"
    assert body["user"] == "u-1"


async def test_rate_limit_with_retry_after(wire: WireServer) -> None:
    wire.reply_error(
        429, {"error": {"message": "Slow down", "type": "rate_limit"}}, headers={"retry-after": "7"}
    )
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert "Slow down" in str(caught.value)


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(500, {"error": {"message": "boom"}})
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Incorrect API key", AuthenticationFailed),
        (400, "This model's maximum context length is 8192 tokens", ContextLengthExceeded),
        (400, "Invalid value for 'messages'", InvalidRequest),
    ],
)
async def test_client_errors_are_mapped(
    wire: WireServer, status: int, message: str, expected: type[Exception]
) -> None:
    wire.reply_error(status, {"error": {"message": message}})
    with pytest.raises(expected) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert getattr(caught.value, "retryable", None) is False


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(
        [chunk({"content": "Hel"}), chunk({"content": "lo"}), chunk({"content": "!"})], cut_after=2
    )
    agent = Agent("a", config=config(wire))
    with pytest.raises(ConnectionLost) as caught:
        await agent.ask("hi")
    assert caught.value.retryable is True


async def test_stream_ending_without_a_finish_reason_is_connection_lost(wire: WireServer) -> None:
    # The connection closes cleanly (no finish_reason, no [DONE]): the answer is truncated, as
    # the Anthropic, Responses, Gemini and Ollama adapters report it, not a finished reply.
    wire.reply_sse([chunk({"content": "Hel"}), chunk({"content": "lo"})], done=False)
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True and caught.value.provider == "openai"


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, completion("late"))
    with pytest.raises(ModelTimeout):
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")


async def test_missing_api_key_names_the_variable(wire: WireServer) -> None:
    agent = Agent("a", config=OpenAIConfig("gpt-test", base_url=f"{wire.url}/v1"))
    with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY"):
        await agent.ask("hi")


async def test_api_key_is_read_from_the_environment(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    wire.reply_json(completion("hi"))
    cfg = OpenAIConfig("gpt-test", base_url=f"{wire.url}/v1", stream=False)
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.headers["authorization"] == "Bearer sk-env"


async def test_one_client_per_config_and_incremental_conversion(wire: WireServer) -> None:
    cfg = config(wire, stream=False)
    for text in ("one", "two", "three"):
        wire.reply_json(completion(text))
    agent = Agent("a", config=cfg)
    reply = await agent.ask("1")
    client = cfg.client()
    reply = await reply.ask("2")
    reply = await reply.ask("3")
    assert cfg.client() is client
    assert [m["content"] for m in wire.last.json["messages"]] == ["1", "one", "2", "two", "3"]
    await cfg.aclose()


async def test_string_shorthand_resolves_to_openai_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("openai:gpt-5")
    assert isinstance(resolved, OpenAIConfig) and resolved.model == "gpt-5"


async def test_compatible_endpoint_with_custom_headers(wire: WireServer) -> None:
    wire.reply_json(completion("hi"))
    cfg = OpenAIConfig(
        "local-model",
        api_key="none",
        base_url=f"{wire.url}/v1",
        headers={"X-Title": "baton"},
        stream=False,
        max_retries=0,
    )
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.headers["x-title"] == "baton"
    assert wire.last.json["model"] == "local-model"


async def test_price_table_states_the_cost(wire: WireServer) -> None:
    from baton.models.pricing import Price

    wire.reply_json(
        completion(
            "hi",
            usage={
                "prompt_tokens": 1_000_000,
                "completion_tokens": 500_000,
                "total_tokens": 1_500_000,
                "prompt_tokens_details": {"cached_tokens": 400_000},
            },
        )
    )
    cfg = config(wire, stream=False, price=Price(input=2.0, output=8.0, cached_input=0.5))
    reply = await Agent("a", config=cfg).ask("hi")
    # 600k fresh x $2 + 400k cached x $0.5 + 500k out x $8 per million
    assert reply.usage.cost == pytest.approx(1.2 + 0.2 + 4.0)


async def test_unparseable_retry_after_is_ignored(wire: WireServer) -> None:
    wire.reply_error(429, {"error": {"message": "Slow down"}}, headers={"retry-after": "soon"})
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retry_after is None


def test_strict_schema_keeps_the_meaning_of_dict_fields() -> None:
    from baton.providers._openai_common import strict_schema

    class Scores(BaseModel):
        scores: dict[str, int]

    schema, strict = strict_schema(Scores.model_json_schema())
    assert strict is False
    assert schema["properties"]["scores"]["additionalProperties"] == {"type": "integer"}
    assert schema["additionalProperties"] is False


async def test_another_agents_turns_are_sent_as_its_named_turns(wire: WireServer) -> None:
    """Two agents on one stored conversation: the second reads the first's answer and tool
    round as the first agent's named user turns, never as its own assistant turns."""
    from baton import MemoryHistory

    history = MemoryHistory()
    wire.reply_json(
        completion(
            None, tool_calls=[fn_call("call_w", "add", {"a": 2, "b": 3})], finish="tool_calls"
        )
    )
    wire.reply_json(completion("It is 5."))
    wire.reply_json(completion("Agreed."))
    writer = Agent("writer", config=config(wire, stream=False), tools=[add], history=history)
    critic = Agent("critic", config=config(wire, stream=False), history=history)
    await writer.ask("2+3?", conversation_id="team")
    reply = await critic.ask("Check the answer.", conversation_id="team")
    assert reply.text == "Agreed."
    sent = wire.requests[2].json["messages"]
    assert [m["role"] for m in sent] == ["user", "user", "user", "user", "user"]
    assert sent[1]["content"] == '[writer] calls tool add({"a": 2, "b": 3})'
    assert sent[2]["content"] == "[writer] tool add answered: 5"
    assert sent[3]["content"] == "[writer] It is 5."
    assert not any("tool_calls" in m or m["role"] == "tool" for m in sent)
    # the writer itself still sees its own turns as assistant and tool messages
    wire.reply_json(completion("Yes."))
    await writer.ask("Sure?", conversation_id="team")
    own = wire.requests[3].json["messages"]
    assert [m["role"] for m in own][:4] == ["user", "assistant", "tool", "assistant"]
    assert own[5]["content"] == "[critic] Agreed."


async def test_a_key_never_leaks_into_errors_events_or_reprs(wire: WireServer) -> None:
    """An error body echoing the key, a config's repr, the run's RunFailed and a sub-agent's
    tool error read by the parent's model: none shows the key (issue 10, point 9)."""
    from baton import MemoryHistory
    from baton.events import RunFailed, ToolCallError

    key = "sk-proj-Abc123Def456Ghi789Jkl012"
    leaky = OpenAIConfig("gpt-test", api_key=key, base_url=f"{wire.url}/v1", max_retries=0)
    closing(leaky)
    assert key not in repr(leaky) and key not in str(leaky)
    body = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_key"}}
    wire.reply_error(401, body)
    history = MemoryHistory()
    with pytest.raises(AuthenticationFailed) as caught:
        await Agent("a", config=leaky, history=history).ask("hi", conversation_id="k")
    assert key not in str(caught.value) and "[REDACTED]" in str(caught.value)
    [failed] = [e for e in await history.load("k") if isinstance(e, RunFailed)]
    assert key not in failed.message

    wire.reply_json(
        completion(None, tool_calls=[fn_call("c1", "helper", {"task": "x"})], finish="tool_calls")
    )
    wire.reply_error(401, body)  # the sub-agent's own call
    wire.reply_json(completion("The helper could not help."))
    helper = Agent("helper", config=leaky)
    boss = Agent("boss", config=config(wire, stream=False), tools=[helper.as_tool()])
    reply = await boss.ask("delegate")
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert key not in error.message
    assert key not in json.dumps(wire.requests[-1].json)  # what the parent's model read


async def test_data_asked_for_is_sent_as_json_text(wire: WireServer) -> None:
    """Issue 11, point 1: ``ask({...})`` reaches the model as the value's JSON."""
    wire.reply_json(completion("Paris in 3 days"))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask({"city": "Paris", "days": 3})
    content = wire.last.json["messages"][-1]["content"]
    assert content == [{"type": "text", "text": '{"city":"Paris","days":3}'}]


async def test_an_exchange_recorded_through_the_sdk_replays_without_the_server(
    wire: WireServer, tmp_path: Any
) -> None:
    """Issue 11, point 20: record once against the provider, replay with no network."""
    from baton.replay import Cassette

    wire.reply_json(completion("Hello from the server"))
    path = tmp_path / "hello.json"
    recorded = await Agent("a", config=Cassette(path, config=config(wire, stream=False))).ask("hi")
    assert len(wire.requests) == 1
    replayed = await Agent("a", config=Cassette(path)).ask("hi")
    assert replayed.text == recorded.text == "Hello from the server"
    assert replayed.response.provider == "openai"
    assert len(wire.requests) == 1  # the server was not asked again
