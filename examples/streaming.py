"""Streaming to the terminal: print an answer as it is written, and tool calls as they run.

What it shows: ``async with agent.run(...) as run`` and ``async for event in run``, the typed
events of one ask (``TextChunk`` while the model streams, ``ToolCall`` when a tool starts,
``ToolCallResult``, ``UsageReport``), then ``await run.result()`` for the ``Reply``.

Run it:

    python examples/streaming.py

Offline on Baton's scripted model as written (it streams its canned answer in pieces). For a
real model, change the ``MODEL`` line (e.g. ``MODEL = "anthropic:claude-haiku-4-5"``).
"""

from __future__ import annotations

import asyncio
import sys

from baton import Agent, ModelConfig, TextChunk, ToolCall, ToolCallResult, tool
from baton.events import ReasoningChunk
from baton.testing import ScriptedModel, call, chunks, reasoning

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"

DIM = "\033[2m{}\033[0m" if sys.stdout.isatty() else "{}"  # reasoning in grey on a terminal


@tool
async def moon_phase(date: str) -> str:
    """The moon's phase on a date.

    Args:
        date: An ISO date, e.g. "2026-12-24".
    """
    await asyncio.sleep(0.05)  # stands in for a network call
    return "waxing gibbous, 87% illuminated"


async def main() -> None:
    agent = Agent(
        "sky", "You answer questions about the night sky.", config=model(), tools=[moon_phase]
    )
    async with agent.run("Will the moon be bright on Christmas Eve 2026?") as run:
        async for event in run:
            if isinstance(event, ReasoningChunk):
                print(DIM.format(event.text), end="", flush=True)
            elif isinstance(event, TextChunk):
                print(event.text, end="", flush=True)
            elif isinstance(event, ToolCall):
                print(f"\n[calling {event.name} {event.arguments}]", flush=True)
            elif isinstance(event, ToolCallResult):
                print(f"[{event.name} returned: {event.content}]", flush=True)
        reply = await run.result()
    print(f"\n\n{reply.usage.requests} model calls, {reply.usage.total_tokens} tokens")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below, streamed in pieces."""
    if MODEL != "scripted":
        return MODEL
    answer = "Yes: on 24 December 2026 the moon is waxing gibbous, 87% lit, so the night is bright."
    return ScriptedModel(
        chunks(
            reasoning("I need the phase for 2026-12-24. "),
            "Let me check the moon phase.",
            call("moon_phase", date="2026-12-24"),
        ),
        chunks(*[answer[i : i + 8] for i in range(0, len(answer), 8)]),
    )


if __name__ == "__main__":
    asyncio.run(main())
