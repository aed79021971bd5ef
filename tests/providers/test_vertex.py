"""Vertex AI through the google-genai SDK against the loopback wire server. The conversion is
Gemini's (test_gemini.py, whose payload helpers are reused), but the SDK serializes requests for
Vertex AI with its own converters: every feature is checked here too, under the Vertex path."""

from __future__ import annotations

from typing import Any

import pytest
from test_gemini import City, fn, google_error, mul, text, usage
from wire import WireServer

from baton import Agent, Image, tool
from baton.errors import (
    ConfigError,
    ConnectionLost,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.events import FileUrl, ModelResponse, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers.vertex import VertexConfig

pytest.importorskip("google.genai")

MODEL_PATH = "/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-test"


def credentials() -> Any:
    """OAuth credentials holding a token already: nothing is fetched over the network."""
    from google.oauth2.credentials import Credentials

    return Credentials(token="test-token")


def config(wire: WireServer, **kwargs: Any) -> VertexConfig:
    options: dict[str, Any] = {
        "project": "proj-1",
        "location": "europe-west4",
        "credentials": credentials(),
        **kwargs,
    }
    return VertexConfig("gemini-test", base_url=wire.url, max_retries=0, **options)


def answer(
    *parts: dict[str, Any], finish: str | None = "STOP", meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "modelVersion": "gemini-test-001",
        "usageMetadata": meta or usage(4, 2),
    }


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_vertex_endpoint_and_bearer_token(wire: WireServer) -> None:
    wire.reply_json(answer({"text": "Hello"}))
    reply = await Agent("a", "Be brief.", config=config(wire, stream=False)).ask("Hi")
    assert reply.text == "Hello"
    assert reply.response.provider == "vertex"
    request = wire.last
    assert request.path.endswith(f"{MODEL_PATH}:generateContent")
    assert request.headers["authorization"] == "Bearer test-token"
    assert "x-goog-api-key" not in request.headers
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert request.json["systemInstruction"]["parts"] == [{"text": "Be brief."}]


async def test_streamed_tool_round(wire: WireServer) -> None:
    call = {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}
    wire.reply_sse([answer(call)], done=False)
    wire.reply_sse([answer({"text": "5"}, finish=None), answer({"text": "."})], done=False)
    agent = Agent("a", config=config(wire), tools=[add])
    async with agent.run("2+3?") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["5", "."] and reply.text == "5."
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 8
    first, second = wire.requests
    assert first.path.endswith(f"{MODEL_PATH}:streamGenerateContent")
    assert "alt=sse" in first.query
    assert first.json["tools"][0]["functionDeclarations"][0]["name"] == "add"
    assert second.json["contents"][1:] == [
        {"role": "model", "parts": [call]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "add", "response": {"result": "5"}}}],
        },
    ]


async def test_streamed_reply_with_usage_and_price(wire: WireServer) -> None:
    from baton.models.pricing import Price

    wire.reply_sse(
        [
            answer(text("Hel"), finish=None, meta=usage(1_000_000, 0)),
            answer(text("lo"), finish=None, meta=usage(1_000_000, 0)),
            answer(text(""), meta=usage(1_000_000, 400_000, thoughts=100_000, cached=400_000)),
        ],
        done=False,
    )
    cfg = config(wire, price=Price(input=2.0, output=8.0, cached_input=0.5))
    async with Agent("a", config=cfg).run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo"] and reply.text == "Hello"
    assert reply.response.finish_reason == "STOP" and reply.response.provider == "vertex"
    assert reply.response.model == "gemini-test-001"
    assert reply.usage.input_tokens == 1_000_000 and reply.usage.cache_read_tokens == 400_000
    assert reply.usage.output_tokens == 500_000 and reply.usage.reasoning_tokens == 100_000
    # 600k fresh x $2 + 400k cached x $0.5 + 500k out (thinking included) x $8 per million
    assert reply.usage.cost == pytest.approx(1.2 + 0.2 + 4.0)
    request = wire.last
    assert request.path.endswith(f"{MODEL_PATH}:streamGenerateContent")
    assert "alt=sse" in request.query
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


async def test_parallel_function_calls_split_across_chunks(wire: WireServer) -> None:
    # Gemini streams each function call whole; two calls may come in separate chunks.
    wire.reply_sse(
        [
            answer(fn("add", {"a": 2, "b": 3}), finish=None),
            answer(text(""), finish=None),
            answer(fn("mul", {"a": 4, "b": 5})),
        ],
        done=False,
    )
    wire.reply_sse([answer(text("5 and 20"))], done=False)
    agent = Agent("a", config=config(wire), tools=[add, mul])
    reply = await agent.ask("compute")
    assert reply.text == "5 and 20"
    results = {e.name: (e.call_id, e.value) for e in reply.events if isinstance(e, ToolCallResult)}
    assert {name: value for name, (_, value) in results.items()} == {"add": 5, "mul": 20}
    assert len({call_id for call_id, _ in results.values()}) == 2
    first, second = wire.requests
    assert first.path.endswith(f"{MODEL_PATH}:streamGenerateContent")
    assert second.path.endswith(f"{MODEL_PATH}:streamGenerateContent")
    declarations = first.json["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["add", "mul"]
    assert declarations[0]["parameters_json_schema"] == add.parameters
    assert second.json["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}},
                {"functionCall": {"name": "mul", "args": {"a": 4, "b": 5}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "add", "response": {"result": "5"}}},
                {"functionResponse": {"name": "mul", "response": {"result": "20"}}},
            ],
        },
    ]


