"""Baton, on its own scripted model (``baton.testing.ScriptedModel``), as in ``benchmarks.core``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton import Agent, Tool
from baton.events import ModelResponse, TextChunk, ToolCallResult
from baton.testing import call, chunks
from benchmarks.core import forget, scripted
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


class BatonFramework(Framework):
    name = "baton"
    distributions = ("baton-agents",)
    notes = (
        "Agent with async tools; ScriptedModel(per_conversation=True, repeat=True, record=False) "
        "as in benchmarks/core.py; E reads `agent.run(...)`'s events.",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        model = scripted(*[call(script.tool, arguments=ARGS_JSON)] * script.rounds, script.answer)
        agent: Agent[str] = Agent(
            "bench",
            config=model,
            tools=[Tool(fn, name=fn.__name__) for fn in tools],
            max_turns=script.rounds + 1,
        )
        ask = agent.ask

        async def one() -> Any:
            return await ask(PROMPT)

        return Asker(one, forget(model))

    def outcome(self, result: Any) -> Outcome:
        events = result.events
        return Outcome(
            result.text,
            [e.content for e in events if isinstance(e, ToolCallResult)],
            sum(isinstance(e, ModelResponse) for e in events),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        model = scripted(chunks(*pieces))
        agent: Agent[str] = Agent("bench", config=model)

        async def one() -> Any:
            seen = 0
            async with agent.run(PROMPT) as run:
                async for event in run:
                    if type(event) is TextChunk:
                        seen += 1
                reply = await run.result()
            return seen, reply.text

        return Streamer(one, lambda r: r, forget(model))


FRAMEWORK = BatonFramework()
