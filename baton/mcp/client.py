"""The MCP client: an MCP server as a ``ToolSource``, with one supervised session per server.

Every exchange with a server goes through ONE task, its supervisor: it opens the session (and,
over stdio, starts the server process) on first use, runs each request in a task group of its
own, and is the task that closes the session again. The MCP SDK's sessions are anyio task groups
and cancel scopes that must be entered and left by the same task; keeping them in the supervisor
is what lets any number of asks, in any tasks, share one session, and an ask be cancelled
mid-call without touching the session (only that request is cancelled, inside the supervisor).

The session ends with ``aclose()`` (or ``async with``, or ``agent.aclose()``): the supervisor
cancels what is still running, leaves the session, and the SDK stops the server process. When
the event loop ends without it (``asyncio.run`` cancels what is left), the supervisor is
cancelled and closes the same way. When the session fails (the server exits), the calls waiting
on it fail with a ``ToolSourceUnavailable`` the model reads, and the next use opens a new one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, RemoteToolError, ToolSourceUnavailable
from ..events import Audio, Image, Part
from ..redaction import logger
from ..tools.tool import Tool, ToolResult, to_content

if TYPE_CHECKING:
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.session import IncomingMessage
    from mcp.types import CallToolResult

    from ..context import Context

__all__ = ["MCPServer"]

log = logger("baton.mcp")

T = TypeVar("T")

_EXTRA = "pip install 'baton-agents[mcp]'"


def _require_mcp() -> None:
    """A ``ConfigError`` naming the extra when the MCP SDK is not installed."""
    try:
        importlib.import_module("mcp")
    except ImportError as exc:
        raise ConfigError(f"baton.mcp needs the MCP Python SDK: {_EXTRA} ({exc})") from None


@dataclass(eq=False)
class _Job:
    """One request for the supervisor: ``work`` runs with the session's client."""

    work: Callable[[Client], Awaitable[Any]]
    future: asyncio.Future[Any]
    scope: anyio.CancelScope | None = field(default=None)

    def cancel(self) -> None:
        """The asker gave up (it was cancelled): stop the request if it runs."""
        self.future.cancel()
        if self.scope is not None:
            self.scope.cancel()


