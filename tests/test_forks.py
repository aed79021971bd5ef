"""Continuing an old reply after its conversation moved on (a fork): the branch sees exactly
its prefix, forks of forks too, and what the work shared with the conversation it came from
(the ScriptedModel's token tally, the providers' converted messages) gives the same answer as
a fresh conversation holding the same events. The branch shares its prefix with the
conversation it came from (``ForkedEvents``) instead of copying it, and a reload of either
leaves the other as it was."""

from __future__ import annotations

import copy
import json
import tracemalloc
from dataclasses import replace
from typing import Any

import pytest

from baton import Agent, Image, tool
from baton.conversation import Conversation
from baton.events import (
    Event,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    Text,
    TextChunk,
    ToolCall,
    ToolCallResult,
)
from baton.forked import EventList, ForkedEvents
from baton.history import HistoryView, MemoryHistory
from baton.models.base import ModelCall
from baton.providers import _cache
from baton.providers._cache import (
    MessageCache,
    SharedMessages,
    append_tool_message,
    merge_or_append,
    tool_message_reach,
)
from baton.testing import ScriptedModel, call

OFFLINE = "http://127.0.0.1:9"


def requests_text(events: Any) -> list[str]:
    return [e.text for e in events if isinstance(e, ModelRequest)]


async def no_emit(chunk: TextChunk) -> None:
    return None


async def fresh_input_tokens(model_call: ModelCall) -> int:
    """The input tokens a ScriptedModel that never saw the conversation counts for the call."""
    fresh = replace(
        model_call, conversation_id="fresh", messages=HistoryView(list(model_call.messages))
    )
    answer = await ScriptedModel("x").respond(fresh, no_emit)
    return answer.usage.input_tokens


async def test_a_fork_sees_exactly_its_prefix_and_counts_it_as_a_fresh_model_would() -> None:
    model = ScriptedModel(repeat=True)
    model.turns = ("answer " * 20,)
    agent = Agent("a", config=model)
    reply = await agent.ask("one")
    for n in range(30):
        reply = await reply.ask(f"ask {n}")
    old = reply
    old_events = list(old.events)
    for n in range(5):
        reply = await reply.ask(f"later {n}")  # the conversation moves on

    fork = await old.ask("the other way")

    shown = list(model.last_request.messages)
    assert shown[: len(old_events)] == old_events
    assert all(a is b for a, b in zip(shown, old_events, strict=False))
    assert requests_text(shown[len(old_events) :]) == ["the other way"]
    assert not any("later" in text for text in requests_text(shown))
    assert fork.response.usage.input_tokens == await fresh_input_tokens(model.last_request)
    assert fork.conversation_id != old.conversation_id
    assert list(old.events) == old_events  # the old reply still sees what it saw


async def test_forks_of_forks_each_see_their_own_line() -> None:
    model = ScriptedModel(repeat=True)
    model.turns = ("ok " * 10,)
    agent = Agent("a", config=model)
    root = await agent.ask("root")
    a1 = await root.ask("a1")
    await a1.ask("a2")  # the root conversation moves on past a1

    b1 = await a1.ask("b1")  # a fork of a1
    await b1.ask("b2")  # the fork moves on
    c1 = await b1.ask("c1")  # a fork of the fork, from b1
    c1_call = model.last_request
    d1 = await root.ask("d1")  # a fork of the root, before a1

    assert requests_text(c1.events) == ["root", "a1", "b1", "c1"]
    assert requests_text(d1.events) == ["root", "d1"]
    assert requests_text(b1.events) == ["root", "a1", "b1"]
    assert len({root.conversation_id, b1.conversation_id, c1.conversation_id}) == 3
    assert c1.response.usage.input_tokens == await fresh_input_tokens(c1_call)
    assert d1.response.usage.input_tokens == await fresh_input_tokens(model.last_request)

    c2 = await c1.ask("c2")  # the newest reply of a fork continues it
    assert c2.conversation_id == c1.conversation_id
    assert requests_text(c2.events) == ["root", "a1", "b1", "c1", "c2"]
    assert c2.response.usage.input_tokens == await fresh_input_tokens(model.last_request)


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def chart() -> Image:
    """Draw the chart."""
    return Image(data=b"\x89PNG fake chart")


