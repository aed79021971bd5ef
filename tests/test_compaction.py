"""Compaction: past a threshold, earlier events are replaced by a summary in what the model sees;
history is append-only and keeps every event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from test_policies import SCRIPT, add, assert_safe_window, fetch, sent

from baton import (
    Agent,
    ConfigError,
    Event,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCallResult,
)
from baton.errors import ModelError
from baton.events import CompactionSummary, RunFailed, UsageReport
from baton.harness import (
    Compacted,
    Compaction,
    ConversationalOnly,
    LLMSummary,
    SlidingWindow,
    TailWindow,
)
from baton.harness.compaction import DROPPED_NOTE
from baton.history import HistoryView
from baton.providers._cache import MessageCache
from baton.testing import ScriptedModel, call


def summaries(events: Sequence[Event]) -> list[CompactionSummary]:
    return [e for e in events if isinstance(e, CompactionSummary)]


def texts(events: Sequence[Event]) -> list[str]:
    out = []
    for e in sent(events):
        if isinstance(e, ModelRequest | ModelResponse):
            out.append(e.text)
        elif isinstance(e, CompactionSummary):
            out.append(f"summary:{e.summary}")
    return out


async def chat(agent: Agent, *prompts: str) -> Any:
    reply = await agent.ask(prompts[0])
    for prompt in prompts[1:]:
        reply = await reply.ask(prompt)
    return reply


async def test_tail_window_by_events_keeps_every_event_in_history() -> None:
    history = MemoryHistory()
    model = ScriptedModel("a0", "a1", "a2", "a3", "a4")
    policy = Compaction(TailWindow(keep_events=2), max_events=4)
    agent = Agent("bot", config=model, policies=[policy], history=history)
    reply = await chat(agent, "q0", "q1", "q2", "q3", "q4")

    seen = [texts(r.messages) for r in model.requests]
    assert seen[:2] == [["q0"], ["q0", "a0", "q1"]]
    # q2 would make five messages: the first three are compacted, the last two kept.
    note = f"summary:{DROPPED_NOTE}"
    assert seen[2:] == [[note, "a1", "q2"], [note, "a2", "q3"], [note, "a3", "q4"]]

    # Nothing is lost: every request and answer, and the summaries, are in history.
    stored = await history.load(reply.conversation_id)
    assert stored == list(reply.events)
    assert [e.text for e in stored if isinstance(e, ModelRequest)] == [f"q{i}" for i in range(5)]
    assert [e.text for e in stored if isinstance(e, ModelResponse)] == [f"a{i}" for i in range(5)]
    assert all(s.strategy == "tail_window" for s in summaries(stored))
    # Each summary covers more of the conversation, counted from its start.
    covers = [s.covers for s in summaries(stored)]
    assert covers == sorted(covers) and len(set(covers)) == len(covers)
    first = summaries(stored)[0]
    assert stored[first.covers].text == "a1"  # type: ignore[attr-defined]


async def test_the_summary_is_the_head_of_every_later_call() -> None:
    model = ScriptedModel(*[f"a{i}" for i in range(8)])
    agent = Agent("bot", config=model, policies=[Compaction(TailWindow(2), max_events=5)])
    reply = await chat(agent, *[f"q{i}" for i in range(8)])
    compacted_at = next(
        i for i, r in enumerate(model.requests) if isinstance(r.messages[0], CompactionSummary)
    )
    for request in model.requests[compacted_at:]:
        head = request.messages[0]
        assert isinstance(head, CompactionSummary)
        # The latest summary, and no other, is shown.
        assert len(summaries(request.messages)) == 1
        assert head is summaries(reply.events[: reply.events.index(head) + 1])[-1]


async def test_compaction_by_tokens() -> None:
    model = ScriptedModel(call("fetch", words=600), "read", "ok", "fine")
    policy = Compaction(TailWindow(keep_events=2), max_tokens=300)
    agent = Agent("reader", config=model, tools=[fetch], policies=[policy])
    reply = await chat(agent, "fetch it", "thanks", "bye")
    # The long tool result pushed the conversation over the budget after its turn.
    assert len(summaries(reply.events)) >= 1
    later = model.requests[-1].messages
    assert isinstance(later[0], CompactionSummary)
    assert not any(isinstance(e, ToolCallResult) for e in later)
    assert any(isinstance(e, ToolCallResult) for e in reply.events)


async def test_short_conversations_are_not_compacted() -> None:
    model = ScriptedModel(call("fetch", words=5), "read", "ok")
    policy = Compaction(TailWindow(keep_events=2), max_tokens=300, max_events=50)
    agent = Agent("reader", config=model, tools=[fetch], policies=[policy])
    reply = await chat(agent, "fetch it", "thanks")
    assert summaries(reply.events) == []
    for request in model.requests:
        assert list(request.messages) == list(reply.events)[: len(request.messages)]


async def test_llm_summary_summarizes_and_counts_its_usage() -> None:
    summarizer = ScriptedModel("Ann asked for sums; 3 and 7 were added.", model="summarizer")
    model = ScriptedModel(call("add", a=3, b=7), "10", "a1", "a2")
    policy = Compaction(LLMSummary(summarizer, keep_events=2), max_events=5)
    agent = Agent("calc", config=model, tools=[add], policies=[policy])
    reply = await agent.ask("I'm Ann. 3 + 7?")
    reply = await reply.ask("thanks")
    compacting = await reply.ask("and now?")

    # The summarizer read a transcript of the compacted messages.
    asked = summarizer.requests[0].messages[-1]
    assert isinstance(asked, ModelRequest)
    assert "User: I'm Ann. 3 + 7?" in asked.text
    assert 'Assistant called add({"a":3,"b":7})' in asked.text
    assert "Tool add returned: 10" in asked.text
    assert "and now?" not in asked.text  # kept, not compacted

    summary = summaries(compacting.events)[0]
    assert summary.summary == "Ann asked for sums; 3 and 7 were added."
    assert summary.strategy == "llm_summary"
    head = model.requests[-1].messages[0]
    assert head is summary
    assert texts(model.requests[-1].messages)[1:] == ["a1", "and now?"]

    # The summarizer's usage is the ask's, as kind "compaction".
    assert compacting.usage.requests == 2  # one model call for the answer, one for the summary
    report = [e for e in compacting.events if isinstance(e, UsageReport)][-1]
    kinds = {(line.kind, line.model): line.usage.requests for line in report.breakdown}
    assert kinds == {("model", "scripted"): 1, ("compaction", "summarizer"): 1}
    assert report.usage == compacting.usage


async def test_continuing_after_compaction_summarizes_the_summary() -> None:
    summarizer = ScriptedModel("S1", "S2", model="summarizer")
    model = ScriptedModel(*[f"a{i}" for i in range(8)])
    policy = Compaction(LLMSummary(summarizer, keep_events=1), max_events=4)
    history = MemoryHistory()
    agent = Agent("bot", config=model, policies=[policy], history=history)
    reply = await chat(agent, *[f"q{i}" for i in range(6)])

    first, second = (r.messages[-1] for r in summarizer.requests[:2])
    assert isinstance(first, ModelRequest) and isinstance(second, ModelRequest)
    assert "User: q0" in first.text and "Summary of the earlier conversation" not in first.text
    assert "Summary of the earlier conversation:\nS1" in second.text
    assert "User: q0" not in second.text  # already in S1
    assert [s.summary for s in summaries(reply.events)][:2] == ["S1", "S2"]
    assert reply.text == "a5"
    assert len(await history.load(reply.conversation_id)) == len(reply.events)


async def test_a_compaction_inside_a_long_ask_pins_its_request() -> None:
    steps = [call("add", a=i, b=1) for i in range(6)]
    model = ScriptedModel(*steps, "done")
    agent = Agent(
        "calc", config=model, tools=[add], policies=[Compaction(TailWindow(2), max_events=5)]
    )
    reply = await agent.ask("count up")
    assert reply.text == "done"
    last = sent(model.requests[-1].messages)
    assert isinstance(last[0], CompactionSummary)
    assert isinstance(last[1], ModelRequest) and last[1].text == "count up"
    for request in model.requests:
        assert_safe_window(request.messages, "count up")


@pytest.mark.parametrize("keep", range(0, 6))
@pytest.mark.parametrize("extra", [2, 3, 5])
async def test_compaction_never_splits_a_tool_call_from_its_result(keep: int, extra: int) -> None:
    model = ScriptedModel(*SCRIPT)
    policy = Compaction(TailWindow(keep_events=keep), max_events=keep + extra)
    agent = Agent("calc", config=model, tools=[add], policies=[policy])
    reply = None
    for i in range(4):
        first = len(model.requests)
        reply = await (agent.ask(f"q{i}") if reply is None else reply.ask(f"q{i}"))
        for request in model.requests[first:]:
            assert_safe_window(request.messages, f"q{i}")
    assert reply is not None
    # Every answer of the script is still in history.
    assert sum(isinstance(e, ModelResponse) for e in reply.events) == len(SCRIPT)


async def test_compacted_alone_shows_a_stored_compacted_conversation() -> None:
    history = MemoryHistory()
    writer = Agent(
        "writer",
        config=ScriptedModel("a0", "a1", "a2"),
        policies=[Compaction(TailWindow(1), max_events=3)],
        history=history,
    )
    reply = await chat(writer, "q0", "q1", "q2")
    assert summaries(reply.events)

    reader_model = ScriptedModel("a3")
    reader = Agent("reader", config=reader_model, policies=[Compacted()], history=history)
    await reader.ask("q3", conversation_id=reply.conversation_id)
    assert texts(reader_model.requests[0].messages) == [f"summary:{DROPPED_NOTE}", "q2", "a2", "q3"]

    # A plain agent sees everything, the summary included where it was recorded.
    plain_model = ScriptedModel("a4")
    plain = Agent("plain", config=plain_model, history=history)
    await plain.ask("q4", conversation_id=reply.conversation_id)
    seen = list(plain_model.requests[0].messages)
    assert seen == (await history.load(reply.conversation_id))[: len(seen)]
    assert summaries(seen) and texts(seen)[:2] == ["q0", "a0"]


async def test_compaction_must_read_the_stored_history() -> None:
    agent = Agent(
        "bot",
        config=ScriptedModel("a"),
        policies=[ConversationalOnly(), Compaction(TailWindow(1), max_events=3)],
    )
    with pytest.raises(ConfigError, match="list it first"):
        await agent.ask("hi")


async def test_compaction_then_a_window() -> None:
    model = ScriptedModel(*SCRIPT)
    policies = [Compaction(TailWindow(4), max_events=8), ConversationalOnly(), SlidingWindow(5)]
    agent = Agent("calc", config=model, tools=[add], policies=policies)
    reply = await chat(agent, "q0", "q1", "q2", "q3")
    assert summaries(reply.events)
    for request in model.requests:
        assert list(request.messages) == sent(request.messages)


async def test_a_failing_summarizer_fails_the_ask_and_leaves_history_valid() -> None:
    summarizer = ScriptedModel(ModelError("summarizer down"))
    agent = Agent(
        "bot",
        config=ScriptedModel("a0", "a1", "a2"),
        policies=[Compaction(LLMSummary(summarizer, keep_events=1), max_events=3)],
    )
    reply = await chat(agent, "q0", "q1")
    with pytest.raises(ModelError, match="summarizer down"):
        await reply.ask("q2")
    assert isinstance(reply._conversation.events[-1], RunFailed)


def test_bad_compaction_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        Compaction(TailWindow(2))
    with pytest.raises(ConfigError, match="keep_events"):
        Compaction(TailWindow(5), max_events=6)
    with pytest.raises(ConfigError):
        Compaction("tail", max_events=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        TailWindow(-1)


def test_views_that_differ_only_in_their_head_are_converted_afresh() -> None:
    """Compacted views are lists kept per conversation; a new summary makes a new list whose
    later events may sit where the old one's did, so the adapters' cache checks the head."""
    cache: MessageCache[str] = MessageCache(lambda out, e: out.append(repr(e)))
    old, new = CompactionSummary("old", 2), CompactionSummary("new", 3)
    request, answer = ModelRequest(()), ModelResponse("x")
    assert cache.messages("c", HistoryView([old, request, answer]))[0] == repr(old)
    assert cache.messages("c", HistoryView([new, request, answer]))[0] == repr(new)


async def test_a_run_streams_the_summary_as_it_is_recorded() -> None:
    agent = Agent(
        "bot",
        config=ScriptedModel("a0", "a1", "a2"),
        policies=[Compaction(TailWindow(1), max_events=3)],
    )
    reply = await chat(agent, "q0", "q1")
    async with reply.run("q2") as run:
        streamed = [event async for event in run]
        await run.result()
    kinds = [type(e).__name__ for e in streamed]
    assert kinds.index("CompactionSummary") < kinds.index("ModelResponse")
    assert kinds.index("RunStarted") < kinds.index("CompactionSummary")
