"""AG2 (``ag2``), on its scripted model ``ag2.testing.TestConfig``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ag2 import Agent
from ag2.events import ModelMessageChunk, ModelResponse, ToolCallEvent, ToolResultEvent
from ag2.testing import TestConfig

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


class AG2(Framework):
    name = "ag2"
    distributions = ("ag2",)
    notes = (
        "ag2.Agent with async tools; TestConfig(*turns) replays its script for every ask "
        "(a fresh client per ask); E: TestConfig publishes ModelMessageChunk events mid-turn "
        "(built once, the same events replayed for every ask), read through `agent.run()` + "
        "`run.stream.join()`.",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        turns: list[Any] = [
            ToolCallEvent(script.tool, arguments=ARGS_JSON) for _ in range(script.rounds)
        ]
        agent = Agent("bench", config=TestConfig(*turns, script.answer), tools=list(tools))

        async def one() -> Any:
            return await agent.ask(PROMPT)

        return Asker(one)

    async def outcome(self, result: Any) -> Outcome:
        events = list(await result.history.get_events())
        return Outcome(
            result.body or "",
            [
                "".join(str(getattr(p, "data", getattr(p, "text", p))) for p in e.result.parts)
                for e in events
                if isinstance(e, ToolResultEvent)
            ],
            sum(isinstance(e, ModelResponse) for e in events),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        # The chunk events are built once, here: TestConfig's client publishes the events it
        # was given, unchanged, on every ask.
        config = TestConfig(*[ModelMessageChunk(p) for p in pieces], "".join(pieces))
        agent = Agent("bench", config=config)

        async def one() -> tuple[int, str]:
            seen = 0
            async with agent.run(PROMPT) as run:
                with run.stream.join() as events:
                    run.start()
                    async for event in events:
                        if type(event) is ModelMessageChunk:
                            seen += 1
                        elif type(event) is ModelResponse:
                            break
                reply = await run.result()
            return seen, reply.body or ""

        return Streamer(one, lambda r: r)


FRAMEWORK = AG2()
