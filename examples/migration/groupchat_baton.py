"""The Baton side of the migration guide's group chat: a writer and a critic taking turns
until the critic approves, offline on the scripted model (for a real model, give both agents
``config="openai:gpt-5-mini"``).

Run it: python examples/migration/groupchat_baton.py
"""

import asyncio

from baton import Agent
from baton.teams import MaxTurns, RoundRobin, TextMention
from baton.testing import ScriptedModel

writer = Agent(
    "writer", "You write.", config=ScriptedModel("A haiku about tea.", "A better haiku.")
)
critic = Agent(
    "critic",
    "You review. Say APPROVED when it is good.",
    config=ScriptedModel("Too plain.", "APPROVED"),
)
chat = RoundRobin([writer, critic], termination=TextMention("APPROVED") | MaxTurns(6))


async def main() -> None:
    reply = await chat.ask("Write a haiku about tea.")
    for turn in reply.turns:
        print(f"[{turn.member}] {turn.text}")
    print(reply.termination)


asyncio.run(main())
