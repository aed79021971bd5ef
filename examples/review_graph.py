"""A review graph with a person in the loop, paused between processes (SQLite).

What it shows: a ``Graph`` (writer -> editor -> writer again, or publish) whose editor is a
person (``Human("editor", suspend=True)``): the ask pauses durably at the editor's turn
(``AskSuspended``; the process may exit); a later process finds what waits
(``graph.paused(conversation_id)``) and answers it with ``graph.resume(...)``; the edge the
answer decides is taken: back to the writer for changes (who rewrites, and the graph pauses
at the editor again) or on to publishing.

Needs: ``pip install 'baton-agents[sqlite]'``.

Run it three times (each run answers the editor's request the one before left):

    python examples/review_graph.py /tmp/baton-review.db
    python examples/review_graph.py /tmp/baton-review.db "Make it about green tea."
    python examples/review_graph.py /tmp/baton-review.db APPROVED

Offline on Baton's scripted model as written. For a real model, change the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from baton import Agent, ModelConfig
from baton.backends.sql import open_backend
from baton.errors import AskSuspended
from baton.events import HumanMessage, ModelResponse
from baton.models.base import ModelCall
from baton.teams import Graph, Human, TeamState
from baton.testing import ScriptedModel

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "openai:gpt-5-mini"

CONVERSATION = "essay-1"


def wants_changes(state: TeamState) -> bool:
    return state.last_text != "APPROVED"  # the editor's note: what to change


def approved(state: TeamState) -> bool:
    return state.last_text == "APPROVED"


def publish(state: TeamState) -> str:
    draft = next(t.text for t in reversed(state.turns) if t.member == "writer")
    return f"Published: {draft}"


def build(history: Any, storage: Any) -> Graph:
    """The same graph in every process: a pause is resumed by the graph that paused."""
    writer = Agent("writer", "You write haiku and revise them as the editor asks.", config=model())
    flow = Graph(name="review", history=history, storage=storage)
    flow.add("writer", writer).add("editor", Human("editor", suspend=True))
    flow.add("publish", publish)
    flow.edge("writer", "editor")
    flow.edge("editor", "writer", when=wants_changes)
    flow.edge("editor", "publish", when=approved)
    return flow


async def main(db_path: Path, answer: str | None) -> None:
    async with open_backend(f"sqlite:///{db_path}") as db:
        flow = build(db.history, db.storage)
        paused = await flow.paused(CONVERSATION)
        try:
            if paused is None:
                print("asking the graph for a haiku")
                reply = await flow.ask("Write a haiku about tea.", conversation_id=CONVERSATION)
            elif answer is None:
                print(f"waiting for the {paused.member}; run me with an answer")
                return
            else:
                request = paused.requests[0]
                print(f"the {paused.member} answers: {answer}")
                reply = await flow.resume(
                    CONVERSATION, HumanMessage(answer, request_id=request.request_id)
                )
        except AskSuspended:
            events = await db.history.load(CONVERSATION)
            drafts = [
                e.text for e in events if isinstance(e, ModelResponse) and e.agent == "writer"
            ]
            print(f"draft: {drafts[-1]}")
            print("paused: the editor's turn; the process can exit now. Run me with an answer.")
            return
        print(f"{reply.termination}: {reply.text}")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" a writer that answers from the conversation (so
    that each process can play its part): a first draft, then a revision per editor's note."""
    if MODEL != "scripted":
        return MODEL

    def write(call: ModelCall) -> str:
        notes = [
            e.text
            for e in call.messages
            if isinstance(e, HumanMessage) and e.request_id is None and e.text
        ]
        if not notes:
            return "Steam over the cup / the kettle hums to itself / leaves unfold slowly"
        return "Green leaves in the pot / a pale jade steam rises / the first sip is spring"

    return ScriptedModel(write, repeat=True)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python examples/review_graph.py PATH.db [ANSWER]  (run it three times)")
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) == 3 else None))
