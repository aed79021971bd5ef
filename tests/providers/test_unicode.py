"""Model text is always valid Unicode (issue 10, point 5), on every provider adapter, streamed and
not: a surrogate pair split across two chunks arrives joined, a lone surrogate becomes U+FFFD, in
text, reasoning and tool call arguments. The conversation is stored by a durable history (SQLite)
and the next ask works."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent, tool
from baton.events import ModelResponse, ReasoningChunk, TextChunk, ToolCallResult
from baton.providers._config import ProviderConfig

pytest.importorskip("aiosqlite")

PIECES = ["A\ud83d", "\ude00B\udc00"]  # a pair split over two chunks, then a lone low surrogate
CHUNKS = ["A", "\U0001f600B\ufffd"]
VALID = "A\U0001f600B\ufffd"
LONE_ARGUMENT = {"text": "x\ud83d"}

# -- each adapter's wire: a config, a streamed answer, a whole answer, a tool call -------------


def _reply_json(wire: WireServer, body: Any) -> None:
    # Surrogates escaped (``\\ud83d``), as a provider would send them.
    wire.reply_raw(json.dumps(body).encode())


def _openai(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai import OpenAIConfig

    return closing(OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", **kw))


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": [choice],
    }


def _openai_completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _openai_stream(wire: WireServer, pieces: list[str]) -> None:
    wire.reply_sse([*(_chunk({"content": p}) for p in pieces), _chunk({}, "stop")])


def _openai_whole(wire: WireServer, text: str) -> None:
    _reply_json(wire, _openai_completion({"content": text}, "stop"))


def _openai_call(wire: WireServer, arguments: dict[str, Any]) -> None:
    # Arguments are JSON text: here with the lone surrogate escaped (``\ud83d``) inside it.
    function = {"name": "echo", "arguments": json.dumps(arguments)}
    call = {"id": "c1", "type": "function", "function": function}
    _reply_json(wire, _openai_completion({"content": None, "tool_calls": [call]}, "tool_calls"))


def _responses(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return closing(
        OpenAIResponsesConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", **kw)
    )


def _response(output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2,
        },
    }


def _responses_message(text: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "type": "message",
        "id": "m",
        "role": "assistant",
        "status": "completed",
        "content": content,
    }


def _responses_stream(wire: WireServer, pieces: list[str]) -> None:
    where = {"item_id": "m", "output_index": 0, "content_index": 0}
    events = [
        *(
            {"type": "response.output_text.delta", **where, "delta": p, "logprobs": []}
            for p in pieces
        ),
        {
            "type": "response.completed",
            "response": _response([_responses_message("".join(pieces))]),
        },
    ]
    wire.reply_sse([{**e, "sequence_number": n} for n, e in enumerate(events)], done=False)


def _responses_whole(wire: WireServer, text: str) -> None:
    _reply_json(wire, _response([_responses_message(text)]))


def _responses_call(wire: WireServer, arguments: dict[str, Any]) -> None:
    # The lone surrogate raw in the arguments text (after the SDK decoded the body).
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "c1",
        "name": "echo",
        "arguments": json.dumps(arguments, ensure_ascii=False),
        "status": "completed",
    }
    _reply_json(wire, _response([call]))


def _anthropic(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.anthropic import AnthropicConfig

    return closing(AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url, **kw))


def _anthropic_message(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _anthropic_stream(wire: WireServer, pieces: list[str]) -> None:
    start = _anthropic_message([], "end_turn") | {"stop_reason": None}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": p},
                },
            )
            for p in pieces
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "usage": {"output_tokens": 1},
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    wire.reply_sse(events, named=True)


def _anthropic_whole(wire: WireServer, text: str) -> None:
    _reply_json(wire, _anthropic_message([{"type": "text", "text": text}], "end_turn"))


def _anthropic_call(wire: WireServer, arguments: dict[str, Any]) -> None:
    block = {"type": "tool_use", "id": "c1", "name": "echo", "input": arguments}
    _reply_json(wire, _anthropic_message([block], "tool_use"))


def _gemini(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.gemini import GeminiConfig

    return closing(GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, **kw))


def _gemini_answer(part: dict[str, Any], finish: str | None = "STOP") -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-test-001"}


def _gemini_stream(wire: WireServer, pieces: list[str]) -> None:
    answers = [_gemini_answer({"text": p}, None) for p in pieces]
    wire.reply_sse([*answers, _gemini_answer({"text": ""})], done=False)


def _gemini_whole(wire: WireServer, text: str) -> None:
    _reply_json(wire, _gemini_answer({"text": text}))


def _gemini_call(wire: WireServer, arguments: dict[str, Any]) -> None:
    _reply_json(wire, _gemini_answer({"functionCall": {"name": "echo", "args": arguments}}))


def _ollama(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.ollama import OllamaConfig

    return closing(OllamaConfig("llama-test", base_url=wire.url, **kw))


def _ollama_line(message: dict[str, Any], done: bool) -> dict[str, Any]:
    line = {
        "model": "llama-test",
        "created_at": "2025-01-01T00:00:00Z",
        "done": done,
        "message": {"role": "assistant", "content": "", **message},
    }
    return line | ({"done_reason": "stop", "prompt_eval_count": 1, "eval_count": 1} if done else {})


def _ollama_stream(wire: WireServer, pieces: list[str]) -> None:
    lines = [_ollama_line({"content": p}, False) for p in pieces]
    wire.reply_ndjson([*lines, _ollama_line({}, True)])


def _ollama_whole(wire: WireServer, text: str) -> None:
    _reply_json(wire, _ollama_line({"content": text}, True))


def _ollama_call(wire: WireServer, arguments: dict[str, Any]) -> None:
    call = {"function": {"name": "echo", "arguments": arguments}}
    _reply_json(wire, _ollama_line({"tool_calls": [call]}, True))


@dataclass(frozen=True)
class Provider:
    make: Callable[..., ProviderConfig]
    stream: Callable[[WireServer, list[str]], None]
    whole: Callable[[WireServer, str], None]
    call: Callable[[WireServer, dict[str, Any]], None]


PROVIDERS = {
    "openai": Provider(_openai, _openai_stream, _openai_whole, _openai_call),
    "openai-responses": Provider(_responses, _responses_stream, _responses_whole, _responses_call),
    "anthropic": Provider(_anthropic, _anthropic_stream, _anthropic_whole, _anthropic_call),
    "gemini": Provider(_gemini, _gemini_stream, _gemini_whole, _gemini_call),
    "ollama": Provider(_ollama, _ollama_stream, _ollama_whole, _ollama_call),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> Provider:
    return PROVIDERS[request.param]


@pytest.fixture
async def sql_history(tmp_path: Path) -> AsyncIterator[Any]:
    """A durable history in a SQLite file: it refuses text that is not valid Unicode."""
    from baton.backends.sql import SQLHistory

    history = SQLHistory(f"sqlite:///{tmp_path / 'baton.db'}")
    yield history
    await history.aclose()


def _sent(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


# -- the tests ---------------------------------------------------------------------------------


async def test_streamed_text_is_valid_unicode_stored_and_the_conversation_goes_on(
    wire: WireServer, provider: Provider, sql_history: Any
) -> None:
    provider.stream(wire, PIECES)
    provider.stream(wire, ["ok"])
    agent = Agent("a", config=provider.make(wire, max_retries=0), history=sql_history)
    async with agent.run("Hi") as run:
        chunks = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert chunks == CHUNKS
    assert reply.text == VALID
    stored = await sql_history.load(reply.conversation_id)
    assert [e.text for e in stored if isinstance(e, ModelResponse)] == [VALID]
    again = await reply.ask("And?")
    assert again.text == "ok"
    assert VALID in _sent(wire.last.json)  # the answer went back to the model, as valid text


async def test_whole_answer_text_is_valid_unicode_and_the_conversation_goes_on(
    wire: WireServer, provider: Provider, sql_history: Any
) -> None:
    provider.whole(wire, "".join(PIECES) + "\ud800")
    provider.whole(wire, "ok")
    cfg = provider.make(wire, max_retries=0, stream=False)
    reply = await Agent("a", config=cfg, history=sql_history).ask("Hi")
    # A pair sent as two escapes in one JSON string is already one character; the lone ones
    # (and a high surrogate at the very end) are replaced.
    assert reply.text == VALID + "\ufffd"
    again = await reply.ask("And?")
    assert again.text == "ok"
    assert VALID + "\ufffd" in _sent(wire.last.json)
    stored = await sql_history.load(reply.conversation_id)
    assert [e.text for e in stored if isinstance(e, ModelResponse)] == [VALID + "\ufffd", "ok"]


async def test_tool_call_arguments_are_valid_unicode(
    wire: WireServer, provider: Provider, sql_history: Any
) -> None:
    seen: list[str] = []

    @tool
    async def echo(text: str) -> str:
        """Say the text back."""
        seen.append(text)
        return text

    provider.call(wire, LONE_ARGUMENT)
    provider.whole(wire, "done")
    cfg = provider.make(wire, max_retries=0, stream=False)
    reply = await Agent("a", config=cfg, tools=[echo], history=sql_history).ask("Echo")
    assert reply.text == "done"
    assert seen == ["x\ufffd"]
    (call,) = next(e for e in reply.events if isinstance(e, ModelResponse)).tool_calls
    assert json.loads(call.arguments) == {"text": "x\ufffd"}
    stored = await sql_history.load(reply.conversation_id)
    assert [e.content for e in stored if isinstance(e, ToolCallResult)] == ["x\ufffd"]


async def test_reasoning_pairs_are_joined_and_a_trailing_half_is_replaced(
    wire: WireServer,
) -> None:
    wire.reply_sse(
        [
            _chunk({"reasoning_content": "\ud83d"}),
            _chunk({"reasoning_content": "\ude00 so"}),
            _chunk({"content": "hi\ud83d"}),
            _chunk({}, "stop"),
        ]
    )
    agent = Agent("a", config=_openai(wire, max_retries=0))
    async with agent.run("Hi") as run:
        events = [e async for e in run if isinstance(e, TextChunk | ReasoningChunk)]
        reply = await run.result()
    assert [(type(e).__name__, e.text) for e in events] == [
        ("ReasoningChunk", "\U0001f600 so"),
        ("TextChunk", "hi"),
        ("TextChunk", "\ufffd"),  # held back for its other half, which never came
    ]
    assert reply.response.reasoning == "\U0001f600 so"
    assert reply.text == "hi\ufffd"
