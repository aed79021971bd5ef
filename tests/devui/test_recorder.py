"""The dev server's live side: the hub that fans a conversation's entries out to the pages
watching it, and the bound that keeps a page that stopped reading from holding memory."""

from __future__ import annotations

from devui_agents import calculator

from baton.devui.recorder import _QUEUE_LIMIT, Hub, Recorder


async def test_each_listener_gets_its_conversations_entries_in_batches() -> None:
    hub = Hub()
    mine, other = hub.listen("a"), hub.listen("b")
    for n in range(5):
        hub.publish("a", {"n": n})
    assert await mine.batch(1.0, 3) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert await mine.batch(1.0, 3) == [{"n": 3}, {"n": 4}]
    assert await other.batch(0.01, 3) == []  # nothing for it: the wait ends empty
    mine.close()
    assert await mine.batch(1.0, 3) is None
    assert hub.listeners("a") == set()
    hub.publish("a", {"n": 5})  # nobody listens: dropped
    assert hub.published == 6


async def test_a_listener_that_falls_too_far_behind_is_dropped_after_what_it_had() -> None:
    hub = Hub()
    slow = hub.listen("a")
    for n in range(_QUEUE_LIMIT + 10):
        hub.publish("a", {"n": n})
    assert slow.overflowed
    assert hub.listeners("a") == set()
    taken: list[dict[str, int]] = []
    while (batch := await slow.batch(1.0, 4096)) is not None:
        taken.extend(batch)
    assert [e["n"] for e in taken] == list(range(_QUEUE_LIMIT))


async def test_the_recorder_publishes_every_event_of_an_ask_with_its_place_and_times() -> None:
    hub = Hub()
    recorder = Recorder(hub)
    listener = hub.listen("c1")
    agent = calculator()
    await agent.ask("2 + 3?", conversation_id="c1", middleware=[recorder], observers=[recorder])
    entries = await listener.batch(1.0, 1000)
    assert entries is not None
    stored = await agent.history.load("c1")  # type: ignore[union-attr]
    indexed = [e for e in entries if e["index"] is not None]
    assert [e["index"] for e in indexed] == list(range(len(stored)))
    assert [e["event"]["type"] for e in indexed] == [type(e).__name__ for e in stored]
    live = [e["event"]["type"] for e in entries if e["index"] is None]
    assert set(live) == {"TextChunk", "ToolCallDelta", "ToolCall"}
    result = next(e for e in entries if e["event"]["type"] == "ToolCallResult")
    assert result["duration"] >= 0 and result["run"] == stored[0].run_id  # type: ignore[attr-defined]
    # the model calls are kept for the page, by the index of the response they made
    responses = [e["index"] for e in indexed if e["event"]["type"] == "ModelResponse"]
    assert sorted(i for c, i in recorder.calls if c == "c1") == responses
