"""The MCP server: any agent served over MCP, through the official SDK's low-level ``Server``.

    app = MCPApp(agent, name="calc", tools="both")
    await app.serve_stdio()                     # or: baton mcp serve module:agent
    asgi = app.http_app(token="...")            # streamable HTTP, mounts in Starlette/FastAPI

The ``ask`` tool runs one ask of the agent and returns its answer with a ``conversation_id``
the client passes back to continue the conversation. With ``tools="agent-tools"`` (or
``"both"``) the agent's own tools are listed too, with their JSON schemas; calling one runs a
one-call ask of the agent (a scripted model calls that tool and stops), so the tool gets its
dependencies, context, middleware and approvals exactly as inside an ask, and the call is
recorded in the agent's history like any other.

While an ask runs, the client gets ``notifications/progress`` (model answers, tool calls,
sub-task progress) when it sent a progress token. A human-input request of the agent
(``context.input``, ``context.approve``, an approval policy) is asked of the client as a form
elicitation when the client declared that capability: with ``elicitation/create`` on the
handshake protocol versions, with an input-required result on 2026-07-28 (the ask waits, in
this process, up to ``input_timeout`` seconds for the client's next call). Without the
capability the call ends as a tool error saying so. An agent with its own ``hitl=`` handler
keeps answering its requests itself. The agent's errors are short tool errors (``isError``):
Baton's errors by their message, anything else by its type only.

Only Baton's public API is used (``agent.run``, ``reply.run``, events, the stream), so the
agent's history and storage apply: with a durable history (``SQLHistory``) a conversation
continues across server restarts.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import to_jsonable_python

from ..agent import Agent
from ..errors import BatonError, ConfigError
from ..events import (
    Audio,
    Image,
    Part,
    Text,
    ToolCallError,
    ToolCallResult,
)
from ..redaction import logger
from ..reply import Reply, Run
from ..stream import MemoryStream, Stream
from ..tools.tool import parts_content
from .relay import AskRelay, Finished, Stopped, elicitation_form, short

if TYPE_CHECKING:
    import mcp_types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

    from .serve import HTTPApp

__all__ = ["MCPApp", "ToolsMode"]

log = logger("baton.mcp.server")

ToolsMode = Literal["ask", "agent-tools", "both"]
"""Which tools an ``MCPApp`` lists: the ``ask`` tool, the agent's own tools, or both."""

_MODES: tuple[str, ...] = ("ask", "agent-tools", "both")
_ASK_DESCRIPTION = (
    "Ask the agent {name!r}{about}. Returns its answer and a conversation_id: pass that "
    "conversation_id back with the next prompt to continue the same conversation."
)
_ASK_INPUT = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "description": "What to ask the agent."},
        "conversation_id": {
            "type": "string",
            "description": "Continue this conversation (from an earlier answer); omit to start "
            "a new one.",
        },
    },
    "required": ["prompt"],
    "additionalProperties": False,
}
_ASK_OUTPUT = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "conversation_id": {"type": "string"},
    },
    "required": ["answer", "conversation_id"],
}


def require_sdk() -> None:
    """A ``ConfigError`` naming the extra when the MCP SDK is not installed."""
    try:
        importlib.import_module("mcp.server.lowlevel")
    except ImportError as exc:
        raise ConfigError(
            f"serving an agent over MCP needs the MCP Python SDK: pip install "
            f"'baton-agents[mcp]' ({exc})"
        ) from None


class _Refused(Exception):
    """A call the server will not run (bad arguments, unknown conversation): its message is
    the tool error the client reads."""


def _describe_error(exc: BaseException) -> str:
    """A short, client-safe message for an error of the agent. Baton's own errors say what
    went wrong and how to fix it; anything else may carry internals, so the client gets only
    its type (the traceback goes to the server's log)."""
    if isinstance(exc, BatonError):
        return short(f"{type(exc).__name__}: {exc}")
    return f"the agent failed with an internal error ({type(exc).__name__}); see the server log"


# -- the app -------------------------------------------------------------------------------------


