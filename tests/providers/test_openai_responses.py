"""OpenAI Responses API through the official SDK against the loopback wire server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel
from wire import WireServer

from baton import Agent, Audio, Document, Image, tool
from baton.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionLost,
    ContextLengthExceeded,
    InvalidRequest,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import ModelResponse, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.openai_responses import OpenAIResponsesConfig

pytest.importorskip("openai")

ENCRYPTED = "gAAAAB-opaque-reasoning-blob"


_configs: list[OpenAIResponsesConfig] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    """Close each test's SDK clients inside its own event loop (not later, by the GC)."""
    yield
    while _configs:
        await _configs.pop().aclose()


def config(wire: WireServer, **kwargs: Any) -> OpenAIResponsesConfig:
    made = OpenAIResponsesConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, **kwargs
    )
    _configs.append(made)
    return made


# -- wire shapes (as in openai/types/responses) ------------------------------------------------


def usage(
    input_tokens: int = 11, output_tokens: int = 3, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input_tokens + output_tokens,
    }


def response(
    output: list[dict[str, Any]],
    *,
    status: str = "completed",
    use: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": "gpt-test",
        "status": status,
        "output": output,
        "error": error,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "usage": use if use is not None else (usage() if status != "in_progress" else None),
    }


def message(text: str, item_id: str = "msg_1", status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": content,
    }


def fn_call(
    call_id: str, name: str, arguments: dict[str, Any] | str, item_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id or f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        "status": "completed",
    }


def reasoning(
    summary: str, item_id: str = "rs_1", encrypted: str | None = ENCRYPTED
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": summary}] if summary else [],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def stream(wire: WireServer, events: list[dict[str, Any]], **kwargs: Any) -> None:
    """Queue a Responses event stream (numbered; no ``[DONE]`` at the end)."""
    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events)]
    wire.reply_sse(numbered, done=False, **kwargs)


def created() -> list[dict[str, Any]]:
    return [
        {"type": "response.created", "response": response([], status="in_progress")},
        {"type": "response.in_progress", "response": response([], status="in_progress")},
    ]


def completed(output: list[dict[str, Any]], use: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "response.completed", "response": response(output, use=use)}


def text_events(pieces: list[str], index: int = 0, item_id: str = "msg_1") -> list[dict[str, Any]]:
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    text = "".join(pieces)

    def part(value: str) -> dict[str, Any]:
        return {"type": "output_text", "text": value, "annotations": []}

    def item(kind: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": f"response.output_item.{kind}", "output_index": index, "item": value}

    return [
        item("added", message("", item_id, "in_progress")),
        {"type": "response.content_part.added", **where, "part": part("")},
        *(
            {"type": "response.output_text.delta", **where, "delta": p, "logprobs": []}
            for p in pieces
        ),
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part(text)},
        item("done", message(text, item_id)),
    ]


def call_added(index: int, call_id: str, name: str) -> dict[str, Any]:
    item = {**fn_call(call_id, name, ""), "status": "in_progress"}
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def args_delta(index: int, call_id: str, delta: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.delta",
        "item_id": f"fc_{call_id}",
        "output_index": index,
        "delta": delta,
    }


def call_done(index: int, call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "response.function_call_arguments.done",
            "item_id": f"fc_{call_id}",
            "output_index": index,
            "arguments": arguments,
        },
        {
            "type": "response.output_item.done",
            "output_index": index,
            "item": fn_call(call_id, name, arguments),
        },
    ]


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# -- tests -------------------------------------------------------------------------------------


async def test_plain_reply_non_streaming(wire: WireServer) -> None:
    wire.reply_json(response([message("Hello there")]))
    agent = Agent("a", "Be brief.", config=config(wire, stream=False, temperature=0.3))
    reply = await agent.ask("Hi")
    assert reply.text == "Hello there"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    assert reply.response.finish_reason == "stop" and reply.response.model == "gpt-test"
    assert wire.last.path == "/v1/responses"
    assert wire.last.headers["authorization"] == "Bearer sk-test"
    body = wire.last.json
    assert body["model"] == "gpt-test"
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "Hi"}]
    assert body["store"] is False
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["temperature"] == 0.3
    assert "stream" not in body and "tools" not in body and "reasoning" not in body


async def test_streamed_reply_emits_chunks_and_assembles_text(wire: WireServer) -> None:
    stream(
        wire,
        [
            *created(),
            *text_events(["Hel", "lo"]),
            completed([message("Hello")], usage(20, 5, cached=8)),
        ],
    )
    agent = Agent("a", config=config(wire))
    async with agent.run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo"]
    assert reply.text == "Hello"
    assert reply.response.finish_reason == "stop"
    assert reply.usage.input_tokens == 20 and reply.usage.cache_read_tokens == 8
    assert wire.last.path == "/v1/responses"
    assert wire.last.json["stream"] is True


