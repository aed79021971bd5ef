"""Baton reads streamed answers itself (``baton/providers/_sse.py``): server-sent events and
newline-delimited JSON arrive in pieces cut anywhere (mid-line, between CR and LF, several
events in one piece), with every line ending the formats allow, comments, multi-line data and
compression, and each provider's reply is the same as from one tidy piece per event."""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

import httpx
import pytest
from wire import WireServer, closing

from baton import Agent, tool
from baton.errors import ConnectionLost, MalformedResponse, ModelError, ModelTimeout
from baton.events import Event, HumanMessage, ModelResponse, TextChunk
from baton.history import HistoryView
from baton.models.base import ModelCall, ModelSettings
from baton.providers._errors import transport_failure
from baton.providers._sse import Lines, SSEFrames
from baton.providers.anthropic import AnthropicConfig
from baton.providers.ollama import OllamaConfig
from baton.providers.openai import OpenAIConfig

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("ollama")

PIECES = ["Hel", "lo, ", "wor", "ld! ", "\u00e9\U0001f600"]  # multi-byte UTF-8 too


def _openai(wire: WireServer) -> OpenAIConfig:
    return closing(OpenAIConfig("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1"))


def _chat_body(newline: bytes = b"\n") -> bytes:
    def event(payload: Any) -> bytes:
        return b"data: " + json.dumps(payload).encode() + newline + newline

    head = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-test"}
    chunks = [{**head, "choices": [{"index": 0, "delta": {"content": piece}}]} for piece in PIECES]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(event(c) for c in chunks) + b"data: [DONE]" + newline + newline


def _cut(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def _ask(agent: Agent) -> tuple[str, list[str]]:
    async with agent.run("hi") as run:
        chunks = [event.text async for event in run if isinstance(event, TextChunk)]
        reply = await run.result()
    return reply.text, chunks


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("size", [1, 2, 7, 64, 10_000], ids=lambda size: f"pieces-of-{size}")
async def test_events_cut_anywhere_read_the_same(
    wire: WireServer, newline: bytes, size: int
) -> None:
    wire.reply_chunks(_cut(_chat_body(newline), size))
    text, chunks = await _ask(Agent("a", config=_openai(wire)))
    assert text == "".join(PIECES)
    assert chunks == PIECES  # one chunk per event, whatever the cuts


def _anthropic_body() -> bytes:
    def event(name: str | None, payload: Any) -> bytes:
        head = f"event: {name}\r\n".encode() if name else b""
        return head + b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"

    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
    return b"".join(
        [
            event("message_start", {"type": "message_start", "message": message}),
            event("ping", {"type": "ping"}),
            event("content_block_start", start),
            # unnamed: skipped, as the SDK skips it
            event(None, {"type": "content_block_delta", "index": 0, "delta": {"text": "X"}}),
            *(
                event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                for piece in PIECES
            ),
            event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
            event("message_stop", {"type": "message_stop"}),
        ]
    )


def _anthropic(wire: WireServer) -> AnthropicConfig:
    return closing(AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url))


@pytest.mark.parametrize("size", [1, 5, 10_000], ids=lambda size: f"pieces-of-{size}")
async def test_anthropic_events_cut_anywhere_pings_and_unnamed_events_skipped(
    wire: WireServer, size: int
) -> None:
    wire.reply_chunks(_cut(_anthropic_body(), size))
    text, chunks = await _ask(Agent("a", config=_anthropic(wire)))
    assert (text, chunks) == ("".join(PIECES), PIECES)


async def test_a_crlf_split_between_its_cr_and_lf_ends_one_line(wire: WireServer) -> None:
    # Anthropic's events are named: an LF taken for a second line end would end the event
    # between its name and its data.
    body = _anthropic_body()
    pieces: list[bytes] = []
    start = 0
    for at in range(len(body)):  # cut after every CR
        if body[at : at + 1] == b"\r":
            pieces.append(body[start : at + 1])
            start = at + 1
    pieces.append(body[start:])
    wire.reply_chunks(pieces)
    text, chunks = await _ask(Agent("a", config=_anthropic(wire)))
    assert (text, chunks) == ("".join(PIECES), PIECES)


