"""Edges of the streamed-answer readers (``baton/providers/_sse.py``) the SSE specification
settles: a byte order mark at the start of a body, a field name with no colon, events with
empty data; and where a Chat Completions stream may end (after its finish reason, before the
usage chunk Baton asks for)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent
from baton.errors import ConnectionLost
from baton.events import TextChunk
from baton.providers._sse import Lines, SSEFrames
from baton.providers.ollama import OllamaConfig
from baton.providers.openai import OpenAIConfig

pytest.importorskip("openai")
pytest.importorskip("ollama")

BOM = "\ufeff".encode()


def _openai(wire: WireServer) -> OpenAIConfig:
    return closing(
        OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0)
    )


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [choice]}


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-test", "choices": [],
            "usage": usage}  # fmt: skip


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _cuts(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _framed(frames: SSEFrames | Lines, pieces: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    return [event for piece in pieces for event in frames.feed(piece)] + frames.end()


# -- a byte order mark at the start of the body -----------------------------------------------


def test_a_leading_byte_order_mark_is_dropped_wherever_the_body_is_cut() -> None:
    body = BOM + b"data: a\n\nevent: x\ndata: b\n\n"
    expected = [(None, b"a"), (b"x", b"b")]
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1):
            pieces = [body[:first], body[first:second], body[second:]]
            assert _framed(SSEFrames(), pieces) == expected, pieces


def test_only_the_first_byte_order_mark_is_dropped() -> None:
    # A second one is part of the first line (the field name is then not ``data``).
    assert _framed(SSEFrames(), [BOM + BOM + b"data: a\n\ndata: b\n\n"]) == [(None, b"b")]
    # One later in the body is data.
    assert _framed(SSEFrames(), [b"data: a\n\ndata: " + BOM + b"\n\n"]) == [
        (None, b"a"),
        (None, BOM),
    ]


def test_ndjson_lines_drop_a_leading_byte_order_mark_too() -> None:
    body = BOM + b'{"a":1}\n{"b":2}'
    for cut in range(len(body) + 1):
        pieces = [body[:cut], body[cut:]]
        assert _framed(Lines(), pieces) == [(None, b'{"a":1}'), (None, b'{"b":2}')], pieces


@pytest.mark.parametrize("size", [1, 2, 5, 10_000], ids=lambda size: f"pieces-of-{size}")
async def test_an_openai_stream_with_a_byte_order_mark_reads_as_without(
    wire: WireServer, size: int
) -> None:
    body = BOM + b"".join(
        [
            _event(_chunk({"content": "Hel"})),
            _event(_chunk({"content": "lo"}, "stop")),
            _event(_usage(3, 2)),
            b"data: [DONE]\n\n",
        ]
    )
    wire.reply_chunks(_cuts(body, size))
    reply = await Agent("a", config=_openai(wire)).ask("hi")
    assert reply.text == "Hello"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (3, 2)


async def test_an_ollama_stream_with_a_byte_order_mark_reads_as_without(wire: WireServer) -> None:
    line = {"model": "m", "message": {"role": "assistant", "content": "Hi"}, "done": False}
    final = {**line, "message": {"role": "assistant", "content": ""}, "done": True}
    body = BOM + (json.dumps(line) + "\n" + json.dumps({**final, "done_reason": "stop"})).encode()
    wire.reply_chunks(_cuts(body, 2), media_type="application/x-ndjson")
    reply = await Agent("a", config=closing(OllamaConfig("m", base_url=wire.url))).ask("hi")
    assert reply.text == "Hi"


# -- a field name without a colon --------------------------------------------------------------


def test_a_bare_data_line_is_a_data_field_with_an_empty_value() -> None:
    # "If the line is not empty but does not contain a colon, process the field using the
    # whole line as the field name, and the empty string as the field value."
    assert _framed(SSEFrames(), [b"data\n\n"]) == [(None, b"")]
    assert _framed(SSEFrames(), [b"data\ndata: x\n\n"]) == [(None, b"\nx")]
    assert _framed(SSEFrames(), [b"data: x\ndata\n\n"]) == [(None, b"x\n")]
    assert _framed(SSEFrames(), [b"data\r\n\r\n"]) == [(None, b"")]
    # ``event`` alone names the event with the empty string; other bare names are ignored.
    assert _framed(SSEFrames(), [b"event\ndata: y\n\n"]) == [(b"", b"y")]
    assert _framed(SSEFrames(), [b"id\nretry\ndatum\ndata: z\n\n"]) == [(None, b"z")]


async def test_events_with_empty_data_are_skipped_by_the_readers(wire: WireServer) -> None:
    # ``data`` alone and ``data:`` alone make events whose data is empty (keep-alives some
    # servers send): nothing to read, not a line that is not JSON.
    body = b"".join(
        [
            b"data\n\n",
            _event(_chunk({"content": "Hel"})),
            b"data:\n\n",
            b"data: \n\n",
            _event(_chunk({"content": "lo"}, "stop")),
            _event(_usage(3, 2)),
            b"data: [DONE]\n\n",
        ]
    )
    wire.reply_chunks([body])
    async with Agent("a", config=_openai(wire)).run("hi") as run:
        chunks = [event.text async for event in run if isinstance(event, TextChunk)]
        reply = await run.result()
    assert (reply.text, chunks) == ("Hello", ["Hel", "lo"])


# -- where a Chat Completions stream may end ---------------------------------------------------


async def test_a_chat_stream_ended_after_its_finish_reason_without_usage_or_done_is_finished(
    wire: WireServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The body ends cleanly after the finish chunk, with no usage and no [DONE], as some
    # compatible servers end every stream: the answer is whole (the openai SDK takes it so
    # too); its token counts are unknown, and a warning says so.
    wire.reply_sse([_chunk({"content": "Hel"}), _chunk({"content": "lo"}, "stop")], done=False)
    with caplog.at_level(logging.WARNING, logger="baton.providers"):
        reply = await Agent("a", config=_openai(wire)).ask("hi")
    assert (reply.text, reply.usage.input_tokens, reply.usage.requests) == ("Hello", 0, 1)
    assert any("neither usage nor [DONE]" in r.getMessage() for r in caplog.records)


async def test_a_chat_stream_dropped_after_its_finish_reason_is_connection_lost(
    wire: WireServer,
) -> None:
    # The connection drops (no end of the chunked body) after the finish chunk.
    wire.reply_sse(
        [_chunk({"content": "Hel"}), _chunk({"content": "lo"}, "stop"), _usage(3, 2)], cut_after=2
    )
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=_openai(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_a_chat_stream_with_its_usage_but_no_done_is_finished(wire: WireServer) -> None:
    wire.reply_sse([_chunk({"content": "Hi"}, "stop"), _usage(7, 1)], done=False)
    reply = await Agent("a", config=_openai(wire)).ask("hi")
    assert (reply.text, reply.usage.input_tokens, reply.usage.output_tokens) == ("Hi", 7, 1)


async def test_a_chat_stream_ended_by_done_without_usage_is_finished(wire: WireServer) -> None:
    # A compatible server that ignores ``stream_options`` ends its answer with [DONE] and
    # sends no usage: the answer is whole, with no token counts to report.
    wire.reply_sse([_chunk({"content": "Hi"}, "stop")])
    reply = await Agent("a", config=_openai(wire)).ask("hi")
    assert (reply.text, reply.usage.input_tokens, reply.usage.requests) == ("Hi", 0, 1)