async def test_one_tool_round_sends_schema_and_results(wire: WireServer) -> None:
    wire.reply_json(response([fn_call("call_a", "add", {"a": 2, "b": 3})]))
    wire.reply_json(response([message("5")]))
    agent = Agent("a", config=config(wire, stream=False), tools=[add])
    reply = await agent.ask("2+3?")
    assert reply.text == "5"
    first, second = (r.json for r in wire.requests)
    assert first["tools"] == [
        {
            "type": "function",
            "name": "add",
            "description": "Add two integers.",
            "parameters": add.parameters,
            "strict": False,
        }
    ]
    assert second["input"] == [
        {"role": "user", "content": "2+3?"},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "add",
            "arguments": '{"a": 2, "b": 3}',
        },
        {"type": "function_call_output", "call_id": "call_a", "output": "5"},
    ]


async def test_parallel_tool_calls_streamed_interleaved(wire: WireServer) -> None:
    # Two calls whose argument pieces arrive interleaved, told apart by output_index.
    stream(
        wire,
        [
            *created(),
            call_added(0, "c1", "add"),
            call_added(1, "c2", "mul"),
            args_delta(0, "c1", '{"a": 2,'),
            args_delta(1, "c2", '{"a": 4,'),
            args_delta(1, "c2", ' "b": 5}'),
            args_delta(0, "c1", ' "b": 3}'),
            *call_done(0, "c1", "add", '{"a": 2, "b": 3}'),
            *call_done(1, "c2", "mul", '{"a": 4, "b": 5}'),
            completed(
                [fn_call("c1", "add", '{"a": 2, "b": 3}'), fn_call("c2", "mul", '{"a": 4, "b": 5}')]
            ),
        ],
    )
    stream(wire, [*created(), *text_events(["5 and 20"]), completed([message("5 and 20")])])
    agent = Agent("a", config=config(wire, parallel_tool_calls=True), tools=[add, mul])
    reply = await agent.ask("compute")
    results = {e.name: e.value for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": 5, "mul": 20}
    assert reply.text == "5 and 20"
    assert wire.requests[0].json["parallel_tool_calls"] is True
    second = wire.requests[1].json["input"]
    assert [(i["type"], i["call_id"]) for i in second[1:3]] == [
        ("function_call", "c1"),
        ("function_call", "c2"),
    ]
    outputs = sorted(
        (i["call_id"], i["output"]) for i in second if i.get("type") == "function_call_output"
    )
    assert outputs == [("c1", "5"), ("c2", "20")]


async def test_calls_are_assembled_from_deltas_when_the_final_response_is_slim(
    wire: WireServer,
) -> None:
    # A compatible server whose response.completed carries no output items.
    stream(
        wire,
        [
            *created(),
            call_added(0, "c1", "add"),
            call_added(1, "c2", "mul"),
            args_delta(1, "c2", '{"a": 4, "b": 5}'),
            args_delta(0, "c1", '{"a": 2,'),
            args_delta(0, "c1", ' "b": 3}'),
            completed([]),
        ],
    )
    stream(wire, [*created(), *text_events(["ok"]), completed([])])
    agent = Agent("a", config=config(wire, parallel_tool_calls=True), tools=[add, mul])
    reply = await agent.ask("compute")
    responses = [e for e in reply.events if isinstance(e, ModelResponse)]
    calls = responses[0].tool_calls
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("c1", "add", {"a": 2, "b": 3}),
        ("c2", "mul", {"a": 4, "b": 5}),
    ]
    assert responses[1].text == "ok"


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_uses_strict_json_schema(wire: WireServer) -> None:
    wire.reply_json(response([message('{"name": "Lisbon", "population": 545000}')]))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    fmt = wire.last.json["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "City" and fmt["strict"] is True
    assert fmt["schema"]["additionalProperties"] is False
    assert set(fmt["schema"]["required"]) == {"name", "population"}


async def test_structured_output_falls_back_to_prompted_without_native_support(
    wire: WireServer,
) -> None:
    wire.reply_json(response([message('{"name": "Oslo", "population": 700000}')]))
    cfg = config(wire, stream=False, native_output=False)
    reply = await Agent("a", "Be brief.", config=cfg, response_schema=City).ask("A city")
    assert reply.output.name == "Oslo"
    body = wire.last.json
    assert "text" not in body
    assert body["instructions"].startswith("Be brief.")
    assert "JSON schema" in body["instructions"] and '"population"' in body["instructions"]


async def test_image_and_document_inputs(wire: WireServer) -> None:
    wire.reply_json(response([message("a red dot")]))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(
        [
            "What is this?",
            Image(data=b"\x89PNG", media_type="image/png"),
            Image.from_url("https://example.com/cat.jpg"),
            Document(data=b"%PDF-1.4"),
            Document(url="https://example.com/paper.pdf"),
        ]
    )
    content = wire.last.json["input"][-1]["content"]
    assert content == [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw==", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "auto"},
        {
            "type": "input_file",
            "filename": "document.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0xLjQ=",
        },
        {"type": "input_file", "file_url": "https://example.com/paper.pdf"},
    ]


async def test_audio_input_is_refused_before_any_request(wire: WireServer) -> None:
    agent = Agent("a", config=config(wire, stream=False))
    with pytest.raises(InvalidRequest, match="audio"):
        await agent.ask(["Listen", Audio(data=b"RIFF", media_type="audio/wav")])
    assert wire.requests == []


async def test_reasoning_is_streamed_and_replayed_across_a_tool_round(wire: WireServer) -> None:
    thought = reasoning("I should add. Then answer.")
    summary_at = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
    stream(
        wire,
        [
            *created(),
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": reasoning("", encrypted=None),
            },
            {
                "type": "response.reasoning_summary_part.added",
                **summary_at,
                "part": {"type": "summary_text", "text": ""},
            },
            {
                "type": "response.reasoning_summary_text.delta",
                **summary_at,
                "delta": "I should add.",
            },
            {
                "type": "response.reasoning_summary_text.delta",
                **summary_at,
                "delta": " Then answer.",
            },
            {
                "type": "response.reasoning_summary_text.done",
                **summary_at,
                "text": "I should add. Then answer.",
            },
            {"type": "response.output_item.done", "output_index": 0, "item": thought},
            call_added(1, "c1", "add"),
            args_delta(1, "c1", '{"a":1,"b":1}'),
            *call_done(1, "c1", "add", '{"a":1,"b":1}'),
            completed([thought, fn_call("c1", "add", '{"a":1,"b":1}')], usage(10, 4, reasoning=3)),
        ],
    )
    stream(wire, [*created(), *text_events(["2"]), completed([message("2")], usage(12, 1))])
    agent = Agent("a", config=config(wire, reasoning_effort="low"), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should add.", " Then answer."]
    assert reply.text == "2"
    assert reply.usage.reasoning_tokens == 3
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    first, second = (r.json for r in wire.requests)
    assert first["reasoning"] == {"effort": "low", "summary": "auto"}
    assert first["include"] == ["reasoning.encrypted_content"]
    assert second["input"] == [
        {"role": "user", "content": "1+1"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "I should add. Then answer."}],
            "encrypted_content": ENCRYPTED,
        },
        {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a":1,"b":1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "2"},
    ]
    first_response = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert first_response.reasoning == "I should add. Then answer."


