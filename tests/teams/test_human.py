"""Human members: answered by a handler, by a message on the stream, or by a durable pause
that team.resume continues (fresh team and history objects, as another process would)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import Agent, MemoryHistory, MemoryStorage, tool
from baton.context import Context
from baton.errors import AskSuspended, ConfigError, ConversationBusy, NotSuspended
from baton.events import HumanInputRequest, HumanMessage
from baton.history import History, Storage
from baton.stream import MemoryStream
from baton.teams import (
    Human,
    MaxTurns,
    RoundRobin,
    Selector,
    SpeakerSelected,
    TeamFailed,
    TeamFinished,
    TextMention,
)
from baton.testing import ScriptedModel, call


def writer(*turns: str) -> tuple[Agent[str], ScriptedModel]:
    model = ScriptedModel(*turns)
    return Agent("writer", config=model), model


def editing(
    history: History, storage: Storage, termination: Any = None
) -> Callable[..., RoundRobin]:
    """Teams of a writer (playing ``turns``) and an editor who pauses, on one history and
    storage: a fresh one per call, as a process that resumes makes its own. They stop at
    ``termination`` (by default when someone says APPROVED, or after 6 turns)."""

    def team(*turns: str) -> RoundRobin:
        return RoundRobin(
            [Agent("writer", config=ScriptedModel(*turns)), Human("editor", suspend=True)],
            termination=termination or TextMention("APPROVED") | MaxTurns(6),
            history=history,
            storage=storage,
        )

    return team


async def test_a_handler_answers_the_humans_turn(valid_history: Any) -> None:
    asked: list[HumanInputRequest] = []

    async def editor(request: HumanInputRequest) -> str:
        asked.append(request)
        return "Make it shorter."

    w, w_model = writer("draft", "short draft")
    team = RoundRobin([w, Human("editor", handler=editor)], termination=MaxTurns(3))
    reply = await team.ask("Write.")
    assert reply.text == "short draft"
    assert asked and asked[0].prompt == "editor: your turn in round_robin"
    assert w_model.seen()[-1] == ("user", "human", "Make it shorter.")
    events = list(reply.events)
    valid_history(events)
    assert [e.member for e in events if isinstance(e, SpeakerSelected)] == [
        "writer",
        "editor",
        "writer",
    ]


async def test_the_stream_answers_when_there_is_no_handler() -> None:
    w, _ = writer("draft")
    team = RoundRobin([w, Human("editor")], termination=MaxTurns(2))
    stream = MemoryStream()
    async with team.run("Write.", stream=stream) as run:
        async for event in run:
            if isinstance(event, HumanInputRequest):
                # A UI watching the conversation answers on its stream.
                await stream.send(HumanMessage("Ship it.", request_id=event.request_id))
        reply = await run.result()
    assert reply.text == "Ship it." and reply.speaker == "editor"


async def test_a_paused_human_turn_resumes_from_fresh_objects(valid_history: Any) -> None:
    history = MemoryHistory()
    team = editing(history, MemoryStorage())

    with pytest.raises(AskSuspended) as paused:
        await team("draft one").ask("Write.", conversation_id="c-human")
    request_id = paused.value.request_id
    stored = await history.load("c-human")
    assert isinstance(stored[-1], HumanInputRequest)  # the team ask is open, waiting
    # The paused conversation refuses a new ask until resumed.
    with pytest.raises(ConversationBusy, match=r"team\.resume"):
        await team("x").ask("again", conversation_id="c-human")
    with pytest.raises(ConfigError, match="request_id"):
        await team().resume("c-human", HumanMessage("?", request_id="wrong"))

    with pytest.raises(AskSuspended) as paused_again:
        await team("draft two").resume(
            "c-human", HumanMessage("Shorter, please.", request_id=request_id)
        )
    reply_events = await history.load("c-human")
    assert [e.member for e in reply_events if isinstance(e, SpeakerSelected)] == [
        "writer",
        "editor",
        "writer",
        "editor",
    ]
    reply = await team().resume(
        "c-human", HumanMessage("APPROVED", request_id=paused_again.value.request_id)
    )
    assert reply.text == "APPROVED" and reply.termination == "TextMention('APPROVED')"
    assert len(reply.turns) == 4  # turns before the pauses count toward the limits
    events = list(reply.events)
    valid_history(events)
    assert len([e for e in events if isinstance(e, TeamFinished)]) == 1
    with pytest.raises(NotSuspended):
        await team().resume("c-human", HumanMessage("again", request_id=request_id))


async def test_cancel_paused_ends_the_ask_without_the_humans_answer(valid_history: Any) -> None:
    history = MemoryHistory()
    team = editing(history, MemoryStorage())

    with pytest.raises(NotSuspended):
        await team().cancel_paused("c-cancel")  # nothing paused there
    with pytest.raises(AskSuspended):
        await team("draft").ask("Write.", conversation_id="c-cancel")
    await team().cancel_paused("c-cancel")
    events = await history.load("c-cancel")
    valid_history(events)
    assert not [e for e in events if isinstance(e, HumanMessage)]  # nobody answered for them
    assert isinstance(events[-1], TeamFailed) and events[-1].error_type == "Cancelled"
    assert await team().paused("c-cancel") is None
    reply = await team("APPROVED").ask("Again.", conversation_id="c-cancel")
    assert reply.text == "APPROVED"  # the next ask starts afresh, after the editor's turn
    valid_history(await history.load("c-cancel"))


async def test_suspend_needs_a_history_and_storage() -> None:
    w, _ = writer("draft")
    with pytest.raises(ConfigError, match="storage="):
        await RoundRobin([w, Human("editor", suspend=True)], termination=MaxTurns(2)).ask("go")
    with pytest.raises(ConfigError, match="not both"):
        Human("x", handler=lambda r: "", suspend=True)


@pytest.mark.parametrize("answered_by", ["stream", "handler", "blocking handler"])
async def test_a_human_who_does_not_answer_in_time_fails_the_ask_cleanly(
    answered_by: str, valid_history: Any
) -> None:
    import asyncio
    import threading

    from baton.errors import HumanInputTimeout

    never = asyncio.Event()  # a handler that never answers: a person away from the desk
    released = threading.Event()

    async def away(request: HumanInputRequest) -> str:
        await never.wait()
        return "too late"

    def blocking(request: HumanInputRequest) -> str:  # a terminal prompt nobody types in
        released.wait(60)
        return "too late"

    handler = {"handler": away, "blocking handler": blocking}.get(answered_by)
    history = MemoryHistory()
    w = Agent("writer", config=ScriptedModel("draft", "second draft"))
    team = RoundRobin(
        [w, Human("editor", handler=handler, timeout=0.01)],
        termination=MaxTurns(2),
        history=history,
    )
    try:
        with pytest.raises(HumanInputTimeout) as late:
            await team.ask("Write.", conversation_id="late")
    finally:
        released.set()  # the blocked thread ends (its answer is not taken)
    assert "'editor' did not answer within 0.01 s" in str(late.value)
    events = await history.load("late")
    valid_history(events)
    assert isinstance(events[-1], TeamFailed)
    # the next ask on the conversation works (the writer's second turn; the editor is asked
    # again and this time, with the turn limit at one, the ask ends with the writer)
    again = await RoundRobin([w, Human("editor")], termination=MaxTurns(1), history=history).ask(
        "Again.", conversation_id="late"
    )
    assert again.text == "second draft"


def test_a_human_handler_is_checked_when_made() -> None:
    with pytest.raises(ConfigError, match="handler= takes a function"):
        Human("editor", handler="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"given the request \(one argument\).*is not"):
        Human("editor", handler=lambda: "fine")  # type: ignore[arg-type,misc]


def test_a_human_timeout_is_checked_when_made() -> None:
    with pytest.raises(ConfigError, match="positive number of seconds"):
        Human("ed", timeout=0)
    with pytest.raises(ConfigError, match="pauses the ask instead of waiting"):
        Human("ed", suspend=True, timeout=5)


async def test_a_handler_returning_something_else_is_a_config_error() -> None:
    w, _ = writer("draft")
    team = RoundRobin([w, Human("editor", handler=lambda r: 42)], termination=MaxTurns(2))  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="text or a HumanMessage"):
        await team.ask("go")


async def test_a_human_turn_nobody_can_answer_is_reported_at_once_and_answered_later() -> None:
    import asyncio
    import logging

    from baton.events import UnattendedRequest

    reported = asyncio.Event()

    class Notice(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            reported.set()

    notice = Notice(logging.WARNING)
    logging.getLogger("baton.teams").addHandler(notice)
    try:
        stream = MemoryStream()
        w, _ = writer("draft")
        team = RoundRobin([w, Human("editor")], termination=MaxTurns(2), history=MemoryHistory())
        asking = asyncio.create_task(team.ask("Write.", stream=stream, conversation_id="u1"))
        async with asyncio.timeout(30):  # a bound on a failure, not a timer the test relies on
            await reported.wait()
        state = team.running("u1")
        assert state is not None
        unattended = [e for e in state.events if isinstance(e, UnattendedRequest)]
        assert len(unattended) == 1 and "nobody watches" in unattended[0].message
        await stream.send(HumanMessage("Late, but fine.", request_id=unattended[0].request_id))
        reply = await asking
    finally:
        logging.getLogger("baton.teams").removeHandler(notice)
    assert reply.text == "Late, but fine."


async def test_a_conversation_with_a_paused_agent_ask_refuses_a_team_ask() -> None:
    @tool
    async def ask_boss(context: Context) -> str:
        """Ask the boss."""
        return await context.input("Go ahead?")

    history, storage = MemoryHistory(), MemoryStorage()
    agent = Agent(
        "solo",
        config=ScriptedModel(call("ask_boss")),
        tools=[ask_boss],
        history=history,
        storage=storage,
        suspend_on_human=True,
    )
    with pytest.raises(AskSuspended):
        await agent.ask("start", conversation_id="c-paused")
    w, _ = writer("draft")
    team = RoundRobin([w], termination=MaxTurns(1), history=history, storage=storage)
    with pytest.raises(ConversationBusy, match="paused"):
        await team.ask("go", conversation_id="c-paused")


async def test_a_resume_by_a_team_without_the_paused_member_keeps_the_pause() -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    members: list[Any] = [
        Agent("writer", config=ScriptedModel("draft")),
        Human("editor", suspend=True),
    ]
    team = RoundRobin(members, termination=MaxTurns(2), history=history, storage=storage)
    with pytest.raises(AskSuspended) as paused:
        await team.ask("Write.", conversation_id="c-other")
    answer = HumanMessage("Fine.", request_id=paused.value.request_id)
    other = RoundRobin(
        [Agent("writer", config=ScriptedModel("x"))], history=history, storage=storage
    )
    with pytest.raises(ConfigError, match=r"'editor'.*not a member"):
        await other.resume("c-other", answer)
    with pytest.raises(ConfigError, match=r"resume\(\) takes .*stream"):
        await team.resume("c-other", answer, variables={"x": 1})
    reply = await team.resume("c-other", answer)  # the pause was kept for the right team
    assert reply.text == "Fine." and reply.termination == "MaxTurns(2)"


async def test_a_human_turn_before_a_pause_keeps_its_answer_after_the_resume(
    valid_history: Any,
) -> None:
    """The turns of an ask resumed twice are read back from the history: an earlier human
    turn's text is the person's answer (it has no run whose end says it)."""
    history = MemoryHistory()
    crew = editing(history, MemoryStorage(), MaxTurns(4))
    with pytest.raises(AskSuspended) as first:
        await crew("draft 1").ask("Write.", conversation_id="h-twice")
    with pytest.raises(AskSuspended) as second:
        await crew("draft 2").resume(
            "h-twice", HumanMessage("note 1", request_id=first.value.requests[0].request_id)
        )
    reply = await crew().resume(
        "h-twice", HumanMessage("note 2", request_id=second.value.requests[0].request_id)
    )
    assert [(t.member, t.text) for t in reply.turns] == [
        ("writer", "draft 1"),
        ("editor", "note 1"),
        ("writer", "draft 2"),
        ("editor", "note 2"),
    ]
    valid_history(await history.load("h-twice"))


async def test_a_selectors_spend_before_a_pause_is_counted_after_the_resume() -> None:
    """A selection's model call is no member's run: the history does not hold its usage, so
    the pause keeps it, and the resumed ask's totals count it."""
    history, storage = MemoryHistory(), MemoryStorage()

    def panel() -> Selector:
        return Selector(
            [
                Agent("writer", config=ScriptedModel("draft", repeat=True)),
                Agent("critic", config=ScriptedModel("fine", repeat=True)),
                Human("editor", suspend=True),
            ],
            ScriptedModel('{"speaker": "writer"}', '{"speaker": "editor"}', repeat=True),
            termination=MaxTurns(2),
            history=history,
            storage=storage,
        )

    with pytest.raises(AskSuspended) as paused:
        await panel().ask("Write.", conversation_id="s-spend")
    reply = await panel().resume(
        "s-spend", HumanMessage("ok", request_id=paused.value.requests[0].request_id)
    )
    spent = reply.usage_by_member
    assert spent["selector-selector"].requests == 2  # both selections, before the pause
    assert reply.usage.requests == spent["writer"].requests + 2
