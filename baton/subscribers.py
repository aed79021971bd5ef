"""Sync stream subscribers run off the event loop (``in_thread``): a sync subscriber that
blocks would hold up the whole loop, and nothing can interrupt it there.

    stream.subscribe(in_thread(write_to_disk))
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["in_thread"]

_SUBSCRIBER_THREAD_IDLE = 60.0  # seconds an in_thread() subscriber's thread waits for events


def in_thread(fn: Callable[[Any], Any], *, name: str | None = None) -> Callable[[Any], Any]:
    """A sync subscriber made to run off the event loop, on a thread of its own:
    ``stream.subscribe(in_thread(write_to_disk))``. Events reach it in order, one at a time;
    the stream's delivery timeout applies, and a thread stuck past it is abandoned (Python
    cannot kill a thread; it is a daemon thread, so it never holds up the process's exit)
    while the subscriber is detached."""
    label = name or getattr(fn, "__qualname__", None) or repr(fn)
    worker: list[_SubscriberThread] = []  # started at the first event: an unused wrapper costs none

    async def deliver(event: Any) -> None:
        if not worker:
            worker.append(_SubscriberThread(fn, label))
        thread = worker[0]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        thread.put(event, loop, done)
        try:
            await done
        except asyncio.CancelledError:
            # Timed out or cancelled: the thread may be stuck in ``fn``; the next event (if the
            # subscriber is still attached) gets a fresh thread, this one exits when it returns.
            # (Another delivery cancelled at the same time may have replaced it already.)
            if worker and worker[0] is thread:
                worker.pop()
            thread.stop()
            raise

    deliver.__qualname__ = f"in_thread({label})"
    return deliver


class _SubscriberThread:
    """A daemon thread running a sync subscriber on the events put to it, in order; it exits
    after a minute without events (and starts again at the next)."""

    __slots__ = ("alive", "fn", "label", "lock", "queue")

    def __init__(self, fn: Callable[[Any], Any], label: str) -> None:
        self.fn = fn
        self.label = label
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.alive = False

    def put(self, event: Any, loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]) -> None:
        # The caller's context variables go along, as asyncio.to_thread passes them.
        with self.lock:
            self.queue.put((event, loop, done, contextvars.copy_context()))
            if not self.alive:
                self.alive = True
                name = f"baton-subscriber-{self.label}"
                threading.Thread(target=self._run, name=name, daemon=True).start()

    def stop(self) -> None:
        self.queue.put(None)

    def _run(self) -> None:
        while True:
            try:
                item = self.queue.get(timeout=_SUBSCRIBER_THREAD_IDLE)
            except queue.Empty:
                with self.lock:
                    if self.queue.empty():
                        self.alive = False
                        return
                continue
            if item is None:
                return
            event, loop, done, context = item
            error: BaseException | None = None
            try:
                context.run(self.fn, event)
            except BaseException as exc:
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
