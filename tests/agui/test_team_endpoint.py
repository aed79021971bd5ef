"""What ``AGUIApp(team)`` refuses, and says why: front-end tools (a team's ask can't pause on
a member's call), member approvals nobody could answer, and something that is no agent; and
the approval policy it gives the members otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from agui_support import TOKEN, client_for, post, run_input, sse_events, user

from baton import Agent, ConfigError, MemoryHistory, MemoryStorage, tool
from baton.agui import AGUIApp
from baton.agui.teams import approvals_for
from baton.events import ApprovalRequest, HumanMessage
from baton.hitl import ApprovalPolicy
from baton.teams import Human, MaxTurns, RoundRobin
from baton.testing import ScriptedModel, call


@tool(requires_approval=True)
def deploy(env: str) -> str:
    """Deploy to an environment."""
    return f"deployed to {env}"


def crew(*turns: str) -> RoundRobin:
    return RoundRobin(
        [Agent("writer", config=ScriptedModel(*turns))],
        termination=MaxTurns(1),
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )


async def test_front_end_tools_are_refused_with_the_limit_named() -> None:
    team = crew("never said")
    declared = [{"name": "show", "description": "Show it.", "parameters": {"type": "object"}}]
    async with client_for(AGUIApp(team, token=TOKEN)) as client:
        response = await post(client, run_input("t-tools", user("hi"), tools=declared))
        answered = await post(client, run_input("t-plain", user("hi")))
    kinds = [e["type"] for e in sse_events(response.text)]
    assert kinds == ["RUN_STARTED", "RUN_ERROR"]
    error = sse_events(response.text)[-1]
    assert "front-end tools can't be given to a team" in error["message"]
    assert error["code"] == "BadInput"
    assert await team.history.load("t-tools") == []  # type: ignore[union-attr]
    # the same team without front-end tools answers
    assert [e["type"] for e in sse_events(answered.text)][-1] == "RUN_FINISHED"


def agent_with(policy: ApprovalPolicy) -> Agent[Any]:
    return Agent("ops", config=ScriptedModel("ok"), tools=[deploy], middleware=[policy])


def durable(*members: Any) -> RoundRobin:
    return RoundRobin(list(members), history=MemoryHistory(), storage=MemoryStorage())


def test_a_member_approval_without_a_store_to_pause_in_is_refused() -> None:
    inner = RoundRobin([Agent("ops", config=ScriptedModel("ok"), tools=[deploy])], name="inner")
    team = RoundRobin([Agent("writer", config=ScriptedModel("ok")), inner])
    with pytest.raises(
        ConfigError,
        match=r"member 'ops' has tools requiring approval \(deploy\).*history= and storage=",
    ):
        AGUIApp(team, token=TOKEN)

    def approve(request: ApprovalRequest, context: Any) -> HumanMessage:
        return HumanMessage("yes", request_id=request.request_id, approved=True)

    answered = Agent("ops", config=ScriptedModel("ok"), tools=[deploy], hitl=approve)
    AGUIApp(RoundRobin([answered]), token=TOKEN)  # a member answering its own approvals
    assert approvals_for(RoundRobin([answered])) == ()


def test_members_approvals_pause_the_team_through_one_suspending_policy() -> None:
    ops = Agent("ops", config=ScriptedModel("ok"), tools=[deploy])
    inner = RoundRobin([ops], name="inner")
    [policy] = approvals_for(durable(Agent("writer", config=ScriptedModel("ok")), inner))
    assert isinstance(policy, ApprovalPolicy) and policy.suspend
    # Members bringing their own suspending policy get none more (it would ask twice).
    own = agent_with(ApprovalPolicy(suspend=True))
    assert approvals_for(durable(own)) == ()
    AGUIApp(durable(own), token=TOKEN)


def test_a_human_member_no_client_could_answer_is_refused() -> None:
    # Served, a Human without handler= waits on a stream no AG-UI client reaches: the
    # request used to stream the first member's step and then nothing, for ever.
    writer = Agent("writer", config=ScriptedModel("ok"))
    inner = RoundRobin([Human("ed")], name="inner")
    with pytest.raises(ConfigError) as waits:
        AGUIApp(durable(writer, inner), token=TOKEN)
    assert str(waits.value).startswith(
        "team 'round_robin' can't be served over AG-UI: its member 'ed' is a Human without "
        "handler= and without suspend=True"
    )
    assert "Human('ed', suspend=True) (its turn asked of the client as an interrupt)" in str(
        waits.value
    )
    with pytest.raises(ConfigError, match=r"Human\(suspend=True\).*history= and storage="):
        AGUIApp(RoundRobin([writer, Human("ed", suspend=True)]), token=TOKEN)
    AGUIApp(durable(writer, Human("ed", suspend=True)), token=TOKEN)
    AGUIApp(RoundRobin([writer, Human("ed", handler=lambda request: "fine")]), token=TOKEN)


def test_a_member_policy_that_waits_on_the_stream_is_refused() -> None:
    waiting = agent_with(ApprovalPolicy())
    with pytest.raises(ConfigError, match=r"member 'ops' has an ApprovalPolicy that waits"):
        AGUIApp(durable(waiting), token=TOKEN)


def test_members_with_and_without_a_policy_of_their_own_are_refused() -> None:
    own = agent_with(ApprovalPolicy(suspend=True))
    bare = Agent("release", config=ScriptedModel("ok"), tools=[deploy])
    with pytest.raises(ConfigError, match=r"members \['release'\] have tools requiring approval"):
        AGUIApp(durable(own, bare), token=TOKEN)


def test_only_agents_and_teams_are_served() -> None:
    thing: Any = object()
    with pytest.raises(ConfigError, match="serves a baton Agent or a team"):
        AGUIApp(thing, token=TOKEN)


def test_members_are_told_apart_by_identity_not_name() -> None:
    """Two agents named ops, in the team and in a member team: the one without a policy of its
    own is not taken for the one with, whose policy would leave it waiting on the stream."""
    inner = RoundRobin([Agent("ops", config=ScriptedModel("ok"), tools=[deploy])], name="inner")
    team = durable(agent_with(ApprovalPolicy(suspend=True)), inner)
    with pytest.raises(ConfigError, match=r"members \['ops'\] have tools requiring approval"):
        AGUIApp(team, token=TOKEN)


def test_a_handler_members_own_policy_is_not_doubled() -> None:
    """A member answering its approvals itself (hitl=) with its own ApprovalPolicy would ask
    twice if the app added one for every member: the member without one must bring its own."""

    def approve(request: ApprovalRequest, context: Any) -> HumanMessage:
        return HumanMessage("yes", request_id=request.request_id, approved=True)

    answering = Agent(
        "auditor",
        config=ScriptedModel("ok"),
        tools=[deploy],
        hitl=approve,
        middleware=[ApprovalPolicy()],
    )
    bare = Agent("release", config=ScriptedModel("ok"), tools=[deploy])
    with pytest.raises(ConfigError, match=r"members \['release'\] have tools requiring approval"):
        AGUIApp(durable(answering, bare), token=TOKEN)
    assert approvals_for(durable(answering)) == ()  # answered by its handler: nothing to add


async def test_an_approval_policy_given_to_the_app_is_the_only_one() -> None:
    """The app's own suspending policy reaches every member: none is added beside it (two
    would ask again after every answer), and the approval, once answered, runs the call."""
    ops = Agent("ops", config=ScriptedModel(call("deploy", env="prod"), "Done."), tools=[deploy])
    team = RoundRobin(
        [ops], termination=MaxTurns(1), history=MemoryHistory(), storage=MemoryStorage()
    )
    app = AGUIApp(team, token=TOKEN, middleware=[ApprovalPolicy(suspend=True)])
    async with client_for(app) as client:
        asked = sse_events((await post(client, run_input("t-app", user("ship")))).text)
        [interrupt] = asked[-1]["outcome"]["interrupts"]
        answer = {"interruptId": interrupt["id"], "status": "resolved"}
        answer["payload"] = {"approved": True}
        resumed = sse_events((await post(client, run_input("t-app", resume=[answer]))).text)
    assert resumed[-1]["type"] == "RUN_FINISHED"
    assert resumed[-1].get("outcome", {}).get("type") != "interrupt"
    results = [e["content"] for e in resumed if e["type"] == "TOOL_CALL_RESULT"]
    assert results == ["deployed to prod"]
    with pytest.raises(ConfigError, match="the ApprovalPolicy given to the app waits"):
        AGUIApp(durable(ops), token=TOKEN, middleware=[ApprovalPolicy()])
    with pytest.raises(ConfigError, match=r"\['ops'\] bring their own"):
        own = agent_with(ApprovalPolicy(suspend=True))
        AGUIApp(durable(own), token=TOKEN, middleware=[ApprovalPolicy(suspend=True)])


def test_any_members_policy_that_waits_on_the_stream_is_refused() -> None:
    """A policy matching calls of tools that don't require approval waits all the same."""

    @tool
    def wipe(path: str) -> str:
        """Wipe a path."""
        return f"wiped {path}"

    careful = Agent(
        "janitor",
        config=ScriptedModel("ok"),
        tools=[wipe],
        middleware=[ApprovalPolicy(lambda call: call.name == "wipe")],
    )
    with pytest.raises(ConfigError, match=r"member 'janitor' has an ApprovalPolicy that waits"):
        AGUIApp(durable(careful), token=TOKEN)
