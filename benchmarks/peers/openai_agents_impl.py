"""The OpenAI Agents SDK (``openai-agents``), on a scripted ``agents.Model`` subclass.

The SDK ships a test double (``agents.testing.ScriptedModel``), but it is a single tape of steps
that deep-copies every call's input into a growing record: fine for a test, not for thousands of
asks (its per-call copy alone would make C100 quadratic). So the model here is a small ``Model``
subclass built with the SDK's own item helpers (``agents.testing.function_call`` and
``assistant_message``) that plays the script per conversation, in O(1) per call.

Streamed (E), it does what the SDK's own test double does with ``ModelStep.stream(events)``: the
``ResponseTextDeltaEvent``s are built once, ahead of the asks, and handed over one by one, so the
time measured is the SDK's handling of each delta and not this module building it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import (
    Agent,
    Model,
    ModelResponse,
    RunConfig,
    Runner,
    Usage,
    function_tool,
    set_tracing_disabled,
)
from agents.items import ToolCallOutputItem, TResponseInputItem
from agents.testing import assistant_message, function_call
from openai.types.responses import Response, ResponseCompletedEvent, ResponseTextDeltaEvent

from benchmarks.peers._harness import (
    ARGS_JSON,
    PROMPT,
    Asker,
    Framework,
    Outcome,
    Script,
    Streamer,
    ToolFn,
)

_ids = itertools.count(1)
RUN_CONFIG = RunConfig(tracing_disabled=True)  # offline: nothing to export traces to
set_tracing_disabled(True)


def rounds_done(items: str | list[TResponseInputItem]) -> int:
    """The script's position, read from the last tool output's call id (``call_<round>_<n>``)."""
    if isinstance(items, str):
        return 0
    last: Any = items[-1]
    if last.get("type") == "function_call_output":
        return int(last["call_id"].split("_", 2)[1])
    return 0


class ScriptModel(Model):
    """``rounds`` calls of ``tool``, then ``answer``; or, streamed, ``pieces`` one by one."""

    def __init__(self, script: Script | None = None, pieces: Sequence[str] = ()) -> None:
        self.script = script
        self.text = "".join(pieces)
        self.item_id = f"msg_{next(_ids)}"
        # Built once, without validation (as the openai SDK builds the events it parses off the
        # wire), and replayed for every ask: the deltas of ScriptedModel's
        # ModelStep.stream(events), which yields the events it was given.
        self.deltas = tuple(
            ResponseTextDeltaEvent.model_construct(
                type="response.output_text.delta",
                content_index=0,
                delta=piece,
                item_id=self.item_id,
                logprobs=[],
                output_index=0,
                sequence_number=i,
            )
            for i, piece in enumerate(pieces)
        )

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        script = self.script
        assert script is not None
        done = rounds_done(input)
        if done < script.rounds:
            output = [
                function_call(script.tool, ARGS_JSON, call_id=f"call_{done + 1}_{next(_ids)}")
            ]
        else:
            output = [assistant_message(script.answer)]
        return ModelResponse(output=output, usage=Usage(requests=1), response_id=None)

    async def stream_response(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        for delta in self.deltas:
            yield delta
        # the closing event carries this ask's own response (once per ask, not per chunk)
        response = Response.model_construct(
            id=f"resp_{next(_ids)}",
            created_at=0,
            model="scripted",
            object="response",
            output=[assistant_message(self.text, item_id=self.item_id)],
            tool_choice="none",
            tools=[],
            top_p=None,
            parallel_tool_calls=False,
            status="completed",
            usage=None,
        )
        yield ResponseCompletedEvent.model_construct(
            type="response.completed", response=response, sequence_number=len(self.deltas)
        )


class OpenAIAgents(Framework):
    name = "openai-agents"
    distributions = ("openai-agents", "openai")
    notes = (
        "agents.Agent with async @function_tool tools, run by `Runner.run` with tracing "
        "disabled; a scripted `Model` subclass (O(1) per call, script position read from the "
        "last tool output's call id); E: `Runner.run_streamed()` + `stream_events()`, counting "
        "the raw ResponseTextDeltaEvents, which the model builds once and replays for every ask "
        "(as the SDK's ScriptedModel does with ModelStep.stream(events)).",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        agent = Agent(
            name="bench",
            model=ScriptModel(script),
            tools=[function_tool(fn) for fn in tools],
        )
        turns = script.rounds + 1

        async def one() -> Any:
            return await Runner.run(agent, PROMPT, max_turns=turns, run_config=RUN_CONFIG)

        return Asker(one)

    def outcome(self, result: Any) -> Outcome:
        return Outcome(
            str(result.final_output),
            [str(i.output) for i in result.new_items if isinstance(i, ToolCallOutputItem)],
            len(result.raw_responses),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        agent = Agent(name="bench", model=ScriptModel(pieces=pieces))

        async def one() -> tuple[int, str]:
            seen = 0
            result = Runner.run_streamed(agent, PROMPT, run_config=RUN_CONFIG)
            async for event in result.stream_events():
                if (
                    event.type == "raw_response_event"
                    and type(event.data) is ResponseTextDeltaEvent
                ):
                    seen += 1
            return seen, str(result.final_output)

        return Streamer(one, lambda r: r)


FRAMEWORK = OpenAIAgents()
