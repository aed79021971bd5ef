"""The runners the contract table runs on, behind one small interface: ``start(case)`` makes
the case's worker run, ``run(payload)`` returns the contract output, ``stop()`` ends it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, Protocol

import httpx
from contract_cases import case_agent, case_spec
from serving import uvicorn_serving
from worker_support import WorkerProcess, dbos_config, drop_schema, write_spec

from baton.worker import Worker, WorkerPool
from baton.worker.http import WorkerApp
from baton.worker.redis_client import WorkerClient


class Runner(Protocol):
    async def start(self, case: str) -> None: ...

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def stop(self) -> None: ...

    def close(self) -> None: ...


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

    def close(self) -> None:
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

    def close(self) -> None:
        return None  # its runs ended with the test


class RedisProcess:
    """A ``baton worker run`` process on Redis; tasks go through ``WorkerClient.run``."""

    def __init__(self, redis_url: str, prefix: str, directory: Path) -> None:
        self.redis_url, self.prefix, self.directory = redis_url, prefix, directory
        self.process: WorkerProcess | None = None
        self.client: WorkerClient | None = None

    async def start(self, case: str) -> None:
        spec = case_spec(case)
        path = write_spec(spec, self.directory)
        process = WorkerProcess(path, f"contract_cases:{case}", self.redis_url, self.prefix)
        self.process = await asyncio.to_thread(process.start)
        self.client = WorkerClient(self.redis_url, spec.id, prefix=self.prefix)

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.client is not None
        return await self.client.run(payload, timeout=60)

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()


class HTTPFront:
    """``WorkerApp`` served by uvicorn on loopback, called with its bearer token."""

    def __init__(self) -> None:
        self.stack = contextlib.AsyncExitStack()
        self.http: httpx.AsyncClient | None = None

    async def start(self, case: str) -> None:
        worker = Worker(case_agent(case), case_spec(case), retry_delay=0)
        app = WorkerApp(worker)
        base = await self.stack.enter_async_context(uvicorn_serving(app))
        self.http = await self.stack.enter_async_context(
            httpx.AsyncClient(
                base_url=base, headers={"authorization": f"Bearer {app.token}"}, timeout=60
            )
        )

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.http is not None
        response = await self.http.post("/runs", json=payload)
        assert response.status_code == 200, response.text
        output: dict[str, Any] = response.json()
        return output

    async def stop(self) -> None:
        await self.stack.aclose()

    def close(self) -> None:
        return None  # stopped by stop(), in the test's loop


class DBOSRunner:
    """``DBOSWorker`` on DBOS launched in this process, its system tables in a PostgreSQL
    schema of the test's own (dropped after)."""

    def __init__(self, postgres_url: str) -> None:
        self.postgres_url = postgres_url
        self.schema = f"dbos_{uuid.uuid4().hex[:10]}"
        self.durable: Any = None

    async def start(self, case: str) -> None:
        from dbos import DBOS

        from baton.worker.dbos import DBOSWorker

        DBOS(config=dbos_config(self.postgres_url, self.schema))
        DBOS.launch()
        self.durable = DBOSWorker(Worker(case_agent(case), case_spec(case), retry_delay=0))

    async def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        output: dict[str, Any] = await self.durable.run(payload)
        return output

    async def stop(self) -> None:
        if self.durable is None:
            return
        from dbos import DBOS

        DBOS.destroy(destroy_registry=False)
        self.durable = None
        await drop_schema(self.postgres_url, self.schema)

    def close(self) -> None:
        return None  # stopped by stop(), in the test's loop
