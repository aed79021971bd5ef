"""Teams on the wire: how another member's turn is rendered to each provider (OpenAI Chat,
Anthropic, Gemini, Responses), and a swarm hand-off after a reasoning turn: the target's request
carries none of the other member's reasoning or tool traffic, and the reasoning member's own
next request replays its signed reasoning in place (both valid for Anthropic and Responses)."""

from __future__ import annotations

from typing import Any

import pytest
from test_anthropic import config as anthropic_config
from test_anthropic import message as anthropic_message
from test_anthropic import text as anthropic_text
from test_anthropic import tool_use
from test_gemini import answer, fn, usage
from test_gemini import config as gemini_config
from test_gemini import text as gemini_text
from test_openai_chat import completion
from test_openai_chat import config as chat_config
from test_openai_responses import ENCRYPTED, fn_call, reasoning, response
from test_openai_responses import config as responses_config
from test_openai_responses import message as responses_message
from wire import WireServer

from baton import Agent
from baton.teams import MaxTurns, RoundRobin, Swarm


def roles(messages: list[dict[str, Any]]) -> list[str]:
    return [m["role"] for m in messages]


async def test_openai_chat_renders_another_members_turn_as_a_named_user_message(
    wire: WireServer,
) -> None:
    wire.reply_json(completion("A first draft."))
    wire.reply_json(completion("Looks good."))
    team = RoundRobin(
        [
            Agent("writer", config=chat_config(wire, stream=False)),
            Agent("critic", "You review.", config=chat_config(wire, stream=False)),
        ],
        termination=MaxTurns(2),
    )
    reply = await team.ask("Write a line.")
    assert reply.text == "Looks good."
    critic = wire.requests[1].json
    assert critic["messages"] == [
        {"role": "system", "content": "You review."},
        {"role": "user", "content": "Write a line."},
        {"role": "user", "content": "[writer] A first draft."},
    ]


async def test_gemini_renders_another_members_turn_as_user_text(wire: WireServer) -> None:
    wire.reply_json(answer(gemini_text("A first draft."), meta=usage()))
    wire.reply_json(answer(gemini_text("Looks good."), meta=usage()))
    team = RoundRobin(
        [
            Agent("writer", config=gemini_config(wire, stream=False)),
            Agent("critic", config=gemini_config(wire, stream=False)),
        ],
        termination=MaxTurns(2),
    )
    await team.ask("Write a line.")
    contents = wire.requests[1].json["contents"]
    assert all(c["role"] == "user" for c in contents)
    said = [p["text"] for c in contents for p in c["parts"]]
    assert said == ["Write a line.", "[writer] A first draft."]


async def test_gemini_hand_off_carries_no_function_call_of_the_other_member(
    wire: WireServer,
) -> None:
    wire.reply_json(
        answer(fn("transfer_to_b", {"reason": "b knows"}, thoughtSignature="c2ln"), meta=usage())
    )
    wire.reply_json(answer(gemini_text("b answers"), meta=usage()))
    swarm = Swarm(
        [
            Agent("a", config=gemini_config(wire, stream=False)),
            Agent("b", config=gemini_config(wire, stream=False)),
        ]
    )
    reply = await swarm.ask("help")
    assert reply.text == "b answers"
    b_request = wire.requests[1].json
    parts = [p for c in b_request["contents"] for p in c["parts"]]
    assert not any("functionCall" in p or "functionResponse" in p for p in parts)
    assert not any("thoughtSignature" in p for p in parts)
    assert [t["functionDeclarations"][0]["name"] for t in b_request["tools"]] == ["transfer_to_a"]