def _gemini_body() -> bytes:
    """Gemini's stream as Google frames it (CRLF line ends): thought, text, a signed call."""

    def event(parts: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {"candidates": [{"content": {"role": "model", "parts": parts}, **extra}]}
        return b"data: " + json.dumps(body).encode() + b"\r\n\r\n"

    call = {"functionCall": {"name": "look", "args": {"q": "x"}}, "thoughtSignature": "c2ln"}
    return b"".join(
        [
            event([{"text": "Pondering", "thought": True}]),
            *(event([{"text": piece}]) for piece in PIECES),
            event([call], finishReason="STOP"),
        ]
    )


@pytest.mark.parametrize("size", [0, 1, 7, 10_000], ids=lambda size: f"pieces-of-{size}")
async def test_gemini_events_with_crlf_cut_anywhere_read_the_same(
    wire: WireServer, size: int
) -> None:
    pytest.importorskip("google.genai")
    from baton.providers.gemini import GeminiConfig

    body = _gemini_body()
    # size 0: one piece per event, the usual case (read without splitting lines)
    pieces = [e + b"\r\n\r\n" for e in body.split(b"\r\n\r\n")[:-1]] if not size else None
    wire.reply_chunks(pieces or _cut(body, size))
    done = {"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}
    wire.reply_sse([{"candidates": [done]}], done=False)

    @tool
    async def look(q: str) -> str:
        """Look."""
        return q

    config = closing(GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url))
    async with Agent("a", config=config, tools=[look]).run("hi") as run:
        events = [event async for event in run]
        await run.result()
    chunks = [event.text for event in events if isinstance(event, TextChunk)]
    response = next(event for event in events if isinstance(event, ModelResponse))
    assert chunks == [*PIECES, "ok"] and response.text == "".join(PIECES)
    assert response.reasoning == "Pondering"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("look", '{"q":"x"}')]
    assert response.provider_data is not None
    assert response.provider_data["gemini"]["parts"][-1] == {"call": 0, "signature": "c2ln"}


async def test_comments_fields_and_multi_line_data(wire: WireServer) -> None:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "gpt-test"}
    first = json.dumps({**head, "choices": [{"index": 0, "delta": {"content": "A"}}]}, indent=1)
    last = {**head, "choices": [{"index": 0, "delta": {"content": "B"}, "finish_reason": "stop"}]}
    body = (
        b": a comment, then an event whose JSON spans lines\n"
        b"id: 1\nretry: 1000\n"
        + b"".join(b"data: " + line.encode() + b"\n" for line in first.splitlines())
        + b"\n\n\n"  # blank lines with no event: nothing
        + b"data:"  # no space after the colon
        + json.dumps(last).encode()
        + b"\n\ndata: [DONE]\n\n"
    )
    wire.reply_chunks([body])
    text, chunks = await _ask(Agent("a", config=_openai(wire)))
    assert (text, chunks) == ("AB", ["A", "B"])


async def test_a_compressed_stream_is_read(wire: WireServer) -> None:
    wire.reply_chunks(_cut(gzip.compress(_chat_body()), 50), headers={"content-encoding": "gzip"})
    text, chunks = await _ask(Agent("a", config=_openai(wire)))
    assert (text, chunks) == ("".join(PIECES), PIECES)


async def test_an_event_cut_off_before_its_blank_line_is_not_read(wire: WireServer) -> None:
    # The last event's JSON is whole but its closing blank line never came: the answer is
    # incomplete (no finish reason read), not finished.
    body = _chat_body()
    wire.reply_chunks([body[: body.rindex(b"data: {")] + body[body.rindex(b"data: {") :][:-20]])
    with pytest.raises(ConnectionLost):
        await Agent("a", config=_openai(wire)).ask("hi")


async def test_a_line_that_is_not_json_names_it(wire: WireServer) -> None:
    wire.reply_chunks([b'data: {"id": "c1", "choices": [}\n\n'])
    with pytest.raises(MalformedResponse, match="not JSON") as caught:
        await Agent("a", config=_openai(wire)).ask("hi")
    assert '"choices": [}' in str(caught.value)  # where it broke


