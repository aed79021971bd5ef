"""Serving an ``MCPApp``: the guarded streamable-HTTP ASGI app, and what ``baton mcp serve``
runs (stdio, or HTTP on uvicorn).

Over HTTP every request passes three checks before the SDK's transport sees it, in this order:

1. ``Host`` (DNS rebinding): a server reached on a loopback address answers only to loopback
   host names (``localhost``, ``127.0.0.1``, ``[::1]``) unless ``allowed_hosts`` lists others;
   a request naming another host is refused with 421.
2. ``Origin``: a browser page may call the server only from the server's own origin or one in
   ``allowed_origins``; any other ``Origin`` is refused with 403. Requests without an
   ``Origin`` (every non-browser client) pass.
3. The bearer token (``Authorization: Bearer ...``), compared in constant time; missing or
   wrong is 401. With ``no_token=True`` there is none, and then only loopback clients are
   served (403 otherwise): that mode is for development on one machine.

The token never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextlib
import hmac
import importlib
import ipaddress
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..agent import Agent
from ..errors import ConfigError
from ..redaction import logger
from .server import MCPApp, ToolsMode, require_sdk

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

__all__ = ["HTTPApp", "load_target", "serve_http", "serve_stdio"]

log = logger("baton.mcp.server")

_LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or ``localhost``, no port) is this machine's loopback."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port (IPv6 brackets kept off)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _matches(value: str, patterns: Sequence[str]) -> bool:
    """``value`` equals a pattern, or a ``base:*`` pattern with any port."""
    for pattern in patterns:
        if value == pattern:
            return True
        if pattern.endswith(":*") and value.startswith(pattern[:-1]):
            return True
    return False


class HTTPApp:
    """The streamable-HTTP ASGI app of an ``MCPApp`` (``app.http_app(...)``), guarded as the
    module docs describe. The MCP endpoint is ``path`` (default ``/mcp``).

    Run it with any ASGI server (its lifespan starts the SDK's session manager). Mounted in
    another Starlette or FastAPI app, give the parent its lifespan, since mounted apps' own
    lifespans are not run: ``Starlette(routes=[Mount("/agent", app)], lifespan=app.lifespan)``.
    """

    def __init__(
        self,
        app: MCPApp,
        *,
        token: str | None = None,
        no_token: bool = False,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        path: str = "/mcp",
    ) -> None:
        require_sdk()
        from mcp.server.transport_security import TransportSecuritySettings

        if no_token and token is not None:
            raise ConfigError("give either token=... or no_token=True, not both")
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ConfigError(
                "the bearer token must be a string of at least 16 characters; leave it out "
                "to have one generated (app.token)"
            )
        self.app = app
        self.no_token = no_token
        self._token: bytes | None = (
            None if no_token else (token or secrets.token_urlsafe(32)).encode()
        )
        self.allowed_origins = tuple(o.rstrip("/") for o in allowed_origins)
        self.allowed_hosts = tuple(allowed_hosts)
        self.path = path
        # The checks happen here, before the SDK's transport, so its own (which would refuse
        # with other codes and messages) is off.
        self._inner = app.server.streamable_http_app(
            streamable_http_path=path,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        # The SDK's server keeps only its newest session manager: hold on to this app's own.
        self._sessions = app.server.session_manager
        # Served on its own, the app's lifespan is ours too (it also ends waiting asks).
        self._inner.router.lifespan_context = self.lifespan

    @property
    def token(self) -> str | None:
        """The bearer token clients must send (None with ``no_token=True``)."""
        return self._token.decode() if self._token is not None else None

    def __repr__(self) -> str:
        guard = "no token, loopback clients only" if self._token is None else "token required"
        return f"HTTPApp({self.app!r}, path={self.path!r}, {guard})"

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Runs the SDK's session manager, and ends the asks still waiting for an answer when
        it stops: the lifespan of a parent app this one is mounted in
        (``Starlette(..., lifespan=app.lifespan)``)."""
        try:
            async with self._sessions.run():
                yield
        finally:
            await self.app.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await self._refuse(refusal, send)
                return
        elif scope["type"] != "lifespan":  # websockets and the like: nothing here takes them
            raise ConfigError(f"the MCP app serves HTTP only, not {scope['type']!r}")
        await self._inner(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) when the request is refused, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        server = scope.get("server")
        on_loopback = server is not None and is_loopback(str(server[0]))
        if self.allowed_hosts:
            if not _matches(host, self.allowed_hosts):
                return 421, "this server does not answer to that Host"
        elif on_loopback and not is_loopback(_host_name(host)):
            return 421, "this server does not answer to that Host"
        origin = headers.get("origin")
        if origin is not None:
            origin = origin.rstrip("/")
            own = (f"http://{host}", f"https://{host}")
            if origin not in own and not _matches(origin, self.allowed_origins):
                return 403, "requests from that Origin are not allowed"
        if self._token is None:
            client = scope.get("client")
            if client is None or not is_loopback(str(client[0])):
                return 403, "this server runs without a token and serves loopback clients only"
            return None
        given = headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), self._token
        ):
            return 401, "a valid bearer token is required (Authorization: Bearer <token>)"
        return None

    @staticmethod
    async def _refuse(refusal: tuple[int, str], send: Send) -> None:
        status, reason = refusal
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="baton-mcp"'))
        body = reason.encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# -- the command line ----------------------------------------------------------------------------