def provider_clients() -> dict[str, Any]:
    from baton.providers.anthropic import AnthropicConfig
    from baton.providers.gemini import GeminiConfig
    from baton.providers.ollama import OllamaConfig
    from baton.providers.openai import OpenAIConfig
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return {
        "openai": OpenAIConfig("m", api_key="sk-test", base_url=f"{OFFLINE}/v1").client(),
        "responses": OpenAIResponsesConfig(
            "m", api_key="sk-test", base_url=f"{OFFLINE}/v1"
        ).client(),
        "anthropic": AnthropicConfig("m", api_key="sk-ant-test", base_url=OFFLINE).client(),
        "gemini": GeminiConfig("m", api_key="test-key", base_url=OFFLINE).client(),
        "ollama": OllamaConfig("m", base_url=OFFLINE).client(),
    }


class WireModel(ScriptedModel):
    """A ScriptedModel that also builds each provider's request for every call (offline:
    nothing is sent), keeping the last ones."""

    def __init__(self, *turns: Any) -> None:
        super().__init__(*turns)
        self.clients = provider_clients()
        self.built: dict[str, dict[str, Any]] = {}

    async def respond(self, model_call: ModelCall, emit: Any) -> ModelResponse:
        self.built = {name: c.build_request(model_call) for name, c in self.clients.items()}
        return await super().respond(model_call, emit)


def wire_messages(name: str, request: dict[str, Any]) -> list[Any]:
    return list(
        request["contents" if name == "gemini" else "input" if name == "responses" else "messages"]
    )


async def test_provider_wire_of_a_fork_is_what_a_fresh_conversation_would_send() -> None:
    # Tool rounds with media results: providers merge results into one turn, or put media
    # after the tool messages, so earlier messages change after they were first converted.
    model = WireModel(
        [call("add", a=1, b=2), call("chart")],
        "three, and a chart",
        [call("chart"), call("add", a=2, b=2)],
        "four",
        "later",
        [call("add", a=5, b=5), call("chart")],
        "ten",
    )
    agent = Agent("a", config=model, tools=[add, chart])
    first = await agent.ask("add and draw")
    old = await first.ask("again")
    parent_built = model.built
    await old.ask("moving on")

    fork = await old.ask("a different turn")

    assert fork.text == "ten"
    fork_call = model.last_request
    fresh_call = replace(
        fork_call, conversation_id="fresh", messages=HistoryView(list(fork_call.messages))
    )
    fresh = provider_clients()
    for name, client in fresh.items():
        assert model.built[name] == client.build_request(fresh_call), name
        # the fork's request starts from the parent's converted messages, not a copy of them
        shared, parent = (
            wire_messages(name, model.built[name]),
            wire_messages(name, parent_built[name]),
        )
        assert shared[1] is parent[1], name
    for client in [*model.clients.values(), *fresh.values()]:
        await client.aclose()


# -- the message cache's shared prefixes -------------------------------------------------------


def text_messages(events: list[Event]) -> list[dict[str, Any]]:
    """A provider of alternating roles: a request and a remark in a row make one message."""
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    return [dict(m) for m in cache.messages("fresh", HistoryView(events))]


def convert(messages: list[dict[str, Any]], event: Event) -> None:
    if isinstance(event, ModelRequest | HumanMessage):
        merge_or_append(messages, {"role": "user", "content": event.text})
    elif isinstance(event, ModelResponse):
        messages.append({"role": "assistant", "content": event.text})
    elif isinstance(event, ToolCallResult):
        append_tool_message(messages, {"role": "tool", "content": event.content})
        if event.parts:
            messages.append({"role": "user", "content": "media"})


def test_a_prefix_whose_last_message_was_merged_into_later_is_not_reused() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    request = ModelRequest((Text("question"),))
    parent = [request]
    cache.messages("parent", HistoryView(parent))
    parent.append(HumanMessage("a remark"))  # merged into the request's message
    cache.messages("parent", HistoryView(parent))

    branch = [request, ModelResponse("answer")]
    assert cache.messages("branch", HistoryView(branch)) == text_messages(branch)
    assert cache.messages("parent", HistoryView(parent)) == text_messages(parent)


