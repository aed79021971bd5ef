"""A compacted conversation through the OpenAI SDK against the loopback wire server: the
summary goes out as a user message at the head, the compacted messages don't go out at all."""

from __future__ import annotations

from typing import Any

import pytest
from wire import WireServer

from baton import Agent
from baton.harness import Compaction, TailWindow
from baton.harness.compaction import DROPPED_NOTE

pytest.importorskip("openai")


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
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


async def test_openai_chat_sends_the_summary_and_the_kept_tail(wire: WireServer) -> None:
    from baton.providers.openai import OpenAIConfig

    config = OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
    )
    try:
        for answer in ("a0", "a1", "a2", "a3"):
            wire.reply_json(completion(answer))
        policy = Compaction(TailWindow(keep_events=1), max_events=4)
        agent = Agent("bot", "Be brief.", config=config, policies=[policy])
        reply = await agent.ask("q0")
        reply = await reply.ask("q1")
        reply = await reply.ask("q2")
        reply = await reply.ask("q3")
        bodies = [r.json["messages"] for r in wire.requests]
        system = {"role": "system", "content": "Be brief."}
        summary = {
            "role": "user",
            "content": f"Summary of the earlier conversation: {DROPPED_NOTE}",
        }
        assert bodies[1] == [
            system,
            {"role": "user", "content": "q0"},
            {"role": "assistant", "content": "a0"},
            {"role": "user", "content": "q1"},
        ]
        assert bodies[2] == [system, summary, {"role": "user", "content": "q2"}]
        # The next call extends the compacted view (converted incrementally by the adapter).
        assert bodies[3] == [
            system,
            summary,
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2"},
            {"role": "user", "content": "q3"},
        ]
        assert reply.text == "a3"
        assert len([e for e in reply.events if type(e).__name__ == "ModelRequest"]) == 4
    finally:
        await config.aclose()