async def test_reasoning_without_encrypted_content_is_not_replayed_unstored(
    wire: WireServer,
) -> None:
    # Without store=True OpenAI cannot find a reasoning item by id alone: it is left out.
    wire.reply_json(
        response([reasoning("hm", encrypted=None), fn_call("c1", "add", {"a": 1, "b": 2})])
    )
    wire.reply_json(response([message("3")]))
    await Agent("a", config=config(wire, stream=False), tools=[add]).ask("1+2")
    assert [i.get("type", "message") for i in wire.last.json["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]


async def test_stored_mode_replays_reasoning_by_id_and_asks_for_no_blob(wire: WireServer) -> None:
    wire.reply_json(
        response([reasoning("hm", encrypted=None), fn_call("c1", "add", {"a": 1, "b": 2})])
    )
    wire.reply_json(response([message("3")]))
    await Agent("a", config=config(wire, stream=False, store=True), tools=[add]).ask("1+2")
    first, second = (r.json for r in wire.requests)
    assert first["store"] is True and "include" not in first
    assert second["input"][1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "hm"}],
    }


async def test_settings_vocabulary_is_mapped(wire: WireServer) -> None:
    wire.reply_json(response([message("ok")]))
    cfg = config(
        wire,
        stream=False,
        top_p=0.5,
        max_tokens=99,
        tool_choice="add",
        parallel_tool_calls=False,
        reasoning_effort="high",
        extra={"user": "u-1"},
    )
    await Agent("a", config=cfg, tools=[add]).ask("go")
    body = wire.last.json
    assert body["top_p"] == 0.5
    assert body["max_output_tokens"] == 99
    assert body["tool_choice"] == {"type": "function", "name": "add"}
    assert body["parallel_tool_calls"] is False
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["user"] == "u-1"


