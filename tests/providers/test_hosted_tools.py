"""Provider-hosted tools (``WebSearch``, ``CodeInterpreter``, ``FileSearch``): each provider's
own wire format, a build-time ``ConfigError`` naming the local alternative where a provider lacks
one, and the local fallback when one is given."""

from __future__ import annotations

from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent, tool
from baton.errors import ConfigError
from baton.events import HostedToolCall, from_dict, to_dict
from baton.models.fallback import FallbackModel
from baton.providers.anthropic import AnthropicConfig
from baton.providers.dashscope import DashScopeConfig
from baton.providers.gemini import GeminiConfig
from baton.providers.ollama import OllamaConfig
from baton.providers.openai import OpenAIConfig
from baton.providers.openai_responses import OpenAIResponsesConfig
from baton.providers.vertex import VertexConfig
from baton.testing import ScriptedModel
from baton.tools.builtins import CodeInterpreter, FileSearch, WebSearch


@tool
def search_locally(query: str) -> str:
    """Search the web."""
    return f"local results for {query}"


async def test_openai_responses_sends_its_own_hosted_tools(wire: WireServer) -> None:
    wire.reply_json(
        {
            "id": "resp_1",
            "object": "response",
            "created_at": 1_700_000_000,
            "model": "gpt-test",
            "status": "completed",
            "output": [
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "baton"},
                },
                {
                    "type": "message",
                    "id": "msg_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Found it.", "annotations": []}],
                },
            ],
            "usage": {
                "input_tokens": 11,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 3,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 14,
            },
        }
    )
    config = closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
        )
    )
    agent = Agent(
        "a",
        config=config,
        tools=[
            search_locally,
            WebSearch(),
            CodeInterpreter(),
            FileSearch(vector_store_ids=["vs_1"], max_results=4),
        ],
    )
    async with agent.run("Find baton") as run:
        announced = [e async for e in run if isinstance(e, HostedToolCall)]
        reply = await run.result()
    assert reply.text == "Found it."
    expected = HostedToolCall("ws_1", "web_search", "web_search_call", "baton", "")
    assert reply.response.hosted_calls == (expected,)
    assert announced == [expected]  # on the stream too, before the response
    assert from_dict(to_dict(reply.response)) == reply.response  # stored as it came
    assert wire.last.json["tools"][1:] == [
        {"type": "web_search"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 4},
    ]
    assert wire.last.json["tools"][0]["name"] == "search_locally"


async def test_anthropic_sends_server_tools_and_the_code_execution_beta(wire: WireServer) -> None:
    wire.reply_json(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "baton"},
                },
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": [
                        {
                            "type": "web_search_result",
                            "url": "https://baton.example",
                            "title": "Baton",
                            "encrypted_content": "opaque",
                            "page_age": None,
                        }
                    ],
                },
                {"type": "text", "text": "Found it."},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 3},
        }
    )
    config = closing(
        AnthropicConfig(
            "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, stream=False
        )
    )
    agent = Agent("a", config=config, tools=[WebSearch(max_uses=3), CodeInterpreter()])
    reply = await agent.ask("Find baton")
    assert reply.text == "Found it."
    assert reply.response.hosted_calls == (
        HostedToolCall(
            "srvtoolu_1",
            "web_search",
            "web_search",
            '{"query":"baton"}',
            "Baton - https://baton.example",
        ),
    )
    assert wire.last.json["tools"] == [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "code_execution_20250825", "name": "code_execution"},
    ]
    assert "code-execution-2025-08-25" in wire.last.headers["anthropic-beta"]


async def test_gemini_sends_google_search_and_code_execution(wire: WireServer) -> None:
    pytest.importorskip("google.genai")
    wire.reply_json(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)"}},
                            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
                            {"text": "It is 42."},
                        ],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "modelVersion": "gemini-test-001",
            "usageMetadata": {
                "promptTokenCount": 11,
                "candidatesTokenCount": 3,
                "totalTokenCount": 14,
            },
        }
    )
    config = GeminiConfig(
        "gemini-test", api_key="g-test", base_url=wire.url, max_retries=0, stream=False
    )
    agent = Agent("a", config=config, tools=[WebSearch(), CodeInterpreter()])
    reply = await agent.ask("What is 6 * 7?")
    assert reply.text.endswith("It is 42.")
    assert reply.response.hosted_calls == (
        HostedToolCall("code_0", "code_interpreter", "code_execution", "print(6 * 7)", "42\n"),
    )
    assert wire.last.json["tools"] == [{"googleSearch": {}}, {"codeExecution": {}}]


