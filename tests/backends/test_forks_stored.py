"""A fork of a stored conversation (an old reply continued after the conversation moved on) on
SQLite: both lines are stored whole under their own ids, and another process loads and
continues each of them as this one left it. Asks on the lines interleaved, in memory and on
SQLite, each store and show their own line, also when the conversation they share a prefix
with is reloaded (another writer moved it on)."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from baton import Agent
from baton.backends.sql import SQLHistory
from baton.events import ModelRequest, ModelResponse
from baton.history import History, MemoryHistory
from baton.testing import ScriptedModel

CONTINUE = """
import asyncio, json, sys
from baton import Agent
from baton.backends.sql import SQLHistory
from baton.events import ModelRequest
from baton.testing import ScriptedModel

async def main(url: str, ids: list[str]) -> None:
    async with SQLHistory(url) as history:
        loaded = {i: await history.load(i) for i in ids}
        model = ScriptedModel(repeat=True)
        model.turns = ("continued",)
        agent = Agent("a", config=model, history=history)
        shown = {}
        for i in ids:
            await agent.ask("next", conversation_id=i)
            shown[i] = [e.text for e in model.last_request.messages if isinstance(e, ModelRequest)]
        print(json.dumps({
            "loaded": {i: [type(e).__name__ for e in events] for i, events in loaded.items()},
            "shown": shown,
        }))

asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""


def requests_text(events: object) -> list[str]:
    return [e.text for e in events if isinstance(e, ModelRequest)]  # type: ignore[attr-defined]


async def test_a_fork_of_a_stored_conversation_reloads_in_another_process(
    sqlite_url: str, tmp_path: Path
) -> None:
    model = ScriptedModel(repeat=True)
    model.turns = ("answer",)
    async with SQLHistory(sqlite_url) as history:
        agent = Agent("a", config=model, history=history)
        first = await agent.ask("one")
        old = await first.ask("two")
        old_events = list(old.events)
        latest = await old.ask("three")
        latest = await latest.ask("four")  # the conversation moved on

        fork = await old.ask("fork one")
        fork = await fork.ask("fork two")  # the branch moves on too
        twig = await old.ask("twig")  # a second fork from the same old reply

        original = await history.load(first.conversation_id)
        branch = await history.load(fork.conversation_id)
        second = await history.load(twig.conversation_id)
        assert original == list(latest.events)
        assert branch == list(fork.events) and second == list(twig.events)
        assert branch[: len(old_events)] == old_events == second[: len(old_events)]
        assert requests_text(original) == ["one", "two", "three", "four"]
        assert requests_text(branch) == ["one", "two", "fork one", "fork two"]
        assert requests_text(second) == ["one", "two", "twig"]
        expected = {
            first.conversation_id: [type(e).__name__ for e in original],
            fork.conversation_id: [type(e).__name__ for e in branch],
            twig.conversation_id: [type(e).__name__ for e in second],
        }

    script = tmp_path / "continue.py"
    script.write_text(textwrap.dedent(CONTINUE))
    ids = list(expected)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        sqlite_url,
        *ids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["loaded"] == expected
    assert result["shown"] == {
        first.conversation_id: ["one", "two", "three", "four", "next"],
        fork.conversation_id: ["one", "two", "fork one", "fork two", "next"],
        twig.conversation_id: ["one", "two", "twig", "next"],
    }

    async with SQLHistory(sqlite_url) as history:  # what the other process added, here
        for conversation_id, names in expected.items():
            stored = await history.load(conversation_id)
            assert [type(e).__name__ for e in stored[: len(names)]] == names
            assert [e.text for e in stored if isinstance(e, ModelResponse)][-1] == "continued"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_asks_on_a_conversation_and_its_forks_interleaved_store_each_line(
    kind: str, sqlite_url: str
) -> None:
    if kind == "memory":
        await interleave(MemoryHistory(), None)
    else:
        async with SQLHistory(sqlite_url) as history:
            await interleave(history, sqlite_url)


async def interleave(history: History, other_url: str | None) -> None:
    """Asks on a conversation, a fork of an old reply and a fork of that fork, interleaved;
    with ``other_url``, another writer also moves the conversation on (this process then
    reloads it while the forks share its list)."""
    model = ScriptedModel(repeat=True)
    model.turns = ("ok",)
    agent = Agent("a", config=model, history=history)
    latest = await agent.ask("p0")
    for n in range(1, 4):
        latest = await latest.ask(f"p{n}")
    old = await latest.ask("p4")
    old_events = list(old.events)
    latest = await old.ask("p5")  # the conversation moves on

    fork = await old.ask("f0")
    latest = await latest.ask("p6")
    fork = await fork.ask("f1")
    twig_from = fork
    fork = await fork.ask("f2")
    twig = await twig_from.ask("t0")  # a fork of the fork
    moved_on = None
    if other_url is not None:
        # Another writer moves the conversation on: the next ask here reloads it in place
        # (while both forks share its list), finds it moved on, and forks from ``latest``.
        async with SQLHistory(other_url) as other:
            moved_on = await Agent("a", config=model, history=other).ask(
                "elsewhere", conversation_id=latest.conversation_id
            )
    latest = await latest.ask("p7")
    twig = await twig.ask("t1")
    fork = await fork.ask("f3")

    lines = {
        latest.conversation_id: (latest, ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]),
        fork.conversation_id: (fork, ["p0", "p1", "p2", "p3", "p4", "f0", "f1", "f2", "f3"]),
        twig.conversation_id: (twig, ["p0", "p1", "p2", "p3", "p4", "f0", "f1", "t0", "t1"]),
    }
    if moved_on is not None:
        assert latest.conversation_id != moved_on.conversation_id
        lines[moved_on.conversation_id] = (
            moved_on,
            ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "elsewhere"],
        )
    assert len(lines) == (3 if moved_on is None else 4)
    assert requests_text(model.last_request.messages) == lines[fork.conversation_id][1]
    for conversation_id, (reply, asked) in lines.items():
        stored = await history.load(conversation_id)
        assert stored == list(reply.events), conversation_id
        assert requests_text(stored) == asked, conversation_id
        assert stored[: len(old_events)] == old_events
    assert list(old.events) == old_events
    for line in (fork, twig):  # the very events it shared, whatever reloaded meanwhile
        assert all(a is b for a, b in zip(line.events, old_events, strict=False))
