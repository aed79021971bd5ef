"""Tool-call arguments stream as ``ToolCallDelta`` events (issue 11, point 8), through the
official SDKs against the loopback wire server: OpenAI Chat, OpenAI Responses and Anthropic
emit each new piece of a call's arguments while it forms; the complete ``ToolCall`` in the
``ModelResponse`` is unchanged. Gemini and Ollama send a call whole, and emit no deltas."""

from __future__ import annotations

import json
from typing import Any

from wire import WireServer, closing

from baton import Agent, tool
from baton.events import Event, ModelResponse, ToolCallDelta, ToolCallResult
from baton.providers._config import ProviderConfig


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def watch(agent: Agent, prompt: str) -> tuple[list[Event], Any]:
    """Every event of one ask, as delivered live, and its reply."""
    async with agent.run(prompt) as run:
        events = [e async for e in run]
        reply = await run.result()
    return events, reply


def joined(events: list[Event]) -> dict[str, str]:
    """The streamed argument pieces joined per call id."""
    out: dict[str, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            out[e.call_id] = out.get(e.call_id, "") + e.delta
    return out


def deltas(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.call_id, e.name, e.delta) for e in events if isinstance(e, ToolCallDelta)]


# -- OpenAI Chat Completions -------------------------------------------------------------------


def _openai(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai import OpenAIConfig

    return closing(
        OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, **kw)
    )


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _chat_call_start(index: int, call_id: str, name: str) -> dict[str, Any]:
    function = {"name": name, "arguments": ""}
    call = {"index": index, "id": call_id, "type": "function", "function": function}
    return _chunk({"tool_calls": [call]})


def _chat_args(index: int, piece: str) -> dict[str, Any]:
    return _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})


async def test_openai_chat_streams_interleaved_argument_pieces_per_call(wire: WireServer) -> None:
    wire.reply_sse(
        [
            _chat_call_start(0, "c1", "add"),
            _chat_call_start(1, "c2", "mul"),
            _chat_args(0, '{"a": 2,'),
            _chat_args(1, '{"a": 4,'),
            _chat_args(1, ' "b": 5}'),
            _chat_args(0, ' "b": 3}'),
            _chunk({}, finish="tool_calls"),
        ]
    )
    wire.reply_sse([_chunk({"content": "5 and 20"}), _chunk({}, finish="stop")])
    agent = Agent("a", config=_openai(wire), tools=[add, mul])
    events, reply = await watch(agent, "compute")
    # The empty opening pieces (id and name only) are not deltas; every real piece is, in order.
    assert deltas(events) == [
        ("c1", "add", '{"a": 2,'),
        ("c2", "mul", '{"a": 4,'),
        ("c2", "mul", ' "b": 5}'),
        ("c1", "add", ' "b": 3}'),
    ]
    first = next(e for e in events if isinstance(e, ModelResponse))
    assert joined(events) == {c.id: c.arguments for c in first.tool_calls}
    # Every delta of a call arrives before the answer that completes it.
    last_delta = max(i for i, e in enumerate(events) if isinstance(e, ToolCallDelta))
    assert last_delta < events.index(first)
    results = {e.name: e.value for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {"add": 5, "mul": 20}
    # Live only: the conversation's history keeps the complete calls, not the pieces.
    assert not any(isinstance(e, ToolCallDelta) for e in reply.events)


async def test_openai_chat_without_streaming_emits_no_deltas(wire: WireServer) -> None:
    function = {"name": "add", "arguments": json.dumps({"a": 2, "b": 3})}
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": function}],
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    wire.reply_json(body)
    wire.reply_json(
        body
        | {"choices": [body["choices"][0] | {"message": {"role": "assistant", "content": "5"}}]}
    )
    events, reply = await watch(Agent("a", config=_openai(wire, stream=False), tools=[add]), "go")
    assert deltas(events) == []
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]