class MCPServer:
    """An MCP server whose tools an agent can call: ``Agent(tools=[MCPServer.stdio(...)])``.

    Make one with ``MCPServer.stdio(...)``. It is a ``ToolSource``: listed at the start of each
    run, it opens its session on first use (or on ``async with``), lists the server's tools
    once, and returns the same tools until the server says its list changed. Each tool shows the
    model the server's name, description and JSON schema; a call is a ``tools/call`` request on
    the shared session, and an error (the tool's ``isError`` result, a protocol error, a dead
    server) comes back to the model as a short ``ToolCallError``.

    ``timeout`` (seconds) bounds each tool call (the request is cancelled on the server; the
    session stays open). ``sessions_opened`` counts the sessions (server processes, over stdio)
    this object has started.
    """

    def __init__(
        self,
        params: Callable[[], StdioServerParameters],
        *,
        name: str,
        timeout: float | None = None,
    ) -> None:
        """Use ``MCPServer.stdio(...)``."""
        _require_mcp()
        self._params = params
        self.name = name
        self.timeout = timeout
        self.sessions_opened = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._queue: asyncio.Queue[_Job | None] | None = None
        self._tools: tuple[Tool, ...] | None = None
        self._listing: asyncio.Future[tuple[Tool, ...]] | None = None
        self._ending: set[asyncio.Task[None]] = set()  # supervisors of dropped sessions

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
    ) -> MCPServer:
        """A server run as a subprocess speaking MCP over its stdin and stdout.

        The SDK starts it with a minimal environment (``PATH``, ``HOME``, ...): pass what the
        server needs in ``env`` (merged over that) and ``cwd``. ``name`` labels the server in
        errors (default: the command line).
        """
        _require_mcp()
        from mcp import StdioServerParameters

        if not isinstance(command, str) or not command:
            raise ConfigError(f"MCPServer.stdio needs a command, got {command!r}")
        if isinstance(args, str):
            raise ConfigError(f"MCPServer.stdio takes args as a list of strings, got {args!r}")
        argv, environment = list(args), dict(env) if env is not None else None
        if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
            raise ConfigError(f"MCPServer timeout must be a positive number, got {timeout!r}")

        def params() -> StdioServerParameters:
            return StdioServerParameters(command=command, args=argv, env=environment, cwd=cwd)

        return cls(params, name=name or " ".join([command, *argv]), timeout=timeout)

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r})"

    # -- the ToolSource protocol ----------------------------------------------------------------

    async def list_tools(self, context: Context | None = None) -> Sequence[Tool]:
        """The server's tools as Baton tools (listed once, until the server's list changes)."""
        tools = self._tools
        if tools is not None and self._task is not None:
            return tools
        listing = self._listing
        if listing is None or listing.done():
            # One listing at a time: concurrent runs share it.
            listing = self._listing = asyncio.ensure_future(self._list())
        return await asyncio.shield(listing)

    async def aclose(self) -> None:
        """End the session: in-flight calls fail, the server process stops. The server may be
        used again afterwards (a new session opens)."""
        task, jobs, loop = self._task, self._queue, self._loop
        if task is not None and loop is not asyncio.get_running_loop():
            raise ConfigError(f"{self!r} belongs to another event loop; close it there")
        if task is not None and jobs is not None:
            self._drop(jobs)
        # Shielded: the supervisors finish closing even if this await is cancelled.
        ending = [t for t in self._ending if t.get_loop() is asyncio.get_running_loop()]
        if ending:
            await asyncio.shield(asyncio.gather(*ending, return_exceptions=True))

    def _drop(self, jobs: asyncio.Queue[_Job | None]) -> None:
        """Detach the session whose queue is ``jobs`` (its supervisor closes it); the next use
        opens a new one."""
        if self._queue is not jobs:
            return
        if self._task is not None:
            self._ending.add(self._task)
            self._task.add_done_callback(self._ending.discard)
        self._task = self._queue = self._ready = None
        self._tools = None
        jobs.put_nowait(None)

    async def __aenter__(self) -> MCPServer:
        await self._session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- calls ------------------------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call one of the server's tools by its own name and return the MCP result as it is."""
        return await self._submit(lambda client: client.call_tool(name, arguments))

    async def _list(self) -> tuple[Tool, ...]:
        async def every_page(client: Client) -> list[Any]:
            found: list[Any] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                found.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return found

        from mcp import MCPError

        try:
            listed = await self._submit(every_page)
        except MCPError as exc:
            raise ToolSourceUnavailable(f"MCP server {self.name}: listing tools: {exc}") from None
        tools = tuple(
            self._as_tool(t.name, t.description or t.title or "", t.input_schema) for t in listed
        )
        self._tools = tools
        return tools

    def _as_tool(self, name: str, description: str, schema: dict[str, Any]) -> Tool:
        async def call(**arguments: Any) -> Any:
            from mcp import MCPError
            from mcp.types import CONNECTION_CLOSED

            try:
                result = await self.call_tool(name, arguments)
            except MCPError as exc:
                if exc.code == CONNECTION_CLOSED:
                    raise ToolSourceUnavailable(
                        f"MCP server {self.name} closed the connection (did it exit?); "
                        "the next call starts a new session"
                    ) from None
                raise RemoteToolError(f"{self.name}: {exc}") from None
            return _tool_result(result)

        call.__qualname__ = f"{self.name}:{name}"
        return Tool.from_schema(
            call,
            name=name,
            description=description,
            parameters=dict(schema) or {"type": "object", "properties": {}},
            timeout=self.timeout,
        )

    async def _submit(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """Run ``work`` in the supervisor with the session's client; wait for its result."""
        jobs = await self._session()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = _Job(work, future)
        jobs.put_nowait(job)
        try:
            return await future
        except asyncio.CancelledError:
            job.cancel()  # the request stops inside the supervisor; the session stays
            raise

    # -- the supervisor ---------------------------------------------------------------------------

    async def _session(self) -> asyncio.Queue[_Job | None]:
        """The open session's job queue, starting the supervisor first if there is none."""
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is not loop:
            raise ConfigError(
                f"{self!r} has a session on another event loop; use it from one loop, or close "
                "it there first"
            )
        if self._task is None or self._ready is None or self._queue is None:
            jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
            self._queue = jobs
            self._ready = ready = loop.create_future()
            self._loop = loop
            self._tools = None
            self.sessions_opened += 1
            self._task = loop.create_task(self._supervise(ready, jobs), name=f"mcp {self.name}")
        ready, jobs = self._ready, self._queue
        await asyncio.shield(ready)  # a cancelled first ask does not abort the start
        return jobs

    async def _supervise(
        self, ready: asyncio.Future[None], jobs: asyncio.Queue[_Job | None]
    ) -> None:
        """Own the session: open it, run the requests that come, close it at the sentinel."""
        import anyio
        from mcp import Client

        me = asyncio.current_task()
        try:
            async with (
                Client(self._params(), message_handler=self._on_message) as client,
                anyio.create_task_group() as group,
            ):
                ready.set_result(None)
                while (job := await jobs.get()) is not None:
                    group.start_soon(_serve, self, jobs, client, job)
                group.cancel_scope.cancel()  # closing: what still runs is stopped
        except BaseException as exc:
            error = _unavailable(self, exc)
            if not ready.done():
                ready.set_exception(error)
                ready.exception()  # retrieved: the askers that wait see it
            elif not isinstance(exc, asyncio.CancelledError):
                log.warning("MCP session with %s ended: %s", self.name, error)
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            if self._task is me:  # a dead session: the next use opens a new one
                self._task = self._queue = self._ready = None
                self._tools = None
            while not jobs.empty():  # requests that never reached the session
                left = jobs.get_nowait()
                if left is not None and not left.future.done():
                    left.future.set_exception(
                        ToolSourceUnavailable(f"the MCP session with {self.name} closed")
                    )

    async def _on_message(self, message: IncomingMessage) -> None:
        """Server notifications: a changed tool list is listed again on next use."""
        from mcp.types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification):
            self._tools = None
        elif isinstance(message, Exception):
            log.info("MCP server %s sent something unreadable: %s", self.name, message)


