"""The blocking API's event loop: ``ask_sync`` and friends run their coroutines on one loop of
Baton's own, in a daemon thread, for the life of the process.

One loop, not one per call, so what belongs to a loop lasts across calls: a config's SDK client
(one connection pool, not one per call), a SQL database's connections, a Redis pool. The loop's
clients are closed when the interpreter exits. Blocking calls work from plain code and from
inside a running event loop (a notebook cell), but not from code running on this loop itself (an
``inline`` tool calling ``ask_sync``), which would wait on itself: that is a ``ConfigError``.
Ctrl-C during a blocking call cancels its ask (the run is closed in the store) and raises
``KeyboardInterrupt`` as usual.

Objects that belong to a loop stay with the loop that first used them: a SQL database opened
with ``await`` in a notebook can't then be used by ``ask_sync`` (and the other way round); use one
style per database, or a separate ``Database`` for each.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    from .models.base import ModelConfig

__all__ = ["made_client", "run_sync", "sync_loop"]

T = TypeVar("T")

# How long a blocking call, interrupted, waits for its cancelled ask to close its run (which
# spends at most about a second on each of its run's end and its claim's release).
_CANCEL_WAIT = 5.0
_SIGNAL_SLICE = 0.25  # seconds between looks for a pending Ctrl-C while a blocking call waits

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_configs: weakref.WeakSet[ModelConfig] = weakref.WeakSet()  # whose clients the loop made


def sync_loop() -> asyncio.AbstractEventLoop:
    """The blocking API's loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="baton-sync", daemon=True)
            thread.start()
            _loop = loop
            atexit.register(_shutdown, loop, thread)
        return _loop


def made_client(config: ModelConfig, loop: asyncio.AbstractEventLoop | None) -> None:
    """Note that ``config`` made a client on ``loop``: if that is this module's loop, the client
    is closed when the interpreter exits."""
    if loop is not None and loop is _loop:
        _configs.add(config)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the blocking API's loop and wait for its result."""
    loop = sync_loop()
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop:
        coro.close()
        raise ConfigError(
            "a blocking call (ask_sync) was made from code running on Baton's own loop (an "
            "inline tool, or a hook of an ask_sync); await agent.ask(...) there instead"
        )
    finished = threading.Event()

    async def watched() -> T:
        try:
            return await coro
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(watched(), loop)
    try:
        # Waited for in slices: the kernel may hand Ctrl-C's SIGINT to any thread, and one
        # taken by the loop's thread does not wake this one; between slices Python runs the
        # handler here (KeyboardInterrupt) within a fraction of a second.
        while not concurrent.futures.wait([future], timeout=_SIGNAL_SLICE).done:
            pass
        return future.result()
    except BaseException:
        # Ctrl-C (or another error in this thread): stop the ask too, and give it the moment it
        # takes to close its run in the store (bounded there) before this thread goes on.
        future.cancel()
        finished.wait(_CANCEL_WAIT)
        raise


async def _close_clients() -> None:
    for config in list(_configs):
        # Exiting: a client that can't close cleanly is not worth a traceback.
        with contextlib.suppress(Exception):
            await config.aclose()


def _shutdown(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    if loop.is_closed() or not thread.is_alive():
        return
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(_close_clients(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not loop.is_running():
        loop.close()
