"""Graph: conditional edges and cycles with an exit, fan-out (branches run in parallel, each
seeing the conversation as at the fork, stored in edge order), joins (all / any, which cancels
the branches still running), cancellation and failure mid-fan-out (a valid stored history),
function nodes, validation, JSON by names."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest

from baton import Agent, MemoryHistory, tool
from baton.errors import ConfigError
from baton.events import HumanMessage, RunFailed, RunStarted, ToolCallError, ToolCallResult
from baton.teams import Graph, MaxTurns, RoundRobin, SpeakerSelected, TeamFailed, TeamState
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
    ab, _ = node("ab", "ab")
    # A name alone would be read as its letters: a join on nodes a and b.
    with pytest.raises(ConfigError, match=r"after=\['a', 'b'\], got 'ab'"):
        Graph().add("a", a).add("b", b).add("ab", ab).join("ab", after="ab")
    with pytest.raises(ConfigError, match=r"edge a -> b: when= takes a function of the TeamState"):
        Graph().add("a", a).add("b", b).edge("a", "b", when=lambda: True)  # type: ignore[arg-type,misc]
    with pytest.raises(ConfigError, match=r"function node takes the TeamState.*is not"):
        Graph().add("f", lambda: "x")
    # The team's options are checked when the graph is made, not when first asked.
    with pytest.raises(ConfigError, match="no option max_turn=; did you mean max_turns="):
        Graph(max_turn=5)
    with pytest.raises(ConfigError, match=r"MaxTurns\(30\) can never fire"):
        Graph(termination=MaxTurns(30))


async def test_a_node_no_edge_leads_to_is_refused_before_the_first_ask() -> None:
    # It used to be passed over without a word: the ask ended ("graph done") before it ran.
    a, _ = node("a", "a")
    b, _ = node("b", "b")
    c, c_model = node("c", "c")
    flow = Graph(name="flow").add("a", a).add("b", b).add("c", c).edge("a", "b")
    with pytest.raises(ConfigError, match=r"no edge leads from the start 'a' to 'c'"):
        await flow.ask("go")
    assert c_model.calls_made == 0
    # Started elsewhere, or once an edge (or a join) leads there, it runs.
    flow = Graph(name="flow").add("a", a).add("b", b).add("c", c).edge("a", "b")
    flow.join("c", after=["b"])
    assert order(await flow.ask("go")) == ["a", "b", "c"]


async def test_a_graph_inside_a_team_it_holds_is_refused_not_a_recursion() -> None:
    a, _ = node("a", "a")
    b, _ = node("b", "b")
    flow = Graph(name="flow").add("a", a)
    crew = RoundRobin([flow, b], name="crew", max_turns=3)
    flow.add("crew", crew).edge("a", "crew")  # the graph's node holds the graph
    with pytest.raises(ConfigError, match="node 'crew' holds the graph itself"):
        await crew.ask("go")


async def test_a_function_node_that_returns_nothing_answers_done() -> None:
    log: list[str] = []
    flow = Graph(name="side").add("record", lambda state: log.append(state.task))
    reply = await flow.ask("note this")
    assert log == ["note this"] and reply.text == "(done)"


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


def waiting_node(
    name: str, gate: asyncio.Event, reached: asyncio.Event | None = None
) -> Agent[str]:
    """A node whose turn calls a tool that waits for ``gate`` (``reached`` is set on the way)."""

    @tool(name=f"wait_{name}")
    async def wait() -> str:
        """Wait for the gate."""
        if reached is not None:
            reached.set()
        await gate.wait()
        return "through"

    return Agent(name, config=ScriptedModel(call(f"wait_{name}"), f"{name} done"), tools=[wait])


def blocks(events: list[Any]) -> list[tuple[str, str]]:
    """(kind, member or agent) of each selection and run start, in stored order."""
    return [
        ("selected", e.member) if isinstance(e, SpeakerSelected) else ("run", e.agent)
        for e in events
        if isinstance(e, SpeakerSelected | RunStarted)
    ]


async def test_fanned_out_branches_run_at_the_same_time_and_are_stored_in_edge_order(
    valid_history: Any,
) -> None:
    # Each branch waits for the other to have started: taken one after the other they could
    # never finish. Right finishes first; left is still stored first (the edges' order).
    left_in, right_in = asyncio.Event(), asyncio.Event()
    plan, _ = node("plan", "the plan")
    left = waiting_node("left", right_in, left_in)
    right_gate = asyncio.Event()
    right = waiting_node("right", right_gate, right_in)
    merge, merge_model = node("merge", "merged")
    flow = Graph(name="fan", history=MemoryHistory())
    for name, agent in (("plan", plan), ("left", left), ("right", right), ("merge", merge)):
        flow.add(name, agent)
    flow.edge("plan", "left").edge("plan", "right").join("merge", after=["left", "right"])
    right_gate.set()
    async with asyncio.timeout(30):  # a bound on a failure (a deadlock), not a timer
        reply = await flow.ask("Build")
    assert reply.text == "merged"
    events = list(reply.events)
    valid_history(events)
    assert blocks(events) == [
        ("selected", "plan"),
        ("run", "plan"),
        ("selected", "left"),
        ("run", "left"),
        ("selected", "right"),
        ("run", "right"),
        ("selected", "merge"),
        ("run", "merge"),
    ]
    assert [s.text for s in merge_model.seen()][-4:] == [
        "[left] left done",
        "[right] calls tool wait_right({})",
        "[right] tool wait_right answered: through",
        "[right] right done",
    ]
    assert [t.member for t in reply.turns] == ["plan", "left", "right", "merge"]


async def test_a_join_on_any_cancels_the_branches_still_running(valid_history: Any) -> None:
    a, _ = node("a", "a")
    fast, _ = node("fast", "fast answer")
    reached = asyncio.Event()
    slow = waiting_node("slow", asyncio.Event(), reached)
    end, end_model = node("end", "end")
    flow = Graph(name="race", history=MemoryHistory())
    for name, agent in (("a", a), ("slow", slow), ("fast", fast), ("end", end)):
        flow.add(name, agent)
    flow.edge("a", "slow").edge("a", "fast").join("end", after=["slow", "fast"], wait="any")
    async with asyncio.timeout(30):
        reply = await flow.ask("go")
    assert reply.text == "end" and end_model.calls_made == 1
    assert [t.member for t in reply.turns] == ["a", "fast", "end"]
    events = list(reply.events)
    valid_history(events)
    cut = [e for e in events if isinstance(e, RunFailed)]
    assert [e.error_type for e in cut] == ["Cancelled"]
    outcomes = [e for e in events if isinstance(e, ToolCallError | ToolCallResult)]
    assert len(outcomes) == 1 and isinstance(outcomes[0], ToolCallError)  # answered
    assert [m for k, m in blocks(events) if k == "selected"] == ["a", "slow", "fast", "end"]
    # The cancelled branch's selection keeps its number: each selected turn has its own.
    assert [e.turn for e in events if isinstance(e, SpeakerSelected)] == [0, 1, 2, 3]


async def test_cancelling_the_team_mid_fan_out_leaves_a_valid_history(valid_history: Any) -> None:
    history = MemoryHistory()
    left_in, right_in = asyncio.Event(), asyncio.Event()
    plan, _ = node("plan", "the plan")
    flow = Graph(name="fan", history=history)
    flow.add("plan", plan)
    flow.add("left", waiting_node("left", asyncio.Event(), left_in))
    flow.add("right", waiting_node("right", asyncio.Event(), right_in))
    flow.edge("plan", "left").edge("plan", "right")
    async with flow.run("Build", conversation_id="fan-cancel") as run:
        async with asyncio.timeout(30):
            await left_in.wait()
            await right_in.wait()
        await run.cancel()
    events = await history.load("fan-cancel")
    valid_history(events)
    assert [e.error_type for e in events if isinstance(e, TeamFailed)] == ["Cancelled"]
    assert [e.error_type for e in events if isinstance(e, RunFailed)] == ["Cancelled"] * 2
    assert [m for k, m in blocks(events) if k == "run"] == ["plan", "left", "right"]
    again = Graph(name="fan", history=history).add("plan", node("plan", "again")[0])
    assert (await again.ask("go on", conversation_id="fan-cancel")).text == "again"


async def test_a_failing_branch_fails_the_team_and_cancels_its_siblings(
    valid_history: Any,
) -> None:
    history = MemoryHistory()
    reached = asyncio.Event()

    async def boom(state: TeamState) -> str:
        await reached.wait()  # the sibling is inside its tool
        raise RuntimeError("the branch broke")

    plan, _ = node("plan", "the plan")
    flow = Graph(name="fan", history=history)
    flow.add("plan", plan).add("boom", boom)
    flow.add("slow", waiting_node("slow", asyncio.Event(), reached))
    flow.edge("plan", "boom").edge("plan", "slow")
    with pytest.raises(RuntimeError, match="the branch broke"):
        async with asyncio.timeout(30):
            await flow.ask("Build", conversation_id="fan-fail")
    events = await history.load("fan-fail")
    valid_history(events)
    failed = [e for e in events if isinstance(e, TeamFailed)]
    assert len(failed) == 1 and failed[0].error_type == "RuntimeError"
    runs = {e.run_id: e.error_type for e in events if isinstance(e, RunFailed)}
    assert sorted(runs.values()) == ["Cancelled", "RuntimeError"]


async def test_a_human_node_in_a_branch_is_asked_live_and_stored_with_its_block(
    valid_history: Any,
) -> None:
    from baton.events import HumanInputRequest, HumanMessage
    from baton.stream import MemoryStream
    from baton.teams import Human

    plan, _ = node("plan", "the plan")
    writer, _ = node("writer", "a draft")
    flow = Graph(name="fan")
    flow.add("plan", plan).add("editor", Human("editor")).add("writer", writer)
    flow.edge("plan", "editor").edge("plan", "writer")
    stream = MemoryStream()
    async with flow.run("Build", stream=stream) as run:
        async for event in run:
            if isinstance(event, HumanInputRequest):  # seen while the branch waits
                await stream.send(HumanMessage("Keep it short.", request_id=event.request_id))
        reply = await run.result()
    events = list(reply.events)
    valid_history(events)
    assert sorted(t.text for t in reply.turns[1:]) == ["Keep it short.", "a draft"]
    assert [m for k, m in blocks(events) if k == "selected"] == ["plan", "editor", "writer"]


async def test_a_branch_condition_reads_the_state_as_after_its_own_turn() -> None:
    plan, _ = node("plan", "the plan")
    left, _ = node("left", "LEFT OK")
    right, _ = node("right", "right, no")
    after_left, _ = node("after_left", "checked")
    flow = Graph(name="fan")
    for name, agent in (("plan", plan), ("left", left), ("right", right)):
        flow.add(name, agent)
    flow.add("after_left", after_left).edge("plan", "left").edge("plan", "right")
    flow.edge("left", "after_left", when=lambda s: "LEFT OK" in s.last_text)
    reply = await flow.ask("go")
    assert [t.member for t in reply.turns] == ["plan", "left", "right", "after_left"]


async def test_a_reader_gets_each_branchs_chunks_inside_its_own_block() -> None:
    from baton.events import ModelResponse, TextChunk
    from baton.testing import chunks

    plan, _ = node("plan", "the plan")
    left = Agent("left", config=ScriptedModel(chunks("le", "ft")))
    right = Agent("right", config=ScriptedModel(chunks("ri", "ght")))
    flow = Graph(name="fan").add("plan", plan).add("left", left).add("right", right)
    flow.edge("plan", "left").edge("plan", "right")
    seen: list[str] = []
    async with flow.run("go") as run:
        async for event in run:
            if isinstance(event, RunStarted):
                seen.append(f"start {event.agent}")
            elif isinstance(event, TextChunk):
                seen.append(event.text)
            elif isinstance(event, ModelResponse):
                seen.append(f"answer {event.agent}")
        await run.result()
    assert seen == [
        "start plan",
        "the plan",
        "answer plan",
        "start left",
        "le",
        "ft",
        "answer left",
        "start right",
        "ri",
        "ght",
        "answer right",
    ]


async def fan_out_allocation(size: int, branches: int) -> int:
    """The most a fan-out ask to ``branches`` nodes allocates at once on a team conversation of
    about ``size`` events."""
    history = MemoryHistory()
    flow = Graph(name="fan", history=history)
    flow.add("plan", node("plan", "the plan")[0])
    for n in range(branches):
        flow.add(f"b{n}", node(f"b{n}", f"part {n}")[0]).edge("plan", f"b{n}")
    await flow.ask("first", conversation_id="long")
    await history.append("long", [HumanMessage(f"remark {i}") for i in range(size)])
    await flow.ask("warm", conversation_id="long")  # takes the stored remarks in
    tracemalloc.start()
    try:
        reply = await flow.ask("go", conversation_id="long")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert order(reply)[-branches:] == [f"b{n}" for n in range(branches)]
    return peak


async def test_fanned_out_branches_share_the_conversation_instead_of_copying_it() -> None:
    # Each branch's conversation starts with the team's events as at the fork: shared, so
    # six more branches cost at 5,000 events what they cost at 10 (a copy: 40 kB each).
    more_at = {
        size: await fan_out_allocation(size, 8) - await fan_out_allocation(size, 2)
        for size in (10, 5_000)
    }
    assert more_at[5_000] - more_at[10] < 6 * 5_000 * 8 // 4