async def test_anthropic_hand_off_after_thinking(wire: WireServer) -> None:
    thinking = {"type": "thinking", "thinking": "b should take this", "signature": "sig-a"}
    wire.reply_json(
        anthropic_message(thinking, tool_use("toolu_a", "transfer_to_b", {}), stop="tool_use")
    )
    wire.reply_json(
        anthropic_message(tool_use("toolu_b", "transfer_to_a", {"reason": "back"}), stop="tool_use")
    )
    wire.reply_json(anthropic_message(anthropic_text("done")))
    swarm = Swarm(
        [
            Agent("a", config=anthropic_config(wire, stream=False, thinking_budget=1024)),
            Agent("b", config=anthropic_config(wire, stream=False)),
        ]
    )
    reply = await swarm.ask("help")
    assert reply.text == "done"
    to_a, to_b, back_to_a = (r.json for r in wire.requests)
    assert [t["name"] for t in to_a["tools"]] == ["transfer_to_b"]
    assert [t["name"] for t in to_b["tools"]] == ["transfer_to_a"]
    # b gets a's turn as text: no thinking block, no tool_use or tool_result of a's.
    blocks = [b for m in to_b["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert not any(b.get("type") in ("thinking", "tool_use", "tool_result") for b in blocks)
    assert "b should take this" not in str(to_b)
    assert roles(to_b["messages"]) == ["user"]  # the task and a's turn, in one user message
    assert "[a] calls tool transfer_to_b({})" in str(to_b["messages"])
    # a's own next request replays its signed thinking before its tool_use, then the result,
    # then b's turn as a user message: the order Anthropic requires.
    messages = back_to_a["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [thinking, tool_use("toolu_a", "transfer_to_b", {})],
    }
    assert messages[2]["role"] == "user"
    assert messages[2]["content"][0]["type"] == "tool_result"
    assert messages[2]["content"][0]["tool_use_id"] == "toolu_a"
    assert "[b] calls tool transfer_to_a" in str(messages[2:])
    assert roles(messages) == ["user", "assistant", "user"]


async def test_responses_hand_off_after_reasoning(wire: WireServer) -> None:
    thought = reasoning("b should take this")
    wire.reply_json(response([thought, fn_call("c_a", "transfer_to_b", {})]))
    wire.reply_json(response([fn_call("c_b", "transfer_to_a", {"reason": "back"})]))
    wire.reply_json(response([responses_message("done")]))
    swarm = Swarm(
        [
            Agent("a", config=responses_config(wire, stream=False, reasoning_effort="low")),
            Agent("b", config=responses_config(wire, stream=False)),
        ]
    )
    reply = await swarm.ask("help")
    assert reply.text == "done"
    to_a, to_b, back_to_a = (r.json for r in wire.requests)
    assert [t["name"] for t in to_a["tools"]] == ["transfer_to_b"]
    # b: no reasoning item (whose encrypted content only a's model could read), no calls of a's.
    kinds = [item.get("type", "message") for item in to_b["input"]]
    assert "reasoning" not in kinds and "function_call" not in kinds
    assert "function_call_output" not in kinds
    assert ENCRYPTED not in str(to_b)
    # a's own request replays its reasoning item right before its call, then the output.
    items = back_to_a["input"]
    at = next(i for i, item in enumerate(items) if item.get("type") == "reasoning")
    assert items[at]["encrypted_content"] == ENCRYPTED
    assert items[at + 1]["type"] == "function_call" and items[at + 1]["call_id"] == "c_a"
    assert items[at + 2] == {
        "type": "function_call_output",
        "call_id": "c_a",
        "output": "Transferred to b.",
    }
    assert "[b] calls tool transfer_to_a" in str(items[at + 3 :])


@pytest.fixture(autouse=True)
def _sdks() -> None:
    pytest.importorskip("anthropic")
    pytest.importorskip("openai")
    pytest.importorskip("google.genai")


@pytest.mark.parametrize("native", [True, False])
async def test_a_selectors_choice_is_structured_output_on_the_wire(
    wire: WireServer, native: bool
) -> None:
    from baton.teams import Selector
    from baton.testing import ScriptedModel

    wire.reply_json(completion('{"speaker": "critic", "reason": "review first"}'))
    team = Selector(
        [
            Agent("writer", config=ScriptedModel("draft"), description="writes"),
            Agent("critic", config=ScriptedModel("looks fine"), description="reviews"),
        ],
        model=chat_config(wire, stream=False, native_output=native),
        termination=MaxTurns(1),
    )
    reply = await team.ask("Write a line.")
    assert reply.speaker == "critic" and reply.text == "looks fine"
    body = wire.last.json
    assert "Candidates: writer, critic" in body["messages"][-1]["content"]
    assert "- critic: reviews" in body["messages"][-1]["content"]
    if native:
        assert body["response_format"]["json_schema"]["name"] == "SpeakerChoice"
    else:
        assert "response_format" not in body
        assert '"speaker"' in body["messages"][0]["content"]  # the schema, in the instructions