def test_a_prefix_with_a_tool_message_inserted_before_its_end_is_not_reused() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    calls = (ToolCall("c1", "chart", "{}"), ToolCall("c2", "add", "{}"))
    answer = ModelResponse("", calls)
    media_result = ToolCallResult("c1", "chart", "a chart", parts=(Image(data=b"x"),))
    parent: list[Event] = [ModelRequest((Text("q"),)), answer, media_result]
    cache.messages("parent", HistoryView(parent))
    parent.append(ToolCallResult("c2", "add", "3"))  # goes in before the media message
    cache.messages("parent", HistoryView(parent))

    branch = [*parent[:3], ModelResponse("done")]
    assert cache.messages("branch", HistoryView(branch)) == text_messages(branch)


def test_a_branch_reuses_the_prefix_a_call_converted() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    parent: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("a")]
    converted = cache.messages("parent", HistoryView(parent))
    parent.extend([ModelRequest((Text("q2"),)), ModelResponse("a2")])
    cache.messages("parent", HistoryView(parent))

    branch = [*parent[:2], ModelRequest((Text("other"),))]
    messages = cache.messages("branch", HistoryView(branch))
    assert messages == text_messages(branch)
    assert messages[0] is converted[0] and messages[1] is converted[1]


def test_an_empty_view_after_others_converts_to_no_messages() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    cache.messages("parent", HistoryView([ModelRequest((Text("q"),))]))
    assert cache.messages("empty", HistoryView([])) == []


@pytest.mark.parametrize("agent", [None, "writer"])
def test_a_prefix_converted_for_another_agent_is_not_reused(agent: str | None) -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    parent: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("a")]
    converted = cache.messages("parent", HistoryView(parent), agent="reader")
    messages = cache.messages(
        "branch", HistoryView([*parent, ModelRequest((Text("x"),))]), agent=agent
    )
    assert messages[0] is not converted[0]


# A window that pins the latest request ([first, latest, kept steps...]), then one that no longer
# pins it and keeps one step more in its place: the same first and the same event at the same
# index, with a different event between them.
def pinned_then_unpinned() -> tuple[list[Event], list[Event]]:
    first, latest = ModelRequest((Text("first"),)), ModelRequest((Text("latest, long"),))
    before, kept, last = ModelResponse("before"), ModelResponse("kept"), ModelResponse("last")
    return [first, latest, kept, last], [first, before, kept, last, ModelRequest((Text("new"),))]


def test_a_window_with_another_event_between_the_same_ends_is_converted_afresh() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    pinned, unpinned = pinned_then_unpinned()
    cache.messages("c", HistoryView(pinned))
    assert cache.messages("c", HistoryView(unpinned)) == text_messages(unpinned)


def test_a_fork_whose_window_differs_between_the_same_ends_does_not_reuse_the_prefix() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    pinned, unpinned = pinned_then_unpinned()
    cache.messages("parent", HistoryView(pinned))
    assert cache.messages("fork", HistoryView(unpinned)) == text_messages(unpinned)


def test_a_growing_window_in_a_list_of_its_own_still_reuses_the_converted_messages() -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert)
    events: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("a")]
    converted = cache.messages("c", HistoryView(list(events)))
    events.append(ModelRequest((Text("q2"),)))
    messages = cache.messages("c", HistoryView(list(events)))
    assert messages == text_messages(events) and messages is converted


# -- the shared prefix (ForkedEvents) ----------------------------------------------------------


def remarks(name: str, count: int) -> list[Event]:
    return [HumanMessage(f"{name}{i}") for i in range(count)]


def assert_reads_like(events: EventList, expected: list[Event]) -> None:
    """``events`` answers every read a list answers, as ``expected`` does."""
    n = len(expected)
    assert len(events) == n
    assert list(events) == expected and list(reversed(events)) == expected[::-1]
    assert events == expected and expected == events
    for i in range(-n, n):
        assert events[i] is expected[i], i
    for i in (n, -n - 1):
        with pytest.raises(IndexError):
            events[i]
    bounds = [None, *range(-n - 2, n + 3)]
    for start in bounds:
        for stop in bounds:
            assert events[start:stop] == expected[start:stop], (start, stop)
    assert events[::2] == expected[::2] and events[::-1] == expected[::-1]
    if expected:
        assert expected[-1] in events and events.index(expected[-1]) == n - 1


