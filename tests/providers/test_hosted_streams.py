"""Provider-hosted tool calls read by Baton's own readers: Anthropic's server-tool blocks and
the Responses API's hosted output items as plain JSON from a stream and as the SDK's objects
from a whole answer, the headers a hosted tool needs on the streamed request path too, and
hosted-tool fields of an unexpected shape read as absent instead of failing the answer."""

from __future__ import annotations

from typing import Any

import pytest
from test_hosted_tools import named
from test_openai_responses import completed, created, message, stream, text_events
from wire import WireServer, closing

from baton import Agent
from baton.events import HostedToolCall
from baton.providers.anthropic import AnthropicConfig
from baton.providers.openai_responses import OpenAIResponsesConfig
from baton.tools.builtins import CodeInterpreter, FileSearch, WebSearch

pytest.importorskip("anthropic")
pytest.importorskip("openai")

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [],
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 1},
}


def anthropic_stream(blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> list[Any]:
    """A Messages stream of ``blocks``, each a starting block and the deltas that follow it."""
    events = [named("message_start", {"message": MESSAGE})]
    for index, (block, deltas) in enumerate(blocks):
        events.append(named("content_block_start", {"index": index, "content_block": block}))
        events.extend(
            named("content_block_delta", {"index": index, "delta": delta}) for delta in deltas
        )
        events.append(named("content_block_stop", {"index": index}))
    events.append(
        named(
            "message_delta",
            {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {}},
        )
    )
    events.append(named("message_stop", {}))
    return events


def anthropic(wire: WireServer, **kwargs: Any) -> AnthropicConfig:
    return closing(
        AnthropicConfig(
            "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, **kwargs
        )
    )


def responses(wire: WireServer) -> OpenAIResponsesConfig:
    return closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0
        )
    )


async def announced_and_reply(agent: Agent, prompt: str) -> tuple[list[HostedToolCall], Any]:
    async with agent.run(prompt) as run:
        announced = [e async for e in run if isinstance(e, HostedToolCall)]
        reply = await run.result()
    return announced, reply


async def test_a_streamed_anthropic_search_reads_its_hits_and_sends_the_beta_header(
    wire: WireServer,
) -> None:
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    hits = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": [
            {"type": "web_search_result", "url": "https://baton.example", "title": "Baton"},
            {"type": "web_search_result", "url": "https://b.example", "title": None},
        ],
    }
    again = {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {}}
    refused = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
    }
    query = [{"type": "input_json_delta", "partial_json": '{"query": "baton"}'}]
    wire.reply_sse(
        anthropic_stream(
            [
                (search, query),
                (hits, []),
                (again, query),
                (refused, []),
                ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Found it."}]),
            ]
        ),
        named=True,
    )
    agent = Agent("a", config=anthropic(wire), tools=[WebSearch(), CodeInterpreter()])
    announced, reply = await announced_and_reply(agent, "Find baton")
    expected = (
        HostedToolCall(
            "srvtoolu_1",
            "web_search",
            "web_search",
            '{"query": "baton"}',
            "Baton - https://baton.example\nhttps://b.example",
        ),
        HostedToolCall(
            "srvtoolu_2",
            "web_search",
            "web_search",
            '{"query": "baton"}',
            "error: max_uses_exceeded",
        ),
    )
    assert reply.text == "Found it."
    assert reply.response.hosted_calls == expected
    assert announced == list(expected)
    sent = wire.last
    assert sent.json["stream"] is True
    assert "code-execution-2025-08-25" in sent.headers["anthropic-beta"]
    assert "extra_headers" not in sent.json  # a header, not a field of the body


async def test_a_whole_anthropic_answer_reads_a_bash_code_execution_result(
    wire: WireServer,
) -> None:
    wire.reply_json(
        {
            **MESSAGE,
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_3",
                    "name": "bash_code_execution",
                    "input": {"command": "python3 -c 'print(6 * 7)'"},
                },
                {
                    "type": "bash_code_execution_tool_result",
                    "tool_use_id": "srvtoolu_3",
                    "content": {
                        "type": "bash_code_execution_result",
                        "stdout": "42\n",
                        "stderr": "a warning\n",
                        "return_code": 0,
                        "content": [],
                    },
                },
                {"type": "text", "text": "It is 42."},
            ],
            "stop_reason": "end_turn",
        }
    )
    agent = Agent("a", config=anthropic(wire, stream=False), tools=[CodeInterpreter()])
    announced, reply = await announced_and_reply(agent, "6 * 7?")
    expected = HostedToolCall(
        "srvtoolu_3",
        "code_interpreter",
        "bash_code_execution",
        """{"command":"python3 -c 'print(6 * 7)'"}""",
        "42\na warning\n",
    )
    assert reply.text == "It is 42."
    assert reply.response.hosted_calls == (expected,)
    assert announced == [expected]
    assert "code-execution-2025-08-25" in wire.last.headers["anthropic-beta"]
    assert "extra_headers" not in wire.last.json