async def test_ollama_lines_cut_anywhere_and_a_last_line_without_newline(wire: WireServer) -> None:
    lines = [
        json.dumps({"model": "m", "message": {"role": "assistant", "content": p}, "done": False})
        for p in PIECES
    ]
    final = {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True}
    body = ("\n".join(lines) + "\n\n" + json.dumps({**final, "done_reason": "stop"})).encode()
    wire.reply_chunks(_cut(body, 3), media_type="application/x-ndjson")
    config = closing(OllamaConfig("m", base_url=wire.url))
    text, chunks = await _ask(Agent("a", config=config))
    assert (text, chunks) == ("".join(PIECES), PIECES)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [("ReadTimeout", ModelTimeout), ("RemoteProtocolError", ConnectionLost)],
)
def test_a_failed_read_mid_stream_is_a_baton_error(
    failure: str, expected: type[ModelError]
) -> None:
    # What the reader raises when the HTTP library fails while the body streams in.
    httpx2 = pytest.importorskip("httpx2")
    error = transport_failure(
        "openai", getattr(httpx2, failure)("peer went away, key sk-secret1234567890")
    )
    assert type(error) is expected and error.retryable and error.provider == "openai"
    assert "sk-secret1234567890" not in str(error)  # secrets an error echoes are redacted


# A body with every framing case at once: CR, LF and CRLF ends, ``data:`` with and without its
# space, multi-line data, a comment, ``id``/``retry`` fields, a named event, a name without
# data, and a last event the body cuts off before its blank line.
_FRAMED = (
    b"data: a\r\rdata:b\r\n\r\nevent: x\r\ndata: y\r\n\r\n: note\nid: 3\nretry: 5\n"
    b"data: 1\ndata: 2\n\nevent: lone\n\ndata: [DONE]\n\ndata: tail"
)
_FRAMED_EVENTS = [
    (None, b"a"),
    (None, b"b"),
    (b"x", b"y"),
    (None, b"1\n2"),
    (None, b"[DONE]"),
]


def _framed(pieces: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    frames = SSEFrames()
    events = [event for piece in pieces for event in frames.feed(piece)]
    return events + frames.end()


def test_sse_framing_is_the_same_wherever_the_body_is_cut() -> None:
    # Cut at every pair of byte boundaries, the pieces in between sometimes empty: an empty
    # piece between a CR and its LF must not make the LF a second line end.
    body = _FRAMED
    assert _framed([body]) == _FRAMED_EVENTS
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1):
            pieces = [body[:first], body[first:second], body[second:]]
            assert _framed(pieces) == _FRAMED_EVENTS, pieces
    rng = random.Random(7)
    for _ in range(500):
        cuts = sorted(rng.randint(0, len(body)) for _ in range(rng.randint(1, 12)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert _framed(pieces) == _FRAMED_EVENTS, pieces


def test_ndjson_lines_are_the_same_wherever_the_body_is_cut() -> None:
    body = b'{"a":1}\n\n{"b":2}\r\n  \n{"c":3}'
    expected = [b'{"a":1}', b'{"b":2}\r', b'{"c":3}']
    for first in range(len(body) + 1):
        for second in range(first, len(body) + 1):
            lines = Lines()
            pieces = [body[:first], body[first:second], body[second:]]
            read = [line for piece in pieces for _, line in lines.feed(piece)]
            assert read + [line for _, line in lines.end()] == expected, pieces


def _ollama_body() -> bytes:
    line = {"model": "m", "message": {"role": "assistant", "content": "Hi"}, "done": False}
    final = {**line, "message": {"role": "assistant", "content": ""}, "done": True}
    return (json.dumps(line) + "\n" + json.dumps({**final, "done_reason": "stop"})).encode()


@pytest.mark.parametrize(
    "failure", [ConnectionResetError("the sink's socket"), httpx.ReadTimeout("the sink's call")]
)
@pytest.mark.parametrize("wire_kind", ["openai", "anthropic", "ollama"])
async def test_a_failure_of_emit_is_not_the_connections(
    wire: WireServer, wire_kind: str, failure: Exception
) -> None:
    # What the caller's emit raises (a sink whose socket reset, a webhook that timed out) is
    # not the provider's connection dropping: it must not come back as a retryable
    # ConnectionLost or ModelTimeout, which would re-ask the model and stream its chunks again.
    config: Any
    if wire_kind == "openai":
        wire.reply_chunks([_chat_body()])
        config = _openai(wire)
    elif wire_kind == "anthropic":
        wire.reply_chunks([_anthropic_body()])
        config = _anthropic(wire)
    else:
        wire.reply_chunks([_ollama_body()], media_type="application/x-ndjson")
        config = closing(OllamaConfig("m", base_url=wire.url, max_retries=0))
    events: list[Event] = [HumanMessage("hi")]
    call = ModelCall("a", "c", "r", None, HistoryView(events, 1), (), None, ModelSettings())

    async def emit(event: Event) -> None:
        raise failure

    with pytest.raises(type(failure)) as raised:
        await config.create_client().respond(call, emit)
    assert raised.value is failure
