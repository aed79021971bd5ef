"""``A2AApp``: a Baton agent served over A2A (JSON-RPC and HTTP+JSON, streaming over SSE),
through the a2a-sdk's own request handler and routes.

    app = A2AApp(agent, token=os.environ["A2A_TOKEN"])      # an ASGI app
    uvicorn.run(app, host="0.0.0.0", port=8000)

A task is one run of the agent and a context one conversation. Tasks, and the runs paused for
a human, live in the agent's storage, so any replica sharing it can answer any task.

A team (``baton.teams``) is served the same way: a task is one ask of the team (its members
take their turns; the answer is the last member's), a context the team's conversation. Its ask
pauses as an ``input-required`` task on a ``Human(name, suspend=True)`` member (its prompt is
the question; any text answers) and on a member agent's approval (the members get
``ApprovalPolicy(suspend=True)`` when none brings one of its own); the client's answer on that
task continues it with ``team.resume``, in any replica sharing the team's history and
storage, and a cancel ends it unanswered (``team.cancel_paused``). Refused when the app is
made, naming the member and the fix: a ``Human`` member with neither ``handler=`` nor
``suspend=True`` (nobody could answer its turn), and a team whose approvals nobody could answer
(``baton.teams.serving.approvals_for``: a member's own ``ApprovalPolicy`` that doesn't
suspend, or members with and without one). A member in a graph's parallel branch can't pause
the graph: its pause fails the task, saying so.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ..agent import Agent
from ..endpoint_guard import EndpointGuard, LoneSurrogate, parse_json
from ..errors import ConfigError
from ..hitl import ApprovalPolicy
from ..hooks import Middleware
from ..teams import Team
from ..teams.serving import approvals_for, check_humans
from .card import Skill, build_card, skills_of
from .executor import agent_executor
from .sdk import require_sdk
from .store import storage_task_store
from .wire import to_dict

if TYPE_CHECKING:
    from a2a.types.a2a_pb2 import AgentCard
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

CARD_PATH = "/.well-known/agent-card.json"

__all__ = ["A2AApp"]


def _route_path(scope: Scope) -> str:
    """The request's path within this app: a parent app's ``Mount`` keeps its prefix in
    ``path`` and names it in ``root_path``."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


def _parse_error(reason: str) -> Response:
    """A JSON-RPC parse error (-32700), as the protocol answers a body it can't read."""
    from starlette.responses import JSONResponse

    error = {"code": -32700, "message": reason}
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error})


def _approvals(agent: Agent[Any]) -> tuple[Middleware, ...]:
    """The middleware each ask gets so that an approval pauses the run (an ``input-required``
    task) rather than waiting in this process for an answer no client can send."""
    policies = [m for m in agent.middleware if isinstance(m, ApprovalPolicy)]
    if not policies:
        return (ApprovalPolicy(suspend=True),)
    if agent.hitl is None and any(not p.suspend for p in policies):
        raise ConfigError(
            f"agent {agent.name!r} has an ApprovalPolicy that waits in this process; served "
            "over A2A an approval is asked of the client as an input-required task, so give "
            "it ApprovalPolicy(..., suspend=True) (or a hitl= handler that answers itself)"
        )
    return ()


def _check_team(team: Team) -> tuple[Middleware, ...]:
    """Refuse a team whose ask would wait for what no A2A client can send, naming the member
    and the fix; the middleware its asks get so that a member's approval pauses the ask (an
    ``input-required`` task), by the rules ``AGUIApp`` follows too."""
    check_humans(team, "A2A", "an input-required task")
    return approvals_for(team, "A2A", "an input-required task")


