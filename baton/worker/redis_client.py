"""Workers over Redis Streams: the keys a spec's tasks and outcomes live under, the script that
writes an outcome exactly once together with the acknowledgement, and ``WorkerClient``, which
submits tasks and waits for their outcomes.

    client = WorkerClient("redis://127.0.0.1:6379/0", "support-triage")
    run_id = await client.submit({"run_id": "r1", "task": "...", "context": {}})
    output = await client.result(run_id, timeout=60)

Keys, for spec id ``S`` under ``prefix`` (default ``baton:``):

- ``worker:S:tasks``: the stream of tasks (entries ``run_id``, ``payload``), read by the
  consumer group ``workers``;
- ``worker:S:outcome:<run id>``: the outcome's JSON, set once (expiring after the spec's
  retention);
- ``worker:S:done:<run id>``: a short-lived list pushed when the outcome is set, so a waiting
  client wakes at once;
- ``worker:S:lease:<run id>``: held by the worker running that run id (renewed by heartbeats);
- ``worker:S:dead``: the dead-letter stream: tasks delivered more than ``max_attempts + 2``
  times, with their last error.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from ..backends.redis.connection import Connector, RedisSource, reaches_redis
from ..backends.redis.stream import retryable_errors
from ..errors import ConfigError
from .outcome import Outcome, different_payload, payload_digest
from .spec import is_spec_id

__all__ = ["FINISH", "GROUP", "TAKE", "RedisKeys", "WorkerClient"]

GROUP = "workers"

# For each finished task: write its outcome unless one is there, wake waiting clients,
# acknowledge and delete its entry, and give back its lease: all at once, so an outcome exists
# exactly when its task is acknowledged. Tasks finishing together go in one call.
# KEYS: the tasks stream, then per task: outcome, done list, lease.
# ARGV: group, retention in ms (0: none), then per task: entry id, outcome JSON, lease token
# ("": none held). Returns how many outcomes were written.
FINISH = """
local written = 0
local n = (#KEYS - 1) / 3
for i = 0, n - 1 do
  local outcome, done, lease = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i]
  local entry, data, token = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  if redis.call('EXISTS', outcome) == 0 then
    if tonumber(ARGV[2]) > 0 then
      redis.call('SET', outcome, data, 'PX', ARGV[2])
    else
      redis.call('SET', outcome, data)
    end
    redis.call('RPUSH', done, '1')
    redis.call('PEXPIRE', done, 60000)
    written = written + 1
  end
  redis.call('XACK', KEYS[1], ARGV[1], entry)
  redis.call('XDEL', KEYS[1], entry)
  if token ~= '' and redis.call('GET', lease) == token then
    redis.call('DEL', lease)
  end
