"""Running ``baton dev``: find the agent, give it the history the command names, serve the page
on 127.0.0.1 with uvicorn and open the browser on the URL with the token."""

from __future__ import annotations

import asyncio
import socket
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BatonError, ConfigError
from ..history import MemoryHistory, MemoryStorage
from ..loading import load_target

__all__ = ["Stores", "load_agent", "open_stores", "serve"]


def load_agent(target: str) -> Any:
    """The agent (or team: anything asked like an agent) ``module:attribute`` names, imported
    from the working directory; a function there is called to make it."""
    return load_target(
        target, lambda o: hasattr(o, "run") and hasattr(o, "name"), "a baton Agent or team"
    )


@dataclass(slots=True)
class Stores:
    """The history and storage ``baton dev`` gives the agent, and what watching needs."""

    history: Any
    storage: Any
    redis: str | None = None
    redis_prefix: str = "baton:"
    close: Callable[[], Any] | None = None


def open_stores(url: str | None, redis_prefix: str = "baton:") -> Stores:
    """Stores for ``--history URL``: ``sqlite:///path``, ``postgresql://...``, ``redis://...``
    (keys under ``redis_prefix``), or memory ones for None."""
    if url is None:
        return Stores(MemoryHistory(), MemoryStorage())
    if url.startswith(("redis://", "rediss://", "unix://")):
        from ..backends.redis import RedisHistory, RedisStorage

        return Stores(
            RedisHistory(url, prefix=redis_prefix),
            RedisStorage(url, prefix=redis_prefix),
            redis=url,
            redis_prefix=redis_prefix,
        )
    if url.startswith(("sqlite:", "postgresql:", "postgres:")):
        from ..backends.sql import open_backend

        backend = open_backend(url)
        return Stores(backend.history, backend.storage, close=backend.aclose)
    raise ConfigError(
        f"--history takes a sqlite:///..., postgresql://... or redis://... URL, not {url!r}"
    )


def _listening(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{port} ({exc}); try another --port"
        ) from None
    return sock


async def serve(
    target: str,
    *,
    history: str | None = None,
    redis: str | None = None,
    redis_prefix: str = "baton:",
    port: int | None = None,
    browser: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the dev page of ``target`` until interrupted (see the ``baton dev`` command)."""
    from ._extra import require_extra

    require_extra()
    import uvicorn

    from .app import DevApp

    agent = load_agent(target)
    stores = open_stores(history, redis_prefix)
    if history is not None:  # said now, not as errors in the page once it is open
        try:
            await stores.history.load("baton-dev-check")
        except BatonError as exc:
            if stores.close is not None:
                await stores.close()
            raise ConfigError(f"--history cannot be used: {exc}") from None
    if history is not None or getattr(agent, "history", None) is None:
        agent.history = stores.history
    if history is not None or getattr(agent, "storage", None) is None:
        agent.storage = stores.storage
    app = DevApp(agent, redis=redis or stores.redis, redis_prefix=redis_prefix)
    sock = _listening(port or 0)
    port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}/?token={app.token}"
    # The page keeps event streams open: on Ctrl-C they get two seconds, not for ever.
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    say(f"baton dev: {getattr(agent, 'name', target)} at {url}")
    say("(the token in the URL opens the page; Ctrl-C stops the server)")
    # The socket listens before the browser opens: its first request waits in the backlog
    # for uvicorn instead of finding nothing there.
    opener = asyncio.create_task(asyncio.to_thread(webbrowser.open, url)) if browser else None
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        if opener is not None:
            await asyncio.wait({opener})
        if stores.close is not None:
            await stores.close()
