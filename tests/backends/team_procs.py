"""Child processes of the team crash and resume tests (see test_team_resume.py):
``python team_procs.py COMMAND STORE ARGS...``."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from run_procs import stores

from baton import Agent, tool
from baton.context import Context
from baton.events import HumanMessage
from baton.teams import Graph, Human, MaxTurns, RoundRobin, TeamState, TextMention
from baton.testing import ScriptedModel


def editorial(history: Any, storage: Any, *writer_turns: str) -> RoundRobin:
    """A writer and a human editor who pauses the team (the same team in every process)."""
    return RoundRobin(
        [Agent("writer", config=ScriptedModel(*writer_turns)), Human("editor", suspend=True)],
        name="editorial",
        termination=TextMention("APPROVED") | MaxTurns(6),
        history=history,
        storage=storage,
    )


def review_graph(history: Any, storage: Any, *drafts: str) -> Graph:
    """draft -> editor (a human who pauses the graph) -> draft again on "change", or publish,
    which waits (a join) for both the draft and the editor."""

    def changes(state: TeamState) -> bool:
        return "change" in state.last_text

    flow = Graph(name="review", history=history, storage=storage)
    flow.add("draft", Agent("draft", config=ScriptedModel(*drafts)))
    flow.add("editor", Human("editor", suspend=True))
    flow.add("publish", lambda state: f"published after {len(state.turns)} turns")
    flow.edge("draft", "editor").edge("editor", "draft", when=changes)
    flow.join("publish", after=["draft", "editor"])
    return flow


def nested_desk(history: Any, storage: Any, *writer_turns: str) -> RoundRobin:
    """A writer, then a review team (no store of its own) whose human pauses the whole ask."""
    review = RoundRobin(
        [Agent("reviewer", config=ScriptedModel("tighten it")), Human("boss", suspend=True)],
        name="review",
        termination=MaxTurns(2),
    )
    return RoundRobin(
        [Agent("writer", config=ScriptedModel(*writer_turns)), review],
        name="desk",
        termination=MaxTurns(3),
        history=history,
        storage=storage,
    )


@tool
async def ask_boss(context: Context) -> str:
    """Ask the boss whether to go ahead."""
    return await context.input("Go ahead?")


def asking_crew(history: Any, storage: Any, *writer_turns: Any) -> RoundRobin:
    """A writer who pauses its own turn for an answer (suspend_on_human), and an editor."""
    writer = Agent(
        "writer",
        config=ScriptedModel(*writer_turns),
        tools=[ask_boss],
        suspend_on_human=True,
    )
    editor = Agent("editor", config=ScriptedModel("looks good", repeat=True))
    return RoundRobin(
        [writer, editor], name="asking", termination=MaxTurns(2), history=history, storage=storage
    )


async def resume_writer(spec: str, cid: str, request_id: str, answer: str) -> None:
    async with stores(spec) as (history, storage):
        reply = await asking_crew(history, storage, "draft, as the boss said").resume(
            cid, HumanMessage(answer, request_id=request_id)
        )
        print(f"{reply.termination} {reply.turns[0].text} / {reply.text}", flush=True)


async def die_in_turn(spec: str, cid: str) -> None:
    async def stuck(_: object) -> str:
        print("in turn", flush=True)
        await asyncio.sleep(3600)
        return "never"

    async with stores(spec) as (history, storage):
        team = RoundRobin(
            [
                Agent("a", config=ScriptedModel("a says")),
                Agent("b", config=ScriptedModel(stuck)),
            ],
            name="crew",
            termination=MaxTurns(4),
            history=history,
            storage=storage,
        )
        await team.ask("work", conversation_id=cid)


async def resume_editor(spec: str, cid: str, request_id: str, answer: str) -> None:
    async with stores(spec) as (history, storage):
        reply = await editorial(history, storage).resume(
            cid, HumanMessage(answer, request_id=request_id)
        )
        print(f"{reply.termination} {reply.text}", flush=True)


async def resume_review(spec: str, cid: str, request_id: str, answer: str) -> None:
    async with stores(spec) as (history, storage):
        reply = await review_graph(history, storage).resume(
            cid, HumanMessage(answer, request_id=request_id)
        )
        print(f"{reply.termination} {reply.text}", flush=True)


async def resume_nested(spec: str, cid: str, request_id: str, answer: str) -> None:
    async with stores(spec) as (history, storage):
        reply = await nested_desk(history, storage, "draft 2").resume(
            cid, HumanMessage(answer, request_id=request_id)
        )
        print(" / ".join(f"{t.member}: {t.text}" for t in reply.turns), flush=True)


COMMANDS = {
    "die-in-turn": die_in_turn,
    "resume-editor": resume_editor,
    "resume-nested": resume_nested,
    "resume-review": resume_review,
    "resume-writer": resume_writer,
}

if __name__ == "__main__":
    command, spec, *args = sys.argv[1:]
    asyncio.run(COMMANDS[command](spec, *args))
