"""Baton's own share of a streamed chunk, without the transport: each wire's body (the events the
loopback server of ``benchmarks/provider_streams.py`` sends, from ``loopback_streams``) fed
from memory, one piece per event, through ``_sse.read_events`` into the wire's reader
(framing, decoding, the reader's ``take``, the chunk events and a no-op ``emit``).

The end-to-end benchmark counts about 74,000 instructions of HTTP transport per chunk beside
Baton's part, and how the socket's bytes arrive (one chunk per read, or several coalesced when
the client falls behind) moves its counts between runs by a few thousand; here nothing is read
from a socket, so the count is the same run after run and a change to the readers shows as it
is.

    python -m benchmarks.stream_readers                    # µs of CPU per chunk (10,000 chunks)
    python -m benchmarks.stream_readers --instructions     # callgrind: (2,500 - 500) / 2,000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ._callgrind import instructions_of
from .loopback_streams import _MAKERS

FORMATS = ("openai", "responses", "anthropic", "gemini", "ollama")


class _Body:
    """What ``read_events`` reads of a response: its headers and its byte stream."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.headers: dict[str, str] = {}
        self.pieces = pieces

    @property
    def stream(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def _reader(wire: str) -> Callable[[bytes | None, bytes], Any]:
    """The ``take`` of a new reader for ``wire``, as its adapter makes one per answer."""
    if wire == "openai":
        from baton.providers.openai import ChatStream

        return ChatStream("openai").take
    if wire == "responses":
        from baton.providers._responses_answers import StreamedResponse

        return StreamedResponse("openai").take
    if wire == "anthropic":
        from baton.providers._anthropic_answers import AnthropicStream

        return AnthropicStream("anthropic").take
    if wire == "gemini":
        from baton.providers._gemini_answers import GeminiAnswer

        return GeminiAnswer("call_1_", "gemini").take
    from baton.events import ToolCall
    from baton.providers.ollama import _OllamaStream

    return _OllamaStream("ollama", lambda raw: ToolCall("c", "f", "{}")).take


async def _read(wire: str, pieces: list[bytes]) -> int:
    from baton.providers._sse import read_events

    seen = 0

    async def emit(event: Any) -> None:
        nonlocal seen
        seen += 1

    await read_events(_Body(pieces), wire, _reader(wire), emit, lines=wire == "ollama")
    return seen


# Per wire, of the loopback server's answer of 10 chunks: how many events come before the first
# text event and after the last, and how many of those after carry text (Gemini's last chunk).
_FRAME = {"openai": (1, 3, 0), "responses": (4, 3, 0), "anthropic": (3, 3, 0), "gemini": (0, 1, 1),
          "ollama": (0, 1, 0)}  # fmt: skip


def _pieces(wire: str, n: int) -> list[bytes]:
    """The body of an answer of ``n`` chunks, one piece per event: the server's framing events
    around one text event repeated (made once, so that the runs of different sizes differ by
    the reading alone, not by building the events)."""
    events: list[bytes] = _MAKERS[wire][0](10)
    head, tail, tail_text = _FRAME[wire]
    return events[:head] + [events[head]] * (n - tail_text) + events[len(events) - tail :]


async def _child(wire: str, n: int) -> None:
    await _read(wire, _pieces(wire, 10))  # imports and first-answer work, the same every run
    seen = await _read(wire, _pieces(wire, n))
    assert seen == n, f"saw {seen} chunks, expected {n}"


def _instructions(wire: str, n: int, folder: Path) -> int:
    out = folder / f"{wire}.{n}.out"
    return instructions_of("benchmarks.stream_readers", [wire, str(n)], out)


def _callgrind(formats: tuple[str, ...], small: int, large: int) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions counts instructions with valgrind: install it first")
    print(f"Baton's instructions per streamed chunk, no transport (({large:,} - {small:,}) / diff)")
    with tempfile.TemporaryDirectory() as folder:
        for wire in formats:
            low = _instructions(wire, small, Path(folder))
            high = _instructions(wire, large, Path(folder))
            print(f"{wire:<11}{(high - low) / (large - small):>12,.0f}", flush=True)


def _wall(formats: tuple[str, ...], n: int, repeats: int) -> None:
    print(f"Baton's µs of CPU per streamed chunk, no transport ({n:,} chunks, best of {repeats})")
    for wire in formats:
        pieces = _pieces(wire, n)
        asyncio.run(_read(wire, _pieces(wire, 10)))
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            asyncio.run(_read(wire, pieces))
            best = min(best, time.process_time() - start)
        print(f"{wire:<11}{best / n * 1e6:>8.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", help="comma-separated wire formats: " + ",".join(FORMATS))
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--small", type=int, default=500, help="chunks in the short run")
    parser.add_argument("--large", type=int, default=2500, help="chunks in the long run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child[0], int(args.child[1])))
        return
    formats = FORMATS
    if args.only:
        formats = tuple(name.strip() for name in args.only.split(","))
        if not set(formats) <= set(FORMATS):
            parser.error(f"--only takes {', '.join(FORMATS)}")
    if args.instructions:
        _callgrind(formats, args.small, args.large)
    else:
        _wall(formats, 10_000, 5)


if __name__ == "__main__":
    main()
