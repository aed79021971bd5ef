"""Human input on 2026-07-28 connections, driven by hand: the server answers a call whose ask
needs the user with an input-required result, and the ask waits (still running) for the
client's next call. Uses the ``mcp`` SDK client in-process (``Client(app.server)``), which speaks
the modern protocol without a transport."""

from __future__ import annotations

from typing import Any

import mcp_types
from mcp import Client
from mcp_support import RunEnds, make_agent

from baton import Context, MemoryHistory
from baton.events import HumanInputRequest, RunFailed
from baton.hitl import Approval
from baton.mcp import MCPApp


async def _elicit(context: Any, params: Any) -> mcp_types.ElicitResult:
    raise AssertionError("the test drives the rounds itself")


async def test_an_input_required_round_then_the_answer_in_a_new_call() -> None:
    app = MCPApp(make_agent(history=MemoryHistory()))
    async with Client(app.server, mode="2026-07-28", elicitation_callback=_elicit) as client:
        first = await client.session.call_tool(
            "ask", {"prompt": "ask what city?"}, allow_input_required=True
        )
        assert isinstance(first, mcp_types.InputRequiredResult)
        ((key, request),) = first.input_requests.items()
        assert first.request_state == key
        assert request.params.message == "what city?"
        answer = mcp_types.ElicitResult(action="accept", content={"answer": "Lyon"})
        # a wrong key is refused clearly, and the ask keeps waiting for the right one
        stale = await client.session.call_tool(
            "ask",
            {"prompt": "ask what city?"},
            input_responses={"other": answer},
            request_state="other",
            allow_input_required=True,
        )
        assert isinstance(stale, mcp_types.CallToolResult) and stale.is_error
        assert "no longer waiting" in stale.content[0].text
        done = await client.session.call_tool(
            "ask",
            {"prompt": "ask what city?"},
            input_responses={key: answer},
            request_state=key,
            allow_input_required=True,
        )
    assert isinstance(done, mcp_types.CallToolResult) and not done.is_error
    assert done.content[0].text == "result: the user said: Lyon"
    # the question and its answer are in the conversation, like any human input
    events = await app.agent.history.load(done.structured_content["conversation_id"])  # type: ignore[union-attr]
    assert [e.prompt for e in events if isinstance(e, HumanInputRequest)] == ["what city?"]


async def test_aclose_ends_the_asks_still_waiting_for_an_answer() -> None:
    ends = RunEnds()
    app = MCPApp(make_agent(observers=[ends]))
    async with Client(app.server, mode="2026-07-28", elicitation_callback=_elicit) as client:
        first = await client.session.call_tool(
            "ask", {"prompt": "ask anything?"}, allow_input_required=True
        )
        assert isinstance(first, mcp_types.InputRequiredResult)
        assert not ends.ended.is_set()
        await app.aclose()
        assert [type(e) for e in ends.closing] == [RunFailed]
        late = await client.session.call_tool(
            "ask",
            {"prompt": "ask anything?"},
            input_responses={
                first.request_state: mcp_types.ElicitResult(action="accept", content={})
            },
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(late, mcp_types.CallToolResult) and late.is_error


async def test_an_agent_with_its_own_hitl_handler_answers_itself() -> None:
    def hitl(request: Any, context: Context) -> Any:
        return Approval(True) if not isinstance(request, HumanInputRequest) else "from hitl"

    app = MCPApp(make_agent(hitl=hitl))
    async with Client(app.server, mode="legacy") as client:  # no elicitation capability
        asked = await client.call_tool("ask", {"prompt": "ask colour?"})
        deployed = await client.call_tool("ask", {"prompt": "deploy prod"})
    assert asked.content[0].text == "result: the user said: from hitl"
    assert deployed.content[0].text == "result: deployed to prod"
