"""pydantic-ai (``pydantic-ai-slim``), on its scripted model ``FunctionModel``."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic_ai import Agent, Tool
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import UsageLimits

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


def rounds_done(messages: list[ModelMessage]) -> int:
    """The script's position, read from the last tool call's id (``call_<round>_<n>``): O(1)
    per model call, and per conversation, so concurrent asks replay the script independently."""
    part = messages[-1].parts[-1]
    if isinstance(part, ToolReturnPart):
        return int(part.tool_call_id.split("_", 2)[1])
    return 0


class PydanticAI(Framework):
    name = "pydantic-ai"
    distributions = ("pydantic-ai-slim",)
    notes = (
        "pydantic_ai.Agent with async tools (Tool(fn, takes_ctx=False)); FunctionModel with an "
        "async function playing the script (its position read from the last tool call's id); "
        "E: FunctionModel(stream_function=...) yielding the prebuilt piece strings (pydantic-ai "
        "builds each part delta itself, as for TestModel's streamed words), read through "
        "`agent.run_stream()` + `stream_text(delta=True, debounce_by=None)` (the default "
        "debounce would merge chunks).",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        tool_name, rounds, answer = script.tool, script.rounds, script.answer

        async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            done = rounds_done(messages)
            if done < rounds:
                call_id = f"call_{done + 1}_{next(_ids)}"
                return ModelResponse(parts=[ToolCallPart(tool_name, ARGS_JSON, call_id)])
            return ModelResponse(parts=[TextPart(answer)])

        agent = Agent(
            FunctionModel(respond),
            tools=[Tool(fn, takes_ctx=False) for fn in tools],
        )

        limits = UsageLimits(request_limit=rounds + 1)  # the default is 50 model calls

        async def one() -> Any:
            return await agent.run(PROMPT, usage_limits=limits)

        return Asker(one)

    def outcome(self, result: Any) -> Outcome:
        messages = result.all_messages()
        return Outcome(
            result.output,
            [str(p.content) for m in messages for p in m.parts if isinstance(p, ToolReturnPart)],
            sum(isinstance(m, ModelResponse) for m in messages),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        # The pieces are the harness's prebuilt strings: pydantic-ai turns each into its
        # PartDeltaEvent itself (FunctionStreamedResponse), as it does with TestModel's words.
        async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
            for piece in pieces:
                yield piece

        agent = Agent(FunctionModel(stream_function=stream))

        async def one() -> tuple[int, str]:
            seen = 0
            async with agent.run_stream(PROMPT) as result:
                async for _ in result.stream_text(delta=True, debounce_by=None):
                    seen += 1
                text = await result.get_output()
            return seen, text

        return Streamer(one, lambda r: r)


FRAMEWORK = PydanticAI()
