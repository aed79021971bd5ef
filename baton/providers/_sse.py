"""Reading a streamed answer straight from the HTTP response the provider's SDK returned:
server-sent events (OpenAI, Anthropic, Gemini's ``alt=sse``) or newline-delimited JSON
(Ollama), each event handed to its wire's reader.

The SDKs turn every streamed event into typed objects (pydantic models, discriminated unions),
which costs 40-80 µs of CPU per chunk; Baton reads a handful of fields per event, so it decodes
the JSON itself, into classes of just those fields (``_wire_chunks``; ``decode`` here, with
``pydantic_core.from_json``, is for what that decoder does not take), and leaves the rest
alone. The SDK still sends the
request (auth, base URL, headers, retries, timeouts) and turns a non-2xx status into its error;
only a 2xx body is read here. A failure of the connection while reading (a drop, a read
timeout) becomes Baton's ``ConnectionLost`` or ``ModelTimeout``; a line that is not JSON a
``MalformedResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from pydantic_core import from_json

from ..events import Event
from ..models.base import EmitChunk
from ._errors import is_transport_error, malformed, raised_by_caller, transport_failure

__all__ = ["Lines", "SSEFrames", "Take", "decode", "drain", "field", "read_events"]

# How long a finished answer's leftover body is read for (see ``drain``).
_DRAIN_SECONDS = 0.1
# Line ends, as the byte values that ``in`` looks for in bytes (see ``SSEFrames.feed``).
_LF = 10
_CR = 13


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


class SSEFrames:
    """Splits a body arriving in pieces into its server-sent events, each ``(event name or
    None, data)`` (both bytes).

    Lines end in LF, CRLF or CR; one UTF-8 byte order mark at the start of the body is
    dropped; ``data`` lines of one event are joined with LF, and a ``data`` line without a colon
    is a data field with an empty value (as the SSE specification reads a field name without
    one); comments, ``id`` and ``retry`` fields are skipped; an event without data is not
    delivered, nor one the stream cut off before its closing blank line. It is plain (not
    asynchronous) code, so that a stream's reader and its answer run in one loop over the
    body's pieces (see ``read_events``)."""

    __slots__ = ("clean", "data", "event", "partial", "skip_lf", "starting")

    def __init__(self) -> None:
        self.event: bytes | None = None
        self.data: list[bytes] = []
        self.partial = b""  # the start of a line whose end has not arrived yet
        self.skip_lf = False  # the last piece ended in CR: an LF starting the next ends no line
        self.starting = True  # the body's first bytes, which may be a byte order mark, are due
        # Nothing is left over from the pieces read so far (none of the above is pending), so
        # the next piece may take ``feed``'s quick way. Not before the first piece (its mark).
        self.clean = False

    def feed(self, chunk: bytes) -> list[tuple[bytes | None, bytes]]:
        """The events that ``chunk`` (the body's next piece) completes."""
        # Per chunk, only slices, ``split`` and byte values tested with ``in`` (a memchr):
        # CPython's ``find``/``startswith`` parse their arguments the slow way, and
        # ``b"\r" in chunk`` first tries the bytes as an integer and swallows the TypeError,
        # each costing more than the rest of the framing.
        if self.clean:
            # The usual case: nothing left over from the last piece, and this one is one whole
            # event, ``data: ...`` or ``event: ...`` then ``data: ...``, with LF or (Gemini's)
            # CRLF line ends, read without a loop and leaving nothing over either.
            if chunk[-2:] == b"\n\n" and _CR not in chunk:
                if chunk[:6] == b"data: ":
                    data = chunk[6:-2]
                    if _LF not in data:
                        return [(None, data)]
                elif chunk[:7] == b"event: ":
                    lines = chunk[:-2].split(b"\n")
                    if len(lines) == 2 and lines[1][:6] == b"data: ":
                        return [(lines[0][6:].strip(), lines[1][6:])]
            elif chunk[-4:] == b"\r\n\r\n" and chunk[:6] == b"data: ":
                data = chunk[6:-4]
                if _LF not in data and _CR not in data:
                    return [(None, data)]
        return self._feed(chunk)

    def _feed(self, chunk: bytes) -> list[tuple[bytes | None, bytes]]:
        """``feed`` for any piece, line by line."""
        if self.starting:
            chunk = _without_bom(self, chunk)
            if not chunk:
                return []
        if self.skip_lf:
            if not chunk:  # an empty piece keeps ``skip_lf``: the CR's LF may still follow
                return []
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self.skip_lf = chunk[-1:] == b"\r"
        if self.partial:
            chunk = self.partial + chunk
        if _CR in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        self.partial = lines.pop()
        events: list[tuple[bytes | None, bytes]] = []
        for line in lines:
            if not line:  # a blank line ends the event
                data_lines = self.data
                if data_lines:
                    joined = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
                    events.append((self.event, joined))
                    self.data = []
                self.event = None
            elif line[:5] == b"data:":
                self.data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[:6] == b"event:":
                self.event = line[6:].strip()
            elif line == b"data":  # a field without a colon has an empty value
                self.data.append(b"")
            elif line == b"event":
                self.event = b""
        self.clean = not (self.partial or self.data or self.skip_lf or self.event is not None)
        return events

    def end(self) -> list[tuple[bytes | None, bytes]]:
        """What the body's end completes: nothing (an event needs its closing blank line)."""
        return []


