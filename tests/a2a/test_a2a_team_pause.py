"""A team served over A2A pauses as an ``input-required`` task, as a served agent does: on a
``Human(name, suspend=True)`` member's turn and on a member agent's approval; the client's
answer on that task continues the ask (``team.resume``), in this replica or another sharing
the stores; a cancel ends the paused ask unanswered and the context goes on. Driven by the
a2a-sdk's own Python client (the node client: ``test_a2a_node_client.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from a2a.types.a2a_pb2 import CancelTaskRequest, GetTaskRequest, TaskState
from a2a.utils.errors import UnsupportedOperationError
from a2a_support import (
    EDITOR_ASKS,
    TOKEN,
    a2a_client,
    editorial,
    publications,
    publishing,
    send,
    user_message,
)
from serving import uvicorn_serving

from baton import Agent, Context, MemoryHistory, MemoryStorage, tool
from baton.a2a import A2AApp
from baton.backends.sql import SQLHistory, SQLStorage
from baton.events import HumanMessage, RunFailed, RunStarted, ToolCallError, ToolCallResult
from baton.teams import Graph, Human, MaxTurns, RoundRobin, Team, TeamFailed, TeamFinished
from baton.testing import ScriptedModel, call

COMPLETED = TaskState.TASK_STATE_COMPLETED
INPUT = TaskState.TASK_STATE_INPUT_REQUIRED


async def stored(team: Team, context_id: str) -> list[Any]:
    assert team.history is not None
    return list(await team.history.load(context_id))


@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
async def test_a_human_members_turn_is_asked_of_the_client(
    streaming: bool, valid_history: Any
) -> None:
    team = editorial("Draft: tea.", "Final: green tea. DONE")
    async with (
        uvicorn_serving(A2AApp(team, token=TOKEN)) as base,
        a2a_client(base, streaming=streaming) as client,
    ):
        asked = await send(client, user_message("A post about tea."))
        assert asked.state == INPUT and asked.text == EDITOR_ASKS
        [request] = asked.status_data[0]["requests"]
        assert request["kind"] == "input" and request["prompt"] == EDITOR_ASKS
        assert (await team.paused(asked.context_id)) is not None
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        empty = await send(client, user_message("  ", **ids))  # no answer: asked again
        assert empty.state == INPUT and EDITOR_ASKS in empty.text
        done = await send(client, user_message("Make it green tea.", **ids))
        assert done.state == COMPLETED and done.text == "Final: green tea. DONE"
        if streaming:
            assert done.kinds[0] == "status_update"  # the answered task goes on working
    events = await stored(team, asked.context_id)
    valid_history(events)
    answers = [e for e in events if isinstance(e, HumanMessage) and e.request_id]
    assert [a.text for a in answers] == ["Make it green tea."]
    assert [e.agent for e in events if isinstance(e, RunStarted)] == ["writer", "writer"]
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    assert await team.paused(asked.context_id) is None


@pytest.mark.parametrize(
    ("answer", "published", "error"),
    [("yes", ["tea"], None), ({"approved": False, "reason": "not today"}, [], "not today")],
    ids=["approved", "denied"],
)
async def test_a_members_approval_is_asked_of_the_client(
    answer: Any, published: list[str], error: str | None, valid_history: Any
) -> None:
    publications.clear()
    team = publishing(call("publish", title="tea"), "Over.")
    async with uvicorn_serving(A2AApp(team, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("Publish the tea post."))
        assert asked.state == INPUT and "'publish'" in asked.text
        [request] = asked.status_data[0]["requests"]
        assert request["kind"] == "approval" and json.loads(request["arguments"]) == {
            "title": "tea"
        }
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        maybe = await send(client, user_message("maybe", **ids))  # not an answer: asked again
        assert maybe.state == INPUT and "doesn't answer the approval" in maybe.text
        text, data = (answer, None) if isinstance(answer, str) else (None, answer)
        done = await send(client, user_message(text, data=data, **ids))
        assert done.state == COMPLETED and done.text == "Over."
    assert publications == published  # run once when approved, never when denied
    events = await stored(team, asked.context_id)
    valid_history(events)
    outcomes = [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]
    assert len(outcomes) == 1
    if error is None:
        assert isinstance(outcomes[0], ToolCallResult)
    else:
        assert isinstance(outcomes[0], ToolCallError) and error in outcomes[0].message


async def test_a_members_question_is_asked_of_the_client(valid_history: Any) -> None:
    """A member's tool asks a question (``context.input``): the team's ask pauses (members
    are asked with ``suspend_on_human=True``) and the client's text reaches the tool."""

    @tool
    async def release(context: Context) -> str:
        """Release a service."""
        return f"released {await context.input('Which service?')}"

    team = RoundRobin(
        [Agent("ops", config=ScriptedModel(call("release"), "Released."), tools=[release])],
        termination=MaxTurns(1),
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )
    async with uvicorn_serving(A2AApp(team, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("Release."))
        assert asked.state == INPUT and "Which service?" in asked.text
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        done = await send(client, user_message("billing", **ids))
        assert done.state == COMPLETED and done.text == "Released."
    events = await stored(team, asked.context_id)
    valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["released billing"]


@pytest.mark.parametrize("pause", ["human", "approval"])
async def test_any_replica_answers_a_paused_team_task(
    pause: str, tmp_path: Path, valid_history: Any
) -> None:
    # Two apps (two replicas) over one SQLite database: paused on one, answered on the other,
    # whose members' models go on where the first one's stopped.
    url = f"sqlite:///{tmp_path / 'baton.db'}"

    def stores() -> dict[str, Any]:
        return {"history": SQLHistory(url), "storage": SQLStorage(url)}

    publications.clear()
    if pause == "human":
        first, second = editorial("Draft.", **stores()), editorial("Final. DONE", **stores())
        answer, final = "Shorter, please.", "Final. DONE"
    else:
        first = publishing(call("publish", title="tea"), **stores())
        second, answer, final = publishing("Published.", **stores()), "yes", "Published."
    async with (
        uvicorn_serving(A2AApp(first, token=TOKEN)) as one,
        uvicorn_serving(A2AApp(second, token=TOKEN)) as two,
        a2a_client(one) as a,
        a2a_client(two, binding="HTTP+JSON") as b,
    ):
        asked = await send(a, user_message("Go."))
        assert asked.state == INPUT
        seen = await b.get_task(GetTaskRequest(id=asked.task_id))
        assert seen.status.state == INPUT
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        done = await send(b, user_message(answer, **ids))
        assert done.state == COMPLETED and done.text == final
    events = await stored(second, asked.context_id)
    valid_history(events)
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    assert publications == ([] if pause == "human" else ["tea"])


@pytest.mark.parametrize("pause", ["human", "approval"])
async def test_cancel_a_paused_team_task_and_the_context_goes_on(
    pause: str, valid_history: Any
) -> None:
    publications.clear()
    if pause == "human":
        team = editorial("Draft.", "Nothing to change. DONE")
    else:
        team = publishing(call("publish", title="tea"), "Nothing published.")
    async with uvicorn_serving(A2AApp(team, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("Go."))
        assert asked.state == INPUT
        cancelled = await client.cancel_task(CancelTaskRequest(id=asked.task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        events = await stored(team, asked.context_id)
        valid_history(events)
        # The ask ended unanswered: no answer recorded, no tool run, no member went on.
        assert not [e for e in events if isinstance(e, HumanMessage)]
        assert publications == []
        assert isinstance(events[-1], TeamFailed) and events[-1].error_type == "Cancelled"
        if pause == "approval":
            closed = [e for e in events if isinstance(e, RunFailed)]
            assert [e.error_type for e in closed] == ["Cancelled"]
        assert await team.paused(asked.context_id) is None
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        with pytest.raises(UnsupportedOperationError, match="terminal state"):
            await send(client, user_message("yes", **ids))  # the cancelled task stays so
        after = await send(client, user_message("Anything else?", context_id=asked.context_id))
        assert after.state == COMPLETED
    events = await stored(team, asked.context_id)
    valid_history(events)
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    assert publications == []


async def test_a_pause_in_a_graphs_parallel_branch_fails_the_task_saying_why(
    valid_history: Any,
) -> None:
    flow = Graph(name="fork", history=MemoryHistory(), storage=MemoryStorage())
    flow.add("start", Agent("start", config=ScriptedModel("Go.")))
    flow.add("editor", Human("editor", suspend=True))
    flow.add("checker", Agent("checker", config=ScriptedModel("Checked.")))
    flow.edge("start", "editor").edge("start", "checker")
    async with uvicorn_serving(A2AApp(flow, token=TOKEN)) as base, a2a_client(base) as client:
        failed = await send(client, user_message("Go."))
    assert failed.state == TaskState.TASK_STATE_FAILED
    assert "ConfigError" in failed.text and "parallel branch" in failed.text
    valid_history(await stored(flow, failed.context_id))
