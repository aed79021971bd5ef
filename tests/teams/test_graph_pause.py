"""A graph's ask pauses durably (a ``Human(..., suspend=True)`` node, a node's agent pausing its
own turn) and ``graph.resume`` goes on with the nodes that were ready and the joins' arrivals as
they stood, with fresh graph and agent objects (as another process would have). A node in a
parallel branch can't pause: a clear error, a valid history, and the next ask works."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.context import Context
from baton.errors import AskSuspended, ConfigError
from baton.events import HumanInputRequest, HumanMessage, ToolCallResult
from baton.teams import Graph, Human, SpeakerSelected, TeamFailed, TeamFinished, TeamState
from baton.testing import ScriptedModel, call


def order(events: Any) -> list[str]:
    return [e.member for e in events if isinstance(e, SpeakerSelected)]


def wants_changes(state: TeamState) -> bool:
    return "change" in state.last_text


def approved(state: TeamState) -> bool:
    return "APPROVED" in state.last_text


def review(history: Any, storage: Any, *drafts: str) -> Graph:
    """draft -> editor (a human who pauses the ask) -> draft again on "change", or publish."""
    draft = Agent("draft", config=ScriptedModel(*drafts))
    flow = Graph(name="review", history=history, storage=storage)
    flow.add("draft", draft).add("editor", Human("editor", suspend=True))
    flow.add("publish", lambda state: f"published: {state.turns[-2].text}")
    flow.edge("draft", "editor")
    flow.edge("editor", "draft", when=wants_changes)
    flow.edge("editor", "publish", when=approved)
    return flow


async def paused_request(flow: Graph, conversation_id: str) -> HumanInputRequest:
    request = await flow.pending_request(conversation_id)
    assert request is not None
    return request


async def test_a_graph_pauses_on_a_human_node_and_resumes_in_another_process(
    valid_history: Any,
) -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended, match=r"'review' waits for 'editor'.*team\.resume") as paused:
        await review(history, storage, "v1").ask("Tea", conversation_id="g1")
    (request,) = paused.value.requests
    assert await paused_request(review(history, storage), "g1") == request

    # Fresh objects: the editor asks for changes, the draft runs again, the editor pauses again.
    with pytest.raises(AskSuspended) as again:
        await review(history, storage, "v2").resume(
            "g1", HumanMessage("change the title", request_id=request.request_id)
        )
    (second,) = again.value.requests
    assert second.request_id != request.request_id

    reply = await review(history, storage).resume(
        "g1", HumanMessage("APPROVED", request_id=second.request_id)
    )
    assert reply.text == "published: v2" and reply.termination == "graph done"
    events = await history.load("g1")
    valid_history(events)
    assert order(events) == ["draft", "editor", "draft", "editor", "publish"]
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    assert not [e for e in events if isinstance(e, TeamFailed)]
    assert await storage.get("baton:team-pause:g1") is None


async def test_a_join_keeps_its_arrivals_across_a_pause(valid_history: Any) -> None:
    """x -> y (a pausing human) and x, y -> merge (a join on both): x's arrival at the join is
    from before the pause, y's from after; the join runs only if the first was kept."""

    def build(history: Any, storage: Any) -> Graph:
        flow = Graph(name="merging", history=history, storage=storage)
        flow.add("x", Agent("x", config=ScriptedModel("x done")))
        flow.add("y", Human("y", suspend=True))
        flow.add("merge", lambda state: "merged " + "+".join(t.member for t in state.turns))
        flow.edge("x", "y")
        flow.join("merge", after=["x", "y"])
        return flow

    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended) as paused:
        await build(history, storage).ask("go", conversation_id="j1")
    saved = await storage.get("baton:team-pause:j1")
    assert saved["pattern"] == {"ready": [], "arrived": {"merge": ["x"]}}
    (request,) = paused.value.requests
    reply = await build(history, storage).resume(
        "j1", HumanMessage("y done", request_id=request.request_id)
    )
    assert reply.text == "merged x+y"
    assert order(await history.load("j1")) == ["x", "y", "merge"]
    valid_history(await history.load("j1"))


@tool
async def ask_boss(context: Context) -> str:
    """Ask the boss whether to go ahead."""
    return await context.input("Go ahead?")


async def test_a_node_agent_pausing_its_own_turn_pauses_the_graph(valid_history: Any) -> None:
    def build(history: Any, storage: Any, *turns: Any) -> Graph:
        asker = Agent(
            "asker", config=ScriptedModel(*turns), tools=[ask_boss], suspend_on_human=True
        )
        flow = Graph(name="flow", history=history, storage=storage)
        flow.add("asker", asker).add("after", lambda state: f"after {state.last_text}")
        flow.edge("asker", "after")
        return flow

    history, storage = MemoryHistory(), MemoryStorage()
    with pytest.raises(AskSuspended) as paused:
        await build(history, storage, call("ask_boss")).ask("go", conversation_id="p1")
    (request,) = paused.value.requests
    assert request.prompt == "Go ahead?"
    reply = await build(history, storage, "going ahead").resume(
        "p1", HumanMessage("yes", request_id=request.request_id)
    )
    assert reply.text == "after going ahead" and reply.termination == "graph done"
    events = await history.load("p1")
    valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["yes"]
    assert order(events) == ["asker", "after"]


async def test_a_node_in_a_parallel_branch_cannot_pause(valid_history: Any) -> None:
    history, storage = MemoryHistory(), MemoryStorage()

    def build() -> Graph:
        flow = Graph(name="fan", history=history, storage=storage)
        flow.add("plan", Agent("plan", config=ScriptedModel("the plan", repeat=True)))
        flow.add("human", Human("human", suspend=True))
        flow.add("writer", Agent("writer", config=ScriptedModel("written", repeat=True)))
        flow.edge("plan", "human").edge("plan", "writer")
        return flow

    with pytest.raises(ConfigError, match="parallel branch"):
        await build().ask("go", conversation_id="f1")
    events = await history.load("f1")
    valid_history(events)
    assert len([e for e in events if isinstance(e, TeamFailed)]) == 1
    assert await storage.get("baton:team-pause:f1") is None
    # The conversation takes the next ask (the human's branch fails the same way again, but
    # nothing of the first ask is left open or paused).
    with pytest.raises(ConfigError, match="parallel branch"):
        await build().ask("again", conversation_id="f1")
    valid_history(await history.load("f1"))


async def test_a_resume_with_a_graph_lacking_the_saved_nodes_is_refused_and_stays_paused(
    valid_history: Any,
) -> None:
    history, storage = MemoryHistory(), MemoryStorage()

    def build(with_x: bool) -> Graph:
        flow = Graph(name="merging", history=history, storage=storage)
        if with_x:
            flow.add("x", Agent("x", config=ScriptedModel("x done")))
        flow.add("y", Human("y", suspend=True))
        flow.add("merge", lambda state: "merged")
        if with_x:
            flow.edge("x", "y")
            flow.join("merge", after=["x", "y"])
        else:
            flow.edge("y", "merge")
        return flow

    with pytest.raises(AskSuspended) as paused:
        await build(True).ask("go", conversation_id="r1")
    (request,) = paused.value.requests
    answer = HumanMessage("y done", request_id=request.request_id)
    with pytest.raises(ConfigError, match=r"\['x'\].*resume with the graph that paused"):
        await build(False).resume("r1", answer)
    reply = await build(True).resume("r1", answer)
    assert reply.text == "merged"
    valid_history(await history.load("r1"))
