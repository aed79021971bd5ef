"""Bounded workers: an agent held to a contract (``WorkerSpec``, from a ``*.worker.md`` file),
run in-process (``Worker``, ``WorkerPool``) or across processes over Redis Streams
(``baton.worker.redis``: ``WorkerClient``, ``baton worker run``).

Needs the ``worker`` extra (PyYAML for the files, jsonschema for the schemas):
``pip install 'baton-agents[worker]'``; the Redis runner also needs ``[redis]``.
"""

from __future__ import annotations

from ..context import WorkItem
from .outcome import INVALID_OUTPUT, INVALID_REQUEST, OK, RETRYABLE_ERROR, Outcome
from .pool import WorkerPool
from .spec import DEFAULT_INPUT_SCHEMA, DEFAULT_OUTPUT_SCHEMA, STATUSES, WorkerSpec
from .worker import Worker, is_retryable

__all__ = [
    "DEFAULT_INPUT_SCHEMA",
    "DEFAULT_OUTPUT_SCHEMA",
    "INVALID_OUTPUT",
    "INVALID_REQUEST",
    "OK",
    "RETRYABLE_ERROR",
    "STATUSES",
    "Outcome",
    "WorkItem",
    "Worker",
    "WorkerPool",
    "WorkerSpec",
    "is_retryable",
]