def test_forked_events_read_like_the_list_they_stand_for_through_forks_of_forks() -> None:
    base, own, more = remarks("base", 8), remarks("first", 6), remarks("third", 2)
    first = ForkedEvents(base, 5)
    first.extend(own[:4])
    second = ForkedEvents(first, 7)  # five of base's and two of first's own
    second.append(HumanMessage("second"))
    third = ForkedEvents(second, 3)  # back within base's part
    third.extend(more)
    empty = ForkedEvents(second, 0)
    beyond = ForkedEvents(base, 20)  # a length past the end: what there is
    expected = {
        "first": [*base[:5], *own],
        "second": [*base[:5], *own[:2], second[-1]],
        "third": [*base[:3], *more],
        "empty": [],
        "beyond": list(base),
    }
    forks = {"first": first, "second": second, "third": third, "empty": empty, "beyond": beyond}

    base.extend(remarks("later", 3))  # the conversation moves on
    first.extend(own[4:])  # and so does the first fork

    for name, events in forks.items():
        assert_reads_like(events, expected[name])
    # Whether two begin with the same events, known from how they were made (no comparison).
    assert first.starts_like(base, 5) and not first.starts_like(base, 6)
    assert second.starts_like(first, 7) and second.starts_like(base, 5)
    assert third.starts_like(second, 3) and not third.starts_like(second, 4)
    assert not ForkedEvents(list(base), 5).starts_like(base, 5)  # equal, but not shared
    assert HistoryView(second).shares_prefix(HistoryView(first), 7)
    assert not HistoryView(third).shares_prefix(HistoryView(second), 4)


