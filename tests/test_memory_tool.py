"""The memory tools and working memory: an agent keeps notes across conversations, per user."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from baton import Agent, Context, ToolCallError, ToolCallResult
from baton.errors import ConfigError, MissingDependency
from baton.harness import WorkingMemory
from baton.harness.knowledge import (
    FileKnowledge,
    KnowledgeStore,
    MemoryKnowledge,
    NotesInInstructions,
    SQLiteKnowledge,
)
from baton.testing import ScriptedModel, call
from baton.tools.builtins import memory_tools, variable_namespace

USERS = variable_namespace("user_id")


@pytest.fixture(params=["memory", "files", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KnowledgeStore]:
    if request.param == "memory":
        yield MemoryKnowledge()
    elif request.param == "files":
        yield FileKnowledge(tmp_path / "notes")
    else:
        async with SQLiteKnowledge(tmp_path / "notes.db") as sqlite_store:
            yield sqlite_store


def results(reply: Any) -> list[str]:
    """The text of every tool result of the ask, in order (errors would fail the test)."""
    out = []
    for event in reply.events:
        assert not isinstance(event, ToolCallError), event
        if isinstance(event, ToolCallResult):
            out.append(event.content)
    return out


def memory_agent(store: KnowledgeStore, model: ScriptedModel, **options: Any) -> Agent:
    return Agent(
        "assistant",
        "You are a helpful assistant.",
        config=model,
        tools=[memory_tools(store, namespace=options.pop("namespace", USERS))],
        **options,
    )


# -- the tools -------------------------------------------------------------------------------


async def test_a_note_saved_in_one_conversation_is_found_in_the_next(store: KnowledgeStore) -> None:
    model = ScriptedModel(
        call("memory_save", key="coffee", text="Takes coffee black, no sugar."),
        "Noted.",
        call("memory_search", query="how does the user take coffee"),
        call("memory_read", key="coffee"),
        "Black, no sugar.",
    )
    agent = memory_agent(store, model)

    first = await agent.ask("I take my coffee black.", variables={"user_id": "42"})
    assert results(first) == ["Saved note 'coffee'."]
    assert await store.list() == ["user:42/coffee"]

    second = await agent.ask("How do I take my coffee?", variables={"user_id": "42"})
    assert second.events[0] != first.events[0]  # a new conversation
    found, read = results(second)
    assert found == "1 matching note:\n- coffee: Takes coffee black, no sugar."
    assert read == "Takes coffee black, no sugar."
    assert second.text == "Black, no sugar."


async def test_another_user_does_not_see_the_note(store: KnowledgeStore) -> None:
    model = ScriptedModel(
        call("memory_save", key="coffee", text="Takes coffee black."),
        "Noted.",
        call("memory_search", query="coffee"),
        call("memory_read", key="coffee"),
        call("memory_list"),
        call("memory_delete", key="coffee"),
        "I don't know yet.",
    )
    agent = memory_agent(store, model)
    await agent.ask("I take my coffee black.", variables={"user_id": "42"})

    other = await agent.ask("How do I take my coffee?", variables={"user_id": "43"})
    assert results(other) == [
        "No notes match 'coffee'.",
        "No note named 'coffee'. List or search the notes to find the right key.",
        "No notes saved yet.",
        "No note named 'coffee'; nothing deleted.",
    ]
    assert await store.read("user:42/coffee") == "Takes coffee black."


async def test_keys_cannot_escape_the_namespace(store: KnowledgeStore) -> None:
    await store.write("user:43/secret", "the other user's note")
    model = ScriptedModel(
        call("memory_read", key="../user:43/secret"),
        call("memory_save", key="../user:43/secret", text="overwritten"),
        call("memory_list", prefix="../"),
        call("memory_save", key="", text="empty key"),
        "done",
    )
    reply = await memory_agent(store, model).ask("hi", variables={"user_id": "42"})
    read, save, listed, empty = results(reply)
    assert read.startswith("Invalid note key '../user:43/secret'")
    assert save.startswith("Invalid note key '../user:43/secret'")
    assert listed.startswith("Invalid prefix '../'")
    assert empty.startswith("Invalid note key ''")
    assert await store.read("user:43/secret") == "the other user's note"
    assert await store.list("user:42/") == []


async def test_update_list_and_delete(store: KnowledgeStore) -> None:
    model = ScriptedModel(
        # several calls in one turn run concurrently; these must run in order
        call("memory_save", key="projects/baton", text="An agent framework."),
        call("memory_save", key="projects/site", text="The website."),
        call("memory_save", key="tea", text="Green."),
        call("memory_save", key="tea", text="Green, no milk."),
        call("memory_list"),
        call("memory_list", prefix="projects/"),
        call("memory_delete", key="projects/site"),
        call("memory_list", prefix="projects/"),
        call("memory_list", prefix="nothing/"),
        "done",
    )
    reply = await memory_agent(store, model).ask("remember", variables={"user_id": "7"})
    assert results(reply) == [
        "Saved note 'projects/baton'.",
        "Saved note 'projects/site'.",
        "Saved note 'tea'.",
        "Updated note 'tea'.",
        "3 notes: projects/baton, projects/site, tea",
        "2 notes: projects/baton, projects/site",
        "Deleted note 'projects/site'.",
        "1 note: projects/baton",
        "No notes start with 'nothing/'.",
    ]
    assert await store.read("user:7/tea") == "Green, no milk."


async def test_saved_notes_record_who_wrote_them(store: KnowledgeStore) -> None:
    model = ScriptedModel(call("memory_save", key="tea", text="Green tea."), "ok")
    reply = await memory_agent(store, model).ask("hi", variables={"user_id": "1"})
    (note,) = await store.search("tea")
    assert note.metadata["agent"] == "assistant"
    assert note.metadata["conversation_id"] == reply.events[0].conversation_id
    assert note.metadata["saved_at"].endswith("+00:00")


async def test_notes_that_are_too_long_or_empty_are_refused_readably() -> None:
    store = MemoryKnowledge()
    model = ScriptedModel(
        call("memory_save", key="big", text="x" * 101),
        call("memory_save", key="blank", text="   "),
        "ok",
    )
    agent = Agent(
        "a", config=model, tools=[memory_tools(store, namespace="shared", max_note_chars=100)]
    )
    too_long, blank = results(await agent.ask("hi"))
    assert too_long.startswith("Not saved: the note has 101 characters, the limit is 100.")
    assert blank.startswith("Not saved: the note is empty.")
    assert await store.list() == []


async def test_the_model_sees_five_tools_without_the_context_parameter() -> None:
    model = ScriptedModel("hi")
    agent = Agent("a", config=model, tools=[memory_tools(MemoryKnowledge())])
    await agent.ask("hi")
    specs = {spec.name: spec for spec in model.last_request.tools}
    assert sorted(specs) == [
        "memory_delete",
        "memory_list",
        "memory_read",
        "memory_save",
        "memory_search",
    ]
    assert sorted(specs["memory_save"].parameters["properties"]) == ["key", "text"]
    assert specs["memory_save"].parameters["required"] == ["key", "text"]
    assert sorted(specs["memory_search"].parameters["properties"]) == ["limit", "query"]
    assert "context" not in specs["memory_read"].parameters["properties"]
    assert specs["memory_save"].description.startswith("Save a note")


async def test_default_namespace_is_the_agent_and_fixed_namespaces_are_shared() -> None:
    store = MemoryKnowledge()
    save = ScriptedModel(call("memory_save", key="k", text="from the planner"), "ok")
    await Agent("planner", config=save, tools=[memory_tools(store)]).ask("hi")
    assert await store.list() == ["agent:planner/k"]

    writer = ScriptedModel(call("memory_save", key="style", text="Short sentences."), "ok")
    reader = ScriptedModel(call("memory_read", key="style"), "ok")
    await Agent("writer", config=writer, tools=[memory_tools(store, namespace="team")]).ask("x")
    reply = await Agent("editor", config=reader, tools=[memory_tools(store, namespace="team")]).ask(
        "x"
    )
    assert results(reply) == ["Short sentences."]


async def test_async_namespace_functions_work() -> None:
    store = MemoryKnowledge()

    async def by_tenant(context: Context) -> str:
        return f"tenant:{context.variables['tenant']}/user:{context.variables['user']}"

    model = ScriptedModel(call("memory_save", key="k", text="v"), "ok")
    agent = Agent("a", config=model, tools=[memory_tools(store, namespace=by_tenant)])
    await agent.ask("hi", variables={"tenant": "acme", "user": "5"})
    assert await store.list() == ["tenant:acme/user:5/k"]


async def test_a_missing_user_variable_is_a_configuration_error() -> None:
    model = ScriptedModel(call("memory_save", key="k", text="v"), "ok")
    agent = memory_agent(MemoryKnowledge(), model)
    with pytest.raises(MissingDependency, match="user_id"):
        await agent.ask("hi")


# -- working memory --------------------------------------------------------------------------


async def test_working_memory_puts_the_users_notes_in_the_instructions(
    store: KnowledgeStore,
) -> None:
    model = ScriptedModel(
        call("memory_save", key="coffee", text="Takes coffee black."),
        "Noted.",
        call("memory_read", key="coffee"),
        "Black.",
        "I don't know.",
    )
    agent = memory_agent(store, model, policies=[NotesInInstructions(store, USERS)])

    await agent.ask("I take my coffee black.", variables={"user_id": "42"})
    assert model.requests[0].instructions == "You are a helpful assistant."
    assert model.requests[1].instructions == "You are a helpful assistant."  # same ask

    await agent.ask("How do I take my coffee?", variables={"user_id": "42"})
    expected = (
        "You are a helpful assistant.\n\n"
        "## Notes saved in earlier conversations\n- coffee: Takes coffee black."
    )
    assert model.requests[2].instructions == expected
    assert model.requests[3].instructions == expected  # every model call of the ask

    await agent.ask("How do I take my coffee?", variables={"user_id": "43"})
    assert model.requests[4].instructions == "You are a helpful assistant."


async def test_working_memory_prefers_relevant_notes_and_stays_bounded() -> None:
    store = MemoryKnowledge()
    for i in range(30):
        await store.write(f"user:1/note{i:02}", f"Filler note number {i}. " * 10)
    await store.write("user:1/pets", "Has a dog named Biscuit.")
    policy = NotesInInstructions(store, USERS, limit=3, max_chars=400, note_chars=80)
    model = ScriptedModel("ok", "ok")
    agent = Agent("a", "Base.", config=model, policies=[policy])

    await agent.ask("What is my dog called?", variables={"user_id": "1"})
    block = model.requests[0].instructions.removeprefix("Base.\n\n")
    lines = block.splitlines()
    assert lines[0] == "## Notes saved in earlier conversations"
    assert lines[1] == "- pets: Has a dog named Biscuit."
    assert len(lines) == 4  # the limit: one relevant note, then the first others by key
    assert lines[2].startswith("- note00: Filler note number 0.")
    assert lines[2].endswith("…") and len(lines[2]) == len("- note00: ") + 80
    assert len(block) <= 400 + len(lines[0]) + 1

    await agent.ask("hello", variables={"user_id": "2"})
    assert model.requests[1].instructions == "Base."


async def test_working_memory_is_a_working_memory_policy() -> None:
    store = MemoryKnowledge()
    await store.write("agent:a/tone", "Be brief.")
    policy = NotesInInstructions(store, title="Memory")
    assert isinstance(policy, WorkingMemory)
    model = ScriptedModel("ok")
    await Agent("a", config=model, policies=[policy]).ask("hi")
    assert model.requests[0].instructions == "## Memory\n- tone: Be brief."
    with pytest.raises(ValueError):
        NotesInInstructions(store, limit=0)


def test_import_baton_does_not_load_the_knowledge_store() -> None:
    code = (
        "import sys, baton; "
        "print([m for m in sys.modules if m.startswith(('baton.harness.knowledge', "
        "'baton.tools.builtins')) or m == 'sqlite3'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_saves_in_one_turn_run_concurrently_and_all_land(store: KnowledgeStore) -> None:
    model = ScriptedModel(
        [call("memory_save", key=f"n{i}", text=f"note {i}") for i in range(6)], "ok"
    )
    reply = await memory_agent(store, model).ask("hi", variables={"user_id": "9"})
    assert sorted(results(reply)) == sorted(f"Saved note 'n{i}'." for i in range(6))
    assert await store.list("user:9/") == [f"user:9/n{i}" for i in range(6)]


async def test_user_ids_cannot_reach_into_other_namespaces() -> None:
    store = MemoryKnowledge()
    await store.write("user:a/b%2Fsecret", "not this one")
    await store.write("user:a/b/secret", "a's note under b")
    model = ScriptedModel(call("memory_list"), call("memory_read", key="secret"), "ok")
    reply = await memory_agent(store, model).ask("hi", variables={"user_id": "a/b"})
    assert results(reply) == [
        "No notes saved yet.",
        "No note named 'secret'. List or search the notes to find the right key.",
    ]


@pytest.mark.parametrize("namespace", ["../x", "a//b", "a/./b", "back\\slash"])
async def test_invalid_namespaces_are_configuration_errors(namespace: str) -> None:
    model = ScriptedModel(call("memory_list"), "ok")
    agent = memory_agent(MemoryKnowledge(), model, namespace=namespace)
    with pytest.raises(ConfigError, match="not a valid key prefix"):
        await agent.ask("hi")
