"""Prompt caching where the provider needs to be told: Anthropic's cache breakpoints
(``AnthropicConfig(cache=...)``), OpenAI's ``prompt_cache_key`` and ``service_tier``; through the
official SDKs against the loopback wire server, asserting on the bodies the SDKs sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent, tool
from baton.errors import ConfigError
from baton.providers.anthropic import AnthropicConfig
from baton.providers.openai import OpenAIConfig
from baton.providers.openai_responses import OpenAIResponsesConfig

pytest.importorskip("anthropic")
pytest.importorskip("openai")

EPHEMERAL = {"type": "ephemeral"}


def anthropic(wire: WireServer, **kwargs: Any) -> AnthropicConfig:
    made = AnthropicConfig(
        "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, stream=False,
        **kwargs,
    )  # fmt: skip
    closing(made)
    return made


def message(*content: dict[str, Any], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(content),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 3, **usage},
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def breakpoints(body: Any) -> list[Any]:
    """Every ``cache_control`` anywhere in a request body."""
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if "cache_control" in node:
                found.append(node["cache_control"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(body)
    return found


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# -- Anthropic ---------------------------------------------------------------------------------


async def test_no_breakpoints_unless_asked(wire: WireServer) -> None:
    wire.reply_json(message(text("hi")))
    agent = Agent("a", "Be brief.", config=anthropic(wire), tools=[add])
    await agent.ask("Hi")
    body = wire.last.json
    assert body["system"] == "Be brief."
    assert breakpoints(body) == []


async def test_cache_true_marks_tools_system_and_conversation_across_tool_rounds(
    wire: WireServer,
) -> None:
    wire.reply_json(message(tool_use("c1", "add", {"a": 2, "b": 3}), stop="tool_use"))
    wire.reply_json(message(text("5")))
    wire.reply_json(message(text("12")))
    agent = Agent("a", "You add numbers.", config=anthropic(wire, cache=True), tools=[add, mul])
    reply = await agent.ask("What is 2 + 3?")
    assert reply.text == "5"
    first, second = (r.json for r in wire.requests)

    assert first["system"] == [
        {"type": "text", "text": "You add numbers.", "cache_control": EPHEMERAL}
    ]
    # The last tool's definition ends the cached tool prefix; the others carry no marker.
    assert [t.get("cache_control") for t in first["tools"]] == [None, EPHEMERAL]
    assert first["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is 2 + 3?", "cache_control": EPHEMERAL}],
        }
    ]
    assert len(breakpoints(first)) == 3

    # After the tool round the breakpoint moves to the tool result; the question is sent
    # unmarked again (the marker of the previous call did not stick to the cached messages).
    messages = second["messages"]
    assert messages[0] == {"role": "user", "content": "What is 2 + 3?"}
    assert messages[1]["role"] == "assistant" and breakpoints(messages[1]) == []
    assert messages[2]["role"] == "user"
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "5", "cache_control": EPHEMERAL}
    ]
    assert len(breakpoints(second)) == 3

    # The next ask of the conversation marks only its own last message.
    await reply.ask("And 3 * 4?")
    third = wire.last.json["messages"]
    assert breakpoints(third[:-1]) == []
    assert third[-1]["content"][-1] == {
        "type": "text",
        "text": "And 3 * 4?",
        "cache_control": EPHEMERAL,
    }
    assert len(breakpoints(wire.last.json)) <= 4


async def test_named_places_and_ttl(wire: WireServer) -> None:
    wire.reply_json(message(text("hi")))
    wire.reply_json(message(text("hi")))
    one_hour = {"type": "ephemeral", "ttl": "1h"}
    agent = Agent(
        "a", "Be brief.", config=anthropic(wire, cache="system", cache_ttl="1h"), tools=[add]
    )
    await agent.ask("Hi")
    body = wire.last.json
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": one_hour}]
    assert breakpoints(body) == [one_hour]

    agent = Agent(
        "b", "Be brief.", config=anthropic(wire, cache={"tools", "messages"}), tools=[add, mul]
    )
    await agent.ask("Hi")
    body = wire.last.json
    assert body["system"] == "Be brief."
    assert body["tools"][-1]["cache_control"] == EPHEMERAL
    assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert len(breakpoints(body)) == 2


async def test_prompted_output_schema_is_inside_the_cached_system_prompt(
    wire: WireServer,
) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    wire.reply_json(message(text('{"name": "Paris"}')))
    cfg = anthropic(wire, cache="system", native_output=False)
    reply = await Agent("a", "Answer.", config=cfg, response_schema=City).ask("Capital of France?")
    assert reply.output == City(name="Paris")
    (system,) = wire.last.json["system"]
    assert system["cache_control"] == EPHEMERAL
    assert system["text"].startswith("Answer.") and "name" in system["text"]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"cache": "prompt"}, "cache must be"),
        ({"cache": ["system", "history"]}, "cache must be"),
        ({"cache": 3}, "cache must be"),
        ({"cache": True, "cache_ttl": "2h"}, "cache_ttl must be"),
        ({"cache_ttl": "1h"}, "cache_ttl has no effect"),
    ],
)
def test_cache_settings_are_checked(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        AnthropicConfig("claude-test", api_key="k", **kwargs)


async def test_non_streamed_cache_usage_maps_to_cache_tokens(wire: WireServer) -> None:
    wire.reply_json(
        message(text("hi"), cache_creation_input_tokens=1200, cache_read_input_tokens=3000)
    )
    reply = await Agent("a", "Be brief.", config=anthropic(wire, cache=True)).ask("Hi")
    usage = reply.usage
    assert usage.cache_write_tokens == 1200 and usage.cache_read_tokens == 3000
    assert usage.input_tokens == 11 + 1200 + 3000  # Anthropic's input excludes both


# -- OpenAI ------------------------------------------------------------------------------------


def chat_completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def responses_answer(content: str) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": "gpt-test",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": content, "annotations": []}],
            }
        ],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 11,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 14,
        },
    }


OPENAI_APIS = [
    pytest.param(OpenAIConfig, chat_completion, "/v1/chat/completions", id="chat"),
    pytest.param(OpenAIResponsesConfig, responses_answer, "/v1/responses", id="responses"),
]


@pytest.mark.parametrize(("config_type", "answer", "path"), OPENAI_APIS)
async def test_openai_prompt_cache_key_and_service_tier_are_sent(
    wire: WireServer, config_type: Any, answer: Any, path: str
) -> None:
    wire.reply_json(answer("hi"))
    cfg = config_type(
        "gpt-test",
        api_key="sk-test",
        base_url=f"{wire.url}/v1",
        max_retries=0,
        stream=False,
        prompt_cache_key="tenant-42",
        service_tier="flex",
    )
    closing(cfg)
    assert (await Agent("a", config=cfg).ask("Hi")).text == "hi"
    assert wire.last.path == path
    body = wire.last.json
    assert body["prompt_cache_key"] == "tenant-42"
    assert body["service_tier"] == "flex"


@pytest.mark.parametrize(("config_type", "answer", "path"), OPENAI_APIS)
async def test_openai_cache_key_and_tier_are_absent_unless_set(
    wire: WireServer, config_type: Any, answer: Any, path: str
) -> None:
    wire.reply_json(answer("hi"))
    cfg = config_type(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
    )
    closing(cfg)
    await Agent("a", config=cfg).ask("Hi")
    body = wire.last.json
    assert wire.last.path == path
    assert "prompt_cache_key" not in body and "service_tier" not in body
    assert "cache_control" not in json.dumps(body)


@pytest.mark.parametrize("config_type", [OpenAIConfig, OpenAIResponsesConfig])
@pytest.mark.parametrize(
    "kwargs", [{"prompt_cache_key": ""}, {"prompt_cache_key": 42}, {"service_tier": " "}]
)
def test_openai_cache_key_and_tier_are_checked(config_type: Any, kwargs: dict[str, Any]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ConfigError, match=name):
        config_type("gpt-test", api_key="sk-test", **kwargs)