def _content(parts: Sequence[Part], text: str) -> list[Any]:
    """MCP content blocks for a result's parts: text stays text, inline images and audio
    become image and audio content; anything else (media by URL, documents) is the
    placeholder the result's text has for it. No parts: ``text`` alone."""
    import mcp_types as types

    if not parts:
        return [types.TextContent(type="text", text=text)]
    blocks: list[Any] = []
    for part in parts:
        if isinstance(part, Text):
            blocks.append(types.TextContent(type="text", text=part.text))
        elif isinstance(part, Image | Audio) and part.data is not None:
            data = base64.b64encode(part.data).decode("ascii")
            mime = part.media_type or part.default_media_type
            if isinstance(part, Image):
                blocks.append(types.ImageContent(type="image", data=data, mime_type=mime))
            else:
                blocks.append(types.AudioContent(type="audio", data=data, mime_type=mime))
        else:
            blocks.append(types.TextContent(type="text", text=parts_content((part,))))
    return blocks


def _tool_result(event: ToolCallResult | ToolCallError | None) -> mcp_types.CallToolResult:
    import mcp_types as types

    if event is None:
        return _error_result("the tool did not run")
    if isinstance(event, ToolCallError):
        if not _told(event.error_type):
            # An exception of the tool's own: its message may carry internals (the server's
            # log has it); the client learns which kind of failure it was.
            return _error_result(
                f"the tool {event.name} failed ({event.error_type}); see the server log"
            )
        return _error_result(short(event.message))
    structured = event.value if isinstance(event.value, dict) else None
    try:
        json.dumps(structured)
    except (TypeError, ValueError):
        structured = None
    return types.CallToolResult(
        content=_content(event.parts, event.content), structured_content=structured
    )


# Tool errors Baton words itself (what the model reads): safe to show a client as they are.
_BATON_WORDED = frozenset(
    {
        "InvalidArguments",
        "UnknownTool",
        "ToolTimeout",
        "Retry",
        "UnconvertibleResult",
        "Cancelled",
        "ApprovalDenied",
        "ApprovalTimeout",
    }
)


def _told(error_type: str) -> bool:
    """Whether a tool error's message is Baton's own wording (or a Baton error's), not an
    exception's text."""
    from .. import errors

    if error_type in _BATON_WORDED:
        return True
    kind = getattr(errors, error_type, None)
    return isinstance(kind, type) and issubclass(kind, BatonError)


def _tool_outcome(outcome: Finished) -> mcp_types.CallToolResult:
    return _tool_result(outcome.seen[0] if outcome.seen else None)


_Finish = Callable[[Finished], "mcp_types.CallToolResult"]


@dataclass(frozen=True)
class _Waiting:
    """An ask waiting for the client to call again with an answer (an input-required round)."""

    tool: str
    relay: AskRelay
    finish: _Finish
    timer: asyncio.TimerHandle


def _error_result(message: str) -> mcp_types.CallToolResult:
    import mcp_types as types

    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


