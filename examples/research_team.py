"""A research team: a model picks who speaks next among a researcher, a writer and a critic.

What it shows: ``Selector`` (a model chooses each next speaker, as structured output, with a
reason), a member with its own tool, termination conditions that compose
(``TextMention("APPROVED") | MaxTurns(6)``), the team's events (``SpeakerSelected``), and the
``TeamReply``: the last answer, what ended the ask, each turn and the usage per member.

Run it:

    python examples/research_team.py

Offline on Baton's scripted model as written: every member (and the selector) has its own
script. For a real model, change the ``MODEL`` line; all four then use it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from baton import Agent, ModelConfig, tool
from baton.teams import MaxTurns, Selector, SpeakerSelected, TextMention
from baton.testing import ScriptedModel, call

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"


@tool
def search_notes(query: str) -> list[str]:
    """Search the team's research notes.

    Args:
        query: What to look for.
    """
    return [
        "Honeybees visit about 2 million flowers to make 500 g of honey.",
        "A colony's foragers can fly 6 km from the hive.",
    ]


def build_team() -> Selector:
    researcher = Agent(
        "researcher",
        "You find facts with search_notes and report them briefly.",
        config=model("researcher"),
        tools=[search_notes],
        description="finds facts",
    )
    writer = Agent(
        "writer",
        "You write a short, vivid paragraph from the facts found so far.",
        config=model("writer"),
        description="writes the text",
    )
    critic = Agent(
        "critic",
        "You review the writer's text. Say APPROVED when it is good.",
        config=model("critic"),
        description="reviews the text",
    )
    return Selector(
        [researcher, writer, critic],
        model=model("selector"),
        termination=TextMention("APPROVED") | MaxTurns(6),
        name="research-team",
    )


async def main() -> None:
    team = build_team()
    async with team.run("Write two sentences on how hard bees work for honey.") as run:
        async for event in run:
            if isinstance(event, SpeakerSelected):
                print(f"-> {event.member} (turn {event.turn}): {event.reason}")
        reply = await run.result()
    for turn in reply.turns:
        tools = f" [used {', '.join(turn.tools)}]" if turn.tools else ""
        print(f"[{turn.member}]{tools} {turn.text}")
    print(f"ended by: {reply.termination}")
    print(
        "model calls per member:",
        {name: usage.requests for name, usage in reply.usage_by_member.items()},
    )


def model(member: str) -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers of ``member``."""
    if MODEL != "scripted":
        return MODEL

    def choose(speaker: str, reason: str) -> str:
        return json.dumps({"speaker": speaker, "reason": reason})

    scripts: dict[str, list[Any]] = {
        "selector": [
            choose("researcher", "no facts yet"),
            choose("writer", "facts are in; time to write"),
            choose("critic", "a draft needs a review"),
        ],
        "researcher": [
            call("search_notes", query="bees honey effort"),
            "Facts: ~2 million flowers per 500 g of honey; foragers fly up to 6 km.",
        ],
        "writer": [
            "To make a single jar of honey, bees visit some two million flowers. "
            "Their foragers range up to 6 km from the hive on each trip."
        ],
        "critic": ["Clear and accurate. APPROVED"],
    }
    return ScriptedModel(*scripts[member])


if __name__ == "__main__":
    asyncio.run(main())
