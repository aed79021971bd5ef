"""A team is asked like an agent: ask, reply.ask, run (every member's events), ask_sync,
as_tool; a team can be a member of a team; its conversation is one Baton conversation."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent, MemoryHistory, tool
from baton.context import Context
from baton.errors import ConfigError, ConversationBusy
from baton.events import (
    HumanMessage,
    ModelRequest,
    ModelResponse,
    RunFinished,
    RunStarted,
    TaskCompleted,
    TaskStarted,
    TextChunk,
)
from baton.teams import (
    HandoffTo,
    MaxTurns,
    Member,
    RoundRobin,
    Selector,
    SpeakerSelected,
    StopTool,
    Swarm,
    TeamFinished,
    TeamReply,
    TeamStarted,
    TextMention,
)
from baton.testing import ScriptedModel, call, chunks
from baton.transcript import part_text


def names(events: Any) -> list[str]:
    return [type(e).__name__ for e in events]


def speakers(events: Any) -> list[str]:
    return [e.member for e in events if isinstance(e, SpeakerSelected)]


async def test_each_member_turn_is_its_own_run_on_one_conversation(valid_history: Any) -> None:
    writer = Agent("writer", config=ScriptedModel("draft one", "draft two"))
    critic = Agent("critic", config=ScriptedModel("needs work", "APPROVED"))
    team = RoundRobin([writer, critic], termination=TextMention("APPROVED"))

    reply = await team.ask("Write a haiku about tea.")

    assert isinstance(reply, TeamReply)
    assert reply.text == "APPROVED" and reply.speaker == "critic"
    assert reply.termination == "TextMention('APPROVED')"
    events = list(reply.events)
    valid_history(events)
    assert speakers(events) == ["writer", "critic", "writer", "critic"]
    runs = [e.agent for e in events if isinstance(e, RunStarted)]
    assert runs == ["writer", "critic", "writer", "critic"]
    # The task is recorded once, in the first member's run; later turns add no request.
    assert [e.text for e in events if isinstance(e, ModelRequest)] == ["Write a haiku about tea."]
    assert isinstance(events[0], TeamStarted) and isinstance(events[-1], TeamFinished)
    finished = events[-1]
    assert isinstance(finished, TeamFinished) and finished.turns == 4
    # Usage per member and in total.
    assert set(reply.usage_by_member) == {"writer", "critic"}
    assert reply.usage.requests == 4
    assert reply.usage == reply.usage_by_member["writer"] + reply.usage_by_member["critic"]
    assert {m.member: m.usage for m in finished.members} == reply.usage_by_member


async def test_another_members_turn_is_shown_as_its_named_turn() -> None:
    writer_model = ScriptedModel("draft one", "draft two")
    critic_model = ScriptedModel("needs work", "fine")
    team = RoundRobin(
        [Agent("writer", config=writer_model), Agent("critic", config=critic_model)],
        termination=MaxTurns(4),
    )
    await team.ask("Write.")
    assert critic_model.seen() == [
        ("user", "user", "Write."),
        ("user", "writer", "[writer] draft one"),
        ("assistant", "critic", "needs work"),
        ("user", "writer", "[writer] draft two"),
    ]
    assert writer_model.seen()[-2:] == [
        ("assistant", "writer", "draft one"),
        ("user", "critic", "[critic] needs work"),
    ]


async def test_reply_ask_resumes_the_cycle_after_the_last_speaker() -> None:
    a, b, c = (Agent(n, config=ScriptedModel(f"{n} says", repeat=True)) for n in "abc")
    team = RoundRobin([a, b, c], termination=MaxTurns(2))
    first = await team.ask("go")
    assert speakers(first.events) == ["a", "b"]
    second = await first.ask("again")
    assert speakers(second.events)[2:] == ["c", "a"]
    assert second.conversation_id == first.conversation_id
    assert [e.text for e in second.events if isinstance(e, ModelRequest)] == ["go", "again"]


async def test_the_hard_limit_is_twenty_member_turns_and_ends_normally() -> None:
    a = Agent("a", config=ScriptedModel("a", repeat=True))
    b = Agent("b", config=ScriptedModel("b", repeat=True))
    reply = await RoundRobin([a, b]).ask("talk forever")
    assert len(reply.turns) == 20
    assert reply.termination == "MaxTurns(20)"
    assert reply.text == "b"


async def test_run_streams_every_members_events_and_the_teams() -> None:
    a = Agent("a", config=ScriptedModel(chunks("hel", "lo"), repeat=True))
    b = Agent("b", config=ScriptedModel(chunks("wor", "ld"), repeat=True))
    team = RoundRobin([a, b], termination=MaxTurns(2))
    seen = []
    async with team.run("hi") as run:
        async for event in run:
            seen.append(event)
        reply = await run.result()
    assert reply.text == "world"
    assert [e.text for e in seen if isinstance(e, TextChunk)] == ["hel", "lo", "wor", "ld"]
    stored = [e for e in seen if not e.transient]
    assert stored == list(reply.events)
    # The same on a continued conversation.
    a2 = [e async for e in _run_events(reply, "more")]
    assert speakers(a2) == ["a"]


async def _run_events(reply: TeamReply, task: str) -> Any:
    async with reply.run(task) as run:
        async for event in run:
            yield event
            if isinstance(event, SpeakerSelected):
                break


async def test_ask_sync_works_outside_an_event_loop() -> None:
    import asyncio

    team = RoundRobin(
        [Agent("a", config=ScriptedModel("one")), Agent("b", config=ScriptedModel("two"))],
        termination=MaxTurns(2),
    )
    reply = await asyncio.to_thread(team.ask_sync, "hi")
    assert reply.text == "two"


async def test_a_team_is_a_member_of_a_team(valid_history: Any) -> None:
    inner = RoundRobin(
        [
            Agent("researcher", config=ScriptedModel("facts")),
            Agent("checker", config=ScriptedModel("checked facts")),
        ],
        name="research",
        termination=MaxTurns(2),
    )
    writer_model = ScriptedModel("the article")
    outer = RoundRobin(
        [inner, Agent("writer", config=writer_model)], name="newsroom", termination=MaxTurns(2)
    )
    reply = await outer.ask("Write about tea.")
    events = list(reply.events)
    valid_history(events)
    assert reply.text == "the article"
    assert [e.team for e in events if isinstance(e, TeamStarted)] == ["newsroom", "research"]
    assert [(e.team, e.member) for e in events if isinstance(e, SpeakerSelected)] == [
        ("newsroom", "research"),
        ("research", "researcher"),
        ("research", "checker"),
        ("newsroom", "writer"),
    ]
    assert [e.team for e in events if isinstance(e, TeamFinished)] == ["research", "newsroom"]
    # The writer saw the inner members' turns, named.
    assert [s.author for s in writer_model.seen()] == ["user", "researcher", "checker"]
    assert set(reply.usage_by_member) == {"research", "writer"}


async def test_a_team_inside_a_team_of_the_same_name_goes_on_after_its_own_speaker() -> None:
    def agent(name: str) -> Agent[str]:
        return Agent(name, config=ScriptedModel(f"{name} says", repeat=True))

    # Both named "round_robin" by default: the inner one's selections are not the outer's.
    inner = RoundRobin([agent("x"), agent("y")], max_turns=2)
    outer = RoundRobin([agent("a"), inner, agent("c")], max_turns=2)
    first = await outer.ask("one")
    assert [t.member for t in first.turns] == ["a", "round_robin"]
    second = await first.ask("two")
    assert [t.member for t in second.turns] == ["c", "a"]
    # The inner team goes on after its own last speaker too.
    inner_turns = [
        e.member for e in second.events if isinstance(e, SpeakerSelected) and e.member in ("x", "y")
    ]
    assert inner_turns == ["x", "y"]

    # A swarm inside a swarm: the next ask goes on with the member team that answered.
    handing = Agent("p", config=ScriptedModel(call("transfer_to_q"), "p again", repeat=True))
    desk = Swarm([handing, agent("q")])
    front = Agent("t", config=ScriptedModel(call("transfer_to_swarm"), "t again", repeat=True))
    reply = await Swarm([front, desk]).ask("one")
    assert [(t.member, t.handoff) for t in reply.turns] == [("t", "swarm"), ("swarm", None)]
    reply = await reply.ask("two")
    assert [(t.member, t.text) for t in reply.turns] == [("swarm", "q says")]


async def test_a_team_as_a_tool() -> None:
    crew = RoundRobin(
        [Agent("a", config=ScriptedModel("a part")), Agent("b", config=ScriptedModel("b part"))],
        name="crew",
        termination=MaxTurns(2),
    )
    boss_model = ScriptedModel(call("crew", task="build it"), "done: b part")
    boss = Agent("boss", config=boss_model, tools=[crew.as_tool()])
    reply = await boss.ask("Get it built.")
    assert reply.text == "done: b part"
    events = list(reply.events)
    assert any(isinstance(e, TaskStarted) and e.agent == "crew" for e in events)
    completed = [e for e in events if isinstance(e, TaskCompleted)]
    assert completed and completed[0].text == "b part"
    assert boss_model.requests[1].messages[-1].content == "b part"  # type: ignore[attr-defined]


async def test_member_options_and_bad_configurations() -> None:
    a = Agent("a", config=ScriptedModel("x"))
    with pytest.raises(ConfigError, match="two members named"):
        RoundRobin([a, a])
    with pytest.raises(ConfigError, match="at least one member"):
        RoundRobin([])
    with pytest.raises(ConfigError, match="members are agents"):
        RoundRobin(["a"])
    with pytest.raises(ConfigError, match=r"a list of members, e.g. RoundRobin"):
        RoundRobin(a)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="name= takes"):
        Member(a, name=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="HandoffTo takes"):
        HandoffTo(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="StopTool takes"):
        StopTool("")
    with pytest.raises(ConfigError, match="MaxTurns"):
        MaxTurns(0)
    with pytest.raises(ConfigError, match="option of its members"):
        await RoundRobin([a]).ask("x", tools=[])
    # The team's own settings are the team's, not its members'.
    with pytest.raises(ConfigError, match=r"max_turns= is set when the team is made"):
        await RoundRobin([a]).ask("x", max_turns=3)
    with pytest.raises(
        ConfigError, match=r"no option conversation= *; did you mean conversation_id"
    ):
        await RoundRobin([a]).ask("x", conversation="c1")
    twin = RoundRobin([a, Member(a, name="a2")], termination=MaxTurns(2))
    a.config = ScriptedModel("x", repeat=True)
    reply = await twin.ask("hi")
    assert speakers(reply.events) == ["a", "a2"]


async def test_a_mistyped_option_is_a_config_error_naming_the_nearest() -> None:
    a, b = Agent("a", config=ScriptedModel("x")), Agent("b", config=ScriptedModel("y"))
    with pytest.raises(ConfigError, match=r"RoundRobin\(...\) has no option maxturns=.*max_turns="):
        RoundRobin([a, b], maxturns=3)
    with pytest.raises(ConfigError, match=r"Selector\(...\) has no option allow_repeats="):
        Selector([a, b], ScriptedModel(), allow_repeats=True)
    with pytest.raises(ConfigError, match=r"Swarm\(...\) has no option start_member=.*start,"):
        Swarm([a, b], start_member="a")
    with pytest.raises(ConfigError, match="variables= takes a dict"):
        RoundRobin([a, b], variables=["x"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="variables= takes a dict"):
        await RoundRobin([a, b]).ask("x", variables=3)
    with pytest.raises(ConfigError, match=r"Member.*takes an agent, a team or a Human, got 'a'"):
        Member("a")  # type: ignore[arg-type]


async def test_a_team_conversation_in_a_history_is_continued_by_id_and_claimed() -> None:
    history = MemoryHistory()
    a = Agent("a", config=ScriptedModel("a", repeat=True))
    b = Agent("b", config=ScriptedModel("b", repeat=True))
    team = RoundRobin([a, b], termination=MaxTurns(1), history=history)
    first = await team.ask("one")
    again = RoundRobin([a, b], termination=MaxTurns(1), history=history)
    second = await again.ask("two", conversation_id=first.conversation_id)
    assert speakers(second.events) == ["a", "b"]
    stored = await history.load(first.conversation_id)
    assert names(stored).count("TeamFinished") == 2
    assert [e for e in stored if isinstance(e, RunFinished)][-1].text == "b"
    # A member's answers keep their author in the stored conversation.
    assert [e.agent for e in stored if isinstance(e, ModelResponse)] == ["a", "b"]


async def test_a_busy_team_conversation_refuses_a_second_ask() -> None:
    import asyncio

    gate, entered = asyncio.Event(), asyncio.Event()

    async def slow(_: Any) -> str:
        entered.set()
        await gate.wait()
        return "slow"

    history = MemoryHistory()
    team = RoundRobin(
        [Agent("a", config=ScriptedModel(slow, "x"))], termination=MaxTurns(1), history=history
    )
    first = await RoundRobin(
        [Agent("a", config=ScriptedModel("x"))], termination=MaxTurns(1), history=history
    ).ask("one")
    running = asyncio.create_task(team.ask("two", conversation_id=first.conversation_id))
    await entered.wait()
    with pytest.raises(ConversationBusy):
        await team.ask("three", conversation_id=first.conversation_id)
    gate.set()
    assert (await running).text == "slow"


async def test_a_remark_sent_to_a_running_team_is_read_by_the_next_member() -> None:
    import asyncio

    entered, gate = asyncio.Event(), asyncio.Event()

    async def a_turn(_: Any) -> str:
        entered.set()
        await gate.wait()
        return "a says"

    a_model, b_model = ScriptedModel(a_turn), ScriptedModel("b says")
    team = RoundRobin(
        [Agent("a", config=a_model), Agent("b", config=b_model)], termination=MaxTurns(2)
    )
    async with team.run("go") as run:
        run.send("Be brief.")  # before the ask even started: given to it when it starts
        await entered.wait()
        run.send("Now in French.")  # during a's last model call: b's run reads it
        gate.set()
        reply = await run.result()
    assert a_model.seen()[-1] == ("user", "human", "Be brief.")
    assert b_model.seen()[-1] == ("user", "human", "Now in French.")
    assert reply.text == "b says"
    with pytest.raises(ConfigError, match="remark"):
        run.send(HumanMessage("x", request_id="r1"))


async def test_a_member_with_around_ask_middleware_takes_its_turn(valid_history: Any) -> None:
    from baton.hooks import Middleware

    seen: list[str] = []

    class Around(Middleware):
        async def around_ask(self, context: Any, proceed: Any) -> Any:
            seen.append(context.agent_name)
            return await proceed()

    history = MemoryHistory()
    a = Agent("a", config=ScriptedModel("a says"), middleware=[Around()])
    b = Agent("b", config=ScriptedModel("b says"))
    reply = await RoundRobin([a, b], termination=MaxTurns(2), history=history).ask("go")
    assert seen == ["a"] and reply.text == "b says"
    stored = await history.load(reply.conversation_id)
    valid_history(stored)
    assert names(stored)[:4] == ["TeamStarted", "SpeakerSelected", "RunStarted", "ModelRequest"]


async def test_team_variables_reach_every_member_and_persist_in_the_conversation() -> None:
    seen: list[Any] = []

    @tool
    def note(context: Context) -> str:
        """Note the city."""
        seen.append(context.variables.get("city"))
        context.variables["count"] = context.variables.get("count", 0) + 1
        return "noted"

    a = Agent("a", config=ScriptedModel(call("note"), "a done", repeat=True), tools=[note])
    b = Agent("b", config=ScriptedModel(call("note"), "b done", repeat=True), tools=[note])
    team = RoundRobin([a, b], termination=MaxTurns(2), variables={"city": "Oslo"})
    reply = await team.ask("go", variables={"city": "Bergen"})
    assert seen == ["Bergen", "Bergen"]
    assert reply.variables["count"] == 2
    again = await reply.ask("more")
    assert again.variables["count"] == 4


async def test_a_members_tools_see_the_teams_task_as_the_request() -> None:
    seen: list[str] = []

    @tool
    async def note(context: Context) -> str:
        """Note the request."""
        seen.append(" ".join(part_text(p) for p in context.request.parts))
        return "noted"

    a = Agent("a", config=ScriptedModel("a says"))
    b = Agent("b", config=ScriptedModel(call("note"), "b says"), tools=[note])
    reply = await RoundRobin([a, b], termination=MaxTurns(2)).ask("Write about tea.")
    assert reply.text == "b says"
    assert seen == ["Write about tea."]  # b's turn started with no message of its own


async def test_a_turn_names_the_tools_its_member_called() -> None:
    @tool
    def look(topic: str) -> str:
        """Look a topic up."""
        return f"notes on {topic}"

    script = ScriptedModel(call("look", topic="tea"), call("look", topic="cups"), "done")
    a = Agent("a", config=script, tools=[look])
    b = Agent("b", config=ScriptedModel("fine"))
    reply = await RoundRobin([a, b], termination=MaxTurns(2)).ask("go")
    assert [(t.member, t.tools) for t in reply.turns] == [("a", ("look", "look")), ("b", ())]