end
return written
"""

# For each run id: take its lease unless its outcome exists. Per run id, 2 = the outcome
# exists, 1 = taken, 0 = held by another worker. KEYS: per run id, outcome then lease.
# ARGV: token, lease in ms.
TAKE = """
local codes = {}
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    codes[#codes + 1] = 2
  elseif redis.call('SET', KEYS[i + 1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    codes[#codes + 1] = 1
  else
    codes[#codes + 1] = 0
  end
end
return codes
"""


class RedisKeys:
    """The Redis keys of one worker spec (see the module docs)."""

    __slots__ = ("base", "dead", "tasks")

    def __init__(self, spec_id: str, prefix: str = "baton:") -> None:
        self.base = f"{prefix}worker:{spec_id}:"
        self.tasks = self.base + "tasks"
        self.dead = self.base + "dead"

    def outcome(self, run_id: str) -> str:
        """The key of ``run_id``'s outcome (JSON, set once)."""
        return f"{self.base}outcome:{run_id}"

    def done(self, run_id: str) -> str:
        """The list a finished ``run_id`` is pushed to, waking the clients waiting on it."""
        return f"{self.base}done:{run_id}"

    def lease(self, run_id: str) -> str:
        """The key of the lease a worker holds while it runs ``run_id``."""
        return f"{self.base}lease:{run_id}"


class WorkerClient:
    """Submit tasks to the workers of spec ``spec_id`` over Redis and wait for their outcomes.

    ``redis``: a URL, a ``redis.asyncio.Redis`` client or ``None`` (``$BATON_REDIS_URL``);
    ``prefix`` must match the workers'. ``idempotency_key``: the payload field holding the run
    id (the spec's, ``run_id`` by default).
    """

    def __init__(
        self,
        redis: RedisSource,
        spec_id: str,
        *,
        prefix: str = "baton:",
        idempotency_key: str = "run_id",
    ) -> None:
        if not is_spec_id(spec_id):
            # A WorkerSpec here would name a stream no worker reads: submit would wait for ever.
            raise ConfigError(
                f"WorkerClient(redis, spec_id) takes the spec's id (spec.id, e.g. "
                f"'support-triage': letters, digits, '_', '.' or '-'), got {spec_id!r}"
            )
        self.connector = Connector(redis)
        self.spec_id = spec_id
        self.keys = RedisKeys(spec_id, prefix)
        self.idempotency_key = idempotency_key

    def __repr__(self) -> str:
        return f"WorkerClient({self.connector!r}, {self.spec_id!r})"

    def run_id_of(self, payload: Mapping[str, Any]) -> str:
        """The payload's run id (its idempotency key); ``ConfigError`` when it has none."""
        run_id = payload.get(self.idempotency_key) if isinstance(payload, Mapping) else None
        if not isinstance(run_id, str) or not run_id:
            raise ConfigError(
                f"a payload needs its {self.idempotency_key!r} (a non-empty string): the "
                "outcome is kept and looked up by it"
            )
        return run_id

    @reaches_redis
    async def submit(self, payload: Mapping[str, Any]) -> str:
        """Queue ``payload`` for the spec's workers; return its run id. A run id that already
        has an outcome is not queued again (``result`` returns that outcome)."""
        run_id = self.run_id_of(payload)
        try:
            data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"a worker payload must be JSON: {exc}") from None
        client = self.connector.client()
        if await client.exists(self.keys.outcome(run_id)):
            return run_id
        await client.xadd(self.keys.tasks, {"run_id": run_id, "payload": data})
        return run_id

    @reaches_redis
    async def outcome(self, run_id: str) -> Outcome | None:
        """The stored outcome of ``run_id`` (``None``: not finished, or past retention)."""
        raw = await self.connector.client().get(self.keys.outcome(run_id))
        return None if raw is None else Outcome.from_json(json.loads(raw))

    async def result(self, run_id: str, *, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for ``run_id``'s outcome and return the contract output (``TimeoutError``
        after ``timeout`` seconds; ``None``: as long as it takes). Survives Redis restarting."""
        outcome = await self.wait(run_id, timeout=timeout)
        return outcome.output

    @reaches_redis
    async def wait(self, run_id: str, *, timeout: float | None = None) -> Outcome:  # noqa: ASYNC109
        """``result``, returning the whole ``Outcome``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        errors = retryable_errors()
        client = self.connector.client()
        while True:
            try:
                raw = await client.get(self.keys.outcome(run_id))
                if raw is not None:
                    return Outcome.from_json(json.loads(raw))
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    break  # raised below: TimeoutError is also one of the errors caught here
                # Woken by the worker's push; a second waiter on the same run id wakes within
                # a second, when its wait ends.
                await client.blpop([self.keys.done(run_id)], timeout=max(left, 0.01))
            except errors:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"run {run_id!r} has no outcome after {timeout:g} s (Redis unreachable)"
                    ) from None
                await asyncio.sleep(0.1)
        raise TimeoutError(f"run {run_id!r} has no outcome after {timeout:g} s")

    async def run(
        self,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Submit ``payload`` and wait for its output. A run id whose outcome came from a
        different payload answers ``invalid_request``, as ``Worker.run`` does."""
        run_id = await self.submit(payload)
        outcome = await self.wait(run_id, timeout=timeout)
        digest = payload_digest(payload)
        if outcome.payload_digest and outcome.payload_digest != digest:
            return different_payload(run_id).output
        return outcome.output

    @reaches_redis
    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The newest ``count`` entries of the dead-letter stream (run id, payload, error)."""
        entries: Any = await self.connector.client().xrevrange(self.keys.dead, count=count)
        return [
            {k.decode(): v.decode() for k, v in fields.items()} for _entry_id, fields in entries
        ]