class A2AApp:
    """An agent (or a team) served over A2A: ``A2AApp(agent, token=...)`` is an ASGI app
    (Starlette); see the module docs for teams.

    The agent needs a ``history=`` (a context continues its conversation) and a ``storage=``
    (tasks and paused runs; share a durable one, SQL or Redis, between replicas). ``token``
    is the bearer token clients send (one is generated when not given: ``app.token``);
    ``no_token=True`` serves loopback clients only, for development; ``allowed_origins`` and
    ``allowed_hosts`` are as in ``baton.endpoint_guard`` (Host and Origin checks against DNS
    rebinding, done before the token). ``url`` is the public
    base URL the card advertises (default: the URL the card was fetched at). ``skills``
    replaces the skills derived from the agent's tools. A task waiting for input is kept in
    this process's memory for ``idle_seconds`` and then only in the storage (an answer brings
    it back). A request body larger than ``max_body`` bytes (default 8 MiB, room for inline
    files) is refused with a 413 before the SDK reads it."""

    def __init__(
        self,
        agent: Agent[Any] | Team,
        *,
        token: str | None = None,
        no_token: bool = False,
        url: str | None = None,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        skills: Sequence[Skill] | None = None,
        idle_seconds: float = 60.0,
        max_body: int = 8 * 1024 * 1024,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        require_sdk()
        if not isinstance(agent, Agent | Team):
            raise ConfigError(
                f"A2AApp serves a baton Agent or a team (baton.teams), got {type(agent).__name__}"
            )
        # The middleware every ask gets, so that an approval pauses (an input-required task).
        extra = _check_team(agent) if isinstance(agent, Team) else _approvals(agent)
        if agent.history is None or agent.storage is None:
            raise ConfigError(
                f"A2AApp keeps each context's conversation and each task in the agent's "
                f"stores: build agent {agent.name!r} with history= and storage=, e.g. "
                "Agent(..., history=MemoryHistory(), storage=MemoryStorage()) in one process, "
                "or SQL/Redis ones shared by every replica"
            )
        if isinstance(idle_seconds, bool) or not idle_seconds > 0:
            raise ConfigError(f"idle_seconds must be a positive number, got {idle_seconds!r}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body <= 0:
            raise ConfigError(f"max_body must be a positive number of bytes, got {max_body!r}")
        from a2a.server.request_handlers import DefaultRequestHandler
        from a2a.server.routes import create_jsonrpc_routes, create_rest_routes
        from starlette.applications import Starlette
        from starlette.routing import Route

        from .. import __version__

        self.agent = agent
        self.name = name or agent.name
        self.description = description or agent.description or f"The {agent.name!r} agent."
        self.version = version or __version__
        self.url = url
        self.max_body = max_body
        self.skills = skills_of(agent, skills)
        # The guard first: the card says whether a token is needed.
        self._guard = EndpointGuard(
            token,
            no_token=no_token,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            realm="baton-a2a",
        )
        self.tasks = storage_task_store(agent.storage)
        self.executor = agent_executor(agent, agent.storage, extra, self.tasks)
        self.handler = DefaultRequestHandler(
            agent_executor=self.executor,
            task_store=self.tasks,
            agent_card=self.card(url or "http://localhost"),
            interrupted_task_timeout=idle_seconds,
        )
        routes = [
            Route(CARD_PATH, self._card_endpoint, methods=["GET"]),
            *create_jsonrpc_routes(self.handler, rpc_url="/"),
            *create_rest_routes(self.handler),
        ]
        self.starlette = Starlette(routes=routes, lifespan=self.lifespan)

    @property
    def token(self) -> str | None:
        """The bearer token clients must send (None with ``no_token=True``)."""
        return self._guard.token

    def __repr__(self) -> str:
        return f"A2AApp({self.agent.name!r}, {self._guard!r})"

    def card(self, url: str) -> AgentCard:
        """The agent card, with the transports at base ``url``."""
        return build_card(
            self.agent,
            url=url,
            name=self.name,
            description=self.description,
            version=self.version,
            skills=self.skills,
            bearer=self.token is not None,
        )

    async def _card_endpoint(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        base = self.url or str(request.base_url)
        return JSONResponse(to_dict(self.card(base)))

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Ends the tasks this process still runs when the server stops; give it to a parent
        app this one is mounted in (``Starlette(..., lifespan=app.lifespan)``)."""
        try:
            yield
        finally:
            await self.handler.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every route but the card is guarded: a client reads the card to learn it needs a token.
        # The path within this app (mounted in another, scope["path"] keeps the mount's).
        path = _route_path(scope) if scope["type"] in ("http", "websocket") else ""
        if path != CARD_PATH and not await self._guard.admit(scope, send):
            return
        if scope["type"] == "http":
            # The SDK logs every header at DEBUG: the token stops here, with the guard.
            scope = self._guard.without_credentials(scope)
            buffered = await self._guard.buffer_body(scope, receive, self.max_body)
            if buffered is None:  # the SDK reads any body whole: at most max_body of it
                reason = f"the request body is larger than {self.max_body} bytes"
                await self._guard.refuse((413, reason), send)
                return
            body, receive = buffered
            if scope.get("method") == "POST" and path in ("/", ""):
                # JSON-RPC: JSON the SDK's parser can't take (nested too deeply, not UTF-8) is
                # a parse error said here; the SDK answers it with its exception's own text as
                # an internal error, and logs a traceback per request. (A lone surrogate is
                # valid JSON: the SDK answers it as invalid params, with the request's id.)
                try:
                    parse_json(body)
                except LoneSurrogate:
                    pass
                except ValueError as exc:
                    await _parse_error(str(exc))(scope, receive, send)
                    return
        await self.starlette(scope, receive, send)
