"""The MCP client: an MCP server as a ``ToolSource``, with one supervised session per server.

Each session belongs to ONE task, its supervisor: it opens the session (and, over stdio, starts
the server process) on first use, and it is the task that closes it again. The MCP SDK's
sessions are anyio task groups and cancel scopes that must be entered and left by the same
task; keeping them in the supervisor is what lets any number of asks, in any tasks, share one
session. Requests go out from the asking task itself (the SDK takes them from any task), so an
ask cancelled mid-call cancels only its own request and the session stays.

The session ends with ``aclose()`` (or ``async with``, or ``agent.aclose()``): the supervisor
leaves the session, the requests still in flight fail, and the SDK stops the server process.
When the event loop ends without it (``asyncio.run`` cancels what is left), the supervisor is
cancelled and closes the same way. When the session fails (the server exits), the calls waiting
on it fail with a ``ToolSourceUnavailable`` the model reads, and the next use opens a new one.
Opening a session and the server's listings are bounded by ``connect_timeout`` (a stdio server
given up on is stopped before the error: the SDK's grace, then a kill, a few seconds more);
tool calls by ``timeout``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from ..errors import ConfigError, RemoteToolError, ToolSourceUnavailable
from ..events import Part
from ..humans import current_call
from ..redaction import logger
from ..tools.tool import Tool
from .asking import Caller, Callers
from .content import PromptMessage, prompt_messages, resource_parts, tool_result
from .events import MCPProgress
from .faults import cannot_open, lost_answer, permanent, request_error, unavailable
from .options import ServerOptions, read_options
from .targets import Target, http_target, in_process_target, require_mcp, sse_target, stdio_target

if TYPE_CHECKING:
    import httpx2
    from mcp import Client
    from mcp.client.session import IncomingMessage
    from mcp.shared.dispatcher import ProgressFnT
    from mcp.types import CallToolResult, Prompt, Resource

    from ..context import Context

__all__ = ["MCPServer"]

log = logger("baton.mcp")

T = TypeVar("T")

# Reconnecting: the first retry waits this long, each next one twice as long, up to the cap.
_BACKOFF, _BACKOFF_CAP = 0.2, 5.0
_CONTEXT = "__baton_context"  # the keyword a server's tools get the ask's Context through


@dataclass(eq=False)
class _Session:
    """One session with the server. ``client`` is set once it is open; ``closing`` tells its
    supervisor to close it; ``running`` holds the requests in flight on it."""

    ready: asyncio.Future[None]
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    running: set[_Request] = field(default_factory=set)
    client: Client | None = None
    supervisor: asyncio.Task[None] | None = None


@dataclass(eq=False, slots=True)
class _Request:
    """A request in flight, made in ``task``; ``failure`` is set (and the task cancelled) when
    the request can't be completed: the server's answer to it could not be read."""

    task: asyncio.Task[Any] | None
    failure: BaseException | None = None


class MCPServer:
    """An MCP server whose tools an agent can call: ``Agent(tools=[MCPServer.stdio(...)])``.

    Make one with ``MCPServer.stdio(...)``, ``.http(url)``, ``.sse(url)`` or ``.in_process(...)``
    (options: ``ServerOptions``). It is a ``ToolSource``: listed at the start of each run, it
    opens its session on first use (or on ``async with``), lists the server's tools once, and
    returns the same tools until the server says its list changed. Each tool shows the model
    the server's name, description and JSON schema; a call is a ``tools/call`` request on the
    shared session, and an error (the tool's ``isError`` result, a protocol error, a dead
    server) comes back to the model as a short ``ToolCallError``. While a call runs, the
    server's progress reports and log messages are ``MCPProgress`` / ``MCPLog`` events on the
    ask's stream, and its questions go to the ask's human (see ``ServerOptions``).

    ``sessions_opened`` counts the sessions (server processes, over stdio) this object started.
    """

    def __init__(self, connect: Callable[[], Any], **options: Unpack[ServerOptions]) -> None:
        """Use ``MCPServer.stdio(...)``, ``.http(...)``, ``.sse(...)`` or ``.in_process(...)``.
        ``connect`` makes what ``mcp.Client`` connects to, afresh for each session."""
        require_mcp()
        settings = read_options(options)
        self._connect = connect
        self._mode = "auto"  # how mcp.Client picks the protocol version
        self._refusal: Callable[[], str | None] = lambda: None  # see targets.Target
        self._process = False  # see targets.Target
        self._connected = False  # a session has opened once (a reopen is tried again)
        self.name = settings.name
        self.timeout = settings.timeout
        self.connect_timeout = settings.connect_timeout
        self.include = settings.include
        self.exclude = settings.exclude
        self.prefix = settings.prefix
        self.reconnect = settings.reconnect
        self.resource_tools = settings.resource_tools
        self.elicitation = settings.elicitation
        self.sampling = settings.sampling
        self.log_level = settings.log_level
        self.sessions_opened = 0
        self._callers = Callers(self.name, self.sampling)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: _Session | None = None  # the open (or opening) session
        self._tools: tuple[Tool, ...] | None = None
        self._list_changes = 0  # the server's tool-list change notices so far
        self._listing: asyncio.Future[tuple[Tool, ...]] | None = None
        self._ending: set[asyncio.Task[None]] = set()  # supervisors of closing sessions

    @classmethod
    def _at(cls, target: Target, options: ServerOptions) -> MCPServer:
        options.setdefault("name", target.name)
        made = cls(target.connect, **options)
        made._mode, made._refusal = target.mode, target.refusal
        made._process = target.process
        return made

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        **options: Unpack[ServerOptions],
    ) -> MCPServer:
        """A server run as a subprocess speaking MCP over its stdin and stdout.

        The SDK starts it with a minimal environment (``PATH``, ``HOME``, ...): pass what the
        server needs in ``env`` (merged over that) and ``cwd``. ``name`` defaults to the
        command line.
        """
        return cls._at(stdio_target(command, args, env, cwd), options)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        auth: str | httpx2.Auth | None = None,
        **options: Unpack[ServerOptions],
    ) -> MCPServer:
        """A server at ``url`` speaking MCP over streamable HTTP.

        ``headers`` go with every request; ``auth`` is a bearer token (sent as
        ``Authorization: Bearer ...``) or an ``httpx2.Auth`` (the SDK's OAuth provider, say).
        Neither appears in reprs, errors or logs. ``name`` defaults to the URL without its
        query and credentials.
        """
        return cls._at(http_target(url, headers, auth), options)

    @classmethod
    def sse(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        auth: str | httpx2.Auth | None = None,
        **options: Unpack[ServerOptions],
    ) -> MCPServer:
        """A server at ``url`` speaking MCP over the older HTTP+SSE transport (for servers that
        have not moved to streamable HTTP). Takes what ``http`` takes."""
        return cls._at(sse_target(url, headers, auth), options)

    @classmethod
    def in_process(cls, server: Any, **options: Unpack[ServerOptions]) -> MCPServer:
        """An MCP server object of the SDK's (``mcp.server.mcpserver.MCPServer`` or a lowlevel
        ``Server``) run in this process: no subprocess, no network; for tests, and for servers
        written in Python next to the agent."""
        return cls._at(in_process_target(server), options)

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r})"

    # -- the ToolSource protocol ----------------------------------------------------------------

    async def list_tools(self, context: Context | None = None) -> Sequence[Tool]:
        """The server's tools as Baton tools, listed once and kept until the server says its
        list changed or ``aclose()``: a server that drops between asks does not fail the next
        ask (its calls fail, as tool errors the model reads, until it is back)."""
        tools = self._tools
        if tools is not None:
            return tools
        listing = self._listing
        if listing is None or listing.done():
            # One listing at a time: concurrent runs share it.
            listing = self._listing = asyncio.ensure_future(self._list())
        return await asyncio.shield(listing)

    async def aclose(self) -> None:
        """End the session: in-flight calls fail, the server process stops. The server may be
        used again afterwards (a new session opens)."""
        session = self._session
        if session is not None and self._loop is not asyncio.get_running_loop():
            raise ConfigError(f"{self!r} belongs to another event loop; close it there")
        self._tools = None
        if session is not None:
            self._drop(session)
        # Shielded: the supervisors finish closing even if this await is cancelled.
        ending = [t for t in self._ending if t.get_loop() is asyncio.get_running_loop()]
        if ending:
            await asyncio.shield(asyncio.gather(*ending, return_exceptions=True))

    def _drop(self, session: _Session) -> None:
        """Close ``session`` (its supervisor does); the next use opens a new one."""
        if self._session is session:
            self._session = None
        supervisor = session.supervisor
        if supervisor is not None and not supervisor.done():
            self._ending.add(supervisor)
            supervisor.add_done_callback(self._ending.discard)
            if session.client is None:  # still opening: it waits on the server, not on us
                supervisor.cancel()
        session.closing.set()

    async def __aenter__(self) -> MCPServer:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- what the server offers -------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call one of the server's tools by its own name and return the MCP result as it is."""
        return await self._request(lambda client: client.call_tool(name, arguments), name)

    async def list_resources(self) -> list[Resource]:
        """The server's resources (every page), as the SDK's ``Resource`` records."""

        found: list[Resource] = await self._every_page("resources", "listing resources")
        return found

    async def read_resource(self, uri: str) -> list[str | Part]:
        """A resource's contents: text as ``str``, binary content as media parts (``Image``,
        ``Audio``, ``Video``, else ``Document``); ready to put in an ask."""
        result = await self._request(lambda client: client.read_resource(uri), f"reading {uri}")
        return resource_parts(result.contents)

    async def list_prompts(self) -> list[Prompt]:
        """The server's prompts (every page), as the SDK's ``Prompt`` records."""

        found: list[Prompt] = await self._every_page("prompts", "listing prompts")
        return found

    async def _every_page(self, kind: str, what: str) -> list[Any]:
        """Every page of the server's ``kind`` listing (``tools``, ``resources``,
        ``prompts``): ``client.list_<kind>`` and the page's ``<kind>``, followed by cursor."""

        async def every_page(client: Client) -> list[Any]:
            found: list[Any] = []
            cursor: str | None = None
            listing = getattr(client, f"list_{kind}")
            while True:
                page = await listing(cursor=cursor)
                found.extend(getattr(page, kind))
                cursor = page.next_cursor
                if not cursor:
                    return found

        return await self._request(every_page, what, limit=self.connect_timeout)

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None
    ) -> list[PromptMessage]:
        """The prompt ``name`` filled in with ``arguments``: its messages, in order."""
        args = dict(arguments) if arguments is not None else None
        result = await self._request(
            lambda client: client.get_prompt(name, args), f"getting prompt {name!r}"
        )
        return prompt_messages(result)

    async def _request(
        self,
        work: Callable[[Client], Awaitable[T]],
        what: str,
        caller: Caller | None = None,
        limit: float | None = None,
    ) -> T:
        """Run ``work`` with the session's client in this task (the SDK takes requests from
        any task; only opening and closing the session belong to its supervisor), within
        ``limit`` seconds if given; the SDK's errors as Baton's."""
        session = await self._open()
        client = session.client
        assert client is not None
        task = asyncio.current_task()
        request = _Request(task)
        session.running.add(request)
        callers = self._callers
        callers.enter(caller)
        try:
            if limit is None:
                return await work(client)
            async with asyncio.timeout(limit):
                return await work(client)
        except asyncio.CancelledError:
            # Ours (an unreadable answer) unless the task was also cancelled from outside.
            failure = request.failure
            if failure is None or task is None or task.cancelling() > 1:
                raise
            task.uncancel()
            raise failure from None
        except TimeoutError:
            if limit is None:
                raise
            raise ToolSourceUnavailable(
                f"MCP server {self.name}: {what}: no answer within {limit:g} s (connect_timeout)"
            ) from None
        except Exception as exc:
            raise self._failed(exc, session, what) from None
        finally:
            callers.leave(caller)
            session.running.discard(request)

    def _failed(self, exc: Exception, session: _Session, what: str) -> Exception:
        """The Baton error for an SDK error; a closed connection also closes the session."""
        error, closed = request_error(self.name, what, exc)
        if closed:
            self._drop(session)
        return error

    # -- tools ------------------------------------------------------------------------------------

    async def _list(self) -> tuple[Tool, ...]:
        while True:
            # A change notice that comes while the list is read makes it read again.
            changes = self._list_changes
            try:
                listed = await self._every_page("tools", "listing tools")
            except RemoteToolError as exc:
                raise ToolSourceUnavailable(str(exc)) from None
            if changes == self._list_changes:
                break
        taken: set[str] = set()
        tools = [
            self._as_tool(t.name, t.description or t.title or "", t.input_schema, taken)
            for t in listed
            if (self.include is None or t.name in self.include) and t.name not in self.exclude
        ]
        if self.resource_tools:
            tools.extend(self._resource_tools())
        self._tools = tuple(tools)
        return self._tools

    def _tool_list_changed(self) -> None:
        """The server's tool list changed: read it again on next use."""
        self._tools = None
        self._list_changes += 1

    def _as_tool(
        self, name: str, description: str, schema: dict[str, Any], taken: set[str]
    ) -> Tool:
        async def call(**arguments: Any) -> Any:
            context: Context = arguments.pop(_CONTEXT)
            caller = Caller(context, current_call())
            progress = self._progress(caller)

            def work(client: Client) -> Awaitable[CallToolResult]:
                return client.call_tool(name, arguments, progress_callback=progress)

            result = await self._request(work, name, caller)
            if caller.pause_for is not None:  # the server asked; the ask pauses for the answer
                context.pause(caller.pause_for)
            return tool_result(result)

        call.__qualname__ = f"{self.name}:{name}"
        model_name = _model_name(self.prefix + name, taken)
        taken.add(model_name)
        return Tool.from_schema(
            call,
            name=model_name,
            description=description,
            parameters=dict(schema) or {"type": "object", "properties": {}},
            timeout=self.timeout,
            context=_CONTEXT,
        )

    def _progress(self, caller: Caller) -> ProgressFnT:
        """The progress callback of one call: each report an ``MCPProgress`` on its stream."""
        call_id = caller.call.id if caller.call is not None else ""

        async def report(progress: float, total: float | None, message: str | None) -> None:
            event = MCPProgress(call_id, self.name, progress, total, message or "")
            await caller.context.emit(event)

        return report

    def _resource_tools(self) -> list[Tool]:
        """``list_resources`` and ``read_resource`` for the model (``resource_tools=True``)."""

        async def list_them(**_: Any) -> list[dict[str, Any]]:
            found = await self.list_resources()
            return [r.model_dump(mode="json", exclude_none=True, by_alias=True) for r in found]

        async def read_it(uri: str, **_: Any) -> str | list[str | Part]:
            parts = await self.read_resource(uri)
            texts = [p for p in parts if isinstance(p, str)]
            return "\n".join(texts) if len(texts) == len(parts) else parts

        empty = {"type": "object", "properties": {}}
        by_uri = {
            "type": "object",
            "properties": {"uri": {"type": "string", "description": "The resource's URI."}},
            "required": ["uri"],
        }
        about = f"the MCP server {self.name}"
        return [
            Tool.from_schema(
                list_them,
                name=f"{self.prefix}list_resources",
                description=f"List the resources (documents, files, data) of {about}.",
                parameters=empty,
                timeout=self.timeout,
            ),
            Tool.from_schema(
                read_it,
                name=f"{self.prefix}read_resource",
                description=f"Read one resource of {about} by its URI.",
                parameters=by_uri,
                timeout=self.timeout,
            ),
        ]

    # -- the supervisor ---------------------------------------------------------------------------

    async def _open(self) -> _Session:
        """The open session, opening one first if there is none (trying again, with growing
        waits, ``reconnect`` times when it fails to open)."""
        session = self._session
        if session is not None and session.client is not None:
            if self._loop is not asyncio.get_running_loop():
                raise self._other_loop()
            return session
        loop = asyncio.get_running_loop()
        if session is not None and self._loop is not loop:
            raise self._other_loop()
        attempt = 0
        while True:
            session = self._session
            if session is None:
                session = self._start(loop)
            try:
                # Shielded: a cancelled first ask does not abort the opening for the others.
                async with asyncio.timeout(self.connect_timeout):
                    await asyncio.shield(session.ready)
                return session
            except TimeoutError:
                self._drop(session)
                # Wait until the SDK has stopped the process (its grace, then a kill): a loop
                # that ended during that shutdown would cancel it again and leave the process.
                if session.supervisor is not None:
                    ending = asyncio.gather(session.supervisor, return_exceptions=True)
                    await asyncio.shield(ending)
                raise ToolSourceUnavailable(
                    f"MCP server {self.name} did not finish connecting within "
                    f"{self.connect_timeout:g} s (connect_timeout): is it an MCP server, and "
                    "does it start?"
                ) from None
            except ToolSourceUnavailable as exc:
                fresh = self._process and not self._connected  # a command never yet started
                hopeless = cannot_open(self.name, exc, self._refusal(), fresh)
                if hopeless is not None:
                    raise hopeless from hopeless.__cause__
                if attempt >= self.reconnect or permanent(exc.__cause__):
                    if attempt:
                        raise ToolSourceUnavailable(
                            f"{exc} (gave up after {attempt + 1} attempts to connect)"
                        ) from None
                    raise
                await asyncio.sleep(min(_BACKOFF * 2**attempt, _BACKOFF_CAP))
                attempt += 1

    def _other_loop(self) -> ConfigError:
        return ConfigError(
            f"{self!r} has a session on another event loop; use it from one loop, or close it "
            "there first"
        )

    def _start(self, loop: asyncio.AbstractEventLoop) -> _Session:
        """Start a supervisor for a new session."""
        session = _Session(loop.create_future())
        self._session = session
        self._loop = loop
        self.sessions_opened += 1
        session.supervisor = loop.create_task(self._supervise(session), name=f"mcp {self.name}")
        return session

    def _client(self, running: set[_Request]) -> Client:
        """The SDK client for a new session, with the callbacks this server was given;
        ``running`` is the session's requests in flight."""
        from mcp import Client
        from mcp.types import ToolListChangedNotification

        async def on_message(message: IncomingMessage) -> None:
            if isinstance(message, ToolListChangedNotification):
                self._tool_list_changed()
            elif isinstance(message, Exception):
                self._unreadable(message, running)

        callers = self._callers
        return Client(
            self._connect(),
            mode=self._mode,
            # Baton keeps the tool list itself (until the server says it changed); the SDK's
            # own cache would answer a listing after that notice with the old list.
            cache=None,
            message_handler=on_message,
            logging_callback=callers.on_log,
            log_level=self.log_level,  # type: ignore[arg-type]  # checked in __init__
            elicitation_callback=callers.on_elicit if self.elicitation else None,
            sampling_callback=callers.on_sample if self.sampling is not None else None,
        )

    async def _supervise(self, session: _Session) -> None:
        """Own the session: open it, keep it until it is told to close, close it."""
        import anyio

        ready = session.ready
        try:
            async with (
                self._client(session.running) as client,
                anyio.create_task_group() as group,
            ):
                session.client = client
                self._connected = True
                ready.set_result(None)
                group.start_soon(self._watch_tool_list, client)
                await session.closing.wait()
                group.cancel_scope.cancel()
        except BaseException as exc:
            error = unavailable(self.name, exc)
            if not ready.done():
                ready.set_exception(error)
                ready.exception()  # retrieved: the askers that wait see it
            elif not isinstance(exc, asyncio.CancelledError):
                log.warning("MCP session with %s ended: %s", self.name, error)
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            session.client = None
            if self._session is session:  # a dead session: the next use opens a new one
                self._session = None

    async def _watch_tool_list(self, client: Client) -> None:
        """On the 2026 protocol, a server tells of a changed tool list on a subscription (the
        older ones send a notification, see ``_client``): listen to it for the session."""
        from mcp.client.subscriptions import ListenNotSupportedError

        try:
            async with client.listen(tools_list_changed=True) as changes:
                async for _ in changes:
                    self._tool_list_changed()
        except ListenNotSupportedError:
            return  # an older protocol: notifications come on their own
        except Exception as exc:  # a server that can't: the list is kept for the session
            log.debug("MCP server %s: no tool list subscription: %s", self.name, exc)

    def _unreadable(self, error: Exception, running: set[_Request]) -> None:
        """The server sent a message that is not valid MCP. When it was an answer (it has an
        ``id`` and no ``method``), the request it answered would wait forever, and there is no
        telling which one it was: the requests in flight fail with a clear error (the session
        stays). Anything else is logged."""
        lost = lost_answer(error)
        if lost is None or not running:
            log.warning("MCP server %s sent something that is not MCP: %s", self.name, error)
            return
        log.warning("MCP server %s sent an answer that is not valid MCP: %s", self.name, lost)
        failure = RemoteToolError(
            f"MCP server {self.name} sent an answer that is not valid MCP ({lost}); the "
            "request can't be completed"
        )
        for request in running:
            if request.failure is None and request.task is not None:
                request.failure = failure
                request.task.cancel()


_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]")


def _model_name(name: str, taken: Collection[str] = ()) -> str:
    """A server's tool name as one every provider takes (1-64 letters, digits, ``_``, ``-``):
    MCP allows more (``files.read``, long names), so other characters become ``_``, and a name
    that is too long or already ``taken`` ends in a short hash of the original. Calls use the
    server's own name."""
    fitted = _NOT_IN_NAMES.sub("_", name) or "_"
    if len(fitted) > 64 or fitted in taken:
        digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
        fitted = f"{fitted[:55]}_{digest}"
    return fitted