class Lines:
    """Splits a body arriving in pieces into its non-blank lines (newline-delimited JSON),
    each ``(None, line)`` without its end: the shape of ``SSEFrames``' events. One UTF-8 byte
    order mark at the start of the body is dropped, as ``SSEFrames`` does."""

    __slots__ = ("partial", "starting")

    def __init__(self) -> None:
        self.partial = b""
        self.starting = True

    def feed(self, chunk: bytes) -> list[tuple[bytes | None, bytes]]:
        """The lines that ``chunk`` (the body's next piece) completes."""
        if self.starting:
            chunk = _without_bom(self, chunk)
            if not chunk:
                return []
        if self.partial:
            chunk = self.partial + chunk
        lines = chunk.split(b"\n")
        self.partial = lines.pop()
        if len(lines) == 1:  # the usual case: one whole line per piece
            line = lines[0]
            return [(None, line)] if line.strip() else []
        return [(None, line) for line in lines if line.strip()]

    def end(self) -> list[tuple[bytes | None, bytes]]:
        """The last line, which needs no newline after it."""
        return [(None, self.partial)] if self.partial.strip() else []


_BOM = b"\xef\xbb\xbf"  # U+FEFF in UTF-8


def _without_bom(frames: SSEFrames | Lines, chunk: bytes) -> bytes:
    """The body's first bytes without a leading byte order mark (the SSE specification drops
    one; a JSON decoder would refuse it). While what has arrived could still be the start of
    one (a body cut into pieces of one or two bytes), it waits in ``partial`` and nothing is
    returned; once three bytes have come, ``starting`` is over and every later piece is read
    as it is."""
    head = frames.partial + chunk if frames.partial else chunk
    if len(head) < 3 and head == _BOM[: len(head)]:
        frames.partial = head
        return b""
    frames.starting = False
    frames.partial = b""
    return head[3:] if head[:3] == _BOM else head


Take = Callable[[bytes | None, bytes], Sequence[Event] | None]
"""What a stream's answer does with one event of the body, ``(event name or None, data)``
(a line of newline-delimited JSON has no name): it returns the chunks to stream (``TextChunk``
s, ...), or None when the answer is over (OpenAI's ``[DONE]``)."""


async def read_events(
    response: Any, provider: str, take: Take, emit: EmitChunk, *, lines: bool = False
) -> None:
    """Read ``response``'s body to its end (server-sent events, or newline-delimited JSON with
    ``lines``), handing each event to ``take`` and emitting the chunks it returns.

    One loop over the body's pieces, with the framing, the decoding and the answer's own
    reading as plain calls in it: a streamed chunk costs one step of the HTTP library's
    iterator and no other (each async generator between the body and the answer would cost
    about a thousand instructions per chunk). A failure of the connection while reading (a
    drop, a read timeout) becomes Baton's ``ConnectionLost`` or ``ModelTimeout``. An event
    whose data is empty (``data:`` alone, a keep-alive) is not handed to ``take``. What ``take``
    or ``emit`` raise passes unchanged, what ``emit`` raises marked (``raised_by_caller``) so
    that the provider's own error mapping, around this call, passes it unchanged too."""
    frames = Lines() if lines else SSEFrames()
    body = _body(response)
    following = body.__anext__
    feed = frames.feed
    while True:
        try:  # around the read only: emit's own failures are not the connection's
            chunk = await following()
        except StopAsyncIteration:
            break
        except Exception as exc:
            if is_transport_error(exc):
                raise transport_failure(provider, exc) from exc
            raise
        for name, data in feed(chunk):
            if not data:  # an event with empty data (a keep-alive) has nothing to read
                continue
            chunks = take(name, data)
            if chunks is None:
                await drain(body)
                return
            for piece in chunks:
                try:  # (free in CPython 3.11+ unless it raises)
                    await emit(piece)
                except Exception as exc:
                    raised_by_caller(exc)  # so the provider's mapping leaves it alone
                    raise
    for name, data in frames.end():
        for piece in (take(name, data) or ()) if data else ():
            try:
                await emit(piece)
            except Exception as exc:
                raised_by_caller(exc)
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
