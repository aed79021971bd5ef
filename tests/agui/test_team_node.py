"""A team served over AG-UI (``AGUIApp(team)``) against the official client, ``@ag-ui/client``'s
``HttpAgent`` under node: each member's turn is a step named after it, inside the request's one
``RUN_STARTED`` / ``RUN_FINISHED``, and every event passes both official schemas
(``run_client``). A human member pausing the team is an interrupt the client resumes."""

from __future__ import annotations

from typing import Any

from agui_support import run_served, types
from node_peers import NodePeers

from baton import Agent, MemoryHistory, MemoryStorage
from baton.events import HumanInputRequest, HumanMessage, RunFinished, RunStarted
from baton.teams import (
    Graph,
    Handoff,
    Human,
    MaxTurns,
    RoundRobin,
    SpeakerSelected,
    Swarm,
    TeamFinished,
)
from baton.testing import ScriptedModel, call, chunks


def steps(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["type"], e["stepName"]) for e in run["events"] if e["type"].startswith("STEP_")]


def texts_by_speaker(run: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(the message's name, its text) of every text message, in order."""
    names: dict[str, str | None] = {}
    texts: dict[str, str] = {}
    for event in run["events"]:
        if event["type"] == "TEXT_MESSAGE_START":
            names[event["messageId"]] = event.get("name")
            texts[event["messageId"]] = ""
        elif event["type"] == "TEXT_MESSAGE_CONTENT":
            texts[event["messageId"]] += event["delta"]
    return [(names[m], texts[m]) for m in names]


def one_run_pair(run: dict[str, Any]) -> None:
    kinds = types(run)
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED", kinds
    assert kinds.count("RUN_STARTED") == 1 and kinds.count("RUN_FINISHED") == 1, kinds


async def test_a_round_robin_team_turn_by_turn_as_steps(
    node_peers: NodePeers, valid_history: Any
) -> None:
    history = MemoryHistory()
    writer_model = ScriptedModel(chunks("A haiku ", "on tea."), "Coffee haiku.")
    critic_model = ScriptedModel("Too short.", "Fine.")
    crew = RoundRobin(
        [Agent("writer", config=writer_model), Agent("critic", config=critic_model)],
        termination=MaxTurns(2),
        history=history,
        storage=MemoryStorage(),
    )
    report = await run_served(
        node_peers,
        crew,
        {
            "threadId": "t-crew",
            "steps": [{"user": "A haiku about tea."}, {"user": "Now coffee."}],
        },
    )
    first, second = report["runs"]
    for run in (first, second):
        assert run["error"] is None and run["outcome"] == "success"
        one_run_pair(run)
    assert steps(first) == [
        ("STEP_STARTED", "writer"),
        ("STEP_FINISHED", "writer"),
        ("STEP_STARTED", "critic"),
        ("STEP_FINISHED", "critic"),
    ]
    assert texts_by_speaker(first) == [("writer", "A haiku on tea."), ("critic", "Too short.")]
    # The next ask continues the team's conversation: the writer goes on after the critic.
    assert texts_by_speaker(second) == [("writer", "Coffee haiku."), ("critic", "Fine.")]
    assert "Too short." in str(writer_model.seen())
    # The client holds every member's answer as an assistant message of its own.
    assistant = [m["content"] for m in report["messages"] if m["role"] == "assistant"]
    assert assistant == ["A haiku on tea.", "Too short.", "Coffee haiku.", "Fine."]
    stored = await history.load("t-crew")
    valid_history(stored)
    assert sum(isinstance(e, RunStarted) for e in stored) == 4
    assert sum(isinstance(e, RunFinished) for e in stored) == 4
    assert [e.termination for e in stored if isinstance(e, TeamFinished)] == ["MaxTurns(2)"] * 2


async def test_a_swarm_handoff_is_a_tool_call_in_the_first_step(node_peers: NodePeers) -> None:
    triage = Agent("triage", config=ScriptedModel(call("transfer_to_billing", reason="a charge")))
    billing = Agent("billing", config=ScriptedModel("Refunded."))
    history = MemoryHistory()
    desk = Swarm([triage, billing], start="triage", history=history, storage=MemoryStorage())
    report = await run_served(
        node_peers, desk, {"threadId": "t-desk", "steps": [{"user": "I was charged twice."}]}
    )
    [run] = report["runs"]
    assert run["error"] is None and run["outcome"] == "success"
    one_run_pair(run)
    kinds = [k for k in types(run) if not k.startswith("STATE_")]
    # triage's step holds its transfer call and result; billing's step holds the answer
    assert kinds[kinds.index("STEP_STARTED") : kinds.index("STEP_FINISHED") + 1] == [
        "STEP_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "STEP_FINISHED",
    ]
    assert steps(run) == [
        ("STEP_STARTED", "triage"),
        ("STEP_FINISHED", "triage"),
        ("STEP_STARTED", "billing"),
        ("STEP_FINISHED", "billing"),
    ]
    [start] = [e for e in run["events"] if e["type"] == "TOOL_CALL_START"]
    assert start["toolCallName"] == "transfer_to_billing"
    assert texts_by_speaker(run) == [("billing", "Refunded.")]
    stored = await history.load("t-desk")
    assert [(h.source, h.target) for h in stored if isinstance(h, Handoff)] == [
        ("triage", "billing")
    ]
    assert [s.member for s in stored if isinstance(s, SpeakerSelected)] == ["triage", "billing"]


async def test_a_human_member_pauses_the_team_as_an_interrupt(
    node_peers: NodePeers, valid_history: Any
) -> None:
    history = MemoryHistory()
    writer_model = ScriptedModel("Draft one.", "Draft two.")
    crew = RoundRobin(
        [Agent("writer", config=writer_model), Human("editor", suspend=True)],
        termination=MaxTurns(3),
        history=history,
        storage=MemoryStorage(),
    )
    report = await run_served(
        node_peers,
        crew,
        {
            "threadId": "t-edit",
            "steps": [{"user": "Write."}, {"resolve": {"text": "Shorter, please."}}],
        },
    )
    asked, resumed = report["runs"]
    one_run_pair(asked)
    assert asked["outcome"] == "interrupt"
    [interrupt] = asked["interrupts"]
    assert interrupt["reason"] == "input_required"
    assert steps(asked) == [("STEP_STARTED", "writer"), ("STEP_FINISHED", "writer")]
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    assert texts_by_speaker(resumed) == [("writer", "Draft two.")]
    # The editor's answer reached the writer's model as the person's words.
    assert "Shorter, please." in str(writer_model.seen())
    stored = await history.load("t-edit")
    valid_history(stored)
    [request] = [e for e in stored if isinstance(e, HumanInputRequest)]
    assert request.request_id == interrupt["id"]
    answers = [e for e in stored if isinstance(e, HumanMessage) and e.request_id]
    assert [a.text for a in answers] == ["Shorter, please."]
    assert [e.termination for e in stored if isinstance(e, TeamFinished)] == ["MaxTurns(3)"]


async def test_a_graphs_human_node_pauses_it_as_an_interrupt(
    node_peers: NodePeers, valid_history: Any
) -> None:
    """A graph's pause keeps which node comes next: the resumed run takes the edge the
    editor's answer decides (publish), not the graph's start again."""
    history = MemoryHistory()
    flow = Graph(name="review", history=history, storage=MemoryStorage())
    flow.add("draft", Agent("draft", config=ScriptedModel("Draft one.")))
    flow.add("editor", Human("editor", suspend=True))
    flow.add("publish", Agent("publish", config=ScriptedModel("Published.")))
    flow.edge("draft", "editor")
    flow.edge("editor", "publish", when=lambda state: "APPROVED" in state.last_text)
    report = await run_served(
        node_peers,
        flow,
        {"threadId": "t-graph", "steps": [{"user": "Write."}, {"resolve": {"text": "APPROVED"}}]},
    )
    asked, resumed = report["runs"]
    one_run_pair(asked)
    assert asked["outcome"] == "interrupt"
    [interrupt] = asked["interrupts"]
    assert steps(asked) == [("STEP_STARTED", "draft"), ("STEP_FINISHED", "draft")]
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    assert texts_by_speaker(resumed) == [("publish", "Published.")]
    stored = await history.load("t-graph")
    valid_history(stored)
    assert [s.member for s in stored if isinstance(s, SpeakerSelected)] == [
        "draft",
        "editor",
        "publish",
    ]
    assert [e.termination for e in stored if isinstance(e, TeamFinished)] == ["graph done"]
    [request] = [e for e in stored if isinstance(e, HumanInputRequest)]
    assert request.request_id == interrupt["id"]


async def test_a_team_without_history_reads_the_clients_messages(node_peers: NodePeers) -> None:
    first_model = ScriptedModel("Hello from one.", "Again from one.")
    second_model = ScriptedModel("Hello from two.", "Again from two.")
    pair = RoundRobin(
        [Agent("one", config=first_model), Agent("two", config=second_model)],
        termination=MaxTurns(2),
    )
    report = await run_served(
        node_peers, pair, {"threadId": "t-held", "steps": [{"user": "Hi."}, {"user": "More."}]}
    )
    first, second = report["runs"]
    for run in (first, second):
        assert run["error"] is None and run["outcome"] == "success"
        one_run_pair(run)
    assert texts_by_speaker(second) == [("one", "Again from one."), ("two", "Again from two.")]
    # The second request's conversation is the client's: the first exchange is in it.
    seen = str(first_model.seen())
    assert "Hi." in seen and "Hello from two." in seen and "More." in seen
