"""Faults at the edge, through each provider's SDK against the loopback wire server (issue
10, points 1-4): answers that cannot be read, error events inside a stream, streams that never
end, and SDK retries stacking on RetryMiddleware."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent
from baton.errors import (
    InvalidRequest,
    MalformedResponse,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from baton.middleware import RetryMiddleware
from baton.providers._config import ProviderConfig

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("google.genai")
pytest.importorskip("ollama")


@dataclass(frozen=True)
class Provider:
    """One provider under test: how to make its config, and its wire format's garbage line, a
    chunk of an unexpected shape, and a chunk that carries nothing (a keep-alive)."""

    name: str
    make: Callable[..., ProviderConfig]
    garbage: bytes
    unexpected: bytes
    idle: bytes
    media_type: str = "text/event-stream"

    def __str__(self) -> str:
        return self.name


def _openai(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai import OpenAIConfig

    return OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", **kw)


def _responses(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return OpenAIResponsesConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", **kw)


def _anthropic(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.anthropic import AnthropicConfig

    return AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url, **kw)


def _gemini(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.gemini import GeminiConfig

    return GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, **kw)


def _vertex(wire: WireServer, **kw: Any) -> ProviderConfig:
    from google.oauth2.credentials import Credentials

    from baton.providers.vertex import VertexConfig

    return VertexConfig(
        "gemini-test",
        base_url=wire.url,
        project="proj-1",
        location="europe-west4",
        credentials=Credentials(token="test-token"),
        **kw,
    )


def _ollama(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.ollama import OllamaConfig

    return OllamaConfig("llama-test", base_url=wire.url, **kw)


def _dashscope(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.dashscope import DashScopeConfig

    return DashScopeConfig("qwen-test", api_key="sk-test", base_url=f"{wire.url}/v1", **kw)


GARBAGE = b"data: {this is not json\n\n"
UNEXPECTED = b'data: {"unexpected": true}\n\n'
KEEPALIVE = b": keep-alive\n\n"
# google-genai reads no SSE comments: an endless run of empty chunks instead
GEMINI_EMPTY = (
    b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}}]}\n\n'
)
PROVIDERS = [
    Provider("openai", _openai, GARBAGE, UNEXPECTED, KEEPALIVE),
    Provider("responses", _responses, GARBAGE, UNEXPECTED, KEEPALIVE),
    Provider(
        "anthropic",
        _anthropic,
        b"event: message_start\n" + GARBAGE,
        b"event: message_start\n" + UNEXPECTED,
        b'event: ping\ndata: {"type": "ping"}\n\n',
    ),
    Provider("gemini", _gemini, GARBAGE, UNEXPECTED, GEMINI_EMPTY),
    Provider("vertex", _vertex, GARBAGE, UNEXPECTED, GEMINI_EMPTY),
    Provider(
        "ollama",
        _ollama,
        b"{this is not json\n",
        b'{"unexpected": true}\n',
        b'{"model": "llama-test", "message": {"role": "assistant", "content": ""}}\n',
        "application/x-ndjson",
    ),
    Provider("dashscope", _dashscope, GARBAGE, UNEXPECTED, KEEPALIVE),
]
CHAT = [p for p in PROVIDERS if p.name in ("openai", "dashscope")]
GOOGLE = ("gemini", "vertex")


def config(provider: Provider, wire: WireServer, **kwargs: Any) -> ProviderConfig:
    """The provider's config on the wire server; no SDK retries unless asked (each test counts
    the requests a fault causes)."""
    kwargs.setdefault("max_retries", 0)
    made = provider.make(wire, **kwargs)
    closing(made)
    return made


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param  # type: ignore[no-any-return]


# -- answers that cannot be read (point 1) -----------------------------------------------------


async def test_a_garbage_line_in_a_stream_is_a_retryable_malformed_response(
    wire: WireServer, provider: Provider
) -> None:
    for _ in range(2):
        wire.reply_raw(provider.garbage, media_type=provider.media_type, streamed=True)
    agent = Agent("a", config=config(provider, wire))
    with pytest.raises(MalformedResponse) as caught:
        await agent.ask("hi")
    assert caught.value.retryable is True
    assert caught.value.provider == provider.make(wire).provider_name
    assert "JSON" in str(caught.value)  # names the problem ...
    assert "base_url" in str(caught.value)  # ... and the fix, should it keep happening
    # RetryMiddleware acts on it: the second attempt is made (and here fails the same way)
    wire.reset()
    for _ in range(2):
        wire.reply_raw(provider.garbage, media_type=provider.media_type, streamed=True)
    with pytest.raises(MalformedResponse):
        await agent.ask("hi", middleware=[RetryMiddleware(attempts=2, base_delay=0)])
    assert len(wire.requests) == 2


@pytest.mark.parametrize(
    ("body", "media_type"),
    [(b"<html><body>502 Bad Gateway</body></html>", "text/html"), (b"{this is not json", None)],
    ids=["html", "broken-json"],
)
async def test_a_body_that_is_not_json_is_a_retryable_malformed_response(
    wire: WireServer, provider: Provider, body: bytes, media_type: str | None
) -> None:
    wire.reply_raw(body, media_type=media_type or "application/json")
    with pytest.raises(MalformedResponse) as caught:
        await Agent("a", config=config(provider, wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert len(wire.requests) == 1


async def test_a_chunk_of_an_unexpected_shape_is_a_retryable_model_error(
    wire: WireServer, provider: Provider
) -> None:
    wire.reply_raw(provider.unexpected, media_type=provider.media_type, streamed=True)
    with pytest.raises(ModelError) as caught:  # never a raw TypeError or AttributeError
        await Agent("a", config=config(provider, wire)).ask("hi")
    assert caught.value.retryable is True


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.name not in GOOGLE], ids=str)
async def test_an_answer_of_an_unexpected_shape_is_a_malformed_response(
    wire: WireServer, provider: Provider
) -> None:
    # (Gemini answers a blocked prompt without candidates, so an answer without them is read.)
    wire.reply_raw(b'{"unexpected": true}')
    with pytest.raises(MalformedResponse, match="unexpected"):
        await Agent("a", config=config(provider, wire, stream=False)).ask("hi")
    assert len(wire.requests) == 1  # not taken for an empty answer and asked again


async def test_an_ollama_chunk_whose_message_is_not_an_object_is_a_malformed_response(
    wire: WireServer,
) -> None:
    [ollama] = [p for p in PROVIDERS if p.name == "ollama"]
    wire.reply_ndjson([{"model": "llama-test", "message": "Hello"}])
    with pytest.raises(MalformedResponse, match="unexpected shape"):
        await Agent("a", config=config(ollama, wire)).ask("hi")


@pytest.mark.parametrize("provider", CHAT, ids=str)
async def test_a_chat_chunk_without_choices_is_a_malformed_response(
    wire: WireServer, provider: Provider
) -> None:
    wire.reply_sse([{"unexpected": True}, {"choices": [{"index": 0, "delta": {"content": "x"}}]}])
    with pytest.raises(MalformedResponse, match="without a list of choices"):
        await Agent("a", config=config(provider, wire)).ask("hi")


# -- an error event inside a Chat Completions stream (point 2) ----------------------------------


@pytest.mark.parametrize("provider", CHAT, ids=str)
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"type": "server_error", "message": "The server had an error"}, ProviderUnavailable),
        ({"code": "rate_limit_exceeded", "message": "Slow down"}, RateLimited),
        ({"type": "invalid_request_error", "message": "Bad tool schema"}, InvalidRequest),
    ],
    ids=["server_error", "rate_limit", "invalid_request"],
)
async def test_an_error_event_in_a_chat_stream_maps_like_its_status(
    wire: WireServer, provider: Provider, error: dict[str, Any], expected: type[ModelError]
) -> None:
    content = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    first = {**content, "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    wire.reply_sse([first, {"error": error}])
    with pytest.raises(expected) as caught:
        await Agent("a", config=config(provider, wire)).ask("hi")
    assert caught.value.retryable is (expected is not InvalidRequest)
    assert error["message"] in str(caught.value)


# -- a stream that never ends (point 3) ----------------------------------------------------------


async def test_a_stream_of_keepalives_forever_ends_at_the_configured_timeout(
    wire: WireServer, provider: Provider
) -> None:
    wire.reply_forever(provider.idle, media_type=provider.media_type)
    cfg = config(provider, wire, timeout=0.5)
    with pytest.raises(ModelTimeout) as caught:
        await Agent("a", config=cfg).ask("hi")
    assert caught.value.retryable is True
    message = str(caught.value)
    assert "timeout=0.5 seconds" in message  # names the timeout ...
    assert f"{type(cfg).__name__}(..., timeout=...)" in message  # ... and how to raise it


# -- one retry layer (point 4) -------------------------------------------------------------------


async def test_sdk_retries_do_not_stack_on_retry_middleware(
    wire: WireServer, provider: Provider
) -> None:
    for _ in range(9):
        wire.reply_error(503, {"error": {"message": "overloaded", "code": 503}})
    cfg = provider.make(wire)  # the defaults: no max_retries given
    closing(cfg)
    assert cfg.max_retries == 2  # the SDK retries by itself outside RetryMiddleware ...
    agent = Agent("a", config=cfg, middleware=[RetryMiddleware(attempts=3, base_delay=0)])
    with pytest.raises(ProviderUnavailable):
        await agent.ask("hi")
    assert len(wire.requests) == 3  # ... and not inside it: 3 attempts, 3 requests
