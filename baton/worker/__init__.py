"""Bounded workers: an agent held to a contract (``WorkerSpec``, from a ``*.worker.md`` file),
run in-process (``Worker``, ``WorkerPool``) or across processes over Redis Streams
(``baton.worker.redis``: ``WorkerClient``, ``baton worker run``).

Needs the ``worker`` extra (PyYAML for the files, jsonschema for the schemas):
``pip install 'baton-agents[worker]'``; the Redis runner also needs ``[redis]``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..context import WorkItem
from .outcome import INVALID_OUTPUT, INVALID_REQUEST, OK, RETRYABLE_ERROR, Outcome
from .pool import WorkerPool
from .spec import DEFAULT_INPUT_SCHEMA, DEFAULT_OUTPUT_SCHEMA, STATUSES, WorkerSpec
from .worker import Worker, is_retryable

# Loaded when first used: their libraries (redis-py, Starlette, DBOS) are other extras.
_LAZY = {
    "WorkerClient": "redis_client",
    "RedisRunner": "redis_runner",
    "WorkerApp": "http",
    "DBOSWorker": "dbos",
    "Schedule": "triggers",
    "Tick": "triggers",
    "Trigger": "triggers",
    "TriggerRunner": "triggers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'baton.worker' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_INPUT_SCHEMA",
    "DEFAULT_OUTPUT_SCHEMA",
    "INVALID_OUTPUT",
    "INVALID_REQUEST",
    "OK",
    "RETRYABLE_ERROR",
    "STATUSES",
    "DBOSWorker",
    "Outcome",
    "RedisRunner",
    "Schedule",
    "Tick",
    "Trigger",
    "TriggerRunner",
    "WorkItem",
    "Worker",
    "WorkerApp",
    "WorkerClient",
    "WorkerPool",
    "WorkerSpec",
    "is_retryable",
]
