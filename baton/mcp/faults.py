"""What went wrong with an MCP server, read off the SDK's errors: a session that could not
open or broke, a failure trying again can't fix, an answer the SDK could not read, and the
Baton error each request failure becomes."""

from __future__ import annotations

from typing import Any

from ..errors import RemoteToolError, ToolSourceUnavailable

__all__ = ["lost_answer", "permanent", "request_error", "unavailable"]


def unavailable(server: str, exc: BaseException) -> ToolSourceUnavailable:
    """A short error for a session that could not open or broke (task groups unwrapped); the
    error it stands for is its ``__cause__``."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    detail = str(exc) or type(exc).__name__
    error = ToolSourceUnavailable(f"MCP server {server}: {type(exc).__name__}: {detail}")
    error.__cause__ = exc
    return error


def lost_answer(error: Exception) -> str | None:
    """What is known of an answer the SDK could not read (None when it was no answer): its
    JSON-RPC ``id`` and the first problem pydantic found."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return None
    problems = error.errors()
    for problem in problems:
        message = problem.get("input")
        if isinstance(message, dict) and "id" in message and "method" not in message:
            # What is wrong with it as an answer (not as the request or notification it isn't).
            kinds = ("JSONRPCResponse", "JSONRPCError")
            worst = next((p for p in problems if p["loc"][:1] in {(k,) for k in kinds}), problem)
            where = ".".join(str(part) for part in worst["loc"][1:]) or "message"
            return f"id {message['id']!r}: {where}: {worst['msg']}"
    return None


def permanent(exc: BaseException | None) -> bool:
    """Whether trying to open the session again can't help: no such command, no permission,
    or an HTTP server that refuses us (4xx other than 408 and 429)."""
    if isinstance(exc, FileNotFoundError | PermissionError | NotADirectoryError):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in {408, 429}


def connection_closed(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the SDK saying the other side closed the connection."""
    from anyio import BrokenResourceError, ClosedResourceError
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED

    if isinstance(exc, ClosedResourceError | BrokenResourceError):
        return True
    return isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED


def cannot_open(
    server: str, failed: ToolSourceUnavailable, refused: str | None, fresh_process: bool
) -> ToolSourceUnavailable | None:
    """The error a session that ``failed`` to open ends with at once, as trying again can't
    help, or None (try again): the server turned us away for good (``refused``: why), or a
    ``fresh_process`` (a command that has never reached a handshake) closed the connection
    first, as a crash, a missing module or a wrong argument does, which it would do again.
    A server that has worked is tried again (its last instance may still hold a lock as it
    exits)."""
    if refused is not None:
        return ToolSourceUnavailable(f"MCP server {server}: {refused}")
    if fresh_process and connection_closed(failed.__cause__):
        error = ToolSourceUnavailable(
            f"MCP server {server}: the process closed the connection before the MCP handshake, "
            "so it likely exited at start (what it wrote to stderr is on this process's "
            "stderr); check that the command runs on its own"
        )
        error.__cause__ = failed.__cause__
        return error
    return None


def request_error(server: str, what: str, exc: Exception) -> tuple[Exception, bool]:
    """The Baton error a request's SDK error becomes, and whether it means the connection is
    gone (the session must close). Errors it does not know are returned as they are."""
    from mcp import MCPError
    from pydantic import ValidationError

    if connection_closed(exc):
        return ToolSourceUnavailable(
            f"MCP server {server} closed the connection (did it exit?); the next call starts "
            "a new session"
        ), True
    if isinstance(exc, MCPError):
        return RemoteToolError(f"{server}: {what}: {exc}"), False
    if isinstance(exc, ValidationError):  # the SDK could not read the server's answer
        first: Any = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        return RemoteToolError(
            f"{server}: {what}: the server's answer is not valid MCP ({where}: {first['msg']})"
        ), False
    return exc, False
