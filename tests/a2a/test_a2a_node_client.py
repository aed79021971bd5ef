"""Baton's A2AApp against the official JavaScript client, ``@a2a-js/sdk`` (run under node 22 by
``client_peer.mjs``), over JSON-RPC and HTTP+JSON: an answer, a streamed answer in the same
context, an approval round trip and a cancel; and a served team's pauses answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from a2a_support import EDITOR_ASKS, TOKEN, editorial, make_agent, publications
from node_peers import NodePeers
from serving import uvicorn_serving

from baton.a2a import A2AApp
from baton.events import HumanMessage, ModelRequest, RunFailed, ToolCallResult
from baton.teams import TeamFinished
from baton.testing import call, chunks

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "a2a_client.mjs"  # the set-up both scripts start with
SCRIPT = HERE / "client_peer.mjs"
TEAM_SCRIPT = HERE / "team_peer.mjs"


async def run_peer(node_peers: NodePeers, peer: dict[str, Any]) -> dict[str, Any]:
    """Run the node client on ``peer``; its report."""
    return await node_peers.run_script(SCRIPT, prelude=CLIENT, BATON_PEER=json.dumps(peer))


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_the_javascript_client(
    node_peers: NodePeers, binding: str, valid_history: object
) -> None:
    agent = make_agent(
        "hello from baton",
        chunks("one ", "two ", "three"),
        call("delete", path="a.txt"),
        "deleted it",
        call("wait", gate=f"node-{binding}"),
    )
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base:
        peer = {"url": base, "token": TOKEN, "binding": binding}
        report = await run_peer(node_peers, peer)
    completed, input_required, canceled = 3, 6, 5
    assert report["first"] == {"state": completed, "text": "hello from baton"}
    assert report["streamed"]["pieces"] == ["one ", "two ", "three"]
    assert report["streamed"]["kinds"][0] == "task" and report["streamed"]["state"] == completed
    assert report["asked"]["state"] == input_required and "'delete'" in report["asked"]["text"]
    # A streamed answer to an input-required task starts with a status update.
    assert report["approved"]["first"] == "statusUpdate"
    assert report["approved"]["state"] == completed
    assert report["approved"]["text"] == "deleted it"
    assert report["cancelled"] == report["afterCancel"] == canceled
    # Four tasks, one context: everything went into one conversation.
    keys = await agent.storage.keys("baton:a2a:task:")  # type: ignore[union-attr]
    assert len(keys) == 4
    stored = await agent.history.load(
        (await agent.storage.get(keys[0]))["contextId"]  # type: ignore[union-attr, index]
    )
    valid_history(stored)  # type: ignore[operator]
    assert [e.text for e in stored if isinstance(e, ModelRequest)] == [
        "hi",
        "and now?",
        "delete a.txt",
        "wait",
    ]
    assert isinstance(stored[-1], RunFailed) and stored[-1].error_type == "Cancelled"


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_the_javascript_client_answers_a_served_teams_pauses(
    node_peers: NodePeers, binding: str, valid_history: object
) -> None:
    """A team's ask pauses twice in one task: for a ``Human(suspend=True)`` member (any text
    answers) and for a member's approval ("yes"); the team then finishes."""
    publications.clear()
    team = editorial(
        "Draft: tea.",
        publisher=(call("publish", title="green tea"), "Published. DONE"),
    )
    async with uvicorn_serving(A2AApp(team, token=TOKEN)) as base:
        peer = {
            "url": base,
            "token": TOKEN,
            "binding": binding,
            "first": "A post about tea.",
            "answers": ["Make it green tea.", "yes"],
        }
        report = await node_peers.run_script(
            TEAM_SCRIPT, prelude=CLIENT, BATON_PEER=json.dumps(peer)
        )
    completed, input_required = 3, 6
    asked, approval, done = report["steps"]
    assert (asked["state"], asked["text"]) == (input_required, EDITOR_ASKS)
    assert approval["state"] == input_required and "'publish'" in approval["text"]
    assert (done["state"], done["text"]) == (completed, "Published. DONE")
    assert asked["task"] == approval["task"] == done["task"]  # one task: one ask of the team
    assert publications == ["green tea"]
    events = await team.history.load(report["contextId"])  # type: ignore[union-attr]
    valid_history(events)  # type: ignore[operator]
    answered = [e.text for e in events if isinstance(e, HumanMessage) and e.request_id]
    assert answered == ["Make it green tea.", "approved"]
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["published green tea"]
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
