"""The harness of the served-endpoint benchmarks: a uvicorn server in a child process on
127.0.0.1, an ``httpx`` client here that reads its server-sent events, and the command line and
table cells they share (benchmarks/agui.py, agui_teams.py, devui.py)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def options(doc: str | None, quick_help: str) -> tuple[int, bool]:
    """The benchmark's ``--quick`` / ``--repeat N`` command line: (repetitions, quick)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--repeat", type=int, default=7)
    parsed = parser.parse_args()
    return (2 if parsed.quick else parsed.repeat), bool(parsed.quick)


def run_server(port: int, app: ASGIApp) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` (in the child process), answering the lifespan."""
    import uvicorn

    async def with_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await app(scope, receive, send)

    uvicorn.run(with_lifespan, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def by_path(apps: dict[str, ASGIApp]) -> ASGIApp:
    """One ASGI app that hands each request to the app mounted at exactly its path."""

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["path"]](scope, receive, send)

    return dispatch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark's server did not start")


@contextmanager
def server_process(serve: Callable[..., None], *args: Any) -> Iterator[str]:
    """Start ``serve(port, *args)`` in a spawned child process on a free port; yield its URL
    once it listens, and stop it on the way out. ``serve`` must be a module-level function."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(port, *args), daemon=True
    )
    process.start()
    try:
        wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(10)


def agui_input(thread: str | None = None) -> dict[str, Any]:
    """An AG-UI run input asking "go" on ``thread`` (a fresh thread when not given)."""
    return {
        "threadId": thread or f"bench-{time.perf_counter_ns()}",
        "runId": "r",
        "messages": [{"id": "u", "role": "user", "content": "go"}],
    }


async def sse_data(client: Any, method: str, url: str, **request: Any) -> AsyncIterator[Any]:
    """Every ``data:`` line of a streamed response, parsed as JSON (as a UI does)."""
    async with client.stream(method, url, **request) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


def rate_cell(rates: list[float]) -> str:
    """A rate's median with the min-max spread, as whole numbers."""
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
