"""Streamed events whose fields hold ``null`` or a value of another type than the wire sends,
on every streaming reader (each decodes its events into classes of the fields it reads, see
``baton/providers/_wire_chunks.py``): ``null`` reads as an absent field; a field of another type
is a retryable ``MalformedResponse`` that names the field and quotes the event, never a raw
decoder exception or a broken answer."""

from __future__ import annotations

from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent
from baton.errors import MalformedResponse
from baton.events import TextChunk, ToolCallDelta
from baton.providers._config import ProviderConfig

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("google.genai")
pytest.importorskip("ollama")


def _openai(wire: WireServer) -> ProviderConfig:
    from baton.providers.openai import OpenAIConfig

    return closing(
        OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0)
    )


def _responses(wire: WireServer) -> ProviderConfig:
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0
        )
    )


def _anthropic(wire: WireServer) -> ProviderConfig:
    from baton.providers.anthropic import AnthropicConfig

    return closing(
        AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0)
    )


def _gemini(wire: WireServer) -> ProviderConfig:
    from baton.providers.gemini import GeminiConfig

    return closing(GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, max_retries=0))


def _ollama(wire: WireServer) -> ProviderConfig:
    from baton.providers.ollama import OllamaConfig

    return closing(OllamaConfig("llama-test", base_url=wire.url, max_retries=0))


async def _streamed(config: ProviderConfig) -> tuple[str, list[Any]]:
    """The answer's text and the chunks streamed on the way."""
    async with Agent("a", config=config).run("hi") as run:
        seen = [e async for e in run if isinstance(e, TextChunk | ToolCallDelta)]
        reply = await run.result()
    return reply.text, seen


async def _refused(config: ProviderConfig, *named: str) -> MalformedResponse:
    """The error an ask ends in, which must name each of ``named``."""
    with pytest.raises(MalformedResponse) as caught:
        await Agent("a", config=config).ask("hi")
    message = str(caught.value)
    assert caught.value.retryable is True
    for name in ("unexpected shape", *named):
        assert name in message, message
    return caught.value


# -- OpenAI Chat Completions --------------------------------------------------------------------


def _chat(delta: Any, finish: Any = None, **fields: Any) -> dict[str, Any]:
    head = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test"}
    return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **fields}


async def test_chat_fields_sent_as_null_read_as_absent(wire: WireServer) -> None:
    first = {"index": 0, "id": "call_1", "function": {"name": "lookup", "arguments": ""}}
    wire.reply_sse(
        [
            _chat(None, id=None, model=None, usage=None),
            _chat({"content": None, "reasoning_content": None, "tool_calls": None}),
            _chat({"content": "Hi", "reasoning": None, "tool_calls": [first]}),
            _chat({"tool_calls": [{"index": 0, "id": None, "function": None}]}),
            _chat({"tool_calls": [{"index": 0, "function": {"name": None, "arguments": "{}"}}]}),
            _chat({}, "tool_calls"),
        ]
    )
    wire.reply_sse([_chat({"content": "ok"}, "stop")])  # after the (unknown) tool's error
    text, chunks = await _streamed(_openai(wire))
    assert text == "ok"
    assert [c.text for c in chunks if isinstance(c, TextChunk)] == ["Hi", "ok"]
    call = [(c.call_id, c.name, c.delta) for c in chunks if isinstance(c, ToolCallDelta)]
    assert call == [("call_1", "lookup", "{}")]


@pytest.mark.parametrize(
    ("delta", "field"),
    [
        ({"content": 5}, "$.choices[0].delta.content"),
        ({"reasoning_content": ["x"]}, "$.choices[0].delta.reasoning_content"),
        ({"tool_calls": {"index": 0}}, "$.choices[0].delta.tool_calls"),
        ({"tool_calls": [{"index": "0"}]}, "$.choices[0].delta.tool_calls[0].index"),
        ({"tool_calls": [{"index": 0, "function": "f"}]}, "$.choices[0].delta.tool_calls[0]"),
        (5, "$.choices[0].delta"),
    ],
    ids=["content", "reasoning", "tool-calls", "index", "function", "delta"],
)
async def test_a_chat_field_of_another_type_is_malformed_naming_it(
    wire: WireServer, delta: Any, field: str
) -> None:
    wire.reply_sse([_chat({"content": "Hel"}), _chat(delta), _chat({}, "stop")])
    await _refused(_openai(wire), field, '"gpt-test"')  # the field, and the event quoted


async def test_a_chat_tool_call_piece_without_its_index_is_malformed(wire: WireServer) -> None:
    wire.reply_sse([_chat({"tool_calls": [{"id": "c", "function": {"name": "f"}}]})])
    await _refused(_openai(wire), "a tool call without its index")