async def test_argument_pieces_are_valid_unicode_a_split_pair_joined(wire: WireServer) -> None:
    # An emoji's surrogate pair split across two argument pieces (escaped on the wire).
    wire.reply_sse(
        [
            _chat_call_start(0, "c1", "echo"),
            _chat_args(0, '{"text": "\ud83d'),
            _chat_args(0, '\ude00!"}'),
            _chunk({}, finish="tool_calls"),
        ]
    )
    wire.reply_sse([_chunk({"content": "done"}), _chunk({}, finish="stop")])

    @tool
    async def echo(text: str) -> str:
        """Say the text back."""
        return text

    events, reply = await watch(Agent("a", config=_openai(wire), tools=[echo]), "go")
    assert deltas(events) == [("c1", "echo", '{"text": "'), ("c1", "echo", '\U0001f600!"}')]
    assert json.loads(joined(events)["c1"]) == {"text": "\U0001f600!"}
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == ["\U0001f600!"]


# -- OpenAI Responses --------------------------------------------------------------------------


def _responses(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, **kw
        )
    )


def _response(output: list[dict[str, Any]], status: str = "completed") -> dict[str, Any]:
    usage = {
        "input_tokens": 1,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 2,
    }
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage if status == "completed" else None,
    }


def _fn_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def _responses_stream(wire: WireServer, events: list[dict[str, Any]]) -> None:
    numbered = [{**e, "sequence_number": n} for n, e in enumerate(events)]
    wire.reply_sse(numbered, done=False)


def _added(index: int, call_id: str, name: str) -> dict[str, Any]:
    item = {**_fn_call(call_id, name, ""), "status": "in_progress"}
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def _args_delta(index: int, call_id: str, piece: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.delta",
        "item_id": f"fc_{call_id}",
        "output_index": index,
        "delta": piece,
    }


def _args_done(index: int, call_id: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "item_id": f"fc_{call_id}",
        "output_index": index,
        "arguments": arguments,
    }


def _text_answer(wire: WireServer, text: str) -> None:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    item = {"type": "message", "id": "m", "role": "assistant", "status": "completed"}
    _responses_stream(
        wire, [{"type": "response.completed", "response": _response([item | {"content": content}])}]
    )


async def test_openai_responses_streams_argument_pieces(wire: WireServer) -> None:
    _responses_stream(
        wire,
        [
            {"type": "response.created", "response": _response([], "in_progress")},
            _added(0, "c1", "add"),
            _added(1, "c2", "mul"),
            _args_delta(0, "c1", '{"a": 2,'),
            _args_delta(1, "c2", '{"a": 4, "b": 5}'),
            _args_delta(0, "c1", ' "b": 3}'),
            _args_done(0, "c1", '{"a": 2, "b": 3}'),
            _args_done(1, "c2", '{"a": 4, "b": 5}'),
            {
                "type": "response.completed",
                "response": _response(
                    [
                        _fn_call("c1", "add", '{"a": 2, "b": 3}'),
                        _fn_call("c2", "mul", '{"a": 4, "b": 5}'),
                    ]
                ),
            },
        ],
    )
    _text_answer(wire, "5 and 20")
    events, reply = await watch(Agent("a", config=_responses(wire), tools=[add, mul]), "go")
    assert deltas(events) == [
        ("c1", "add", '{"a": 2,'),
        ("c2", "mul", '{"a": 4, "b": 5}'),
        ("c1", "add", ' "b": 3}'),
    ]
    first = next(e for e in events if isinstance(e, ModelResponse))
    assert joined(events) == {c.id: c.arguments for c in first.tool_calls}
    assert reply.text == "5 and 20"


