"""Reading a streamed answer straight from the HTTP response the provider's SDK returned:
server-sent events (OpenAI, Anthropic, Gemini's ``alt=sse``) or newline-delimited JSON
(Ollama), each event's JSON decoded into plain dicts.

The SDKs turn every streamed event into typed objects (pydantic models, discriminated unions),
which costs 40-80 µs of CPU per chunk; Baton reads a handful of fields per event, so it decodes
the JSON itself (``pydantic_core.from_json``) and leaves the rest alone. The SDK still sends the
request (auth, base URL, headers, retries, timeouts) and turns a non-2xx status into its error;
only a 2xx body is read here. A failure of the connection while reading (a drop, a read
timeout) becomes Baton's ``ConnectionLost`` or ``ModelTimeout``; a line that is not JSON a
``MalformedResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic_core import from_json

from ._errors import is_transport_error, malformed, transport_failure

__all__ = ["decode", "drain", "field", "ndjson_lines", "sse_events"]

# How long a finished answer's leftover body is read for (see ``drain``).
_DRAIN_SECONDS = 0.1


def _body(response: Any) -> AsyncIterator[bytes]:
    """The response's body, chunk by chunk. Uncompressed (the usual case for a stream), it is
    read straight from the response's ``stream`` (the transport's bytes, its errors already the
    HTTP library's), without ``aiter_raw``'s per-chunk bookkeeping, which Baton does not use;
    compressed, through ``aiter_bytes``, which decompresses."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        stream: AsyncIterator[bytes] = response.stream.__aiter__()
        return stream
    chunks: AsyncIterator[bytes] = response.aiter_bytes()
    return chunks


async def sse_events(response: Any, provider: str) -> AsyncIterator[tuple[str | None, bytes]]:
    """The ``(event name or None, data)`` of each server-sent event in ``response``'s body.

    Lines end in LF, CRLF or CR; ``data`` lines of one event are joined with LF; comments,
    ``id`` and ``retry`` fields are skipped; an event without data is not delivered, nor one the
    stream cut off before its closing blank line."""
    event: str | None = None
    data: list[bytes] = []
    partial = b""  # the start of a line whose end has not arrived yet
    skip_lf = False  # the last chunk ended in CR: an LF starting the next one ends no line
    try:
        async for chunk in _body(response):
            if skip_lf and chunk[:1] == b"\n":
                chunk = chunk[1:]
            skip_lf = chunk[-1:] == b"\r"
            if not partial and not data and event is None and chunk[-2:] == b"\n\n":
                # The usual case: one whole event per piece, ``data: ...`` or ``event: ...``
                # then ``data: ...``, read without splitting it into lines.
                end = len(chunk) - 2
                first = chunk.find(b"\n")
                if b"\r" not in chunk:
                    if first == end and chunk.startswith(b"data: "):
                        yield None, chunk[6:end]
                        continue
                    if (
                        chunk.startswith(b"event: ")
                        and chunk.find(b"\n", first + 1) == end
                        and chunk.startswith(b"data: ", first + 1)
                    ):
                        yield chunk[7:first].decode("utf-8", "replace"), chunk[first + 7 : end]
                        continue
            elif (
                not partial
                and not data
                and event is None
                and chunk[-4:] == b"\r\n\r\n"
                and chunk.startswith(b"data: ")
            ):
                # The same with CRLF line ends (Gemini's): one ``data: ...`` line, no other
                # line end before the closing blank line.
                end = len(chunk) - 4
                if chunk.find(b"\r") == end and chunk.find(b"\n") == end + 1:
                    yield None, chunk[6:end]
                    continue
            if partial:
                chunk = partial + chunk
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = chunk.split(b"\n")
            partial = lines.pop()
            for line in lines:
                if not line:  # a blank line ends the event
                    if data:
                        yield event, data[0] if len(data) == 1 else b"\n".join(data)
                        data = []
                    event = None
                elif line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    event = line[6:].strip().decode("utf-8", "replace")
    except Exception as exc:
        if is_transport_error(exc):
            raise transport_failure(provider, exc) from exc
        raise


async def ndjson_lines(response: Any, provider: str) -> AsyncIterator[bytes]:
    """Each non-blank line of ``response``'s body (newline-delimited JSON), without its end."""
    partial = b""
    try:
        async for chunk in _body(response):
            if partial:
                chunk = partial + chunk
            lines = chunk.split(b"\n")
            partial = lines.pop()
            for line in lines:
                if line.strip():
                    yield line
        if partial.strip():  # the last line needs no newline after it
            yield partial
    except Exception as exc:
        if is_transport_error(exc):
            raise transport_failure(provider, exc) from exc
        raise


async def drain(events: AsyncIterator[Any]) -> None:
    """Read what follows the end of an answer (e.g. after ``[DONE]``), briefly and ignoring
    any failure, so that the connection finishes its response and goes back to the pool."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in events:
                pass


def decode(raw: bytes, provider: str) -> Any:
    """One event's JSON as plain Python values, or a ``MalformedResponse`` quoting the line."""
    try:
        return from_json(raw)
    except ValueError:
        pass
    # pydantic-core refuses a lone surrogate escape (``"\\ud83d"``), which providers do send
    # (half an emoji at a chunk's end): the standard library takes it, and the loop later
    # turns it into valid text. Anything it refuses too is not JSON.
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise malformed(provider, exc) from None


def field(value: Any, name: str) -> Any:
    """``value``'s ``name`` (None when absent): a key of an event decoded here, or an attribute
    of the SDK object a whole (not streamed) answer is parsed into."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)