def fork_allocation(size: int) -> int:
    """The bytes ``Conversation.fork`` allocates at most for a branch of ``size`` events."""
    parent = Conversation(events=remarks("e", size + 1))
    parent.fork(1)  # warm: the first call of a function allocates its own frame data
    tracemalloc.start()
    try:
        branch = parent.fork(size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(branch.events) == size
    return peak


def test_a_fork_of_a_long_conversation_shares_its_prefix_instead_of_copying_it() -> None:
    parent = Conversation(events=remarks("e", 5_000))
    branch = parent.fork(4_000)

    assert isinstance(branch.events, ForkedEvents)
    assert branch.events.starts_like(parent.events, 4_000)
    assert branch.events[3_999] is parent.events[3_999]
    assert branch.saved == 0 and branch.id != parent.id
    # A copy of 5,000 references is 40 kB; the fork's own objects are the same at any length.
    assert fork_allocation(5_000) - fork_allocation(10) < 5_000 * 8 // 10


class EventLog(list[Event]):
    """A caller's own list type for a conversation's events."""


async def test_a_conversation_whose_events_are_a_list_subclass_forks_and_reloads() -> None:
    history = MemoryHistory()
    original = remarks("stored", 5)
    parent = Conversation(events=EventLog(original), history=history)
    await history.append(parent.id, original)
    branch = parent.fork(3)
    assert list(branch.events) == original[:3]
    edited = remarks("edited", 6)
    history = parent.history = MemoryHistory()
    await history.append(parent.id, edited)
    await parent.reload()  # in place: the branch copied what it shared first
    assert list(parent.events) == edited and list(branch.events) == original[:3]


async def test_a_reload_of_the_conversation_forked_from_leaves_its_forks_as_they_were() -> None:
    history = MemoryHistory()
    original, own = remarks("stored", 10), remarks("branch", 2)
    parent = Conversation(events=list(original), history=history)
    await history.append(parent.id, original)
    branch = parent.fork(6)
    branch.events.extend(own)
    twig = branch.fork(7)  # shares parent's list (6) and the branch's own (1)
    parent_list = parent.events

    # Another writer replaced what the store holds: the parent's reload takes it in place.
    edited = remarks("edited", 12)
    history = parent.history = MemoryHistory()
    await history.append(parent.id, edited)
    await parent.reload()

    assert parent.events is parent_list and list(parent.events) == edited
    assert list(branch.events) == [*original[:6], *own]
    assert list(twig.events) == [*original[:6], own[0]]
    assert all(a is b for a, b in zip(branch.events, [*original[:6], *own], strict=True))
    assert not branch.events.starts_like(parent.events, 6)  # a copy now, not the list
    later = parent.fork(4)  # a fork after the reload shares the reloaded list
    assert isinstance(later.events, ForkedEvents) and later.events.starts_like(parent.events, 4)
    assert list(later.events) == edited[:4]

    # The branch reloads too (its store holds other events): its fork keeps what it shared.
    branch.history = history
    await history.append(branch.id, remarks("branch stored", 3))
    branch.saved = 8
    await branch.reload()
    assert list(branch.events) == remarks("branch stored", 3)
    assert list(twig.events) == [*original[:6], own[0]]
    branch.events.append(HumanMessage("after"))
    assert list(twig.events) == [*original[:6], own[0]]


async def test_asks_on_old_replies_interleaved_with_the_conversation_see_their_own_lines() -> None:
    model = ScriptedModel(repeat=True)
    model.turns = ("ok",)
    agent = Agent("a", config=model)
    latest = await agent.ask("p0")
    replies = [latest]
    for n in range(1, 6):
        latest = await latest.ask(f"p{n}")
        replies.append(latest)
    old = replies[2]
    seen = {id(r): list(r.events) for r in replies}

    fork = await old.ask("f0")  # shares p0..p2
    latest = await latest.ask("p6")
    fork = await fork.ask("f1")
    twig = await fork.ask("t0")
    fork = await (await old.ask("g0")).ask("g1")  # a second fork of the same reply
    latest = await latest.ask("p7")
    twig = await twig.ask("t1")

    assert requests_text(latest.events) == [f"p{n}" for n in range(8)]
    assert requests_text(twig.events) == ["p0", "p1", "p2", "f0", "f1", "t0", "t1"]
    assert requests_text(fork.events) == ["p0", "p1", "p2", "g0", "g1"]
    assert requests_text(model.last_request.messages) == requests_text(twig.events)
    assert all(list(r.events) == seen[id(r)] for r in replies)
    shared = list(old.events)
    for line in (fork, twig):
        assert all(a is b for a, b in zip(line.events, shared, strict=False))


# -- the converted messages of a fork share its prefix too (issue 19, point 4) ----------------


@pytest.fixture(params=["shared", "copied"])
def share_from(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Forks share their converted messages from any length ("shared"), or from the cache's
    own threshold, below which the short histories of these tests are copied."""
    if request.param == "shared":
        monkeypatch.setattr(_cache, "SHARE_FROM", 0)
    return _cache.SHARE_FROM


@pytest.fixture
def share_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cache, "SHARE_FROM", 0)


def wire_bytes(request: dict[str, Any]) -> bytes:
    """A request body as bytes (Gemini's contents and config are pydantic models)."""

    def plain(value: Any) -> Any:
        return value.model_dump(mode="json", exclude_none=True)

    return json.dumps(request, default=plain).encode()


class FromScratchModel(WireModel):
    """A WireModel that checks every call's requests, for each provider, against a second set
    of clients rendering the call's history from scratch (copies of its events under a new
    conversation id: nothing converted before can be found for them)."""

    def __init__(self, *turns: Any) -> None:
        super().__init__(*turns)
        self.scratch = provider_clients()
        self.calls = 0
        self.shared = 0  # calls whose messages (some provider's) shared a prefix

    async def respond(self, model_call: ModelCall, emit: Any) -> ModelResponse:
        self.calls += 1
        copies = [copy.copy(event) for event in model_call.messages]
        fresh = replace(
            model_call, conversation_id=f"scratch-{self.calls}", messages=HistoryView(copies)
        )
        for name, client in self.clients.items():
            cached = client._cache.messages(
                model_call.conversation_id, model_call.messages, model_call.agent
            )
            self.shared += isinstance(cached, SharedMessages)
            built = wire_bytes(client.build_request(model_call))
            assert built == wire_bytes(self.scratch[name].build_request(fresh)), name
        return await super().respond(model_call, emit)

    async def aclose(self) -> None:
        for client in [*self.clients.values(), *self.scratch.values()]:
            await client.aclose()


async def test_every_provider_renders_forks_byte_for_byte_as_from_scratch(share_from: int) -> None:
    # Tool rounds with media results (merged into one turn, or media after the tool
    # messages), asks on the latest replies, old replies (forks), forks of forks, and a
    # conversation another writer moves on (reloaded here while forks share its lists).
    history = MemoryHistory()
    model = FromScratchModel(
        [call("add", a=1, b=2), call("chart")],
        "three, and a chart",
        "plain",
        [call("chart"), call("add", a=2, b=2)],
        "four",
    )
    model.repeat = True
    agent = Agent("a", config=model, tools=[add, chart], history=history)
    other = Agent("a", config=ScriptedModel("elsewhere", repeat=True), history=history)
    replies = [await agent.ask("start")]
    for n in range(4):
        replies.append(await replies[-1].ask(f"p{n}"))
    latest = replies[-1]
    for step in range(24):
        old = replies[(step * 7) % len(replies)]
        branch = await old.ask(f"fork {step}")  # a fork unless ``old`` is the latest
        replies.append(branch)
        if step % 3 == 0:
            replies.append(await branch.ask(f"on {step}"))  # the branch moves on
        if step % 4 == 1:
            latest = await latest.ask(f"main {step}")  # the conversation moves on
            replies.append(latest)
        if step % 8 == 2:  # another writer moves the conversation on: the next ask reloads
            await other.ask(f"other {step}", conversation_id=latest.conversation_id)
            latest = await latest.ask(f"after other {step}")
            replies.append(latest)
    assert model.calls > 70, model.calls
    assert model.shared > 150 if share_from == 0 else model.shared == 0, model.shared
    assert len({r.conversation_id for r in replies}) > 20
    await model.aclose()


def test_a_fork_shares_the_converted_prefix_instead_of_copying_it(share_all: None) -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert, reach=tool_message_reach)

    def fork_allocation(size: int) -> int:
        parent: list[Event] = []
        for n in range(size // 2):
            parent += [ModelRequest((Text(f"q{n}"),)), ModelResponse(f"a{n}")]
        cache.messages(f"parent {size}", HistoryView(parent))
        parent.append(ModelRequest((Text("later"),)))  # the parent moves on
        cache.messages(f"parent {size}", HistoryView(parent))
        branch = ForkedEvents(parent, len(parent) - 1)  # the events shared too
        branch.append(ModelRequest((Text("other"),)))
        tracemalloc.start()
        try:
            messages = cache.messages(f"branch {size}", HistoryView(branch))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert isinstance(messages, SharedMessages)
        assert list(messages) == text_messages(list(branch))
        return peak

    fork_allocation(10)  # warm
    # A copy of 2,500 references is 20 kB; what the fork makes is the same at any length.
    assert fork_allocation(5_000) - fork_allocation(10) < 5_000 * 8 // 20


def test_forks_of_forks_and_parents_moving_on_keep_the_shared_messages_as_they_were(
    share_all: None,
) -> None:
    cache: MessageCache[dict[str, Any]] = MessageCache(convert, reach=tool_message_reach)
    calls = (ToolCall("c1", "chart", "{}"), ToolCall("c2", "add", "{}"))
    media = ToolCallResult("c1", "chart", "a chart", parts=(Image(data=b"x"),))
    parent: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("", calls), media]
    cache.messages("parent", HistoryView(parent))  # ends with the media's user message
    fork = [*parent, ToolCallResult("c2", "add", "3")]  # goes in before the media message
    twig_from = [*fork, ModelResponse("done"), HumanMessage("remark")]
    parent += [ToolCallResult("c2", "add", "4"), ModelResponse("other")]
    lines = {"parent": parent, "fork": fork, "twig": twig_from}
    for name, events in lines.items():
        assert list(cache.messages(name, HistoryView(events))) == text_messages(events)
    twig = [*twig_from, HumanMessage("more"), ModelRequest((Text("t"),))]
    fork += [ModelResponse("fork answer"), HumanMessage("x")]
    parent += [HumanMessage("y"), ModelRequest((Text("z"),))]
    for name, events in {"twig": twig, "fork": fork, "parent": parent}.items():
        got = cache.messages(name, HistoryView(events))
        assert list(got) == text_messages(events), name
    for name, events in {"fork": fork, "twig": twig, "parent": parent}.items():
        assert list(cache.messages(name, HistoryView(events))) == text_messages(events), name


def test_an_entry_whose_next_append_could_reach_shared_messages_moves_to_its_own_list(
    share_all: None,
) -> None:
    # A reach that grows (not the providers' kind): the parent's next pass could reach the
    # messages a fork shares, so it continues on a list of its own first.
    reaches = [1]
    cache: MessageCache[dict[str, Any]] = MessageCache(convert, reach=lambda m: reaches[0])
    parent: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("a")]
    parent += [ModelRequest((Text("q2"),)), ModelResponse("a2")]
    cache.messages("parent", HistoryView(parent))
    branch = [*parent, ModelRequest((Text("b"),))]
    shared = cache.messages("branch", HistoryView(branch))
    assert isinstance(shared, SharedMessages)
    before = list(shared)
    reaches[0] = 4
    parent.append(HumanMessage("merged into nothing: the last is an answer"))
    parent.append(ModelRequest((Text("q3"),)))
    assert list(cache.messages("parent", HistoryView(parent))) == text_messages(parent)
    assert list(shared) == before
    branch.append(ModelResponse("b answer"))
    assert list(cache.messages("branch", HistoryView(branch))) == text_messages(branch)


def test_shared_messages_read_like_the_list_they_stand_for() -> None:
    a, b = [{"n": i} for i in range(5)], [{"n": i} for i in range(5, 9)]
    shared: SharedMessages[dict[str, int]] = SharedMessages(((a, 3), (b, 4)))
    a.append({"n": 99})  # the lists grow after: the snapshot doesn't
    expected = [*a[:3], *b]
    n = len(expected)
    assert len(shared) == n and list(shared) == expected and shared == expected
    for i in range(-n, n):
        assert shared[i] is expected[i]
    for i in (n, -n - 1):
        with pytest.raises(IndexError):
            shared[i]
    for start in [None, *range(-n - 1, n + 2)]:
        for stop in [None, *range(-n - 1, n + 2)]:
            assert shared[start:stop] == expected[start:stop], (start, stop)
    assert shared[::-2] == expected[::-2]


async def test_every_provider_renders_forks_made_within_a_tool_round_as_from_scratch(
    share_from: int,
) -> None:
    # Forks whose shared messages end where the next result merges into the last message or
    # goes in before the media message of an earlier one, continued while the lines they
    # share move on: each provider's request as a fresh conversation's, byte for byte.
    model = ScriptedModel("ok")
    await Agent("a", config=model).ask("template")
    template = model.last_request
    clients, scratch = provider_clients(), provider_clients()
    calls = (
        ToolCall("c1", "chart", "{}"),
        ToolCall("c2", "add", "{}"),
        ToolCall("c3", "add", "{}"),
    )
    media = ToolCallResult("c1", "chart", "a chart", parts=(Image(data=b"x"),))
    parent: list[Event] = [ModelRequest((Text("q"),)), ModelResponse("", calls), media]
    lines: dict[str, EventList] = {"parent": parent}
    steps = [
        ("parent", None, []),
        ("fork", ("parent", 3), [ToolCallResult("c2", "add", "3")]),
        ("parent", None, [ToolCallResult("c2", "add", "4"), ToolCallResult("c3", "add", "5")]),
        ("twig", ("fork", 4), [ToolCallResult("c3", "add", "6"), ModelResponse("t")]),
        ("fork", None, [ToolCallResult("c3", "add", "7"), ModelResponse("f")]),
        ("parent", None, [ModelResponse("p"), HumanMessage("remark")]),
        ("sprig", ("parent", 7), [ModelRequest((Text("s"),))]),
        ("parent", None, [ModelRequest((Text("p2"),))]),
        ("twig", None, [HumanMessage("x"), ModelRequest((Text("t2"),))]),
        ("sprig", None, [ModelResponse("s answer")]),
    ]
    checked = 0
    for name, fork_of, added in steps:
        if fork_of is not None:
            source, length = fork_of
            lines[name] = ForkedEvents(lines[source], length)
        lines[name].extend(added)
        for line, events in lines.items():
            view = HistoryView(events)
            copies = HistoryView([copy.copy(e) for e in events])
            checked += 1
            for provider, client in clients.items():
                mine = replace(template, conversation_id=line, messages=view)
                fresh = replace(template, conversation_id=f"scratch {checked}", messages=copies)
                built = wire_bytes(client.build_request(mine))
                assert built == wire_bytes(scratch[provider].build_request(fresh)), (
                    provider,
                    name,
                    line,
                )
    for client in [*clients.values(), *scratch.values()]:
        await client.aclose()


async def test_a_fork_made_before_its_conversation_had_a_history_keeps_its_events_on_reload() -> (
    None
):
    original = remarks("memory", 5)
    parent = Conversation(events=list(original))  # no history yet
    branch = parent.fork(3)
    twig = branch.fork(2)
    history = parent.history = MemoryHistory()  # given one later, then reloaded
    await history.append(parent.id, remarks("stored", 6))
    await parent.reload()
    assert list(parent.events) == remarks("stored", 6)
    assert list(branch.events) == original[:3] and list(twig.events) == original[:2]
    assert all(a is b for a, b in zip(branch.events, original, strict=False))