async def test_a_streamed_responses_answer_reads_web_and_file_search_calls(
    wire: WireServer,
) -> None:
    searched = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "baton",
            "sources": [{"type": "url", "url": "https://baton.example"}],
        },
    }
    found = {
        "type": "file_search_call",
        "id": "fs_1",
        "status": "completed",
        "queries": ["baton docs"],
        "results": [{"file_id": "file_1", "filename": "guide.md", "score": 0.9, "text": "..."}],
    }
    stream(
        wire,
        [
            *created(),
            {"type": "response.output_item.done", "output_index": 0, "item": searched},
            {"type": "response.output_item.done", "output_index": 1, "item": found},
            *text_events(["Found ", "it."], index=2),
            completed([searched, found, message("Found it.")]),
        ],
    )
    tools = [WebSearch(), FileSearch(vector_store_ids=["vs_1"])]
    announced, reply = await announced_and_reply(
        Agent("a", config=responses(wire), tools=tools), "?"
    )
    expected = (
        HostedToolCall("ws_1", "web_search", "web_search_call", "baton", "https://baton.example"),
        HostedToolCall(
            "fs_1", "file_search", "file_search_call", '["baton docs"]', "guide.md - file_1"
        ),
    )
    assert reply.text == "Found it."
    assert reply.response.hosted_calls == expected
    assert announced == list(expected)


async def test_hosted_responses_items_of_an_unexpected_shape_are_read_as_absent(
    wire: WireServer,
) -> None:
    odd = [
        {"type": "code_interpreter_call", "id": "ci_1", "code": "1", "outputs": 5},
        {"type": "code_interpreter_call", "id": 7, "outputs": [{"type": "logs", "logs": 42}]},
        {"type": "web_search_call", "id": "ws_1", "action": {"sources": "not a list"}},
        {"type": "file_search_call", "id": "fs_1", "queries": 3, "results": {"a": 1}},
        {"type": ["not", "a", "name"], "id": "x"},
    ]
    stream(wire, [*created(), *text_events(["ok"], index=5), completed([*odd, message("ok")])])
    tools = [WebSearch(), CodeInterpreter(), FileSearch(vector_store_ids=["vs_1"])]
    reply = await Agent("a", config=responses(wire), tools=tools).ask("?")
    assert reply.text == "ok"
    assert reply.response.hosted_calls == (
        HostedToolCall("ci_1", "code_interpreter", "code_interpreter_call", "1", ""),
        HostedToolCall("", "code_interpreter", "code_interpreter_call", "", ""),
        HostedToolCall("ws_1", "web_search", "web_search_call", "", ""),
        HostedToolCall("fs_1", "file_search", "file_search_call", "[]", ""),
    )


async def test_anthropic_server_tool_blocks_of_an_unexpected_shape_are_read_as_absent(
    wire: WireServer,
) -> None:
    use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": 5, "input": {"code": "1"}}
    result = {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": {"type": "code_execution_result", "stdout": 5, "stderr": ["x"]},
    }
    hits = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": [{"url": 5, "title": 6}, "not a hit"],
    }
    search = {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {}}
    wire.reply_sse(
        anthropic_stream(
            [
                (use, []),
                (result, []),
                ({"type": 7}, []),
                ({"type": ["a"]}, []),
                (search, []),
                (hits, []),
                ({"type": "text", "text": "ok"}, []),
            ]
        ),
        named=True,
    )
    reply = await Agent("a", config=anthropic(wire), tools=[CodeInterpreter()]).ask("?")
    assert reply.text == "ok"
    assert reply.response.hosted_calls == (
        HostedToolCall("srvtoolu_1", "code_interpreter", "", '{"code":"1"}', ""),
        HostedToolCall("srvtoolu_2", "web_search", "web_search", "", ""),
    )
