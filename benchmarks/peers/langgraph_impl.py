"""LangGraph (``langgraph`` + ``langchain-core``): the prebuilt ReAct graph
(``create_react_agent``: a model node and a ``ToolNode``) on a fake chat model.

langchain-core's own fakes (``GenericFakeChatModel`` and friends) don't support ``bind_tools``,
so the model is a small ``BaseChatModel`` subclass: ``bind_tools`` binds the tools' OpenAI schemas
(as a provider's chat model does), ``_agenerate`` plays the script natively async (the base
class would run ``_generate`` in a thread), and ``_astream`` yields the streamed pieces.

Streamed (E), ``_astream`` builds one ``ChatGenerationChunk`` per piece as it goes, as
langchain-core's own fakes (``GenericFakeChatModel``, ``FakeListChatModel``) and its provider chat
models do: langchain-core writes into every chunk it is handed (the message id, the response
metadata), so chunks built ahead of time could not be replayed for another ask.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import tool as as_tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import create_react_agent

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


class ScriptChatModel(BaseChatModel):
    """``rounds`` calls of ``tool``, then ``answer``; or, streamed, ``pieces`` one by one."""

    tool: str = ""
    rounds: int = 0
    answer: str = ""
    pieces: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, BaseMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _respond(self, messages: list[BaseMessage]) -> ChatResult:
        last = messages[-1]
        done = int(last.tool_call_id.split("_", 2)[1]) if isinstance(last, ToolMessage) else 0
        if done < self.rounds:
            call = {
                "name": self.tool,
                "args": json.loads(ARGS_JSON),  # a provider's chat model parses the JSON
                "id": f"call_{done + 1}_{next(_ids)}",
                "type": "tool_call",
            }
            message = AIMessage(content="", tool_calls=[call])
        else:
            message = AIMessage(content=self.answer)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return self._respond(messages)

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        return self._respond(messages)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # One fresh chunk per piece, as langchain-core's fakes build them: the framework sets
        # each chunk's message id and metadata, then reports it to the callbacks.
        for piece in self.pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class LangGraph(Framework):
    name = "langgraph"
    distributions = ("langgraph", "langgraph-prebuilt", "langchain-core")
    notes = (
        "langgraph.prebuilt.create_react_agent (model node + ToolNode) with async "
        "@langchain_core.tools.tool tools, `graph.ainvoke`, recursion_limit raised for C100; "
        "a BaseChatModel subclass playing the script (bind_tools supported, native async); "
        "E: `graph.astream(stream_mode=['messages', 'values'])`, counting the AIMessageChunks; "
        "`_astream` builds a fresh ChatGenerationChunk per piece, as langchain-core's "
        "GenericFakeChatModel does (the framework writes into each chunk, so they can't be "
        "prebuilt).",
    )

    def asker(self, tools: Sequence[ToolFn], script: Script) -> Asker:
        model = ScriptChatModel(tool=script.tool, rounds=script.rounds, answer=script.answer)
        graph = create_react_agent(model, [as_tool(fn) for fn in tools])
        config: RunnableConfig = {"recursion_limit": 2 * script.rounds + 5}

        async def one() -> Any:
            return await graph.ainvoke({"messages": [("user", PROMPT)]}, config)

        return Asker(one)

    def outcome(self, result: Any) -> Outcome:
        messages = result["messages"]
        return Outcome(
            str(messages[-1].content),
            [str(m.content) for m in messages if isinstance(m, ToolMessage)],
            sum(isinstance(m, AIMessage) for m in messages),
        )

    def streamer(self, pieces: Sequence[str]) -> Streamer:
        graph = create_react_agent(ScriptChatModel(pieces=tuple(pieces)), [])

        async def one() -> tuple[int, str]:
            seen = 0
            final: Any = None
            async for mode, data in graph.astream(
                {"messages": [("user", PROMPT)]}, stream_mode=["messages", "values"]
            ):
                if mode == "messages":
                    chunk = data[0]
                    if type(chunk) is AIMessageChunk and chunk.content:  # not the closing one
                        seen += 1
                else:
                    final = data
            return seen, str(final["messages"][-1].content)

        return Streamer(one, lambda r: r)


FRAMEWORK = LangGraph()