@pytest.mark.parametrize(
    "config",
    [
        OpenAIConfig("gpt-test", api_key="sk-test"),
        OllamaConfig("llama-test"),
        DashScopeConfig("qwen-test", api_key="sk-ds-test"),
        FallbackModel(
            AnthropicConfig("claude-test", api_key="sk-ant-test"),
            OpenAIConfig("gpt-test", api_key="sk-test"),
        ),
    ],
    ids=["openai-chat", "ollama", "dashscope", "fallback-to-a-provider-without-it"],
)
def test_a_provider_without_the_tool_fails_when_the_agent_is_built(config: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"WebSearch\(\) is not available on .*web_search\(\.\.\.\)"
    ):
        Agent("a", config=config, tools=[WebSearch()])
    with pytest.raises(ConfigError, match=r"local baton\.tools\.builtins\.code_execution\(\)"):
        Agent("a", config=config, tools=[CodeInterpreter()])


def test_vertex_runs_what_gemini_runs() -> None:
    vertex = VertexConfig("gemini-test", project="p", location="europe-west4")
    assert vertex.supports_hosted("web_search") and vertex.supports_hosted("code_interpreter")
    assert not vertex.supports_hosted("file_search")


def test_anthropic_and_gemini_have_no_file_search() -> None:
    for config in (
        AnthropicConfig("claude-test", api_key="sk-ant-test"),
        GeminiConfig("gemini-test", api_key="g-test"),
    ):
        with pytest.raises(ConfigError, match=r"FileSearch\(\) is not available"):
            Agent("a", config=config, tools=[FileSearch(vector_store_ids=["vs_1"])])


async def test_the_fallback_is_offered_as_a_local_tool_where_the_provider_lacks_one(
    wire: WireServer,
) -> None:
    wire.reply_json(
        {
            "model": "llama-test",
            "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "ok"},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 11,
            "eval_count": 3,
        }
    )
    config = closing(OllamaConfig("llama-test", base_url=wire.url, max_retries=0, stream=False))
    agent = Agent("a", config=config, tools=[WebSearch(fallback=search_locally)])
    assert list(agent.tools) == ["search_locally"]
    await agent.ask("Find baton")
    [sent] = wire.last.json["tools"]
    assert sent["function"]["name"] == "search_locally"


async def test_a_scripted_model_sees_the_hosted_tools_it_was_offered() -> None:
    model = ScriptedModel("done")
    agent = Agent("a", config=model, tools=[WebSearch(), search_locally])
    await agent.ask("go")
    assert model.requests[0].hosted == (WebSearch(),)
    assert model.requests[0].tool_names == ["search_locally"]


async def test_a_per_ask_model_without_the_tool_is_refused() -> None:
    agent = Agent("a", config=ScriptedModel("done"), tools=[WebSearch()])
    with pytest.raises(ConfigError, match="WebSearch"):
        await agent.ask("go", config=OpenAIConfig("gpt-test", api_key="sk-test"))


def test_a_hosted_tool_listed_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="twice"):
        Agent("a", config=ScriptedModel("x"), tools=[WebSearch(), WebSearch(max_uses=2)])


def named(kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return (kind, {"type": kind, **payload})


async def test_anthropic_streams_server_tool_calls_as_events(wire: WireServer) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }
    use = {"type": "server_tool_use", "id": "srvtoolu_2", "name": "code_execution", "input": {}}
    result = {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {
            "type": "code_execution_result",
            "stdout": "42\n",
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    }
    wire.reply_sse(
        [
            named("message_start", {"message": message}),
            named("content_block_start", {"index": 0, "content_block": use}),
            named(
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"code": '}},
            ),
            named(
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": '"6*7"}'}},
            ),
            named("content_block_stop", {"index": 0}),
            named("content_block_start", {"index": 1, "content_block": result}),
            named("content_block_stop", {"index": 1}),
            named(
                "content_block_start", {"index": 2, "content_block": {"type": "text", "text": ""}}
            ),
            named(
                "content_block_delta", {"index": 2, "delta": {"type": "text_delta", "text": "42."}}
            ),
            named("content_block_stop", {"index": 2}),
            named(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 5},
                },
            ),
            named("message_stop", {}),
        ],
        named=True,
    )
    config = closing(
        AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0)
    )
    agent = Agent("a", config=config, tools=[CodeInterpreter()])
    async with agent.run("6 * 7?") as run:
        announced = [e async for e in run if isinstance(e, HostedToolCall)]
        reply = await run.result()
    expected = HostedToolCall(
        "srvtoolu_2", "code_interpreter", "code_execution", '{"code": "6*7"}', "42\n"
    )
    assert reply.text == "42."
    assert reply.response.hosted_calls == (expected,)
    assert announced == [expected]


