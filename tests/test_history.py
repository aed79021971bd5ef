"""History views, in-memory history and storage, and persisted / forked conversations."""

from __future__ import annotations

import pytest

from baton import Agent, ConfigError, tool
from baton.events import (
    Event,
    Image,
    ModelRequest,
    ModelResponse,
    RunFinished,
    RunStarted,
    Text,
    TextChunk,
    ToolCallResult,
)
from baton.history import History, HistoryView, MemoryHistory, MemoryStorage, Storage
from baton.testing import ScriptedModel, call


def make_events(n: int, prefix: str = "e") -> list[Event]:
    return [RunFinished(f"{prefix}{i}", f"text {i}") for i in range(n)]


def names(events) -> list[str]:
    return [type(e).__name__ for e in events]


def requests_text(events) -> list[str]:
    return [e.text for e in events if isinstance(e, ModelRequest)]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- HistoryView -------------------------------------------------------------------------------


class CountingList(list):
    """A list that counts element reads, to show that making a view reads no element."""

    reads = 0

    def __iter__(self):
        CountingList.reads += 1
        return super().__iter__()

    def __getitem__(self, index):
        CountingList.reads += 1
        return super().__getitem__(index)

    def copy(self):
        CountingList.reads += 1
        return super().copy()


def test_making_a_view_reads_and_copies_nothing():
    events = CountingList(make_events(1000))
    CountingList.reads = 0
    view = HistoryView(events)
    short = HistoryView(events, 10)
    assert CountingList.reads == 0
    assert len(view) == 1000
    assert len(short) == 10
    # it is a view, not a copy: it reads the very objects of the list
    assert view[999] is events[999]


def test_view_shows_only_the_first_n_events_after_the_list_grows():
    events = make_events(3)
    view = HistoryView(events)
    original = list(events)
    events.extend(make_events(4, prefix="later"))

    assert len(view) == 3
    assert list(view) == original
    assert [e for e in view] == original
    assert view == original
    assert original == view
    assert view == tuple(original)
    assert view != events
    assert events != view
    assert view != original[:2]
    assert view[0] is original[0]
    assert view[2] is original[2]
    assert view[-1] is original[2]
    assert view[-3] is original[0]
    with pytest.raises(IndexError):
        view[3]
    with pytest.raises(IndexError):
        view[-4]
    assert view[:] == original
    assert view[1:] == original[1:]
    assert view[-2:] == original[-2:]
    assert view[::-1] == original[::-1]
    assert view[1:100] == original[1:]
    assert list(reversed(view)) == original[::-1]
    assert events[3] not in view
    assert original[1] in view
    assert view.index(original[2]) == 2
    assert view.count(events[4]) == 0


def test_view_with_explicit_length():
    events = make_events(5)
    view = HistoryView(events, 2)
    assert len(view) == 2
    assert view == events[:2]
    assert view[-1] is events[1]
    assert view[:] == events[:2]
    with pytest.raises(IndexError):
        view[2]


def test_views_compare_with_each_other_and_are_unhashable():
    events = make_events(4)
    assert HistoryView(events, 2) == HistoryView(events[:2])
    assert HistoryView(events, 2) != HistoryView(events, 3)
    assert HistoryView([]) == []
    with pytest.raises(TypeError):
        hash(HistoryView(events))


def test_iterating_a_view_while_the_list_grows_stops_at_its_length():
    events = make_events(2)
    view = HistoryView(events)
    seen = []
    for event in view:
        seen.append(event)
        events.append(TextChunk("appended during iteration"))
    assert seen == events[:2]


def test_view_is_read_only():
    view = HistoryView(make_events(2))
    with pytest.raises(TypeError):
        view[0] = TextChunk("x")  # type: ignore[index]
    assert not hasattr(view, "append")


# -- MemoryHistory -----------------------------------------------------------------------------


def test_memory_history_and_storage_satisfy_their_protocols():
    assert isinstance(MemoryHistory(), History)
    assert isinstance(MemoryStorage(), Storage)


async def test_memory_history_appends_and_loads_per_conversation():
    history = MemoryHistory()
    a1, a2, b1 = make_events(1, "a1"), make_events(2, "a2"), make_events(1, "b1")
    assert await history.load("a") == []
    await history.append("a", a1)
    await history.append("b", b1)
    await history.append("a", a2)
    await history.append("a", ())
    assert await history.load("a") == a1 + a2
    assert await history.load("b") == b1
    assert await history.load("c") == []
    assert sorted(history.conversation_ids()) == ["a", "b"]


async def test_memory_history_load_returns_a_copy():
    history = MemoryHistory()
    events = make_events(2)
    await history.append("a", events)
    loaded = await history.load("a")
    loaded.append(TextChunk("not stored"))
    loaded.clear()
    events.clear()  # the caller's list is not the stored one either
    assert await history.load("a") == make_events(2)
    assert await history.load("a") is not await history.load("a")