async def test_structured_output_sends_the_json_schema(wire: WireServer) -> None:
    wire.reply_json(answer(text('{"name": "Lisbon", "population": 545000}')))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    assert wire.last.path.endswith(f"{MODEL_PATH}:generateContent")
    generation = wire.last.json["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseJsonSchema"] == City.model_json_schema()


async def test_image_inputs_inline_and_from_cloud_storage(wire: WireServer) -> None:
    wire.reply_json(answer(text("a red dot")))
    agent = Agent("a", config=config(wire, stream=False))
    reply = await agent.ask(
        [
            "What is this?",
            Image(data=b"\x89PNG", media_type="image/png"),
            FileUrl("gs://bucket/cat.jpg", media_type="image/jpeg"),
        ]
    )
    assert reply.text == "a red dot"
    assert wire.last.path.endswith(f"{MODEL_PATH}:generateContent")
    assert wire.last.json["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What is this?"},
                {"inlineData": {"data": "iVBORw==", "mime_type": "image/png"}},
                {"fileData": {"file_uri": "gs://bucket/cat.jpg", "mime_type": "image/jpeg"}},
            ],
        }
    ]


async def test_reasoning_and_thought_signatures_across_a_tool_round(wire: WireServer) -> None:
    wire.reply_sse(
        [
            answer(text("I should ", thought=True), finish=None),
            answer(text("add.", thought=True), finish=None),
            answer(fn("add", {"a": 1, "b": 1}, thoughtSignature="c2lnLTE="), finish=None),
            answer(text(""), meta=usage(10, 4, thoughts=3)),
        ],
        done=False,
    )
    wire.reply_sse([answer(text("2"), meta=usage(12, 1))], done=False)
    agent = Agent("a", config=config(wire, reasoning_effort="low"), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should ", "add."]
    assert reply.text == "2"
    assert reply.usage.reasoning_tokens == 3
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    first_response = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert first_response.reasoning == "I should add."
    first, second = wire.requests
    assert first.path.endswith(f"{MODEL_PATH}:streamGenerateContent")
    assert first.json["generationConfig"]["thinkingConfig"] == {
        "include_thoughts": True,
        "thinking_budget": 2048,
    }
    # The thought and the signed call are replayed as Vertex sent them.
    assert second.json["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"text": "I should add.", "thought": True},
                {
                    "functionCall": {"name": "add", "args": {"a": 1, "b": 1}},
                    "thoughtSignature": "c2lnLTE=",
                },
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "add", "response": {"result": "2"}}}],
        },
    ]


async def test_project_and_location_from_the_environment(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "proj-1")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    wire.reply_json(answer({"text": "hi"}))
    cfg = VertexConfig("gemini-test", base_url=wire.url, credentials=credentials(), stream=False)
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.path.endswith(f"{MODEL_PATH}:generateContent")


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"location": "us-central1"}, "GOOGLE_CLOUD_PROJECT"),
        ({"project": "p"}, "GOOGLE_CLOUD_LOCATION"),
    ],
)
async def test_missing_project_or_location_is_a_config_error(
    wire: WireServer, given: dict[str, str], missing: str
) -> None:
    cfg = VertexConfig("gemini-test", base_url=wire.url, credentials=credentials(), **given)
    with pytest.raises(ConfigError, match=missing):
        await Agent("a", config=cfg).ask("hi")
    assert not wire.requests


async def test_express_mode_with_an_api_key(wire: WireServer) -> None:
    wire.reply_json(answer({"text": "hi"}))
    cfg = VertexConfig("gemini-test", api_key="v-key", base_url=wire.url, stream=False)
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.headers["x-goog-api-key"] == "v-key"
    assert wire.last.path.endswith("/publishers/google/models/gemini-test:generateContent")
    assert "/projects/" not in wire.last.path


async def test_errors_are_mapped_as_for_gemini(wire: WireServer) -> None:
    body = {"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}
    wire.reply_error(429, body, headers={"retry-after": "3"})
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retry_after == 3.0 and caught.value.provider == "vertex"


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(500, google_error(500, "INTERNAL", "boom"))
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == 500
    assert caught.value.provider == "vertex" and "boom" in str(caught.value)
    assert wire.last.path.endswith(f"{MODEL_PATH}:generateContent")
    assert len(wire.requests) == 1


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(
        [answer(text("Hel"), finish=None), answer(text("lo"), finish=None), answer(text("!"))],
        cut_after=2,
        done=False,
    )
    pieces: list[str] = []
    with pytest.raises(ConnectionLost) as caught:
        async with Agent("a", config=config(wire)).run("hi") as run:
            pieces.extend([e.text async for e in run if isinstance(e, TextChunk)])
    assert pieces == ["Hel", "lo"]
    assert caught.value.retryable is True and caught.value.provider == "vertex"
    assert wire.last.path.endswith(f"{MODEL_PATH}:streamGenerateContent")


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, answer(text("late")))
    with pytest.raises(ModelTimeout) as caught:
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")
    assert caught.value.retryable is True and caught.value.provider == "vertex"
    assert wire.last.path.endswith(f"{MODEL_PATH}:generateContent")


async def test_string_shorthand_resolves_to_vertex_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("vertex:gemini-2.5-pro")
    assert isinstance(resolved, VertexConfig) and resolved.model == "gemini-2.5-pro"
    assert resolved.provider == "vertex"
