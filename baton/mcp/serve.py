"""Serving an ``MCPApp``: the guarded streamable-HTTP ASGI app, and what ``baton mcp serve``
runs (stdio, or HTTP on uvicorn).

Over HTTP every request passes ``baton.endpoint_guard``'s checks (``Host`` against DNS
rebinding, ``Origin``, the bearer token) before the SDK's transport sees it. The token never
appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import loading
from ..agent import Agent
from ..endpoint_guard import EndpointGuard, check_port, is_loopback
from ..errors import ConfigError
from ..redaction import logger
from .server import MCPApp, ToolsMode, require_sdk

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

__all__ = ["HTTPApp", "load_target", "serve_http", "serve_stdio"]

log = logger("baton.mcp.server")


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

        self.guard = EndpointGuard(
            token,
            no_token=no_token,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            realm="baton-mcp",
        )
        self.app = app
        self.no_token = no_token
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
        return self.guard.token

    def __repr__(self) -> str:
        return f"HTTPApp({self.app!r}, path={self.path!r}, {self.guard!r})"

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
        if scope["type"] == "websocket":  # a client's to make: refused (403), not a crash
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] not in ("http", "lifespan"):  # nothing here takes them
            raise ConfigError(f"the MCP app serves HTTP only, not {scope['type']!r}")
        if await self.guard.admit(scope, send):
            await self._inner(scope, receive, send)


# -- the command line ----------------------------------------------------------------------------


def load_target(target: str) -> Agent[Any] | MCPApp:
    """The agent (or ``MCPApp``) ``module:name`` names, importing the module from the working
    directory like ``uvicorn`` does (see ``baton.loading``)."""
    found: Agent[Any] | MCPApp = loading.load_target(
        target, lambda o: isinstance(o, Agent | MCPApp), "a baton Agent or MCPApp"
    )
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
    port: int | str,
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
    port = check_port(port, f"cannot listen on {host}:{port}")
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
