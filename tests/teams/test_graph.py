"""Graph: conditional edges and cycles with an exit, fan-out (each branch sees the conversation
as at the fork), joins (all / any), function nodes, validation, JSON by names."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent
from baton.errors import ConfigError
from baton.events import ToolCallResult
from baton.teams import Graph, MaxTurns, SpeakerSelected, TeamState
from baton.testing import ScriptedModel, call


def node(name: str, *turns: Any) -> tuple[Agent[str], ScriptedModel]:
    model = ScriptedModel(*turns, repeat=True)
    return Agent(name, config=model), model


def order(reply: Any) -> list[str]:
    return [e.member for e in reply.events if isinstance(e, SpeakerSelected)]


def approved(state: TeamState) -> bool:
    return "APPROVED" in state.last_text


def revise(state: TeamState) -> bool:
    return "REVISE" in state.last_text


async def test_a_cycle_runs_until_its_exit_condition(valid_history: Any) -> None:
    draft, _ = node("draft", "v1", "v2")
    review, _ = node("review", "REVISE", "APPROVED")

    def publish(state: TeamState) -> str:
        return f"published after {len(state.turns)} turns"

    flow = Graph(name="article")
    flow.add("draft", draft).add("review", review).add("publish", publish)
    flow.edge("draft", "review")
    flow.edge("review", "draft", when=revise)
    flow.edge("review", "publish", when=approved)
    reply = await flow.ask("Tea")
    assert order(reply) == ["draft", "review", "draft", "review", "publish"]
    assert reply.text == "published after 4 turns"
    assert reply.termination == "graph done"
    valid_history(list(reply.events))


async def test_fan_out_branches_do_not_see_each_other_and_a_join_waits_for_all() -> None:
    plan, _ = node("plan", "the plan")
    left, left_model = node("left", "left part")
    right, right_model = node("right", "right part")
    merge, merge_model = node("merge", "merged")
    flow = Graph(name="fan")
    for name, agent in (("plan", plan), ("left", left), ("right", right), ("merge", merge)):
        flow.add(name, agent)
    flow.edge("plan", "left").edge("plan", "right")
    flow.join("merge", after=["left", "right"])
    reply = await flow.ask("Build")
    assert order(reply) == ["plan", "left", "right", "merge"]
    assert [s.author for s in right_model.seen()] == ["user", "plan"]  # not left's turn
    assert [s.author for s in left_model.seen()] == ["user", "plan"]
    assert [s.author for s in merge_model.seen()] == ["user", "plan", "left", "right"]
    assert reply.text == "merged"


async def test_a_join_on_any_runs_once_on_the_first_arrival() -> None:
    a, _ = node("a", "a")
    b, _ = node("b", "b")
    c, _ = node("c", "c")
    end, end_model = node("end", "end")
    flow = Graph(name="race")
    for name, agent in (("a", a), ("b", b), ("c", c), ("end", end)):
        flow.add(name, agent)
    flow.edge("a", "b").edge("a", "c").join("end", after=["b", "c"], wait="any")
    reply = await flow.ask("go")
    assert order(reply) == ["a", "b", "c", "end"]
    assert end_model.calls_made == 1


async def test_validation_and_limits() -> None:
    a, _ = node("a", "a")
    b, _ = node("b", "b")
    loop = Graph(name="loop").add("a", a).add("b", b).edge("a", "b").edge("b", "a")
    with pytest.raises(ConfigError, match="no way out"):
        await loop.ask("go")
    limited = Graph(name="loop", max_turns=5).add("a", a).add("b", b).edge("a", "b").edge("b", "a")
    reply = await limited.ask("go")
    assert reply.termination == "MaxTurns(5)"
    with pytest.raises(ConfigError, match="no node"):
        Graph().add("a", a).edge("a", "zed")
    with pytest.raises(ConfigError, match="name the node as the agent"):
        Graph().add("other", a)
    with pytest.raises(ConfigError, match="wait="):
        Graph().add("a", a).add("b", b).join("b", after=["a"], wait="some")  # type: ignore[arg-type]


async def test_to_json_by_names_and_back() -> None:
    draft, _ = node("draft", "v1")
    review, _ = node("review", "APPROVED")
    flow = Graph(name="article", termination=MaxTurns(6))
    flow.add("draft", draft).add("review", review).edge("draft", "review")
    flow.edge("review", "draft", when=revise)
    data = flow.to_json()
    assert data == {
        "name": "article",
        "start": "draft",
        "nodes": [{"name": "draft", "kind": "agent"}, {"name": "review", "kind": "agent"}],
        "edges": [
            {"from": "draft", "to": "review", "when": None},
            {"from": "review", "to": "draft", "when": "revise"},
        ],
        "joins": [],
    }
    again = Graph.from_json(
        data, nodes={"draft": draft, "review": review}, conditions={"revise": revise}
    )
    assert again.to_json() == data
    reply = await again.ask("Tea")
    assert order(reply) == ["draft", "review"]
    with pytest.raises(ConfigError, match="no condition"):
        Graph.from_json(data, nodes={"draft": draft, "review": review})


async def test_async_conditions_and_a_human_node() -> None:
    from baton.teams import Human

    draft, _ = node("draft", "v1", "v2")

    async def wants_changes(state: TeamState) -> bool:
        return "change" in state.last_text

    answers = iter(["change the title", "fine"])
    flow = Graph(name="review")
    flow.add("draft", draft).add("editor", Human("editor", handler=lambda r: next(answers)))
    flow.edge("draft", "editor").edge("editor", "draft", when=wants_changes)
    reply = await flow.ask("Tea")
    assert order(reply) == ["draft", "editor", "draft", "editor"]
    assert reply.text == "fine" and reply.termination == "graph done"
    assert flow.to_json()["nodes"][1] == {"name": "editor", "kind": "human"}


def test_a_graph_cannot_pause_on_a_human_node_yet() -> None:
    from baton.teams import Human

    with pytest.raises(ConfigError, match="suspend"):
        Graph().add("editor", Human("editor", suspend=True))


async def test_a_graph_not_yet_asked_is_a_tool_and_has_a_repr() -> None:
    draft, _ = node("draft", "the draft")
    flow = Graph(name="article", description="Writes an article.").add("draft", draft)
    assert repr(flow) == "Graph('article', [draft])"
    tool = flow.as_tool()  # before the graph's first ask (which checks and fixes it)
    assert tool.spec.name == "article" and tool.spec.description == "Writes an article."
    lead = Agent("lead", config=ScriptedModel(call("article", task="tea"), "ok"), tools=[tool])
    reply = await lead.ask("go")
    results = [e for e in reply.events if isinstance(e, ToolCallResult)]
    assert reply.text == "ok" and [r.content for r in results] == ["the draft"]


@pytest.mark.parametrize(
    "data",
    [
        {"nodes": [{"kind": "agent"}]},
        {"nodes": [{"name": "draft"}], "edges": [{"from": "draft"}]},
        {"nodes": [{"name": "draft"}], "joins": [{"name": "draft"}]},
        {"nodes": "draft"},
        ["not", "a", "graph"],
    ],
    ids=[
        "node-without-name",
        "edge-without-target",
        "join-without-after",
        "nodes-not-a-list",
        "a-list",
    ],
)
def test_from_json_refuses_a_malformed_description_with_a_config_error(data: Any) -> None:
    draft, _ = node("draft", "v1")
    with pytest.raises(ConfigError, match=r"Graph\.from_json: .*to_json\(\)"):
        Graph.from_json(data, nodes={"draft": draft})
