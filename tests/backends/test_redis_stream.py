"""RedisStream and RedisWatcher against a real Redis: order, replay, live following, resuming
after a lost connection, transient events, other senders' events, and strict decoding."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio

from baton import Agent, MemoryStream
from baton.backends.redis import RedisHistory, RedisStream, RedisWatcher, stream_key
from baton.errors import ConfigError, EventDecodeError
from baton.events import (
    JSON_PIECE,
    HumanMessage,
    ModelResponse,
    RunFinished,
    SubscriberFailed,
    TextChunk,
    ToolCall,
)
from baton.stream import Stream
from baton.testing import ScriptedModel, chunks


async def take(watcher: RedisWatcher, n: int) -> list[object]:
    out: list[object] = []
    async with asyncio.timeout(10):
        async for event in watcher:
            out.append(event)
            if len(out) == n:
                break
    return out


def texts(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, HumanMessage | TextChunk)]


async def test_it_is_a_stream_delivering_locally_in_order(redis_url: str, prefix: str) -> None:
    stream = RedisStream("c1", redis_url, prefix=prefix)
    assert isinstance(stream, Stream)
    assert not isinstance(stream, MemoryStream)  # by composition: the protocol is the contract
    got: list[str] = []
    stream.where(HumanMessage).subscribe(lambda e: got.append(e.text))
    for i in range(5):
        await stream.send(HumanMessage(str(i)))
    await stream.send_many([HumanMessage("5"), TextChunk("x"), HumanMessage("6")])
    assert got == [str(i) for i in range(7)]
    await stream.aclose()


async def test_a_stuck_local_subscriber_is_detached_after_the_delivery_timeout(
    redis_url: str, prefix: str
) -> None:
    stream = RedisStream("c1", redis_url, prefix=prefix, delivery_timeout=0.05)
    assert stream.delivery_timeout == 0.05
    never = asyncio.Event()
    stuck_saw: list[str] = []
    seen: list[object] = []

    async def stuck(event: object) -> None:
        stuck_saw.append(type(event).__name__)
        await never.wait()

    stream.where(HumanMessage).subscribe(stuck)
    stream.subscribe(seen.append)
    async with asyncio.timeout(10):  # a guard against hangs only
        await stream.send(HumanMessage("first"))
        await stream.send_many([HumanMessage("second"), HumanMessage("third")])
    assert stuck_saw == ["HumanMessage"]  # detached after the first
    failures = [e for e in seen if isinstance(e, SubscriberFailed)]
    assert [(f.event_type, f.error_type) for f in failures] == [
        ("HumanMessage", "SubscriberTimeout")
    ]
    assert texts(seen) == ["first", "second", "third"]
    await stream.aclose()


async def test_a_watcher_replays_from_any_point_then_follows_live(
    redis_url: str, prefix: str
) -> None:
    stream = RedisStream("c1", redis_url, prefix=prefix)
    await stream.send_many([HumanMessage(str(i)) for i in range(10)])
    everything = RedisWatcher("c1", redis_url, prefix=prefix, from_id="0")
    first = await take(everything, 4)
    assert texts(first) == ["0", "1", "2", "3"]
    later = RedisWatcher("c1", redis_url, prefix=prefix, from_id=everything.last_id)
    live = RedisWatcher("c1", redis_url, prefix=prefix)  # from the moment it attaches
    await live.attach()
    await stream.send(HumanMessage("10"))
    assert texts(await take(later, 7)) == [str(i) for i in range(4, 11)]
    assert texts(await take(live, 1)) == ["10"]
    assert texts(await take(everything, 7)) == [str(i) for i in range(4, 11)]
    await stream.aclose()


async def test_a_watcher_resumes_after_its_connection_is_killed(
    redis_url: str, prefix: str
) -> None:
    name = f"watcher-{os.getpid()}-{prefix[-13:-1]}"
    own = redis.asyncio.Redis.from_url(redis_url, client_name=name)
    admin = redis.asyncio.Redis.from_url(redis_url)
    stream = RedisStream("c1", redis_url, prefix=prefix)
    watcher = RedisWatcher("c1", own, prefix=prefix, from_id="0", batch=3)
    try:
        await stream.send_many([HumanMessage(str(i)) for i in range(5)])
        assert texts(await take(watcher, 3)) == ["0", "1", "2"]
        reading = asyncio.create_task(take(watcher, 7))
        await asyncio.sleep(0.1)  # it is blocked in XREAD (or about to be)
        for client in await admin.client_list():
            if client.get("name") == name:
                await admin.client_kill_filter(_id=client["id"])
        await stream.send_many([HumanMessage(str(i)) for i in range(5, 10)])
        assert texts(await reading) == [str(i) for i in range(3, 10)]
    finally:
        await own.aclose()
        await admin.aclose()
        await stream.aclose()


async def test_events_sent_elsewhere_reach_local_subscribers(redis_url: str, prefix: str) -> None:
    here = RedisStream("c1", redis_url, prefix=prefix)
    there = RedisStream("c1", redis_url, prefix=prefix)
    waiting = here.where(HumanMessage, request_id="r1").next(timeout=10)
    await asyncio.sleep(0)  # let the follower start
    await here.send(HumanMessage("mine"))
    await there.send(HumanMessage("yes", request_id="r1", approved=True))
    answer = await waiting
    assert answer == HumanMessage("yes", request_id="r1", approved=True)
    await here.aclose()
    await there.aclose()


async def test_transient_events_are_live_but_not_kept_by_default(
    redis_url: str, prefix: str
) -> None:
    kept = RedisStream("keep", redis_url, prefix=prefix, persist_transient=True)
    pruned = RedisStream("prune", redis_url, prefix=prefix, transient_ttl=0)
    for stream in (kept, pruned):
        watcher = RedisWatcher(stream.conversation_id, redis_url, prefix=prefix)
        await watcher.attach()
        seen: list[object] = []
        for event in (TextChunk("He"), TextChunk("llo"), HumanMessage("done")):
            await stream.send(event)
            seen += await take(watcher, 1)
        assert texts(seen) == ["He", "llo", "done"]  # live: everything
        await stream.aclose()
    replay_kept = await take(RedisWatcher("keep", redis_url, prefix=prefix, from_id="0"), 3)
    assert texts(replay_kept) == ["He", "llo", "done"]
    replay_pruned = await take(RedisWatcher("prune", redis_url, prefix=prefix, from_id="0"), 1)
    assert texts(replay_pruned) == ["done"]


async def test_closing_keeps_young_chunks_for_a_lagging_watcher(
    redis_url: str, prefix: str
) -> None:
    first = RedisStream("lag", redis_url, prefix=prefix)  # the default transient_ttl (60 s)
    for event in (TextChunk("He"), TextChunk("llo"), HumanMessage("done")):
        await first.send(event)
    await first.aclose()
    # A watcher that had not read them yet (it attaches only now, from the start) still gets
    # the chunks: the sender's close left them, listed for a later sender.
    late = await take(RedisWatcher("lag", redis_url, prefix=prefix, from_id="0"), 3)
    assert texts(late) == ["He", "llo", "done"]
    admin = redis.asyncio.Redis.from_url(redis_url)
    listed = stream_key("lag", prefix) + ":transient"
    assert await admin.zcard(listed) == 2
    # The conversation's next sender deletes them once they are old enough for it (ttl 0 here:
    # at once), together with its own.
    second = RedisStream("lag", redis_url, prefix=prefix, transient_ttl=0)
    await second.send(TextChunk("again"))
    await second.send(HumanMessage("done again"))
    await second.aclose()
    replay = await take(RedisWatcher("lag", redis_url, prefix=prefix, from_id="0"), 2)
    assert texts(replay) == ["done", "done again"]
    assert await admin.xlen(stream_key("lag", prefix)) == 2
    assert await admin.exists(listed) == 0
    await second.delete()
    assert await admin.exists(stream_key("lag", prefix)) == 0
    await admin.aclose()


async def test_closing_deletes_the_chunks_of_a_long_answer(redis_url: str, prefix: str) -> None:
    # More chunks than Lua's unpack takes at once (about 8000): each close still deletes them.
    first = RedisStream("long", redis_url, prefix=prefix)
    await first.send_many([TextChunk("x")] * 9000 + [HumanMessage("done")])
    await first.aclose()
    second = RedisStream("long", redis_url, prefix=prefix, transient_ttl=0)
    await second.send(HumanMessage("done again"))
    await second.aclose()
    admin = redis.asyncio.Redis.from_url(redis_url)
    assert await admin.xlen(stream_key("long", prefix)) == 2
    assert await admin.exists(stream_key("long", prefix) + ":transient") == 0
    await second.delete()
    await admin.aclose()


async def test_young_chunks_left_at_close_are_swept_once_they_come_of_age(
    redis_url: str, prefix: str
) -> None:
    stream = RedisStream("sweep", redis_url, prefix=prefix, transient_ttl=0.2)
    await stream.send(TextChunk("He"))
    await stream.send(HumanMessage("done"))
    await stream.aclose()  # the chunk is younger than 0.2 s: left for watchers, then swept
    admin = redis.asyncio.Redis.from_url(redis_url)
    key = stream_key("sweep", prefix)
    async with asyncio.timeout(10):  # polls Redis: no event of this process says it is done
        while await admin.xlen(key) != 1 or await admin.exists(key + ":transient"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    replay = await take(RedisWatcher("sweep", redis_url, prefix=prefix, from_id="0"), 1)
    assert texts(replay) == ["done"]
    await stream.delete()
    await admin.aclose()


async def test_an_agent_streams_its_chunks_through_redis(redis_url: str, prefix: str) -> None:
    stream = RedisStream("c1", redis_url, prefix=prefix)
    watcher = RedisWatcher("c1", redis_url, prefix=prefix)
    await watcher.attach()
    agent = Agent(
        "a",
        config=ScriptedModel(chunks("Hel", "lo")),
        history=RedisHistory(redis_url, prefix=prefix),
    )
    reply = await agent.ask("hi", conversation_id="c1", stream=stream)
    assert reply.text == "Hello"
    seen: list[object] = []
    async with asyncio.timeout(10):
        async for event in watcher:
            seen.append(event)
            if isinstance(event, RunFinished):
                break
    assert texts(seen) == ["Hel", "lo"]
    assert [e for e in seen if not e.transient] == list(reply.events)  # type: ignore[attr-defined]
    await stream.aclose()


async def test_an_unknown_event_type_is_rejected_and_nothing_built(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    stream = RedisStream("c1", redis_url, prefix=prefix)
    await stream.send(HumanMessage("before"))
    admin = redis.asyncio.Redis.from_url(redis_url)
    evil = f'{{"type": "os.system", "command": "touch {marker}"}}'
    await admin.xadd(stream_key("c1", prefix), {"e": evil})
    await admin.xadd(stream_key("c1", prefix), {"e": '{"type": "Usage", "requests": 1}'})
    await admin.xadd(stream_key("c1", prefix), {"e": "not json"})
    await stream.send(HumanMessage("after"))
    await admin.aclose()

    watcher = RedisWatcher("c1", redis_url, prefix=prefix, from_id="0")
    assert texts(await take(watcher, 1)) == ["before"]
    with pytest.raises(EventDecodeError, match=r"unknown event type 'os.system'.*registered"):
        await watcher.next(timeout=5)
    with pytest.raises(EventDecodeError, match="expected an event, got a Usage"):
        await watcher.next(timeout=5)
    with pytest.raises(EventDecodeError, match="not valid JSON"):
        await watcher.next(timeout=5)
    assert texts(await take(watcher, 1)) == ["after"]  # it goes on after the bad entries
    assert not marker.exists()
    await stream.aclose()


async def test_unknown_types_in_history_are_rejected(redis_url: str, prefix: str) -> None:
    history = RedisHistory(redis_url, prefix=prefix)
    await history.append("c1", [ModelResponse("ok", (ToolCall("1", "t"),))])
    admin = redis.asyncio.Redis.from_url(redis_url)
    await admin.rpush(history.key("c1"), '{"type": "Exploit"}')
    await admin.aclose()
    with pytest.raises(EventDecodeError, match="unknown event type 'Exploit'"):
        await history.load("c1")


async def test_an_entry_holding_two_events_is_named_not_split(redis_url: str, prefix: str) -> None:
    # Entries are parsed together, joined into one JSON array: an entry "{...},{...}" would
    # read as two events there. Each entry must be one event.
    history = RedisHistory(redis_url, prefix=prefix)
    await history.append("c1", [HumanMessage("first")])
    admin = redis.asyncio.Redis.from_url(redis_url)
    two = '{"type": "HumanMessage", "text": "a"}, {"type": "HumanMessage", "text": "b"}'
    await admin.rpush(history.key("c1"), two)
    await admin.aclose()
    with pytest.raises(EventDecodeError, match="not valid JSON"):
        await history.load("c1")


async def test_a_history_of_several_pieces_loads_and_names_a_bad_entry(
    redis_url: str, prefix: str
) -> None:
    # A load decodes the entries in pieces of JSON_PIECE events: all of them come back, in
    # order, and a bad entry in a later piece is still named by its index in the whole list.
    history = RedisHistory(redis_url, prefix=prefix)
    events = [HumanMessage(str(i)) for i in range(2 * JSON_PIECE + 7)]
    await history.append("c1", events)
    assert await history.load("c1") == events
    admin = redis.asyncio.Redis.from_url(redis_url)
    await admin.rpush(history.key("c1"), '{"type": "Exploit"}')
    await admin.aclose()
    with pytest.raises(EventDecodeError, match=rf"'Exploit'.*\[{len(events)}\]"):
        await history.load("c1")


def test_urls_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"redis://"):
        RedisStream("c1", "http://localhost:6379")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_importing_the_backends_does_not_import_redis() -> None:
    done = run_python(
        "import sys, baton, baton.backends, baton.backends.redis; "
        "assert 'redis' not in sys.modules, 'redis was imported'"
    )
    assert done.returncode == 0, done.stderr


def test_without_the_driver_the_error_names_the_extra() -> None:
    done = run_python(
        "import sys; sys.modules['redis'] = sys.modules['redis.asyncio'] = None\n"
        "from baton.backends.redis import RedisHistory\n"
        "try:\n    RedisHistory('redis://127.0.0.1:6379')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    assert "ConfigError" in done.stdout and "baton-agents[redis]" in done.stdout, done
