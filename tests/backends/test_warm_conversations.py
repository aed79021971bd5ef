"""A stored conversation this process keeps warm in memory after its ask
(``baton.conversation.WARM_CONVERSATIONS``) is checked against the store before its next ask:
what another process added meanwhile is what the next model call sees, and memory ends as the
store is."""

from __future__ import annotations

import gc

from run_procs import stores

from baton import Agent
from baton.events import ModelResponse
from baton.testing import ScriptedModel


async def test_a_warm_conversation_sees_what_another_process_added(store: str) -> None:
    async with stores(store) as (here, _), stores(store) as (there, _):
        first = await Agent("a", history=here).ask(
            "one", config=ScriptedModel("1"), conversation_id="w"
        )
        assert first.text == "1"
        del first  # only the warm set holds the conversation now
        gc.collect()
        # Another process (another history object on the same store) moves it on.
        other = await Agent("a", history=there).ask(
            "two", config=ScriptedModel("2"), conversation_id="w"
        )
        assert other.text == "2"
        model = ScriptedModel("3", record=True)
        reply = await Agent("a", history=here).ask("three", config=model, conversation_id="w")
        shown = model.requests[0].messages
        assert [e.text for e in shown if isinstance(e, ModelResponse)] == ["1", "2"]
        assert list(reply.events) == await here.load("w")
