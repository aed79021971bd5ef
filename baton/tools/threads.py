"""The threads sync tools run on: a bounded pool of their own, apart from asyncio's default one.

A sync tool runs on a worker thread so it can't block the event loop. Python cannot stop a
running thread: when a sync tool outlives its ``tool_timeout`` the model reads a ``ToolTimeout``
error at once, but the function itself runs on until it returns by itself. Such a thread is
*abandoned*: it no longer counts against the pool's ``max_threads`` (a replacement thread can
start), so calls stuck past their timeout cannot starve the sync tools of other calls, asks or
agents. How many threads may be abandoned at once is bounded too (``max_abandoned``); past that
bound a stuck thread keeps its place in the pool (the process does not grow threads without
limit). A tool that may hang should have a timeout of its own (an HTTP client's ``timeout=``,
a subprocess's ``timeout=``) or be written as an async function, which can be cancelled.

One pool serves every agent of the process by default (``default_tool_threads()``, sized by
the ``BATON_TOOL_THREADS`` environment variable, else ``DEFAULT_TOOL_THREADS``); an agent (or one
ask) can have its own: ``Agent(..., tool_threads=ToolThreads(4))``. The pool is thread-safe and
loop-agnostic (asks on several event loops, ``ask_sync`` in a notebook, may share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

__all__ = ["DEFAULT_MAX_ABANDONED", "DEFAULT_TOOL_THREADS", "ToolThreads", "default_tool_threads"]

DEFAULT_TOOL_THREADS = 32
"""Sync tool calls running at once per pool (most sync tools wait on I/O, not the CPU)."""
DEFAULT_MAX_ABANDONED = 64
"""Threads still running a timed-out call that a pool replaces before it stops growing."""
_IDLE_SECONDS = 60.0  # an idle worker thread exits after this long

_QUEUED, _RUNNING, _DONE, _DROPPED = range(4)


class _Job:
    __slots__ = ("abandoned", "context", "fn", "future", "kwargs", "loop", "on_finish", "state")

    def __init__(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.kwargs = kwargs
        # The caller's context variables (the current call, ...), as asyncio.to_thread does.
        self.context = contextvars.copy_context()
        self.loop = loop
        self.future = future
        self.state = _QUEUED
        self.abandoned = False
        self.on_finish: Callable[[], None] | None = None  # on the loop, once ``fn`` returned

    def run(self) -> None:
        try:
            value = self.context.run(self.fn, **self.kwargs)
        except BaseException as exc:  # KeyboardInterrupt in a tool reaches the ask, as before
            self._settle(_set_exception, exc)
        else:
            self._settle(_set_result, value)
        if self.on_finish is not None:
            with contextlib.suppress(RuntimeError):  # the caller's loop closed meanwhile
                self.loop.call_soon_threadsafe(self.on_finish)

    def _settle(self, how: Callable[[asyncio.Future[Any], Any], None], what: Any) -> None:
        # RuntimeError: the caller's loop closed while the tool ran; nobody is waiting.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(how, self.future, what)


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class ToolThreads:
    """A bounded pool of threads for sync tools (see the module docs).

    ``max_threads``: calls running at once (more wait for a thread, inside their timeout);
    ``max_abandoned``: threads left running a timed-out call that the pool replaces. Threads
    start when needed and exit after a minute idle.
    """

    __slots__ = (
        "_abandoned",
        "_idle",
        "_lock",
        "_queue",
        "_wake",
        "_workers",
        "max_abandoned",
        "max_threads",
        "name",
    )

    def __init__(
        self,
        max_threads: int = DEFAULT_TOOL_THREADS,
        *,
        max_abandoned: int = DEFAULT_MAX_ABANDONED,
        name: str = "baton-tool",
    ) -> None:
        for what, value, least in (
            ("max_threads", max_threads, 1),
            ("max_abandoned", max_abandoned, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{what} must be an integer of at least {least}, got {value!r}")
        self.max_threads = max_threads
        self.max_abandoned = max_abandoned
        self.name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[_Job] = deque()
        self._workers = 0  # threads counted against max_threads (idle or running a call)
        self._idle = 0
        self._abandoned = 0

    def __repr__(self) -> str:
        return (
            f"ToolThreads(max_threads={self.max_threads}, max_abandoned={self.max_abandoned}, "
            f"running={self._workers - self._idle}, abandoned={self._abandoned})"
        )

    @property
    def abandoned(self) -> int:
        """Threads still running a call whose caller stopped waiting for it."""
        return self._abandoned

    async def run(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        *,
        on_abandon: Callable[[], None] | None = None,
        on_finish: Callable[[], None] | None = None,
    ) -> Any:
        """Run ``fn(**kwargs)`` on one of the pool's threads and return its result.

        If the caller is cancelled (its timeout, a cancelled ask), a call that has not started
        is dropped; one that has cannot be stopped (Python cannot kill a thread), so its thread
        is abandoned: it runs the call to its end while the pool stops counting it, and
        ``on_abandon()`` is called before the cancellation propagates, and ``on_finish()`` (on
        the caller's loop) once the call really returned, abandoned or not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        job = _Job(fn, kwargs, loop, future)
        job.on_finish = on_finish
        self._submit(job)
        try:
            return await future
        except asyncio.CancelledError:
            if self._abandon(job) and on_abandon is not None:
                on_abandon()
            raise

    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._queue.append(job)
            if self._idle:
                self._wake.notify()
            # More work than idle threads (some may be woken already): another thread, if room.
            if len(self._queue) > self._idle and self._workers < self.max_threads:
                self._start_worker()

    def _start_worker(self) -> None:
        # Called with the lock held.
        self._workers += 1
        threading.Thread(target=self._work, name=f"{self.name}-{id(self)}", daemon=True).start()

    def _abandon(self, job: _Job) -> bool:
        """Stop counting the thread running ``job`` against ``max_threads`` (a queued job is
        dropped instead). ``True`` if a thread is left running the call (past ``max_abandoned``
        it still runs it, in its place in the pool)."""
        with self._lock:
            if job.state == _QUEUED:
                job.state = _DROPPED
                return False
            if job.state != _RUNNING or job.abandoned:
                return False
            if self._abandoned >= self.max_abandoned:
                return True  # at the bound: the stuck thread keeps its place in the pool
            job.abandoned = True
            self._abandoned += 1
            self._workers -= 1
            # Work waiting for a thread gets a replacement for the one that is stuck.
            if len(self._queue) > self._idle and self._workers < self.max_threads:
                self._start_worker()
            return True

    def _next(self) -> _Job | None:
        # Called with the lock held: the next job to run, or None when the thread should exit.
        while True:
            while self._queue:
                job = self._queue.popleft()
                if job.state == _QUEUED:
                    job.state = _RUNNING
                    return job
            self._idle += 1
            woken = self._wake.wait(_IDLE_SECONDS)
            self._idle -= 1
            if not woken and not self._queue:
                self._workers -= 1
                return None

    def _work(self) -> None:
        with self._lock:
            job = self._next()
        while job is not None:
            job.run()
            with self._lock:
                job.state = _DONE
                if job.abandoned:
                    self._abandoned -= 1
                    if self._workers >= self.max_threads:
                        return  # a replacement took this thread's place: leave
                    self._workers += 1  # room again: rejoin the pool
                job = self._next()


_default: ToolThreads | None = None
_default_lock = threading.Lock()


def default_tool_threads() -> ToolThreads:
    """The process-wide pool sync tools run on unless an agent or ask gives its own (sized by
    the ``BATON_TOOL_THREADS`` environment variable, else ``DEFAULT_TOOL_THREADS``)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                size = os.environ.get("BATON_TOOL_THREADS", "").strip()
                try:
                    threads = int(size) if size else DEFAULT_TOOL_THREADS
                except ValueError:
                    raise ConfigError(
                        f"BATON_TOOL_THREADS must be a whole number of threads, got {size!r}"
                    ) from None
                _default = ToolThreads(threads)
    return _default
