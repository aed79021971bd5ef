"""``WorkerPool``: many runs of one worker in this process, at most ``concurrency`` at once.

async with WorkerPool(worker, concurrency=8) as pool:
    run_id = await pool.submit({"run_id": "r1", "task": "...", "context": {}})
    output = await pool.result(run_id)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ..errors import ConfigError
from ..options import check_positive
from .worker import Worker

__all__ = ["WorkerPool"]


class WorkerPool:
    """Runs submitted payloads on ``worker``, ``concurrency`` at a time, each under the
    worker's contract. ``result(run_id)`` waits for a run's output; runs submitted before
    (or by another pool on the same storage) are answered from the stored outcomes."""

    def __init__(self, worker: Worker, concurrency: int = 4) -> None:
        if not isinstance(worker, Worker):
            raise ConfigError(f"WorkerPool(worker, ...) takes a Worker, got {worker!r}")
        self.worker = worker
        self.concurrency = check_positive("concurrency", concurrency)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}  # per run id, the first
        self._all: set[asyncio.Task[dict[str, Any]]] = set()  # every submission in progress
        # Outputs of ended runs, the newest `keep` of them; older ones are read from storage.
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.keep = 10_000
        self._closed = False

    async def submit(self, payload: Mapping[str, Any]) -> str:
        """Queue ``payload``; return its run id (the spec's idempotency key)."""
        return self._submit(payload)[0]

    async def run(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Queue ``payload`` and wait for the output of this submission (a run id in progress
        with another payload answers ``invalid_request``, not that run's output)."""
        return await asyncio.shield(self._submit(payload)[1])

    def _submit(self, payload: Mapping[str, Any]) -> tuple[str, asyncio.Task[dict[str, Any]]]:
        if self._closed:
            raise ConfigError("this WorkerPool is closed; make a new one")
        key = self.worker.spec.idempotency_key
        run_id = payload.get(key) if isinstance(payload, Mapping) else None
        if not isinstance(run_id, str) or not run_id:
            raise ConfigError(
                f"a payload submitted to a WorkerPool needs its {key!r} (a non-empty string): "
                "results are looked up by it"
            )
        # Every submission goes to the worker, which answers a run id it knows from its
        # outcome (or, with a different payload, with invalid_request). result() gives the
        # output of the run id's run in progress, else of its latest submission.
        task = asyncio.create_task(self._run(payload), name=f"baton-worker-{run_id}")
        self._all.add(task)
        task.add_done_callback(self._finished)
        if run_id not in self._tasks:
            self._done.pop(run_id, None)
            self._tasks[run_id] = task
            task.add_done_callback(lambda t: self._ended(run_id, t))
        return run_id, task

    def _finished(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._all.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failure is answered through result() or run()

    def _ended(self, run_id: str, task: asyncio.Task[dict[str, Any]]) -> None:
        del self._tasks[run_id]
        if not task.cancelled() and task.exception() is None:
            self._done[run_id] = task.result()
            while len(self._done) > self.keep:
                self._done.popitem(last=False)

    async def _run(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        async with self._slots:
            return await self.worker.run(payload)

    async def result(self, run_id: str, *, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109
        """The contract output of ``run_id``, waiting up to ``timeout`` seconds (``None``: as
        long as it takes; ``TimeoutError`` after). A run id this pool never saw is looked up
        in the stored outcomes (``KeyError`` when there is none)."""
        done = self._done.get(run_id)
        if done is not None:
            return done
        task = self._tasks.get(run_id)
        if task is None:
            stored = await self.worker.outcome(run_id)
            if stored is None:
                raise KeyError(f"no run {run_id!r} was submitted here, nor stored")
            return stored.output
        async with asyncio.timeout(timeout):
            return await asyncio.shield(task)

    def running(self, run_id: str) -> bool:
        """Whether a submission of ``run_id`` is queued or running here."""
        return run_id in self._tasks

    async def join(self) -> None:
        """Wait for every submitted run to end."""
        while self._all:
            await asyncio.gather(*list(self._all), return_exceptions=True)

    @property
    def in_progress(self) -> int:
        """How many submitted runs are queued or running here."""
        return len(self._all)

    def cancel(self) -> int:
        """Cancel every run queued or running here (none is stored); how many there were."""
        tasks = list(self._all)
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def aclose(self) -> None:
        """Stop taking work, and wait for the runs in progress to end."""
        self._closed = True
        await self.join()

    async def __aenter__(self) -> WorkerPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            for task in list(self._all):
                task.cancel()
        await self.aclose()
