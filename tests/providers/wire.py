"""A real HTTP server on loopback that speaks whatever wire format a test scripts.

Provider adapters are tested through the official SDKs pointed at this server: each test queues
the answers (JSON, server-sent events, newline-delimited JSON, HTTP errors, a stream cut off
mid-way, a hang) and then asserts on both the reply and the request bodies the SDK sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from baton.models.base import ModelConfig


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class Scripted:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON-able, for plain answers
    chunks: list[bytes] | None = None  # for streamed answers
    media_type: str = "application/json"
    cut_after: int | None = None  # drop the connection after this many chunks
    delay: float = 0.0  # seconds to wait before answering
    raw: bytes | None = None  # a plain answer's body sent as is (not JSON-encoded)
    forever: bytes | None = None  # sent again and again after ``chunks``, until the client goes


class CutStream(Exception):
    """Raised inside a streaming body to make the server drop the connection."""


class WireServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._queue: deque[Scripted] = deque()
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self.port = 0

    # -- scripting ---------------------------------------------------------------------------

    def reply_json(
        self, body: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self._queue.append(Scripted(status=status, headers=headers or {}, body=body))

    def reply_error(self, status: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        self.reply_json(body, status=status, headers=headers)

    def reply_sse(
        self,
        events: Iterable[Any],
        *,
        cut_after: int | None = None,
        done: bool = True,
        named: bool = False,
    ) -> None:
        """Server-sent events. Items are JSON-able payloads (sent as ``data: {...}``), or with
        ``named=True`` ``(event_name, payload)`` pairs (``event: name`` lines, as Anthropic)."""
        chunks: list[bytes] = []
        for item in events:
            if named:
                name, payload = item
                chunks.append(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
            else:
                chunks.append(f"data: {json.dumps(item)}\n\n".encode())
        if done and not named:
            chunks.append(b"data: [DONE]\n\n")
        self._queue.append(
            Scripted(chunks=chunks, media_type="text/event-stream", cut_after=cut_after)
        )

    def reply_ndjson(self, lines: Iterable[Any], *, cut_after: int | None = None) -> None:
        chunks = [(json.dumps(line) + "\n").encode() for line in lines]
        self._queue.append(
            Scripted(chunks=chunks, media_type="application/x-ndjson", cut_after=cut_after)
        )

    def reply_raw(
        self,
        body: bytes,
        *,
        status: int = 200,
        media_type: str = "application/json",
        streamed: bool = False,
    ) -> None:
        """Bytes sent as they are (a body that is not JSON, a garbage line in a stream); with
        ``streamed=True`` they are one chunk of a streamed answer."""
        if streamed:
            self._queue.append(Scripted(status=status, chunks=[body], media_type=media_type))
        else:
            self._queue.append(Scripted(status=status, raw=body, media_type=media_type))

    def reply_chunks(
        self,
        chunks: Iterable[bytes],
        *,
        media_type: str = "text/event-stream",
        headers: dict[str, str] | None = None,
    ) -> None:
        """A streamed answer sent as exactly these pieces of bytes (one HTTP chunk each), to
        cut lines and events at chosen places."""
        self._queue.append(
            Scripted(chunks=list(chunks), media_type=media_type, headers=headers or {})
        )

    def reply_forever(
        self, chunk: bytes, *, first: Iterable[bytes] = (), media_type: str = "text/event-stream"
    ) -> None:
        """A stream that never ends: ``first``, then ``chunk`` (a keep-alive, an empty chunk)
        every few milliseconds until the client disconnects (or a minute has passed)."""
        self._queue.append(Scripted(chunks=list(first), media_type=media_type, forever=chunk))

    def reply_hang(self, seconds: float, body: Any = None) -> None:
        self._queue.append(Scripted(body=body or {}, delay=seconds))

    def reset(self) -> None:
        self.requests.clear()
        self._queue.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server received no request"
        return self.requests[-1]

    @property
    def pending(self) -> int:
        return len(self._queue)

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            Recorded(
                request.method,
                request.url.path,
                request.url.query,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        if not self._queue:
            return JSONResponse(
                {"error": {"message": "the test server has no scripted answer left"}},
                status_code=599,
            )
        answer = self._queue.popleft()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.raw is not None:
            return Response(
                answer.raw,
                status_code=answer.status,
                headers=answer.headers,
                media_type=answer.media_type,
            )
        if answer.chunks is None:
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
        return StreamingResponse(
            self._stream(answer),
            status_code=answer.status,
            headers=answer.headers,
            media_type=answer.media_type,
        )

    async def _stream(self, answer: Scripted) -> AsyncIterator[bytes]:
        assert answer.chunks is not None
        for index, chunk in enumerate(answer.chunks):
            if answer.cut_after is not None and index >= answer.cut_after:
                raise CutStream("connection dropped on purpose by the test")
            yield chunk
            await asyncio.sleep(0)
        if answer.forever is not None:
            for _ in range(6000):  # about a minute at most, should a client never go away
                yield answer.forever
                await asyncio.sleep(0.01)

    def start(self) -> None:
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main() -> None:
                assert self._server is not None
                task = loop.create_task(self._server.serve(sockets=[sock]))
                while not self._server.started:  # noqa: ASYNC110 - uvicorn offers only a flag
                    await asyncio.sleep(0.01)
                started.set()
                await task

            loop.run_until_complete(main())
            loop.close()

        self._thread = threading.Thread(target=serve, name="wire-server", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the wire test server did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)


C = TypeVar("C", bound=ModelConfig)

_OPEN_CONFIGS: list[ModelConfig] = []  # closed after each test by tests/providers/conftest.py


def closing(config: C) -> C:
    """``config``, its SDK client closed at the end of the test, on the test's own event loop
    (not later, by the garbage collector)."""
    _OPEN_CONFIGS.append(config)
    return config


async def close_configs() -> None:
    """Close the configs ``closing`` kept (the conftest calls it after each test)."""
    while _OPEN_CONFIGS:
        await _OPEN_CONFIGS.pop().aclose()
