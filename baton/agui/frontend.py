"""What an AG-UI run adds to an ask: the client's front-end tools, and a middleware that lets
the endpoint see the conversation's variables (for the AG-UI state events).

A front-end tool is a ``Tool.from_schema`` the model sees like any other; running it asks
"a human" (the client) for its result: a ``HumanInputRequest`` whose id is the call's id with
``FRONTEND_PREFIX``, taken only if already answered, else the ask pauses (``context.pause``).
The AG-UI run then ends with the call pending, and the next request's tool message answers the
request, through ``agent.resume``: the same machinery as any paused ask, so it continues in any
replica that shares the agent's history and storage.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..errors import HumanInputTimeout
from ..events import HumanInputRequest, ModelResponse, ToolCallError, ToolCallResult
from ..hitl import current_call
from ..middleware.base import Middleware
from ..tools.tool import Tool

if TYPE_CHECKING:
    from ag_ui.core import Tool as AGUITool

    from ..events import ToolCall
    from ..hooks import ProceedModel, ProceedTool
    from ..models.base import ModelCall
    from .state import StateTracker

__all__ = ["FRONTEND_PREFIX", "FrontendTools", "StateCapture", "current_state"]

FRONTEND_PREFIX = "agui-tool:"
"""Request ids of front-end tool calls: this prefix, then the tool call's id."""

_CONTEXT_KEY = "__agui_context"
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

# The state tracker of the AG-UI run an ask belongs to: set by the endpoint before it starts
# the ask, read by the ask's hooks (the ask's task copies the context when it is made).
current_state: contextvars.ContextVar[StateTracker | None] = contextvars.ContextVar(
    "baton_agui_state", default=None
)


class StateCapture(Middleware):
    """Hands the conversation's variables to the AG-UI run's state tracker (once per ask, at
    its first model or tool call), and records them as each model and tool call returns (see
    ``StateTracker``). Stateless: one instance serves every request."""

    def _capture(self, context: Context) -> None:
        tracker = current_state.get()
        if tracker is not None and tracker.variables is None:
            tracker.variables = context.variables

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        self._capture(context)
        response = await proceed(call)
        tracker = current_state.get()
        if tracker is not None:
            tracker.record_model()
        return response

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        self._capture(context)
        outcome = await proceed(call)
        tracker = current_state.get()
        if tracker is not None:
            tracker.record_call(call.id)
        return outcome


def _frontend_tool(name: str, description: str, parameters: dict[str, Any]) -> Tool:
    async def run_in_client(**arguments: Any) -> str:
        context: Context = arguments.pop(_CONTEXT_KEY)
        call = current_call()
        call_id = call.id if call is not None else ""
        request = HumanInputRequest(
            FRONTEND_PREFIX + call_id, f"run the front-end tool {name!r}", call_id or None
        )
        try:
            # Only an answer that is there already (a resumed ask's): never wait, pause.
            answer = await context.ask_human(request, timeout=0, hint="a front-end tool")
        except HumanInputTimeout as waiting:
            context.pause(replace(request, request_id=waiting.request_id))
        return answer.text

    return Tool.from_schema(
        run_in_client,
        name=name,
        description=description,
        parameters=parameters,
        context=_CONTEXT_KEY,
    )


class FrontendTools:
    """The ``Tool`` of each front-end tool a client declares, made once per distinct
    declaration: the same tools give the same objects, so the agent's per-ask plan cache
    hits instead of compiling a plan for every request."""

    __slots__ = ("_made",)

    def __init__(self) -> None:
        self._made: dict[str, Tool] = {}

    def tools(self, declared: Sequence[AGUITool]) -> tuple[Tool, ...]:
        made: list[Tool] = []
        for spec in declared:
            parameters = spec.parameters if isinstance(spec.parameters, dict) else _EMPTY_SCHEMA
            key = json.dumps([spec.name, spec.description, parameters], sort_keys=True)
            tool = self._made.get(key)
            if tool is None:
                if len(self._made) >= 256:  # bounded: clients choose what they declare
                    self._made.pop(next(iter(self._made)))
                tool = self._made[key] = _frontend_tool(spec.name, spec.description, parameters)
            made.append(tool)
        return tuple(made)
