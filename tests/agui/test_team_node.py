"""A team served over AG-UI (``AGUIApp(team)``) against the official client, ``@ag-ui/client``'s
``HttpAgent`` under node: each member's turn is a step named after it, inside the request's one
``RUN_STARTED`` / ``RUN_FINISHED``, and every event passes both official schemas
(``run_client``). A human member pausing the team, or a member's approval, is an interrupt the
client resumes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agui_support import TOKEN, run_client, run_served, types
from node_peers import NodePeers

from baton import Agent, Context, MemoryHistory, MemoryStorage, tool
from baton.events import (
    ApprovalRequest,
    HumanInputRequest,
    HumanMessage,
    RunFinished,
    RunStarted,
    ToolCallResult,
)
from baton.teams import (
    Graph,
    Handoff,
    Human,
    MaxTurns,
    Member,
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


@tool(requires_approval=True)
def deploy(env: str) -> str:
    """Deploy to an environment."""
    return f"deployed to {env}"


# A resumed release: ops's turn goes on in its step, then the reviewer's.
OPS_THEN_REVIEWER = [
    ("STEP_STARTED", "ops"),
    ("STEP_FINISHED", "ops"),
    ("STEP_STARTED", "reviewer"),
    ("STEP_FINISHED", "reviewer"),
]


def release_crew(
    ops_turns: Any, history: Any, storage: Any = None, tools: Sequence[Any] = (deploy,)
) -> RoundRobin:
    """ops deploys (a call requiring approval, by default) then reports; a reviewer answers
    after it."""
    return RoundRobin(
        [
            Agent("ops", config=ScriptedModel(*ops_turns), tools=list(tools)),
            Agent("reviewer", config=ScriptedModel("Looks good.")),
        ],
        termination=MaxTurns(2),
        history=history,
        storage=storage or MemoryStorage(),
    )


async def release_answered(
    node_peers: NodePeers, thread: str, answer: dict[str, Any], final: str
) -> tuple[dict[str, Any], MemoryHistory]:
    """The release asked (paused on ops's approval) and answered with ``answer``."""
    history = MemoryHistory()
    report = await run_served(
        node_peers,
        release_crew((call("deploy", env="prod"), final), history),
        {"threadId": thread, "steps": [{"user": "Ship it."}, answer]},
    )
    return report, history


async def test_a_members_approval_is_an_interrupt_the_client_answers(
    node_peers: NodePeers, valid_history: Any
) -> None:
    answer = {"resolve": {"approved": True, "reason": "go"}}
    report, history = await release_answered(node_peers, "t-release", answer, "Deployed to prod.")
    asked, resumed = report["runs"]
    one_run_pair(asked)
    assert asked["error"] is None and asked["outcome"] == "interrupt"
    [interrupt] = asked["interrupts"]
    [call_id] = [e["toolCallId"] for e in asked["events"] if e["type"] == "TOOL_CALL_END"]
    assert interrupt["reason"] == "tool_call" and interrupt["toolCallId"] == call_id
    assert interrupt["responseSchema"]["required"] == ["approved"]
    assert steps(asked) == [("STEP_STARTED", "ops"), ("STEP_FINISHED", "ops")]
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    [result] = [e for e in resumed["events"] if e["type"] == "TOOL_CALL_RESULT"]
    assert (result["toolCallId"], result["content"]) == (call_id, "deployed to prod")
    assert steps(resumed) == OPS_THEN_REVIEWER  # ops's run began in the first request
    assert texts_by_speaker(resumed) == [("ops", "Deployed to prod."), ("reviewer", "Looks good.")]
    stored = await history.load("t-release")
    valid_history(stored)
    [request] = [e for e in stored if isinstance(e, ApprovalRequest)]
    assert request.request_id == interrupt["id"]
    assert HumanMessage("go", request.request_id, approved=True) in stored
    # The call ran once, after the approval; the team's ask then went on to the next member.
    assert [r.content for r in stored if isinstance(r, ToolCallResult)] == ["deployed to prod"]
    assert [s.member for s in stored if isinstance(s, SpeakerSelected)] == ["ops", "reviewer"]
    assert [e.termination for e in stored if isinstance(e, TeamFinished)] == ["MaxTurns(2)"]


async def test_a_cancelled_member_approval_denies_the_call(
    node_peers: NodePeers, valid_history: Any
) -> None:
    report, history = await release_answered(
        node_peers, "t-denied", {"cancel": True}, "Not deployed."
    )
    resumed = report["runs"][1]
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    [result] = [e for e in resumed["events"] if e["type"] == "TOOL_CALL_RESULT"]
    assert result["content"].startswith("The user denied this call")
    assert texts_by_speaker(resumed) == [("ops", "Not deployed."), ("reviewer", "Looks good.")]
    valid_history(await history.load("t-denied"))


async def test_an_approval_inside_a_member_team_resumes_in_the_agents_step(
    node_peers: NodePeers, valid_history: Any
) -> None:
    """ops, a member of a member team under another name (``Member(..., name=)``): its step is
    named after the agent before the pause and after it, and closes once."""
    history = MemoryHistory()
    ops = Agent(
        "ops", config=ScriptedModel(call("deploy", env="prod"), "Deployed."), tools=[deploy]
    )
    inner = RoundRobin([Member(ops, name="deployer")], name="inner", termination=MaxTurns(1))
    crew = RoundRobin(
        [inner, Agent("reviewer", config=ScriptedModel("Looks good."))],
        termination=MaxTurns(2),
        history=history,
        storage=MemoryStorage(),
    )
    report = await run_served(
        node_peers,
        crew,
        {"threadId": "t-nested", "steps": [{"user": "Ship it."}, {"resolve": {"approved": True}}]},
    )
    asked, resumed = report["runs"]
    assert asked["outcome"] == "interrupt"
    assert steps(asked) == [("STEP_STARTED", "ops"), ("STEP_FINISHED", "ops")]
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    assert steps(resumed) == OPS_THEN_REVIEWER
    assert texts_by_speaker(resumed) == [("ops", "Deployed."), ("reviewer", "Looks good.")]
    stored = await history.load("t-nested")
    valid_history(stored)
    assert [r.content for r in stored if isinstance(r, ToolCallResult)] == ["deployed to prod"]


async def test_a_members_question_is_an_interrupt_the_client_answers(
    node_peers: NodePeers, valid_history: Any
) -> None:
    """A member's tool asks a question (``context.input``): the served team's ask pauses (the
    app asks with ``suspend_on_human=True``), and the client's text reaches the tool."""

    @tool
    async def release(context: Context) -> str:
        """Release a service."""
        name = await context.input("Which service?")
        return f"released {name}"

    history = MemoryHistory()
    report = await run_served(
        node_peers,
        release_crew((call("release"), "Released."), history, tools=[release]),
        {"threadId": "t-asked", "steps": [{"user": "Release."}, {"resolve": {"text": "billing"}}]},
    )
    asked, resumed = report["runs"]
    assert asked["outcome"] == "interrupt"
    [interrupt] = asked["interrupts"]
    assert interrupt["reason"] == "input_required" and interrupt["message"] == "Which service?"
    one_run_pair(resumed)
    assert resumed["error"] is None and resumed["outcome"] == "success"
    assert steps(resumed) == OPS_THEN_REVIEWER
    [result] = [e for e in resumed["events"] if e["type"] == "TOOL_CALL_RESULT"]
    assert result["content"] == "released billing"
    stored = await history.load("t-asked")
    valid_history(stored)
    [request] = [e for e in stored if isinstance(e, HumanInputRequest)]
    assert request.request_id == interrupt["id"]


async def test_a_member_approval_asked_in_one_replica_is_answered_in_another(
    node_peers: NodePeers, tmp_path: Path, valid_history: Any
) -> None:
    """Two AGUIApps of the same team share SQLite: the member's approval pauses the ask in the
    first; the client's answer, sent to the second, runs the call there and the team goes on."""
    from serving import uvicorn_serving

    from baton.agui import AGUIApp
    from baton.backends.sql import SQLHistory, SQLStorage

    url_db = f"sqlite:///{tmp_path / 'teams.db'}"
    async with (
        SQLHistory(url_db) as history_a,
        SQLStorage(url_db) as storage_a,
        SQLHistory(url_db) as history_b,
        SQLStorage(url_db) as storage_b,
    ):
        # each replica's scripted models play the turns that replica serves
        first = release_crew((call("deploy", env="prod"),), history_a, storage_a)
        second = release_crew(("Deployed to prod.",), history_b, storage_b)
        async with (
            uvicorn_serving(AGUIApp(first, token=TOKEN)) as url_a,
            uvicorn_serving(AGUIApp(second, token=TOKEN)) as url_b,
        ):
            report = await run_client(
                node_peers,
                {
                    "url": url_a,
                    "threadId": "t-replicas",
                    "steps": [
                        {"user": "Ship it."},
                        {"url": url_b},
                        {"resolve": {"approved": True}},
                    ],
                },
            )
        asked, resumed = report["runs"]
        assert (asked["outcome"], resumed["error"], resumed["outcome"]) == (
            "interrupt",
            None,
            "success",
        )
        assert texts_by_speaker(resumed) == [
            ("ops", "Deployed to prod."),
            ("reviewer", "Looks good."),
        ]
        stored = await history_a.load("t-replicas")
        valid_history(stored)
        assert [r.content for r in stored if isinstance(r, ToolCallResult)] == ["deployed to prod"]
        assert [e.termination for e in stored if isinstance(e, TeamFinished)] == ["MaxTurns(2)"]


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