async def _serve(
    server: MCPServer, jobs: asyncio.Queue[_Job | None], client: Client, job: _Job
) -> None:
    """Run one job in the supervisor's task group; its asker can cancel it by its scope. A
    closed connection (the server exited) drops the session: the next use opens a new one."""
    import anyio
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED

    future = job.future
    if future.done():  # the asker left before the job started
        return
    try:
        with anyio.CancelScope() as job.scope:
            try:
                value = await job.work(client)
            except Exception as exc:
                if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
                    server._drop(jobs)
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(value)
    finally:
        if not future.done():  # cancelled by the session closing
            future.set_exception(ToolSourceUnavailable("the MCP session closed during the call"))


def _unavailable(server: MCPServer, exc: BaseException) -> ToolSourceUnavailable:
    """A short error for a session that could not open or broke (task groups unwrapped)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    detail = str(exc) or type(exc).__name__
    return ToolSourceUnavailable(f"MCP server {server.name}: {type(exc).__name__}: {detail}")


def _tool_result(result: CallToolResult) -> Any:
    """An MCP tool result as what the model reads: text as text, images and audio as media,
    structured content kept as the result's value; ``isError`` raises ``RemoteToolError``."""
    from mcp.types import AudioContent, ImageContent, TextContent

    parts: list[str | Part] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, ImageContent):
            parts.append(Image(data=base64.b64decode(block.data), media_type=block.mime_type))
        elif isinstance(block, AudioContent):
            parts.append(Audio(data=base64.b64decode(block.data), media_type=block.mime_type))
        else:  # resources and links: their JSON
            with contextlib.suppress(Exception):
                parts.append(to_content(block.model_dump(mode="json", exclude_none=True)))
    texts = [p for p in parts if isinstance(p, str)]
    text = "\n".join(texts)
    if result.is_error:
        raise RemoteToolError(text or "the tool reported an error without a message")
    content: str | list[str | Part] = text if len(texts) == len(parts) else parts
    value = result.structured_content if result.structured_content is not None else text
    return ToolResult(value, content=content)
