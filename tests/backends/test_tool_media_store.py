"""A tool's media result (issue 11, point 5) is stored and read back by every durable history."""

from __future__ import annotations

from run_procs import stores

from baton import Agent, Image, tool
from baton.events import ToolCallResult
from baton.testing import ScriptedModel, call

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400


@tool
def chart() -> Image:
    """Draw the chart."""
    return Image(data=PNG)


async def test_a_media_result_is_stored_and_continued_from(store: str) -> None:
    model = ScriptedModel(call("chart"), "A rising line.", "Still rising.")
    async with stores(store) as (history, _):
        await Agent("a", config=model, tools=[chart], history=history).ask(
            "Show me.", conversation_id="media"
        )
    async with stores(store) as (history, _):  # as another process would open it
        reply = await Agent("a", config=model, tools=[chart], history=history).ask(
            "And now?", conversation_id="media"
        )
        stored = [e for e in await history.load("media") if isinstance(e, ToolCallResult)]
    assert reply.text == "Still rising."
    assert [(r.parts, r.content) for r in stored] == [
        ((Image(data=PNG),), "[image: image/png, 100 KB]")
    ]
    seen = [e for e in model.requests[2].messages if isinstance(e, ToolCallResult)]
    assert seen == stored