async def test_a_chat_chunk_that_is_not_an_object_is_malformed(wire: WireServer) -> None:
    wire.reply_sse([["not", "a", "chunk"]])
    await _refused(_openai(wire), "Expected `object`, got `array`")


# -- OpenAI Responses ---------------------------------------------------------------------------


async def test_a_responses_delta_of_another_type_is_malformed(wire: WireServer) -> None:
    wire.reply_sse([{"type": "response.output_text.delta", "output_index": 0, "delta": 5}])
    await _refused(_responses(wire), "response.output_text.delta")


async def test_a_responses_event_that_is_not_an_object_is_malformed(wire: WireServer) -> None:
    wire.reply_sse(["response.output_text.delta"])
    await _refused(_responses(wire), "Expected `object`, got `str`")


# -- Anthropic Messages -------------------------------------------------------------------------


def _anthropic_stream(*deltas: Any) -> list[tuple[str, Any]]:
    message = {"id": "msg_1", "model": "claude-test", "usage": {"input_tokens": 3}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": None},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]


async def test_anthropic_fields_sent_as_null_read_as_absent(wire: WireServer) -> None:
    deltas = [{"type": "text_delta", "text": None}, {"type": "text_delta", "text": "Hi"}]
    wire.reply_sse(_anthropic_stream(*deltas), named=True)
    text, chunks = await _streamed(_anthropic(wire))
    assert (text, [c.text for c in chunks]) == ("Hi", ["Hi"])


@pytest.mark.parametrize(
    ("delta", "field"),
    [
        ({"type": "text_delta", "text": 5}, "$.delta.text"),
        ({"type": "thinking_delta", "thinking": {}}, "$.delta.thinking"),
        ("text", "$.delta"),
    ],
    ids=["text", "thinking", "delta"],
)
async def test_an_anthropic_field_of_another_type_is_malformed_naming_it(
    wire: WireServer, delta: Any, field: str
) -> None:
    wire.reply_sse(_anthropic_stream(delta), named=True)
    await _refused(_anthropic(wire), field)


# -- Gemini -------------------------------------------------------------------------------------


def _gemini_chunk(candidate: Any, **fields: Any) -> dict[str, Any]:
    return {"candidates": [candidate], "modelVersion": "gemini-test", **fields}


async def test_gemini_fields_sent_as_null_read_as_absent(wire: WireServer) -> None:
    wire.reply_sse(
        [
            _gemini_chunk({"content": None}, usageMetadata=None, responseId=None),
            _gemini_chunk({"content": {"parts": None}}),
            _gemini_chunk({"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}),
        ],
        done=False,
    )
    text, chunks = await _streamed(_gemini(wire))
    assert (text, [c.text for c in chunks]) == ("Hi", ["Hi"])


@pytest.mark.parametrize(
    ("chunk", "field"),
    [
        ({"candidates": [5]}, "$.candidates[0]"),
        ({"candidates": {"content": {}}}, "$.candidates"),
        (_gemini_chunk({"content": {"parts": "Hi"}}), "$.candidates[0].content.parts"),
        (_gemini_chunk({"content": {"parts": [5]}}), "$.candidates[0].content.parts[0]"),
        (_gemini_chunk({"content": {"parts": [{"text": 5}]}}), "parts[0].text"),
        (_gemini_chunk({"content": {}}, usageMetadata=[1]), "$.usageMetadata"),
    ],
    ids=["candidate", "candidates", "parts", "part", "text", "usage"],
)
async def test_a_gemini_field_of_another_type_is_malformed_naming_it(
    wire: WireServer, chunk: Any, field: str
) -> None:
    wire.reply_sse([chunk], done=False)
    await _refused(_gemini(wire), field)


# -- Ollama -------------------------------------------------------------------------------------


async def test_ollama_fields_sent_as_null_read_as_absent(wire: WireServer) -> None:
    wire.reply_ndjson(
        [
            {"model": "llama-test", "message": None, "done": False},
            {"model": "llama-test", "message": {"content": None, "thinking": None}},
            {"model": "llama-test", "message": {"content": "Hi", "tool_calls": None}},
            {"model": "llama-test", "done": True, "done_reason": "stop", "eval_count": None},
        ]
    )
    text, chunks = await _streamed(_ollama(wire))
    assert (text, [c.text for c in chunks]) == ("Hi", ["Hi"])


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"content": 5}, "$.message.content"),
        ({"thinking": ["a"]}, "$.message.thinking"),
        ({"tool_calls": ["f"]}, "$.message.tool_calls[0]"),
    ],
    ids=["content", "thinking", "tool-call"],
)
async def test_an_ollama_field_of_another_type_is_malformed_naming_it(
    wire: WireServer, message: Any, field: str
) -> None:
    wire.reply_ndjson(
        [{"model": "llama-test", "message": message}, {"model": "llama-test", "done": True}]
    )
    await _refused(_ollama(wire), field)