class MCPApp:
    """An agent served over MCP: ``MCPApp(agent, name="calc", tools="ask")``.

    ``tools`` picks what the client sees: ``"ask"`` (a multi-turn ``ask`` tool), the agent's
    own ``"agent-tools"``, or ``"both"``. ``instructions`` is sent to clients at connection.
    Serve it with ``serve_stdio()``, or as an ASGI app with ``http_app(...)`` (see
    ``baton.mcp.serve``); ``baton mcp serve module:agent`` does either from the command line.

    A conversation is continued by its ``conversation_id``: through the agent's history when
    it has one (durable histories survive restarts), else from the last ``max_conversations``
    replies kept in memory. ``input_timeout`` bounds how long an ask waits for a 2026-07-28
    client to answer its question in a new call (then the ask is cancelled); ``aclose()``
    cancels those still waiting.
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        name: str | None = None,
        tools: ToolsMode = "ask",
        instructions: str | None = None,
        max_conversations: int = 1000,
        input_timeout: float = 600.0,
    ) -> None:
        require_sdk()
        given: object = agent  # typed as an Agent; checked, as a caller may pass anything
        if not isinstance(given, Agent):
            # A team (or anything else with as_tool) is served through an agent that uses it.
            hint = (
                "; serve an agent that uses it as a tool: Agent(..., tools=[team.as_tool()])"
                if callable(getattr(given, "as_tool", None))
                else ""
            )
            raise ConfigError(f"MCPApp serves a baton Agent, got {type(given).__name__}{hint}")
        if tools not in _MODES:
            raise ConfigError(f"tools must be one of {', '.join(_MODES)}, got {tools!r}")
        if isinstance(input_timeout, bool) or not input_timeout > 0:
            raise ConfigError(
                f"input_timeout must be a positive number of seconds, got {input_timeout!r}"
            )
        if isinstance(max_conversations, bool) or not max_conversations >= 1:
            raise ConfigError(f"max_conversations must be at least 1, got {max_conversations!r}")
        self.agent = agent
        self.name = name or agent.name
        self.tools_mode: ToolsMode = tools
        self.instructions = instructions if instructions is not None else agent.description
        self._max_conversations = max_conversations
        self._replies: OrderedDict[str, Reply[Any]] = OrderedDict()
        self._server: Server[Any] | None = None
        self.input_timeout = input_timeout
        self._waiting: dict[str, _Waiting] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"MCPApp({self.agent.name!r}, name={self.name!r}, tools={self.tools_mode!r})"

    # -- the SDK server --------------------------------------------------------------------

    @property
    def server(self) -> Server[Any]:
        """The SDK's low-level ``Server`` (made once) that answers ``tools/list`` and
        ``tools/call``."""
        if self._server is None:
            from mcp.server.lowlevel import Server

            from .. import __version__

            self._server = Server(
                self.name,
                version=__version__,
                instructions=self.instructions,
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
            )
        return self._server

    def _agent_tools(self) -> Mapping[str, Any]:
        return self.agent.tools if self.tools_mode != "ask" else {}

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: Any
    ) -> mcp_types.ListToolsResult:
        import mcp_types as types

        listed: list[types.Tool] = []
        if self.tools_mode != "agent-tools":
            about = f" ({self.agent.description})" if self.agent.description else ""
            listed.append(
                types.Tool(
                    name="ask",
                    description=_ASK_DESCRIPTION.format(name=self.agent.name, about=about),
                    input_schema=_ASK_INPUT,
                    output_schema=_ASK_OUTPUT,
                )
            )
        for tool_name, tool in self._agent_tools().items():
            if tool_name == "ask" and self.tools_mode == "both":
                continue  # the ask tool wins the name; the agent's stays usable inside asks
            listed.append(
                types.Tool(
                    name=tool_name,
                    description=tool.spec.description or None,
                    input_schema=dict(tool.spec.parameters),
                )
            )
        return types.ListToolsResult(tools=listed)

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        arguments = dict(params.arguments or {})
        try:
            if params.request_state is not None:
                return await self._answered(ctx, params)
            if params.name == "ask" and self.tools_mode != "agent-tools":
                return await self._ask(ctx, arguments)
            if params.name in self._agent_tools():
                return await self._run_tool(ctx, params.name, arguments)
            raise _Refused(f"unknown tool {params.name!r}")
        except _Refused as exc:
            return _error_result(str(exc))
        except BatonError as exc:
            return _error_result(_describe_error(exc))
        except Exception as exc:
            log.exception("MCP tool %r failed", params.name)
            return _error_result(_describe_error(exc))

    # -- rounds: an ask that needs the client's answer in another call ---------------------

    async def _round(
        self, ctx: ServerRequestContext[Any, Any], tool_name: str, relay: AskRelay, finish: _Finish
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        import mcp_types as types

        outcome = await relay.step(ctx)
        if isinstance(outcome, Stopped):
            return _error_result(outcome.problem)
        if isinstance(outcome, Finished):
            return finish(outcome)
        # The request state is only a key to the waiting ask, which stays in this process.
        key = secrets.token_urlsafe(18)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.input_timeout, self._expire, key)
        self._waiting[key] = _Waiting(tool_name, relay, finish, timer)
        message, schema = elicitation_form(outcome.request)
        params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
        return types.InputRequiredResult(
            input_requests={key: types.ElicitRequest(params=params)}, request_state=key
        )

    async def _answered(
        self, ctx: ServerRequestContext[Any, Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        import mcp_types as types

        key = params.request_state or ""
        waiting = self._waiting.get(key)
        if waiting is None or waiting.tool != params.name:
            raise _Refused(
                "the question this call answers is no longer waiting (it expired after "
                f"{self.input_timeout:g} seconds, or the server restarted); call the tool again"
            )
        answer = (params.input_responses or {}).get(key)
        if not isinstance(answer, types.ElicitResult):
            raise _Refused("the call carries no elicitation answer for the agent's question")
        del self._waiting[key]
        waiting.timer.cancel()
        try:
            await waiting.relay.answer(answer)
        except BaseException:
            await waiting.relay.close()  # nobody else will: it left the waiting list
            raise
        return await self._round(ctx, waiting.tool, waiting.relay, waiting.finish)

    def _expire(self, key: str) -> None:
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            task = asyncio.get_running_loop().create_task(waiting.relay.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Stop the asks still waiting for a client's answer (their runs are closed)."""
        waiting, self._waiting = list(self._waiting.values()), {}
        for entry in waiting:
            entry.timer.cancel()
            await entry.relay.close()

    # -- ask -------------------------------------------------------------------------------

    def _open(self, prompt: str, conversation_id: str | None) -> tuple[Run[Any], Stream]:
        """The run of the next ask and the stream its requests are answered on."""
        stream = MemoryStream()
        if conversation_id is None:
            return self.agent.run(prompt, stream=stream), stream
        if self.agent.history is not None:
            return self.agent.run(prompt, conversation_id=conversation_id, stream=stream), stream
        reply = self._replies.get(conversation_id)
        if reply is None:
            raise _Refused(
                f"unknown conversation_id {conversation_id!r} (this server keeps conversations "
                "in memory: it may have restarted; start a new conversation without one)"
            )
        return reply.run(prompt), reply.stream

    def _keep(self, reply: Reply[Any]) -> None:
        if self.agent.history is not None:
            return  # the history has it
        self._replies[reply.conversation_id] = reply
        self._replies.move_to_end(reply.conversation_id)
        while len(self._replies) > self._max_conversations:
            self._replies.popitem(last=False)

    async def _ask(
        self, ctx: ServerRequestContext[Any, Any], arguments: dict[str, Any]
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        prompt = arguments.pop("prompt", None)
        conversation_id = arguments.pop("conversation_id", None)
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Refused("ask needs a non-empty 'prompt' string")
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise _Refused("'conversation_id' must be a string from an earlier answer")
        if arguments:
            raise _Refused(f"ask takes 'prompt' and 'conversation_id', not {sorted(arguments)}")
        run, stream = self._open(prompt, conversation_id)
        relay = AskRelay(stream, self.agent.hitl is not None)
        await relay.start(run)
        return await self._round(ctx, "ask", relay, self._ask_result)

    def _ask_result(self, outcome: Finished) -> mcp_types.CallToolResult:
        import mcp_types as types

        reply = outcome.reply
        self._keep(reply)
        answer = reply.text if reply.output is None or isinstance(reply.output, str) else None
        if answer is None:
            try:
                answer = json.dumps(to_jsonable_python(reply.output))
            except (TypeError, ValueError):
                answer = reply.text
        handle = f"conversation_id: {reply.conversation_id} (pass it back to continue)"
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text=answer),
                *(_content(reply.files, "") if reply.files else ()),
                types.TextContent(type="text", text=handle),
            ],
            structured_content={"answer": answer, "conversation_id": reply.conversation_id},
        )

    # -- the agent's own tools -------------------------------------------------------------

    async def _run_tool(
        self, ctx: ServerRequestContext[Any, Any], tool_name: str, arguments: dict[str, Any]
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        from ..testing import ScriptedCall, ScriptedModel

        stream = MemoryStream()
        relay = AskRelay(stream, self.agent.hitl is not None)
        # A one-call ask: a scripted model makes exactly this call, then stops. The tool runs
        # as in any ask (injection, middleware, approvals, history), through the public API.
        # The arguments go as the JSON the model would send (any names, "arguments" too), and
        # the scripted closing text is not held to the agent's response_schema.
        script = ScriptedModel(
            ScriptedCall(tool_name, json.dumps(arguments)), f"called {tool_name}"
        )
        run = self.agent.run(
            f"(an MCP client called the tool {tool_name!r})",
            config=script,
            stream=stream,
            response_schema=None,
        )
        await relay.start(run)
        return await self._round(ctx, tool_name, relay, _tool_outcome)

    # -- transports ------------------------------------------------------------------------

    async def serve_stdio(self) -> None:
        """Serve one client over stdin/stdout until it disconnects."""
        from mcp.server.stdio import stdio_server

        server = self.server
        try:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        finally:
            await self.aclose()

    def http_app(
        self,
        *,
        token: str | None = None,
        no_token: bool = False,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        path: str = "/mcp",
    ) -> HTTPApp:
        """The streamable-HTTP ASGI app (see ``baton.mcp.serve.HTTPApp``): a bearer ``token``
        is required (one is generated when not given: ``app.token``), unless ``no_token=True``,
        which then serves loopback clients only. Browser ``Origin``s other than the server's
        own and ``allowed_origins`` are refused."""
        from .serve import HTTPApp

        return HTTPApp(
            self,
            token=token,
            no_token=no_token,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            path=path,
        )