def load_target(target: str) -> Agent[Any] | MCPApp:
    """The agent (or ``MCPApp``) ``module:name`` names, importing the module from the working
    directory like ``uvicorn`` does."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"name the agent as 'module:attribute', e.g. 'myapp.agents:agent', not {target!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} ({exc})") from exc
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if callable(found) and not isinstance(found, Agent | MCPApp):
        found = found()  # a factory
    if not isinstance(found, Agent | MCPApp):
        raise ConfigError(f"{target!r} is {type(found).__name__}, not a baton Agent or MCPApp")
    return found


def _as_app(target: Agent[Any] | MCPApp, name: str | None, tools: ToolsMode | None) -> MCPApp:
    if isinstance(target, MCPApp):
        return target
    return MCPApp(target, name=name, tools=tools or "ask")


async def serve_stdio(
    target: Agent[Any] | MCPApp, *, name: str | None = None, tools: ToolsMode | None = None
) -> None:
    """Serve over stdin/stdout (``baton mcp serve module:agent``)."""
    await _as_app(target, name, tools).serve_stdio()


async def serve_http(
    target: Agent[Any] | MCPApp,
    host: str,
    port: int,
    *,
    name: str | None = None,
    tools: ToolsMode | None = None,
    token: str | None = None,
    no_token: bool = False,
    allowed_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    announce: Any = None,
) -> None:
    """Serve over streamable HTTP on uvicorn (``baton mcp serve module:agent --http ...``).
    ``announce(line)`` is told the URL, and the token when one was generated."""
    if no_token and not is_loopback(host):
        raise ConfigError(
            f"--no-token serves without authentication and is only allowed on a loopback "
            f"address (127.0.0.1, ::1, localhost), not {host!r}; give a token instead"
        )
    try:
        uvicorn = importlib.import_module("uvicorn")
    except ImportError:
        raise ConfigError(
            "serving over HTTP needs uvicorn: pip install 'baton-agents[mcp]'"
        ) from None
    http = _as_app(target, name, tools).http_app(
        token=token,
        no_token=no_token,
        allowed_origins=allowed_origins,
        allowed_hosts=allowed_hosts,
    )
    say = announce or (lambda line: print(line, file=sys.stderr, flush=True))
    # Bind the socket here so the port (0 picks a free one) is known before serving starts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # clients that come before uvicorn accepts wait in the backlog
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    say(f"Serving agent {http.app.agent.name!r} over MCP at http://{shown}:{bound[1]}{http.path}")
    if token is None and http.token is not None:
        say(f"Bearer token (generated; choose one with --token or BATON_MCP_TOKEN): {http.token}")
    elif http.token is None:
        say("No token: serving loopback clients only (--no-token)")
    server = uvicorn.Server(uvicorn.Config(http, log_level="warning"))
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
