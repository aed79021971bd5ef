"""The MCP client's features against servers written with the official SDK's server class
(``mcp.server.mcpserver.MCPServer``), run in this process: tool filters and prefixes, the
server's progress reports and log messages on the ask's stream, elicitation answered by the
agent's human, sampling answered by a model config, resources and prompts, and settings that
are wrong.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton import Agent, ConfigError, Context, MemoryHistory, MemoryStorage
from baton.errors import AskSuspended, RemoteToolError
from baton.events import (
    Document,
    Event,
    HumanInputRequest,
    HumanMessage,
    Image,
    ToolCallError,
    ToolCallResult,
)
from baton.mcp import MCPServer, PromptMessage
from baton.mcp.events import MCPLog, MCPProgress
from baton.testing import ScriptedModel, call

pytest.importorskip("mcp.server.mcpserver")
from travel_server import PNG, make_server

SCRIPT = str(Path(__file__).with_name("travel_server.py"))


Connect = Callable[..., MCPServer]


@pytest.fixture(params=["in-process", "stdio"])
def travel(request: pytest.FixtureRequest) -> Connect:
    """Makes an ``MCPServer`` for the travel server (with the options given): in this process
    on the 2025 protocol, or as a subprocess over stdio on the 2026 one."""
    if request.param == "in-process":
        server = make_server()
        return lambda **options: MCPServer.in_process(server, **options)
    return lambda **options: MCPServer.stdio(sys.executable, [SCRIPT], name="travel", **options)


def of_type(events: Any, kind: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def results(events: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]


async def test_filters_and_a_prefix_choose_and_rename_the_tools(travel: Connect) -> None:
    server = travel(include=["add", "secret", "picture"], exclude=["secret"])
    prefixed = travel(include=["add"], prefix="travel_")
    model = ScriptedModel(call("travel_add", a=2, b=3), "five")
    agent = Agent("a", config=model, tools=[server, prefixed])
    try:
        assert sorted(t.name for t in await server.list_tools()) == ["add", "picture"]
        reply = await agent.ask("2 + 3?")
    finally:
        await server.aclose()
        await prefixed.aclose()

    assert sorted(t.name for t in model.requests[0].tools) == ["add", "picture", "travel_add"]
    [result] = results(reply.events)
    assert isinstance(result, ToolCallResult)
    assert result.content == "5"  # the server's own name was called


async def test_a_tool_name_providers_refuse_is_shown_fitted_and_called_by_its_own(
    travel: Connect,
) -> None:
    server = travel(include=["files.read"])
    model = ScriptedModel(call("files_read", path="notes.txt"), "read")
    agent = Agent("a", config=model, tools=[server])
    try:
        reply = await agent.ask("read it")
    finally:
        await server.aclose()
    assert [t.name for t in model.requests[0].tools] == ["files_read"]
    [result] = results(reply.events)
    assert isinstance(result, ToolCallResult) and result.content == "contents of notes.txt"


async def test_the_tool_list_is_kept_until_the_server_says_it_changed(travel: Connect) -> None:
    server = travel(include=None)
    agent = Agent("a", config=ScriptedModel(call("learn"), "ok"), tools=[server])
    try:
        before = await server.list_tools()
        assert await server.list_tools() is before  # listed once
        await agent.ask("learn something")
        after = await server.list_tools()
        reply = await agent.ask("use it", config=ScriptedModel(call("trick"), "done"))
    finally:
        await server.aclose()
    assert "trick" not in {t.name for t in before}
    assert "trick" in {t.name for t in after}
    [result] = results(reply.events)[-1:]
    assert isinstance(result, ToolCallResult) and result.content == "new trick"


async def test_an_image_result_is_a_media_part_and_an_error_is_a_tool_error(
    travel: Connect,
) -> None:
    server = travel()
    model = ScriptedModel([call("picture"), call("broken")], "seen")
    agent = Agent("a", config=model, tools=[server])
    try:
        reply = await agent.ask("show me")
    finally:
        await server.aclose()

    by_name = {r.name: r for r in results(reply.events)}  # the two calls ran together
    image, error = by_name["picture"], by_name["broken"]
    assert isinstance(image, ToolCallResult)
    assert image.parts == (Image(data=PNG, media_type="image/png"),)
    assert isinstance(error, ToolCallError)
    assert error.error_type == "RemoteToolError"
    assert "the flux capacitor is empty" in error.message


async def test_progress_and_log_messages_are_events_on_the_asks_stream(travel: Connect) -> None:
    server = travel()
    agent = Agent("a", config=ScriptedModel(call("work", steps=3), "done"), tools=[server])
    seen: list[Event] = []
    try:
        async with agent.run("work") as run:
            async for event in run:
                if isinstance(event, MCPProgress | MCPLog):
                    seen.append(event)
            reply = await run.result()
    finally:
        await server.aclose()

    call_id = of_type(reply.events, ToolCallResult)[0].call_id
    assert seen == [
        MCPProgress(call_id, "travel", 1.0, 3.0, "step 1"),
        MCPProgress(call_id, "travel", 2.0, 3.0, "step 2"),
        MCPProgress(call_id, "travel", 3.0, 3.0, "step 3"),
        MCPLog("travel", "info", "half way"),
    ]
    assert not of_type(reply.events, MCPProgress)  # live only, not kept in history


async def test_an_elicitation_goes_to_the_agents_human_and_the_answer_back(travel: Connect) -> None:
    asked: list[tuple[HumanInputRequest, str]] = []

    def hitl(request: HumanInputRequest, context: Context) -> str:
        asked.append((request, context.conversation_id))
        return "Lisbon" if "Which city" in request.prompt else '{"city": "Oslo", "nights": 2}'

    server = travel()
    model = ScriptedModel(call("where"), call("book"), "booked")
    agent = Agent("a", config=model, tools=[server], hitl=hitl, history=MemoryHistory())
    try:
        reply = await agent.ask("plan a trip", conversation_id="trip")
    finally:
        await server.aclose()

    where, book = results(reply.events)
    assert isinstance(where, ToolCallResult) and where.content == "accept:Lisbon"
    assert isinstance(book, ToolCallResult) and book.content == "2 nights in Oslo"
    (first, conversation), (second, _) = asked
    assert conversation == "trip"
    assert first.call_id == where.call_id  # the request names the tool call that caused it
    assert "Which city?" in first.prompt and "city" in first.prompt
    assert "nights (integer)" in second.prompt and "JSON object" in second.prompt
    # both the question and the answer are in the conversation's history
    assert [e.text for e in of_type(reply.events, HumanMessage)] == [
        "Lisbon",
        '{"city": "Oslo", "nights": 2}',
    ]


async def test_a_declined_or_unfitting_answer_declines_the_elicitation(travel: Connect) -> None:
    answers = iter([HumanMessage(approved=False), "not json at all"])

    def hitl(request: HumanInputRequest, context: Context) -> Any:
        return next(answers)

    server = travel()
    model = ScriptedModel(call("where"), call("book"), "ok")
    agent = Agent("a", config=model, tools=[server], hitl=hitl)
    try:
        reply = await agent.ask("plan")
    finally:
        await server.aclose()
    assert [r.content for r in results(reply.events)] == ["decline", "decline"]  # type: ignore[union-attr]


async def test_an_ask_that_pauses_for_humans_pauses_for_the_servers_question(
    travel: Connect, valid_history: Any
) -> None:
    """With ``suspend_on_human=True`` the server hears "cancel" and the ask pauses for the
    question; resumed with the answer, the call runs again and the answer reaches the server."""
    server = travel()
    history, storage = MemoryHistory(), MemoryStorage()
    agent = Agent(
        "a",
        config=ScriptedModel(call("where"), "booked"),
        tools=[server],
        history=history,
        storage=storage,
        suspend_on_human=True,
    )
    try:
        with pytest.raises(AskSuspended) as paused:
            await agent.ask("where to?", conversation_id="trip")
        [question] = paused.value.requests
        assert isinstance(question, HumanInputRequest) and "Which city?" in question.prompt
        valid_history(await history.load("trip"), paused=paused.value.run_id)

        reply = await agent.resume("trip", HumanMessage("Lisbon", question.request_id))
    finally:
        await server.aclose()
    assert reply.text == "booked"
    [result] = results(reply.events)[-1:]
    assert isinstance(result, ToolCallResult) and result.content == "accept:Lisbon"
    valid_history(await history.load("trip"))


async def test_elicitation_can_be_turned_off(travel: Connect) -> None:
    server = travel(elicitation=False)
    agent = Agent("a", config=ScriptedModel(call("where"), "ok"), tools=[server])
    try:
        reply = await agent.ask("where?")
    finally:
        await server.aclose()
    [error] = results(reply.events)
    assert isinstance(error, ToolCallError)  # the server could not ask: its tool failed
    assert not of_type(reply.events, HumanInputRequest)


async def test_each_asks_question_goes_to_that_asks_human(travel: Connect) -> None:
    """Two asks wait on the server at once; each question reaches the human of the ask whose
    call it came from (found through the context the SDK hands the request)."""
    asked: list[tuple[str, str]] = []

    def hitl(request: HumanInputRequest, context: Context) -> str:
        asked.append((context.agent_name, request.prompt.split(",")[1].split("?")[0].strip()))
        return "Rome"

    server = travel()
    agents = [
        Agent(
            name,
            config=ScriptedModel(call("where_together", name=person), "ok"),
            tools=[server],
            hitl=hitl,
        )
        for name, person in [("first", "ann"), ("second", "bob")]
    ]
    try:
        replies = await asyncio.gather(*(agent.ask("where?") for agent in agents))
    finally:
        await server.aclose()

    assert sorted(asked) == [("first", "ann"), ("second", "bob")]
    for reply in replies:
        assert [r.content for r in results(reply.events)] == ["accept"]  # type: ignore[union-attr]


async def test_sampling_is_answered_by_the_configured_model_and_counted(travel: Connect) -> None:
    writer = ScriptedModel("Roses are red")
    server = travel(sampling=writer)
    agent = Agent("a", config=ScriptedModel(call("poem", topic="roses"), "nice"), tools=[server])
    try:
        reply = await agent.ask("a poem please")
    finally:
        await server.aclose()

    [result] = results(reply.events)
    assert isinstance(result, ToolCallResult)
    assert result.content.endswith(": Roses are red")
    [request] = writer.requests
    assert request.instructions == "You write short poems."
    assert request.settings.max_tokens == 50
    assert [e.text for e in request.messages] == ["roses"]  # type: ignore[attr-defined]
    kinds = [line.kind for line in reply.usage_report.breakdown]
    assert "mcp-sampling" in kinds


async def test_without_a_sampling_model_the_servers_request_fails_its_tool(travel: Connect) -> None:
    server = travel()
    agent = Agent("a", config=ScriptedModel(call("poem", topic="x"), "ok"), tools=[server])
    try:
        reply = await agent.ask("poem")
    finally:
        await server.aclose()
    [error] = results(reply.events)
    assert isinstance(error, ToolCallError)


async def test_resources_and_prompts(travel: Connect) -> None:
    server = travel()
    async with server:
        listed = {str(r.uri): r for r in await server.list_resources()}
        assert set(listed) == {"notes://today", "notes://logo", "notes://report"}
        assert await server.read_resource("notes://today") == ["buy milk"]
        assert await server.read_resource("notes://logo") == [
            Image(data=PNG, media_type="image/png")
        ]
        assert await server.read_resource("notes://report") == [
            Document(data=b"%PDF-1.4 tiny", media_type="application/pdf")
        ]
        with pytest.raises(RemoteToolError, match="notes://nothing"):
            await server.read_resource("notes://nothing")

        [prompt] = await server.list_prompts()
        assert prompt.name == "greet"
        assert await server.get_prompt("greet", {"name": "Ada"}) == [
            PromptMessage("user", ("Say hello to Ada.",))
        ]
        with pytest.raises(RemoteToolError, match="nope"):
            await server.get_prompt("nope")
        assert server.sessions_opened == 1


async def test_resource_tools_let_the_model_read_resources(travel: Connect) -> None:
    server = travel(include=["add"], resource_tools=True, prefix="n_")
    model = ScriptedModel(
        call("n_list_resources"), call("n_read_resource", uri="notes://today"), "milk"
    )
    agent = Agent("a", config=model, tools=[server])
    try:
        reply = await agent.ask("what's on my list?")
    finally:
        await server.aclose()

    listed, read = results(reply.events)
    assert isinstance(listed, ToolCallResult) and isinstance(read, ToolCallResult)
    assert {r["uri"] for r in listed.value} >= {"notes://today"}
    assert read.content == "buy milk"
    assert sorted(t.name for t in model.requests[0].tools) == [
        "n_add",
        "n_list_resources",
        "n_read_resource",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"include": "add"}, "include takes a list of tool names"),
        ({"prefix": "bad prefix!"}, "prefix may hold letters"),
        ({"reconnect": -1}, "reconnect can't be negative"),
        ({"sampling": "gpt"}, "sampling takes a model config"),
        ({"colour": "red"}, "unknown options"),
    ],
)
def test_wrong_settings_are_clear_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MCPServer.in_process(make_server(), **options)


def test_wrong_stdio_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"args\[1\] is a int") as refused:
        MCPServer.stdio("python3", ["--api-key", 5, "sk-secret"])  # type: ignore[list-item]
    assert "sk-secret" not in str(refused.value)
    MCPServer.stdio("python3", [Path("server.py")])  # type: ignore[list-item]  # a path is taken
    with pytest.raises(ConfigError, match="env must map names to strings") as refused:
        MCPServer.stdio("python3", env={"API_KEY": "sk-secret", "PORT": 8000})  # type: ignore[dict-item]
    assert "sk-secret" not in str(refused.value)


def test_in_process_takes_only_an_sdk_server() -> None:
    with pytest.raises(ConfigError, match="MCP SDK server object"):
        MCPServer.in_process(object())
