"""Where an MCP server is, as what ``mcp.Client`` connects to: a subprocess over stdio, a URL
(streamable HTTP, or the older HTTP+SSE), or an SDK server object in this process.

Each maker checks its settings at once (a ``ConfigError`` naming the problem) and returns a
``Target``: a function making a fresh connection for each session, the name the server goes by
in errors and logs, and the protocol mode. Credentials (a bearer token, headers) stay in the
closure: no repr, error or log shows them, and the default name of a URL leaves them out.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigError

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "Target",
    "http_target",
    "in_process_target",
    "require_mcp",
    "sse_target",
    "stdio_target",
]

_EXTRA = "pip install 'baton-agents[mcp]'"


def require_mcp() -> None:
    """A ``ConfigError`` naming the extra when the MCP SDK is not installed."""
    try:
        importlib.import_module("mcp")
    except ImportError as exc:
        raise ConfigError(f"baton.mcp needs the MCP Python SDK: {_EXTRA} ({exc})") from None


def _never_refused() -> str | None:
    return None


@dataclass(frozen=True)
class Target:
    """What a session connects to: ``connect()`` makes it anew each time; ``mode`` is how
    ``mcp.Client`` picks the protocol version; ``refusal()`` says why the server turned the
    last connection away for good (an HTTP 401 or 403), if it did."""

    connect: Callable[[], Any]
    name: str
    mode: str = "auto"
    refusal: Callable[[], str | None] = _never_refused
    process: bool = False  # a subprocess Baton starts (stdio), not a server it reaches


def stdio_target(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
) -> Target:
    """A server run as a subprocess, speaking MCP over its stdin and stdout."""
    require_mcp()
    from mcp import StdioServerParameters

    if not isinstance(command, str) or not command:
        raise ConfigError(f"MCPServer.stdio needs a command, got {command!r}")
    if isinstance(args, str):
        raise ConfigError("MCPServer.stdio takes args as a list of strings, got one string")
    args = [os.fspath(arg) if isinstance(arg, os.PathLike) else arg for arg in args]
    wrong = next((i for i, arg in enumerate(args) if not isinstance(arg, str)), None)
    if wrong is not None:
        # The position and type alone: arguments often hold keys.
        raise ConfigError(
            f"MCPServer.stdio takes args as a list of strings: args[{wrong}] is a "
            f"{type(args[wrong]).__name__} (str(value) for numbers)"
        )
    if env is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in dict(env).items()
    ):
        # (the values are not shown: they are often keys)
        raise ConfigError("MCPServer.stdio env must map names to strings (str(value) for numbers)")
    argv, environment = list(args), dict(env) if env is not None else None

    def connect() -> StdioServerParameters:
        return StdioServerParameters(command=command, args=argv, env=environment, cwd=cwd)

    # The default name goes into errors, events and logs: the command's own name (and the
    # module of ``python -m module``), never the rest of the arguments, which may hold keys.
    shown = [Path(command).name]
    if argv[:1] == ["-m"] and len(argv) > 1:
        shown += argv[:2]
    return Target(connect, " ".join(shown), process=True)


def http_target(
    url: str, headers: Mapping[str, str] | None, auth: str | httpx2.Auth | None
) -> Target:
    """A server at ``url`` speaking MCP over streamable HTTP."""
    require_mcp()
    from mcp.client.streamable_http import streamable_http_client

    make_client = _http_client(url, headers, auth)
    # The SDK turns an HTTP error into a generic JSON-RPC error; the status is read here.
    refused: list[int] = []

    async def note(response: httpx2.Response) -> None:
        if response.status_code in _REFUSALS:
            refused.append(response.status_code)
        elif response.status_code < 300:  # e.g. an OAuth handshake's 401 that it then passed
            refused.clear()

    @asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        refused.clear()
        http = make_client()
        http.event_hooks["response"].append(note)
        async with http, streamable_http_client(url, http_client=http) as t:
            yield t

    def refusal() -> str | None:
        return _REFUSALS[refused[-1]] if refused else None

    return Target(connect, _public_url(url), refusal=refusal)


def sse_target(
    url: str, headers: Mapping[str, str] | None, auth: str | httpx2.Auth | None
) -> Target:
    """A server at ``url`` speaking MCP over the older HTTP+SSE transport."""
    require_mcp()
    from mcp.client.sse import sse_client

    _http_client(url, headers, auth)  # checks them
    token_auth, fixed = _auth(auth), dict(headers or {})

    @asynccontextmanager
    async def connect() -> AsyncIterator[Any]:
        async with sse_client(url, headers=fixed, auth=token_auth) as t:
            yield t

    return Target(connect, _public_url(url))


_REFUSALS = {
    401: "HTTP 401: the server wants other credentials (check auth= or headers=)",
    403: "HTTP 403: the server refuses these credentials access",
}


def in_process_target(server: Any) -> Target:
    """An SDK server object (``mcp.server.mcpserver.MCPServer`` or a lowlevel ``Server``) in
    this process."""
    require_mcp()
    from mcp.server.lowlevel import Server
    from mcp.server.mcpserver import MCPServer as SDKServer

    if not isinstance(server, Server | SDKServer):
        raise ConfigError(f"MCPServer.in_process takes an MCP SDK server object, got {server!r}")
    name = getattr(server, "name", None) or "in-process"
    # The SDK connects an in-process server without JSON-RPC by default, and then the server
    # can't ask back (elicitation, sampling) or log; the classic session can.
    return Target(lambda: server, name, mode="legacy")


def _auth(auth: str | httpx2.Auth | None) -> httpx2.Auth | None:
    """``auth`` as an ``httpx2.Auth``: a token becomes a bearer token (kept out of reprs)."""
    if not isinstance(auth, str):
        return auth
    import httpx2

    class Bearer(httpx2.Auth):
        def __init__(self, token: str) -> None:
            self._token = token

        def __repr__(self) -> str:
            return "Bearer(***)"

        def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, Any, None]:
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    return Bearer(auth)


def _http_client(
    url: str, headers: Mapping[str, str] | None, auth: str | httpx2.Auth | None
) -> Callable[[], httpx2.AsyncClient]:
    """Check an HTTP server's settings; return what makes its HTTP client (one per session)."""
    import httpx2

    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"an MCP server URL starts with http:// or https://, got {url!r}")
    if headers is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError("MCPServer headers must map strings to strings")
    if auth is not None and not isinstance(auth, str | httpx2.Auth):
        raise ConfigError(
            "MCPServer auth takes a bearer token (str) or an httpx2.Auth, got "
            f"{type(auth).__name__}"
        )
    fixed, token_auth = dict(headers or {}), _auth(auth)

    def make() -> httpx2.AsyncClient:
        # The MCP transports' usual limits: streams may stay open long between messages.
        timeout = httpx2.Timeout(30.0, read=300.0)
        return httpx2.AsyncClient(headers=fixed, auth=token_auth, timeout=timeout)

    return make


def _public_url(url: str) -> str:
    """``url`` without credentials, query or fragment (what may appear in errors and logs)."""

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