async def test_settings_the_api_lacks_are_refused(wire: WireServer) -> None:
    with pytest.raises(ConfigError, match="stop"):
        await Agent("a", config=config(wire, stream=False, stop=("END",))).ask("go")
    assert wire.requests == []


async def test_usage_and_price(wire: WireServer) -> None:
    from baton.models.pricing import Price

    big = usage(1_000_000, 500_000, cached=400_000, reasoning=200_000)
    wire.reply_json(response([message("hi")], use=big))
    cfg = config(wire, stream=False, price=Price(input=2.0, output=8.0, cached_input=0.5))
    reply = await Agent("a", config=cfg).ask("hi")
    assert reply.usage.input_tokens == 1_000_000 and reply.usage.output_tokens == 500_000
    assert reply.usage.cache_read_tokens == 400_000 and reply.usage.reasoning_tokens == 200_000
    # 600k fresh x $2 + 400k cached x $0.5 + 500k out x $8 per million
    assert reply.usage.cost == pytest.approx(1.2 + 0.2 + 4.0)


async def test_incomplete_answer_reports_length(wire: WireServer) -> None:
    body = response([message("Once upon a")], status="incomplete")
    body["incomplete_details"] = {"reason": "max_output_tokens"}
    wire.reply_json(body)
    reply = await Agent("a", config=config(wire, stream=False, max_tokens=3)).ask("story")
    assert reply.text == "Once upon a" and reply.response.finish_reason == "length"


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
    assert wire.last.path == "/v1/responses"


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(500, {"error": {"message": "boom"}})
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == 500


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Incorrect API key", AuthenticationFailed),
        (400, "Your input exceeds the context window of this model", ContextLengthExceeded),
        (400, "Invalid value for 'input'", InvalidRequest),
    ],
)
async def test_client_errors_are_mapped(
    wire: WireServer, status: int, message: str, expected: type[Exception]
) -> None:
    wire.reply_error(status, {"error": {"message": message}})
    with pytest.raises(expected) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert getattr(caught.value, "retryable", None) is False


async def test_response_failed_event_is_mapped(wire: WireServer) -> None:
    failed = response([], status="failed", use={})
    failed["error"] = {"code": "server_error", "message": "The model crashed"}
    stream(wire, [*created(), {"type": "response.failed", "response": failed}])
    with pytest.raises(ProviderUnavailable, match="The model crashed") as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_error_event_is_mapped(wire: WireServer) -> None:
    error = {"type": "error", "code": "rate_limit_exceeded", "message": "Too fast", "param": None}
    stream(wire, [*created(), *text_events(["Hel"])[:3], error])
    with pytest.raises(RateLimited, match="Too fast"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    stream(
        wire,
        [*created(), *text_events(["Hel", "lo", "!"]), completed([message("Hello!")])],
        cut_after=5,
    )
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_stream_ending_without_completion_is_connection_lost(wire: WireServer) -> None:
    stream(wire, [*created(), *text_events(["Hel"])])
    with pytest.raises(ConnectionLost, match="ended before"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, response([message("late")]))
    with pytest.raises(ModelTimeout):
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")


async def test_missing_api_key_names_the_variable(wire: WireServer) -> None:
    agent = Agent("a", config=OpenAIResponsesConfig("gpt-test", base_url=f"{wire.url}/v1"))
    with pytest.raises(AuthenticationFailed, match="OPENAI_API_KEY"):
        await agent.ask("hi")


async def test_one_client_per_config_and_incremental_conversion(wire: WireServer) -> None:
    cfg = config(wire, stream=False)
    for text in ("one", "two", "three"):
        wire.reply_json(response([message(text)]))
    reply = await Agent("a", config=cfg).ask("1")
    client = cfg.client()
    reply = await reply.ask("2")
    reply = await reply.ask("3")
    assert cfg.client() is client

    def said(text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }

    assert wire.last.json["input"] == [
        {"role": "user", "content": "1"},
        said("one"),
        {"role": "user", "content": "2"},
        said("two"),
        {"role": "user", "content": "3"},
    ]
    await cfg.aclose()


async def test_string_shorthand_resolves_to_responses_config() -> None:
    from baton.models import resolve_config
    from baton.providers import OpenAIResponsesConfig as Exported

    resolved = resolve_config("openai-responses:gpt-5")
    assert isinstance(resolved, OpenAIResponsesConfig) and resolved.model == "gpt-5"
    assert resolved.provider == "openai" and Exported is OpenAIResponsesConfig
