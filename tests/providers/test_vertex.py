"""Vertex AI through the google-genai SDK against the loopback wire server. The conversion is
Gemini's (test_gemini.py); this checks what differs: endpoint, auth and configuration."""

from __future__ import annotations

from typing import Any

import pytest
from wire import WireServer

from baton import Agent, tool
from baton.errors import ConfigError, RateLimited
from baton.events import TextChunk
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


def answer(*parts: dict[str, Any], finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "modelVersion": "gemini-test-001",
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
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


async def test_string_shorthand_resolves_to_vertex_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("vertex:gemini-2.5-pro")
    assert isinstance(resolved, VertexConfig) and resolved.model == "gemini-2.5-pro"
    assert resolved.provider == "vertex"
