"""What a worker run ends with: the contract's output, and the stored record around it.

``Outcome.output`` is exactly the contract (``run_id``, ``status``, ``result``); the record also
keeps how many attempts it took, how long, what the agent used, and a digest of the payload so
the same ``run_id`` sent with another payload is recognised. Records are JSON, kept in a
``Storage`` (``StorageOutcomes``) or in Redis by the Redis runner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..events import Usage
from ..history import Storage

__all__ = [
    "INVALID_OUTPUT",
    "INVALID_REQUEST",
    "OK",
    "RETRYABLE_ERROR",
    "Outcome",
    "StorageOutcomes",
    "different_payload",
    "error_result",
    "payload_digest",
]

OK = "ok"
RETRYABLE_ERROR = "retryable_error"
INVALID_REQUEST = "invalid_request"
INVALID_OUTPUT = "invalid_output"


def error_result(error: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    """The ``result`` of a status other than ``ok``: ``{"error": ..., "details": ...}``."""
    return {"error": error, "details": details, **extra}


def payload_digest(payload: Any) -> str:
    """A digest of a payload's canonical JSON (keys sorted): equal payloads, equal digests."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """How one run ended. ``output`` is what ``worker.run`` returns."""

    run_id: str
    status: str
    result: dict[str, Any]
    attempts: int = 0
    duration: float = 0.0
    usage: Usage = field(default_factory=Usage)
    payload_digest: str = ""
    finished_at: float = field(default_factory=time.time)

    @property
    def output(self) -> dict[str, Any]:
        """The contract's output: ``run_id``, ``status`` and ``result``, nothing else."""
        return {"run_id": self.run_id, "status": self.status, "result": self.result}

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able data (what is stored)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "result": self.result,
            "attempts": self.attempts,
            "duration": self.duration,
            "usage": dataclasses.asdict(self.usage),
            "payload_digest": self.payload_digest,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        """The record ``to_json`` made (fields it lacks take their defaults)."""
        usage = data.get("usage") or {}
        known = {f.name for f in dataclasses.fields(Usage)}
        return cls(
            run_id=str(data["run_id"]),
            status=str(data["status"]),
            result=dict(data.get("result") or {}),
            attempts=int(data.get("attempts", 0)),
            duration=float(data.get("duration", 0.0)),
            usage=Usage(**{k: v for k, v in usage.items() if k in known}),
            payload_digest=str(data.get("payload_digest", "")),
            finished_at=float(data.get("finished_at", 0.0)),
        )


def different_payload(run_id: str) -> Outcome:
    """The ``invalid_request`` answer to a ``run_id`` already used with another payload."""
    return Outcome(
        run_id,
        INVALID_REQUEST,
        error_result(
            f"run_id {run_id!r} was used already with a different payload; use a new run_id "
            "for new work",
            None,
        ),
    )


class StorageOutcomes:
    """Outcomes of one worker spec kept in a ``Storage`` under
    ``worker:<spec id>:outcome:<run id>``, each for ``retention`` seconds (``None``: for ever).
    A storage has no expiry of its own: an expired record reads as absent and is deleted then,
    and ``prune()`` deletes every expired one."""

    def __init__(self, storage: Storage, spec_id: str, retention: float | None) -> None:
        self.storage = storage
        self.prefix = f"worker:{spec_id}:outcome:"
        self.retention = retention

    async def get(self, run_id: str) -> Outcome | None:
        """The outcome of ``run_id``, or ``None`` (never stored, or expired: then deleted)."""
        key = self.prefix + run_id
        data = await self.storage.get(key)
        if not isinstance(data, dict):
            return None
        if self._expired(data):
            await self.storage.delete(key)
            return None
        return Outcome.from_json(data)

    async def put(self, outcome: Outcome) -> None:
        """Keep ``outcome`` under its run id, until its retention ends."""
        data = outcome.to_json()
        if self.retention is not None:
            data["expires_at"] = outcome.finished_at + self.retention
        await self.storage.put(self.prefix + outcome.run_id, data)

    async def prune(self) -> int:
        """Delete the expired outcomes; return how many."""
        removed = 0
        for key in await self.storage.keys(self.prefix):
            data = await self.storage.get(key)
            if isinstance(data, dict) and self._expired(data) and await self.storage.delete(key):
                removed += 1
        return removed

    @staticmethod
    def _expired(data: dict[str, Any]) -> bool:
        expires = data.get("expires_at")
        return isinstance(expires, int | float) and expires <= time.time()
