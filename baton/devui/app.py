"""``DevApp``: the ``baton dev`` server (a Starlette app behind the token gate).

Routes (every one needs the token, see ``baton.devui.gate``):

- ``GET /``: the page; ``/static/...``: its script and styles (built into the package, no CDN).
- ``POST /agui/``: the agent's AG-UI endpoint (``baton.agui.AGUIApp``): the page chats through
  it, answers approvals and questions with its interrupts, and gets structured outputs as the
  run's result.
- ``GET /api/info``: the agent (name, tools, output schema; a team's members) and what the
  server can do.
- ``GET /api/conversations``: the ids of the conversations in the history.
- ``GET /api/conversations/{id}/events``: the stored conversation as timeline entries, and the
  requests of a run paused in it (as AG-UI interrupts the page answers).
- ``GET /api/conversations/{id}/timeline``: server-sent events: the same snapshot, then every
  event of the runs this server makes on the conversation as it happens (text chunks, tool
  call arguments as they stream, ...), with times and durations.
- ``GET /api/conversations/{id}/request?index=N``: the model call the response at ``N``
  answered (see ``baton.devui.requests``).
- ``GET /api/conversations/{id}/watch``: server-sent events of a conversation another process
  runs with a ``RedisStream``: its stream from the start, then live.

The AG-UI stream is the chat; the timeline comes from this API because it shows what AG-UI does
not carry (stored events, usage, the model call, durations, alerts, retries).

A team (``baton.teams``) is served like an agent: each member's turn is a run of its own in the
timeline, between the team's events (its start, who was chosen to speak and why, hand-offs, how
it ended); a team paused on a ``Human(name, suspend=True)`` member shows that member's request
as the interrupt to answer.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from typing import Any

from pydantic_core import to_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from ..agui import AGUIApp
from ..agui.inputs import interrupts_of
from ..endpoint_guard import EndpointGuard
from ..errors import BatonError, ConfigError, EventDecodeError
from ..redaction import logger
from ..runstate import load_run_state
from ..teams import Team
from ._extra import require_extra
from .gate import TokenGate
from .recorder import Hub, Recorder, entry_of
from .requests import made_call, rebuilt_call

__all__ = ["DevApp"]

log = logger("baton.devui")

_STATIC = {
    "timeline.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    # @ag-ui/client's HttpAgent, bundled by devui-assets/build.py (the chat goes through it)
    "agui-client.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_PING_SECONDS = 15.0  # a comment on an idle event stream, so proxies and browsers keep it
_BATCH = 512  # entries written to a page at once at most


def _sse(name: str, data: Any) -> str:
    # pydantic_core's encoder: several times faster than json.dumps on the entries' dicts.
    return f"event: {name}\ndata: {to_json(data, fallback=str).decode()}\n\n"


def _asset(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class DevApp:
    """The dev server of one agent (see the module docs). ``token``: the access token (one is
    generated when not given: ``app.token``). The agent needs ``history=`` and ``storage=``
    (``baton dev`` gives it memory ones when it has none). ``redis`` / ``redis_prefix``: where
    other processes' ``RedisStream``\\ s are, for watching their conversations."""

    def __init__(
        self,
        agent: Any,
        *,
        token: str | None = None,
        redis: str | None = None,
        redis_prefix: str = "baton:",
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        require_extra()
        if getattr(agent, "history", None) is None or getattr(agent, "storage", None) is None:
            raise ConfigError(
                "the dev UI keeps conversations (and paused runs) in the agent's history and "
                "storage: give the agent history= and storage= (MemoryHistory() and "
                "MemoryStorage() will do), or start it with `baton dev`, which does"
            )
        self.agent = agent
        self.redis = redis
        self.redis_prefix = redis_prefix
        self.hub = Hub()
        self.recorder = Recorder(self.hub)
        self._guard = EndpointGuard(token, allowed_hosts=allowed_hosts, realm="baton-dev")
        self.agui = AGUIApp(
            agent,
            token=self._guard.token,
            allowed_hosts=allowed_hosts,
            middleware=[self.recorder],
            observers=[self.recorder],
        )
        self._page = _asset("index.html")
        self._assets = {name: _asset(name) for name in _STATIC}
        routes = [
            Route("/", self._index, methods=["GET"]),
            Route("/index.html", self._index, methods=["GET"]),
            Route("/static/{name}", self._static, methods=["GET"]),
            Route("/api/info", self._info, methods=["GET"]),
            Route("/api/conversations", self._conversations, methods=["GET"]),
            # `path`: a conversation id may hold '/' (the page sends %2F, decoded before routing)
            Route("/api/conversations/{cid:path}/events", self._events, methods=["GET"]),
            Route("/api/conversations/{cid:path}/timeline", self._timeline, methods=["GET"]),
            Route("/api/conversations/{cid:path}/request", self._request, methods=["GET"]),
            Route("/api/conversations/{cid:path}/watch", self._watch, methods=["GET"]),
            Mount("/agui", app=self.agui),
        ]
        self._app = TokenGate(Starlette(routes=routes), self._guard)

    @property
    def token(self) -> str:
        """The token that opens the page (``/?token=...``) and the API (bearer or cookie)."""
        return self._guard.token or ""

    def __repr__(self) -> str:
        return f"DevApp({getattr(self.agent, 'name', self.agent)!r}, {self._guard!r})"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)

    # -- the page ---------------------------------------------------------------------------

    async def _index(self, request: Request) -> Response:
        return Response(self._page, media_type="text/html", headers=_SECURITY_HEADERS)

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = self._assets.get(name)
        if body is None:
            return JSONResponse({"error": "no such file"}, status_code=404)
        return Response(body, media_type=_STATIC[name], headers=_SECURITY_HEADERS)

    # -- the API ----------------------------------------------------------------------------

    async def _info(self, request: Request) -> Response:
        agent = self.agent
        spec = getattr(agent, "output_spec", None)
        return JSONResponse(
            {
                "agent": getattr(agent, "name", "agent"),
                "description": getattr(agent, "description", None),
                "tools": sorted(getattr(agent, "tools", {})),
                "members": [m.name for m in agent.members] if isinstance(agent, Team) else None,
                "output": None if spec is None else spec.json_schema,
                "history": type(agent.history).__name__,
                "watch": self.redis is not None,
            }
        )

    async def _conversations(self, request: Request) -> Response:
        listing = getattr(self.agent.history, "conversation_ids", None)
        if listing is None:
            return JSONResponse({"conversations": [], "listed": False})
        try:
            ids = listing()
            if inspect.isawaitable(ids):
                ids = await ids
        except BatonError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)
        return JSONResponse({"conversations": list(ids), "listed": True})

    async def _snapshot(self, cid: str) -> dict[str, Any]:
        events = await self.agent.history.load(cid)
        requests: Sequence[Any] = ()
        if isinstance(self.agent, Team):
            waiting = await self.agent.paused(cid)
            requests = () if waiting is None else waiting.requests
        else:
            paused = await load_run_state(self.agent.storage, cid)
            requests = () if paused is None else paused.requests
        found, _calls = interrupts_of(requests)
        interrupts = [i.model_dump(mode="json", by_alias=True) for i in found]
        return {
            "conversation": cid,
            "entries": [entry_of(e, index=i) for i, e in enumerate(events)],
            "interrupts": interrupts,
        }

    async def _events(self, request: Request) -> Response:
        try:
            return JSONResponse(await self._snapshot(request.path_params["cid"]))
        except BatonError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)

    async def _timeline(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        listener = self.hub.listen(cid)  # before the load: nothing falls between the two
        try:
            snapshot = await self._snapshot(cid)
        except BatonError as exc:
            listener.close()
            return JSONResponse({"error": str(exc)}, status_code=502)
        known = len(snapshot["entries"])

        async def stream() -> AsyncIterator[str]:
            try:
                yield _sse("snapshot", snapshot)
                while True:
                    batch = await listener.batch(_PING_SECONDS, _BATCH)
                    if batch is None:
                        yield _sse("reset", {"reason": "the page fell behind; reloading"})
                        return
                    if not batch:
                        yield ": ping\n\n"
                        continue
                    # Stored events the snapshot had already are not sent twice.
                    yield "".join(
                        _sse("entry", entry)
                        for entry in batch
                        if entry["index"] is None or entry["index"] >= known
                    )
            finally:
                listener.close()

        return _event_stream(stream())

    async def _request(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        raw = request.query_params.get("index", "")
        if not (raw.isascii() and raw.isdigit()):  # "²" is a digit int() refuses
            return JSONResponse({"error": "give ?index=N, a response's index"}, status_code=400)
        index = int(raw)
        captured = self.recorder.calls.get((cid, index))
        if captured is not None:
            return JSONResponse(made_call(captured.call, captured.config, captured.duration))
        try:
            events = await self.agent.history.load(cid)
        except BatonError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502)
        if not 0 <= index < len(events) or type(events[index]).__name__ != "ModelResponse":
            return JSONResponse({"error": f"event {index} is not a model response"}, 404)
        author = getattr(events[index], "agent", None)
        return JSONResponse(rebuilt_call(events, index, member_agent(self.agent, author)))

    async def _watch(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        if self.redis is None:
            return JSONResponse(
                {
                    "error": "watching another process's conversation needs its Redis stream: "
                    "start baton dev with --history redis://... or --redis URL"
                },
                status_code=404,
            )
        from ..backends.redis import RedisWatcher, stream_key

        watcher = RedisWatcher(
            cid, self.redis, from_id="0", prefix=self.redis_prefix, patience=30.0, block=1.0
        )
        key = stream_key(cid, self.redis_prefix)

        async def stream() -> AsyncIterator[str]:
            try:
                yield _sse("snapshot", {"conversation": cid, "entries": [], "watching": key})
                while True:
                    try:
                        event = await anext(watcher)
                    except StopAsyncIteration:
                        return
                    except EventDecodeError as exc:  # an entry of a type unknown here
                        log.warning("skipped a stream entry of %s: %s", cid, exc)
                        continue
                    except BatonError as exc:
                        yield _sse("failed", {"error": str(exc)})
                        return
                    yield _sse("entry", entry_of(event, at=time.time()))
            finally:
                watcher.close()

        return _event_stream(stream())


def member_agent(agent: Any, name: str | None) -> Any:
    """The agent named ``name`` among a team's members (nested teams too), else ``agent``."""
    if not isinstance(agent, Team) or name is None:
        return agent
    teams, seen = [agent], set()
    while teams:
        team = teams.pop()
        if id(team) in seen:
            continue
        seen.add(id(team))
        for member in team.members:
            target = member.target
            if isinstance(target, Team):
                teams.append(target)
            elif getattr(target, "name", None) == name and hasattr(target, "tools"):
                return target
    return agent


def _event_stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