async def test_openai_responses_arguments_only_in_done_still_stream_as_one_piece(
    wire: WireServer,
) -> None:
    # A server that sends no argument deltas, only the finished arguments: the pieces a UI
    # joined must still add up to the call.
    _responses_stream(
        wire,
        [
            _added(0, "c1", "add"),
            _args_delta(0, "c1", '{"a": 2'),
            _args_done(0, "c1", '{"a": 2, "b": 3}'),
            {
                "type": "response.completed",
                "response": _response([_fn_call("c1", "add", '{"a": 2, "b": 3}')]),
            },
        ],
    )
    _text_answer(wire, "5")
    events, reply = await watch(Agent("a", config=_responses(wire), tools=[add]), "go")
    assert deltas(events) == [("c1", "add", '{"a": 2'), ("c1", "add", ', "b": 3}')]
    assert joined(events) == {"c1": '{"a": 2, "b": 3}'}
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]


# -- Anthropic ---------------------------------------------------------------------------------


def _anthropic(wire: WireServer, **kw: Any) -> ProviderConfig:
    from baton.providers.anthropic import AnthropicConfig

    return closing(
        AnthropicConfig(
            "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, **kw
        )
    )


def _message(content: list[dict[str, Any]], stop: str | None) -> dict[str, Any]:
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


def _anthropic_stream(
    wire: WireServer, blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]], stop: str
) -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": _message([], None)})
    ]
    for index, (start, pieces) in enumerate(blocks):
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        for piece in pieces:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": piece},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "usage": {"output_tokens": 1},
                "delta": {"stop_reason": stop, "stop_sequence": None},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    wire.reply_sse(events, named=True)


def _json_piece(piece: str) -> dict[str, Any]:
    return {"type": "input_json_delta", "partial_json": piece}


async def test_anthropic_streams_tool_use_input_pieces(wire: WireServer) -> None:
    _anthropic_stream(
        wire,
        [
            ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Adding."}]),
            (
                {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {}},
                [_json_piece(""), _json_piece('{"a": 2'), _json_piece(', "b": 3}')],
            ),
        ],
        "tool_use",
    )
    _anthropic_stream(
        wire, [({"type": "text", "text": ""}, [{"type": "text_delta", "text": "5"}])], "end_turn"
    )
    events, reply = await watch(Agent("a", config=_anthropic(wire), tools=[add]), "go")
    assert deltas(events) == [("toolu_1", "add", '{"a": 2'), ("toolu_1", "add", ', "b": 3}')]
    first = next(e for e in events if isinstance(e, ModelResponse))
    assert joined(events) == {c.id: c.arguments for c in first.tool_calls}
    assert reply.text == "5"
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]


# -- Gemini and Ollama: calls arrive whole -----------------------------------------------------


async def test_gemini_sends_calls_whole_and_emits_no_deltas(wire: WireServer) -> None:
    from baton.providers.gemini import GeminiConfig

    def answer(part: dict[str, Any]) -> dict[str, Any]:
        candidate = {"content": {"role": "model", "parts": [part]}, "index": 0}
        return {"candidates": [candidate | {"finishReason": "STOP"}], "modelVersion": "g"}

    call = {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}
    wire.reply_sse([answer(call)], done=False)
    wire.reply_sse([answer({"text": "5"})], done=False)
    cfg = closing(GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, max_retries=0))
    events, reply = await watch(Agent("a", config=cfg, tools=[add]), "go")
    assert deltas(events) == []
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]


async def test_ollama_sends_calls_whole_and_emits_no_deltas(wire: WireServer) -> None:
    from baton.providers.ollama import OllamaConfig

    def line(message: dict[str, Any], done: bool) -> dict[str, Any]:
        out = {
            "model": "llama-test",
            "created_at": "2025-01-01T00:00:00Z",
            "done": done,
            "message": {"role": "assistant", "content": "", **message},
        }
        return out | ({"done_reason": "stop"} if done else {})

    call = {"function": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    wire.reply_ndjson([line({"tool_calls": [call]}, False), line({}, True)])
    wire.reply_ndjson([line({"content": "5"}, False), line({}, True)])
    cfg = closing(OllamaConfig("llama-test", base_url=wire.url, max_retries=0))
    events, reply = await watch(Agent("a", config=cfg, tools=[add]), "go")
    assert deltas(events) == []
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [5]
