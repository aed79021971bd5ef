"""The runners the contract table runs on, behind one small interface: ``start(case)`` makes
the case's worker run, ``run(payload)`` returns the contract output, ``stop()`` ends it."""

from __future__ import annotations

from typing import Any, Protocol

from contract_cases import case_agent, case_spec

from baton.worker import Worker, WorkerPool


class Runner(Protocol):
    async def start(self, case: str) -> None: ...

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def stop(self) -> None: ...


class InProcess:
    """``Worker.run`` in this process."""

    def __init__(self) -> None:
        self.worker: Worker | None = None

    async def start(self, case: str) -> None:
        self.worker = Worker(case_agent(case), case_spec(case), retry_delay=0)

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.worker is not None
        return await self.worker.run(payload)

    async def stop(self) -> None:
        return None


class Pool:
    """``WorkerPool.submit`` then ``result``."""

    def __init__(self) -> None:
        self.pool: WorkerPool | None = None

    async def start(self, case: str) -> None:
        worker = Worker(case_agent(case), case_spec(case), retry_delay=0)
        self.pool = WorkerPool(worker, concurrency=2)

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.pool is not None
        return await self.pool.result(await self.pool.submit(payload))

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
