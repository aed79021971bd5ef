"""The floor (F): the same steps written by hand with plain asyncio, from ``benchmarks.core``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.core import FloorModel, FloorReply, floor_ask, floor_run
from benchmarks.peers._harness import (
    ARGS_JSON,
    PROMPT,
    Asker,
    Framework,
    Outcome,
    Script,
    Streamer,
    ToolFn,
)


class Floor(Framework):
    name = "floor"
    notes = (
        "benchmarks/core.py's hand-written loop: a coroutine model returning dicts, a list as "
        "history, callbacks as the stream; E hands chunks to the reader via a deque + future.",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        model = FloorModel(*[(script.tool, ARGS_JSON)] * script.rounds, script.answer)
        table = {fn.__name__: fn for fn in tools}
        subscribers: list[Any] = []
        turns = script.rounds + 1

        async def one() -> FloorReply:
            return await floor_ask(model, table, PROMPT, subscribers, turns)

        return Asker(one)

    def outcome(self, result: Any) -> Outcome:
        history = result.history
        return Outcome(
            result.text,
            [m["content"] for m in history if m["role"] == "tool"],
            sum(m["role"] == "assistant" for m in history),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        async def one() -> tuple[int, str]:
            seen: list[int] = []
            reply = await floor_run(pieces, PROMPT, seen)
            return seen[0] - 2, reply.text  # the request and the response around the chunks

        return Streamer(one, lambda r: r)


FRAMEWORK = Floor()