async def test_memory_history_accepts_any_sequence():
    history = MemoryHistory()
    events = tuple(make_events(3))
    await history.append("a", events)
    await history.append("a", HistoryView(list(events), 1))
    assert await history.load("a") == [*events, events[0]]


# -- MemoryStorage -----------------------------------------------------------------------------


async def test_memory_storage_get_put_delete():
    storage = MemoryStorage()
    assert await storage.get("missing") is None
    await storage.put("run:1", {"state": "waiting", "n": [1, 2]})
    assert await storage.get("run:1") == {"state": "waiting", "n": [1, 2]}
    await storage.put("run:1", {"state": "done"})
    assert await storage.get("run:1") == {"state": "done"}
    assert await storage.delete("run:1") is True
    assert await storage.get("run:1") is None
    assert await storage.delete("run:1") is False
    assert await storage.delete("never") is False


async def test_memory_storage_keeps_falsy_values():
    storage = MemoryStorage()
    for key, value in [("zero", 0), ("empty", ""), ("list", []), ("false", False)]:
        await storage.put(key, value)
        assert await storage.get(key) == value
        assert await storage.delete(key) is True
        assert key not in await storage.keys()


async def test_memory_storage_delete_reports_a_key_holding_null():
    # JSON null is a value like any other: the key exists (keys() lists it), so deleting it
    # deletes something and must say so.
    storage = MemoryStorage()
    await storage.put("k", None)
    assert await storage.keys() == ["k"]
    assert await storage.delete("k") is True
    assert await storage.keys() == []


async def test_memory_storage_keys_by_prefix_sorted():
    storage = MemoryStorage()
    for key in ["run:2", "knowledge:a", "run:10", "run:1", "runner"]:
        await storage.put(key, key.upper())
    assert await storage.keys() == sorted(["run:2", "knowledge:a", "run:10", "run:1", "runner"])
    assert await storage.keys("run:") == ["run:1", "run:10", "run:2"]
    assert await storage.keys("run") == ["run:1", "run:10", "run:2", "runner"]
    assert await storage.keys("knowledge:") == ["knowledge:a"]
    assert await storage.keys("nothing") == []
    await storage.delete("run:10")
    assert await storage.keys("run:") == ["run:1", "run:2"]


# -- persisted conversations -------------------------------------------------------------------


async def test_agent_persists_an_asks_events():
    history = MemoryHistory()
    model = ScriptedModel(call("add", a=2, b=3), "5")
    agent = Agent("calc", config=model, tools=[add], history=history)
    reply = await agent.ask("2+3?")
    stored = await history.load(reply.conversation_id)
    assert stored == list(reply.events)
    assert names(stored) == [
        "RunStarted",
        "ModelRequest",
        "ModelResponse",
        "ToolCallResult",
        "ModelResponse",
        "UsageReport",
        "RunFinished",
    ]
    assert not any(e.transient for e in stored)
    assert history.conversation_ids() == [reply.conversation_id]


async def test_continuing_by_conversation_id_shows_the_model_the_earlier_messages():
    history = MemoryHistory()
    model = ScriptedModel(call("add", a=2, b=3), "5", "10")
    agent = Agent("calc", config=model, tools=[add], history=history)
    first = await agent.ask("2+3?")
    first_events = list(first.events)

    # a different Agent object (agents are stateless): only the history links the two asks
    again = Agent("calc", config=model, tools=[add], history=history)
    second = await again.ask("and doubled?", conversation_id=first.conversation_id)

    assert second.text == "10"
    assert second.conversation_id == first.conversation_id
    seen = list(model.requests[-1].messages)
    assert seen[: len(first_events)] == first_events
    assert requests_text(seen) == ["2+3?", "and doubled?"]
    assert any(isinstance(e, ToolCallResult) and e.content == "5" for e in seen)
    assert any(isinstance(e, ModelResponse) and e.text == "5" for e in seen)

    stored = await history.load(first.conversation_id)
    assert stored == list(second.events)
    assert stored[: len(first_events)] == first_events  # nothing duplicated or rewritten
    assert names(stored).count("RunStarted") == 2
    assert len(stored) == len(first_events) + 5
    assert [e.conversation_id for e in stored if isinstance(e, RunStarted)] == [
        first.conversation_id
    ] * 2


async def test_unknown_conversation_id_with_history_starts_it():
    history = MemoryHistory()
    model = ScriptedModel("hi")
    reply = await Agent("a", config=model, history=history).ask("hello", conversation_id="new-1")
    assert reply.conversation_id == "new-1"
    assert await history.load("new-1") == list(reply.events)
    assert requests_text(model.requests[-1].messages) == ["hello"]


async def test_conversation_id_without_history_is_a_config_error():
    model = ScriptedModel("never used")
    agent = Agent("a", config=model)
    with pytest.raises(ConfigError):
        await agent.ask("hi", conversation_id="abc")
    assert model.calls_made == 0