async def test_gemini_google_search_grounding_is_a_hosted_call(wire: WireServer) -> None:
    pytest.importorskip("google.genai")
    wire.reply_json(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Baton is a framework."}]},
                    "finishReason": "STOP",
                    "index": 0,
                    "groundingMetadata": {
                        "webSearchQueries": ["what is baton"],
                        "groundingChunks": [
                            {"web": {"uri": "https://baton.example/docs", "title": "Baton docs"}}
                        ],
                    },
                }
            ],
            "modelVersion": "gemini-test-001",
        }
    )
    config = GeminiConfig(
        "gemini-test", api_key="g-test", base_url=wire.url, max_retries=0, stream=False
    )
    reply = await Agent("a", config=config, tools=[WebSearch()]).ask("What is baton?")
    assert reply.response.hosted_calls == (
        HostedToolCall(
            "search_0",
            "web_search",
            "google_search",
            '["what is baton"]',
            "Baton docs - https://baton.example/docs",
        ),
    )


async def test_openai_responses_streams_hosted_calls_as_events(wire: WireServer) -> None:
    from test_openai_responses import completed, created, message, stream, text_events

    code_item = {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "status": "completed",
        "code": "print(6 * 7)",
        "container_id": "cntr_1",
        "outputs": [{"type": "logs", "logs": "42\n"}],
    }
    running = {**code_item, "status": "in_progress", "outputs": None}
    stream(
        wire,
        [
            *created(),
            {"type": "response.output_item.added", "output_index": 0, "item": running},
            {"type": "response.output_item.done", "output_index": 0, "item": code_item},
            *text_events(["It is ", "42."], index=1),
            completed([code_item, message("It is 42.")]),
        ],
    )
    config = closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0
        )
    )
    agent = Agent("a", config=config, tools=[CodeInterpreter()])
    async with agent.run("6 * 7?") as run:
        announced = [e async for e in run if isinstance(e, HostedToolCall)]
        reply = await run.result()
    expected = HostedToolCall(
        "ci_1", "code_interpreter", "code_interpreter_call", "print(6 * 7)", "42\n"
    )
    assert reply.text == "It is 42."
    assert reply.response.hosted_calls == (expected,)
    assert announced == [expected]
    assert wire.last.json["tools"] == [{"type": "code_interpreter", "container": {"type": "auto"}}]


ANTHROPIC_OK = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


async def test_a_per_ask_model_is_refused_a_hosted_tool_it_lacks_even_with_a_fallback(
    wire: WireServer,
) -> None:
    # The fallback is chosen for the agent's own model when the agent is built; a model given
    # to one ask can't swap it in, and must never get another tool in its place.
    wire.reply_json(ANTHROPIC_OK)
    claude = closing(
        AnthropicConfig("claude-test", api_key="sk-ant-test", base_url=wire.url, stream=False)
    )
    unbuilt = Agent("a", tools=[FileSearch(vector_store_ids=["vs_1"], fallback=search_locally)])
    with pytest.raises(ConfigError, match=r"FileSearch\(\) is not available on anthropic"):
        await unbuilt.ask("go", config=claude)
    scripted = Agent("b", config=ScriptedModel("done"), tools=[WebSearch(fallback=search_locally)])
    chat = closing(OpenAIConfig("gpt-test", api_key="sk-test", base_url=wire.url))
    with pytest.raises(ConfigError, match=r"WebSearch\(\) is not available on openai"):
        await scripted.ask("go", config=chat)
    plain = Agent("c", config=ScriptedModel("done"))
    per_ask = FileSearch(vector_store_ids=["vs_1"], fallback=search_locally)
    with pytest.raises(ConfigError, match=r"FileSearch\(\) is not available on anthropic"):
        await plain.ask("go", config=claude, tools=[per_ask])
    await plain.ask("go", config=claude, tools=[WebSearch()])  # one it runs goes through
    assert wire.last.json["tools"] == [{"type": "web_search_20250305", "name": "web_search"}]
    assert len(wire.requests) == 1  # the refused asks sent nothing
