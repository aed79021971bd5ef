"""The loopback server ``benchmarks/provider_streams.py`` reads from: it speaks each provider's
streaming wire format (OpenAI Chat Completions and Responses, Anthropic Messages and Gemini as
server-sent events, Ollama as newline-delimited JSON) and answers every request with a text
answer of N chunks (N read from the model name, ``bench-N``), each event its own HTTP chunk,
with the framing events each API sends around them. It runs in its own process, so that none of
its work is counted with the client's.

    python -m benchmarks.loopback_streams      # prints its port, then serves until stopped
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["ServerProcess"]


def _piece(i: int) -> str:
    return f"tok{i % 97} "


def _sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _openai_events(n: int) -> list[bytes]:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "bench"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**head, "system_fingerprint": None, "choices": [choice]})

    usage = {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": _piece(i)}) for i in range(n)),
        chunk({}, "stop"),
        _sse({**head, "choices": [], "usage": usage}),
        b"data: [DONE]\n\n",
    ]


def _responses_events(n: int) -> list[bytes]:
    def response(status: str, output: list[Any]) -> dict[str, Any]:
        usage = {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": n,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12 + n,
        }
        return {
            "id": "resp_1",
            "object": "response",
            "created_at": 0,
            "model": "bench",
            "status": status,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage if status == "completed" else None,
        }

    text = "".join(_piece(i) for i in range(n))
    message = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.in_progress", "response": response("in_progress", [])},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            **where,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        *(
            {"type": "response.output_text.delta", **where, "delta": _piece(i), "logprobs": []}
            for i in range(n)
        ),
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {"type": "response.completed", "response": response("completed", [message])},
    ]
    return [
        _sse({**event, "sequence_number": k}, str(event["type"])) for k, event in enumerate(events)
    ]


def _anthropic_events(n: int) -> list[bytes]:
    start = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": _piece(i)},
            }
            for i in range(n)
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
        {"type": "message_stop"},
    ]
    return [_sse(event, str(event["type"])) for event in events]


def _gemini_events(n: int) -> list[bytes]:
    def chunk(i: int) -> bytes:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": _piece(i)}], "role": "model"},
            "index": 0,
        }
        if i == n - 1:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 12, "candidatesTokenCount": i + 1, "totalTokenCount": 13 + i}
        body = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "bench",
            "responseId": "r1",
        }
        return _sse(body).replace(b"\n", b"\r\n")  # as Google sends it

    return [chunk(i) for i in range(n)]


def _ollama_lines(n: int) -> list[bytes]:
    head = {"model": "bench", "created_at": "2025-01-01T00:00:00.000000Z"}

    def line(body: dict[str, Any]) -> bytes:
        return (json.dumps({**head, **body}, separators=(",", ":")) + "\n").encode()

    final = {
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 1,
        "prompt_eval_count": 12,
        "eval_count": n,
    }
    return [
        *(
            line({"message": {"role": "assistant", "content": _piece(i)}, "done": False})
            for i in range(n)
        ),
        line(final),
    ]


_MAKERS: dict[str, tuple[Callable[[int], list[bytes]], str]] = {
    "openai": (_openai_events, "text/event-stream"),
    "responses": (_responses_events, "text/event-stream"),
    "anthropic": (_anthropic_events, "text/event-stream"),
    "gemini": (_gemini_events, "text/event-stream"),
    "ollama": (_ollama_lines, "application/x-ndjson"),
}


def _wire_format(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/messages"):
        return "anthropic"
    if ":streamGenerateContent" in path:
        return "gemini"
    return "ollama"


class _Server:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, int], bytes] = {}

    def answer(self, wire: str, n: int) -> bytes:
        found = self.answers.get((wire, n))
        if found is None:
            make, media_type = _MAKERS[wire]
            body = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in make(n))
            head = (
                "HTTP/1.1 200 OK\r\n"
                f"content-type: {media_type}\r\n"
                "transfer-encoding: chunked\r\n\r\n"
            ).encode()
            found = self.answers[(wire, n)] = head + body + b"0\r\n\r\n"
        return found

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                found = re.search(rb"bench-(\d+)", path.encode() + body)
                n = int(found.group(1)) if found else 10
                writer.write(self.answer(_wire_format(path.split("?")[0]), n))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve() -> None:
    server = _Server()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with listening:
        await listening.serve_forever()


class ServerProcess:
    """The loopback server, started in a child process."""

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loopback_streams"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


if __name__ == "__main__":
    asyncio.run(_serve())