async def test_reply_ask_continues_the_same_conversation():
    history = MemoryHistory()
    model = ScriptedModel("one", "two")
    first = await Agent("a", config=model, history=history).ask("1")
    second = await first.ask("2")
    assert second.conversation_id == first.conversation_id
    assert requests_text(model.requests[-1].messages) == ["1", "2"]
    assert list(second.events)[: len(first.events)] == list(first.events)
    assert await history.load(first.conversation_id) == list(second.events)


# -- forks -------------------------------------------------------------------------------------


async def test_continuing_an_earlier_reply_forks_in_memory():
    model = ScriptedModel("one", "two", "three")
    first = await Agent("a", config=model).ask("1")
    first_events = list(first.events)
    second = await first.ask("2")
    second_events = list(second.events)

    fork = await first.ask("2 again, differently")

    assert fork.text == "three"
    assert fork.conversation_id != first.conversation_id
    assert list(first.events) == first_events
    assert list(second.events) == second_events
    assert requests_text(second.events) == ["1", "2"]
    assert list(fork.events)[: len(first_events)] == first_events
    assert requests_text(fork.events) == ["1", "2 again, differently"]
    assert requests_text(model.requests[-1].messages) == ["1", "2 again, differently"]
    assert [e.text for e in fork.events if isinstance(e, ModelResponse)] == ["one", "three"]

    # the newest reply of the original conversation still continues it, without a fork
    third = await second.ask("3", config=ScriptedModel("four"))
    assert third.conversation_id == first.conversation_id
    assert requests_text(third.events) == ["1", "2", "3"]


async def test_fork_of_a_persisted_conversation_is_persisted_under_its_own_id():
    history = MemoryHistory()
    model = ScriptedModel("one", "two", "three")
    first = await Agent("a", config=model, history=history).ask("1")
    first_events = list(first.events)
    second = await first.ask("2")
    second_events = list(second.events)

    fork = await first.ask("fork")

    assert fork.conversation_id != first.conversation_id
    assert await history.load(first.conversation_id) == second_events
    assert list(second.events) == second_events
    forked = await history.load(fork.conversation_id)
    assert forked == list(fork.events)
    assert forked[: len(first_events)] == first_events
    assert requests_text(forked) == ["1", "fork"]
    assert sorted(history.conversation_ids()) == sorted(
        [first.conversation_id, fork.conversation_id]
    )


async def test_fork_continues_on_its_own_branch():
    model = ScriptedModel("one", "two", "three", "four")
    first = await Agent("a", config=model).ask("1")
    await first.ask("2")
    fork = await first.ask("fork")
    more = await fork.ask("more")
    assert more.conversation_id == fork.conversation_id
    assert requests_text(more.events) == ["1", "fork", "more"]


async def test_earlier_reply_continued_after_the_stored_conversation_moved_on_forks():
    # The conversation moved on through the history (ask(conversation_id=...)), not through the
    # in-memory reply. Continuing the earlier reply must still branch, not append a second,
    # divergent timeline to the stored conversation.
    history = MemoryHistory()
    model = ScriptedModel("one", "two", "three")
    agent = Agent("a", config=model, history=history)
    first = await agent.ask("1")
    second = await agent.ask("2", conversation_id=first.conversation_id)
    second_events = list(second.events)
    assert requests_text(second_events) == ["1", "2"]

    branch = await first.ask("other 2")

    assert requests_text(model.requests[-1].messages) == ["1", "other 2"]
    assert branch.conversation_id != second.conversation_id
    assert await history.load(second.conversation_id) == second_events
    assert await history.load(branch.conversation_id) == list(branch.events)


async def test_history_keeps_media_inputs_intact():
    history = MemoryHistory()
    model = ScriptedModel("a cat", "yes")
    agent = Agent("vision", config=model, history=history)
    image = Image(data=b"\x89PNG fake")
    first = await agent.ask(["what is this?", image])
    await agent.ask("sure?", conversation_id=first.conversation_id)
    request = next(e for e in model.requests[-1].messages if isinstance(e, ModelRequest))
    assert request.parts == (Text("what is this?"), image)


async def test_a_second_ask_on_a_busy_stored_conversation_is_refused_even_with_its_own_stream():
    import asyncio

    from baton.errors import ConversationBusy
    from baton.events import ToolCallResult
    from baton.stream import MemoryStream
    from baton.testing import call as scripted_call
    from baton.tools import tool

    release = asyncio.Event()
    release.set()  # the first ask runs straight through
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Wait until released."""
        started.set()
        await release.wait()
        return "ok"

    def turn(c):
        return "done" if isinstance(c.messages[-1], ToolCallResult) else scripted_call("slow")

    history = MemoryHistory()
    agent = Agent("a", config=ScriptedModel(turn, repeat=True), tools=[slow], history=history)
    await agent.ask("first", conversation_id="c1")
    release.clear()
    started.clear()
    second = asyncio.create_task(agent.ask("second", conversation_id="c1"))
    await started.wait()
    with pytest.raises(ConversationBusy):
        await agent.ask("third", conversation_id="c1", stream=MemoryStream())
    release.set()
    await second
    assert [type(e).__name__ for e in await history.load("c1")].count("RunStarted") == 2
