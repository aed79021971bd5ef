"""``WorkerApp``: a worker behind HTTP (``baton worker serve``), an ASGI app on Starlette.

- ``POST /runs`` with the contract's input answers ``200`` with the contract's output. With the
  header ``Prefer: respond-async`` it answers ``202`` at once (``{"run_id", "status":
  "accepted"}``, ``Location: /runs/<run id>``, percent-encoded) and runs the task in the
  background.
- ``GET /runs/<run id>`` answers ``200`` with the output once there is one, ``202`` while it
  runs, ``404`` for a run id it never saw.
- When the server stops (SIGTERM under ``baton worker serve``), the runs accepted with ``202``
  are finished before it exits (``WorkerApp.lifespan``).
- A run that could not end with an outcome (the outcomes' store unreachable) answers ``503``
  with the contract's output, status ``retryable_error``.

Every request first passes ``baton.endpoint_guard`` (``Host``, ``Origin``, bearer token): a
token is required unless ``no_token=True``, which serves loopback clients only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..endpoint_guard import EndpointGuard, parse_json
from ..errors import BatonError, ConfigError
from .outcome import INVALID_REQUEST, RETRYABLE_ERROR, error_result
from .pool import WorkerPool
from .requires import require
from .worker import Worker

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

__all__ = ["WorkerApp"]


class WorkerApp:
    """``worker`` served over HTTP (see the module docs). ``concurrency``: runs at once;
    ``max_body``: the largest request body accepted, in bytes. The token (given, or generated
    when ``token=None``) is ``app.token``."""

    def __init__(
        self,
        worker: Worker,
        *,
        token: str | None = None,
        no_token: bool = False,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        concurrency: int = 16,
        max_body: int = 1024 * 1024,
    ) -> None:
        if not isinstance(worker, Worker):
            raise ConfigError(f"WorkerApp(worker) takes a Worker, got {worker!r}")
        require("starlette", "worker", "serving a worker over HTTP")
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.worker = worker
        self.pool = WorkerPool(worker, concurrency=concurrency)
        self.max_body = max_body
        self._guard = EndpointGuard(
            token,
            no_token=no_token,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            realm="baton-worker",
        )
        self._app = Starlette(
            routes=[
                Route("/runs", self._post_run, methods=["POST"]),
                # `path`: a run id may hold '/' (sent as %2F, decoded before routing)
                Route("/runs/{run_id:path}", self._get_run, methods=["GET"]),
            ],
            lifespan=self.lifespan,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """When the server stops (SIGTERM), finish the runs it accepted with ``202`` before
        the process exits: they were promised an outcome (``pool.cancel()`` gives up on them;
        ``baton worker serve`` does on a second signal). Give it to a parent app this one is
        mounted in (``Starlette(..., lifespan=app.lifespan)``). The app serves again after it:
        a lifespan may run more than once (tests, a parent app started again)."""
        try:
            yield
        finally:
            await self.pool.join()

    @property
    def token(self) -> str | None:
        """The bearer token clients must send (``None`` with ``no_token=True``)."""
        return self._guard.token

    def __repr__(self) -> str:
        return f"WorkerApp({self.worker.spec.id!r}, {self._guard!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self._guard.admit(scope, send):
            await self._app(scope, receive, send)

    async def _post_run(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        body = await self._guard.read_body(request, self.max_body)
        if body is None:
            return _rejected(f"the body is larger than {self.max_body} bytes", status=413)
        try:
            payload: Any = parse_json(body)
        except ValueError as exc:
            return _rejected(str(exc), status=400)
        run_id, rejected = self.worker.check(payload)
        if not run_id:
            assert rejected is not None
            return JSONResponse(rejected.output)
        # At most `concurrency` runs at once, however called.
        if "respond-async" not in request.headers.get("prefer", ""):
            try:
                return JSONResponse(await self.pool.run(payload))
            except Exception as exc:  # the store (or the worker) failed: no outcome to give
                return _unavailable(run_id, exc)
        await self.pool.submit(payload)
        return JSONResponse(
            {"run_id": run_id, "status": "accepted"},
            status_code=202,
            headers={"location": f"/runs/{quote(run_id, safe='')}"},
        )

    async def _get_run(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        run_id = request.path_params["run_id"]
        try:
            stored = await self.worker.outcome(run_id)
        except Exception as exc:
            return _unavailable(run_id, exc)
        if stored is not None:
            return JSONResponse(stored.output)
        if self.pool.running(run_id):
            return JSONResponse({"run_id": run_id, "status": "running"}, status_code=202)
        try:  # ended without a stored outcome (e.g. busy elsewhere): its answer, if kept
            return JSONResponse(await self.pool.result(run_id, timeout=0))
        except (KeyError, TimeoutError):
            return JSONResponse(
                {"run_id": run_id, "error": "no such run (never submitted, or past retention)"},
                status_code=404,
            )
        except Exception as exc:
            return _unavailable(run_id, exc)


def _unavailable(run_id: str, error: Exception) -> Response:
    """A run that ended without an outcome (its store unreachable, ...): the contract's
    ``retryable_error`` with a 503. Baton's errors say what went wrong without secrets; of
    any other, only its type is told."""
    from starlette.responses import JSONResponse

    problem = str(error) if isinstance(error, BatonError) else type(error).__name__
    result = error_result(problem, {"type": type(error).__name__}, retryable=True)
    output = {"run_id": run_id, "status": RETRYABLE_ERROR, "result": result}
    return JSONResponse(output, status_code=503)


def _rejected(problem: str, *, status: int) -> Response:
    from starlette.responses import JSONResponse

    output = {"run_id": "", "status": INVALID_REQUEST, "result": error_result(problem, None)}
    return JSONResponse(output, status_code=status)
