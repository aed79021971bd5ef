"""``RedisRunner``: a worker process's loop over a spec's Redis stream (``baton worker run``).

Each runner is one consumer of the group ``workers`` on ``worker:<spec id>:tasks`` (see
``redis_client`` for the keys). It holds at most ``concurrency`` tasks at once and, while it
holds them:

- heartbeats them every ``heartbeat`` seconds (``XCLAIM ... JUSTID`` resets their idle time,
  and each run id's lease is renewed), so nobody else takes them;
- takes over the tasks of dead consumers: every half heartbeat it claims (``XAUTOCLAIM``)
  entries idle for more than two heartbeats, i.e. within three heartbeats of a worker dying;
- runs a task only while holding its run id's lease (``SET NX``): a run id queued twice, or
  reclaimed while its first holder still runs it, waits for the one outcome instead of running
  again; a run id that already has an outcome is acknowledged without running;
- sends a task delivered more than ``max_attempts + 2`` times (crash redeliveries count) to the
  dead-letter stream with its last error, and gives it the outcome ``retryable_error``;
- writes each outcome with one script that sets it only if absent, acknowledges and deletes the
  entry and gives back the lease (``redis_client.FINISH``): one outcome per run id, written
  exactly when its task is acknowledged.

Execution is at least once: a task whose worker died mid-run is run again by another.
``stop()`` (SIGTERM under ``baton worker run``) stops taking tasks and returns once the ones in
hand are finished. A Redis that goes away (restarts) is waited for: reads, heartbeats and
outcome writes are retried until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
from typing import Any

from ..backends.redis.connection import Connector, RedisSource, reaches_redis
from ..backends.redis.stream import retryable_errors
from ..errors import ConfigError
from ..redaction import logger
from .outcome import RETRYABLE_ERROR, Outcome, error_result
from .redis_client import FINISH, GROUP, TAKE, RedisKeys
from .spec import check_seconds
from .worker import Worker

__all__ = ["RedisRunner"]

log = logger("baton.worker")

DEAD_LETTERS_KEPT = 10_000  # the newest dead letters (about); older ones are trimmed

RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisRunner:
    """Run ``worker`` on the tasks of its spec's Redis stream (see the module docs).

    ``consumer`` names this process in the group (default: host, pid and a random suffix).
    ``block``: seconds a read waits for new tasks before checking for abandoned ones."""

    def __init__(
        self,
        worker: Worker,
        redis: RedisSource = None,
        *,
        concurrency: int = 4,
        prefix: str = "baton:",
        heartbeat: float = 5.0,
        consumer: str | None = None,
        block: float = 1.0,
    ) -> None:
        if not isinstance(worker, Worker):
            raise ConfigError(f"RedisRunner(worker, ...) takes a Worker, got {worker!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(f"concurrency must be an integer of at least 1, got {concurrency!r}")
        heartbeat = check_seconds("heartbeat", heartbeat)
        block = check_seconds("block", block)
        self.worker = worker
        self.spec = worker.spec
        self.connector = Connector(redis)
        self.keys = RedisKeys(self.spec.id, prefix)
        self.concurrency = concurrency
        self.heartbeat = float(heartbeat)
        self.block = float(block)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.max_deliveries = self.spec.max_attempts + 2
        retention = self.spec.retention_seconds
        self._retention_ms = 0 if retention is None else max(1, int(retention * 1000))
        self._lease_ms = int(self.heartbeat * 3000)
        self._held: dict[str, str] = {}  # entry id -> run id (its lease token is self._token)
        self._tasks: set[asyncio.Task[None]] = set()
        self._token = secrets.token_hex(8)
        self._stopping = asyncio.Event()
        self._stop_waiter: asyncio.Future[Any] | None = None
        self._scripts: dict[str, tuple[Any, Any]] = {}
        # Outcomes waiting to be written: (entry id, run id, JSON, lease token, written).
        self._finishing: list[tuple[str, str, str, str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.handled = 0  # tasks finished by this runner (outcome written or found)

    def __repr__(self) -> str:
        return f"RedisRunner({self.spec.id!r}, {self.connector!r}, consumer={self.consumer!r})"

    def stop(self) -> None:
        """Stop taking tasks; ``run()`` returns once the tasks in hand are finished."""
        self._stopping.set()

    @property
    def in_hand(self) -> int:
        """How many tasks this runner holds now."""
        return len(self._tasks)

    @reaches_redis  # an error Redis answers (a wrong database, ACLs) is a BackendUnavailable
    async def run(self) -> None:
        """Take and run tasks until ``stop()``."""
        errors = retryable_errors()
        while True:  # Redis may not be up yet: wait for it
            try:
                await self._ensure_group()
                break
            except errors as exc:
                if self._stopping.is_set():
                    return
                log.warning("worker %s: Redis unreachable (%s); waiting", self.spec.id, exc)
                await self._pause(0.5)
        self._stop_waiter = asyncio.ensure_future(self._stopping.wait())
        beats = asyncio.create_task(self._heartbeats(), name="baton-worker-heartbeat")
        try:
            since_reclaim = asyncio.get_running_loop().time()
            while not self._stopping.is_set():
                free = self.concurrency - len(self._tasks)
                if free <= 0:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    now = asyncio.get_running_loop().time()
                    if now - since_reclaim >= self.heartbeat / 2:
                        since_reclaim = now
                        await self._reclaim(free)
                        free = self.concurrency - len(self._tasks)
                        if free <= 0:
                            continue
                    await self._read(free)
                except errors as exc:
                    log.warning("worker %s: Redis unreachable (%s); retrying", self.spec.id, exc)
                    await self._pause(0.2)
                    await self._ensure_group_quietly()
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            beats.cancel()
            self._stop_waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _ensure_group(self) -> None:
        client = self.connector.client()
        try:
            await client.xgroup_create(self.keys.tasks, GROUP, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _ensure_group_quietly(self) -> None:
        with contextlib.suppress(*retryable_errors()):
            await self._ensure_group()

    async def _read(self, count: int) -> None:
        client = self.connector.client()
        read = asyncio.ensure_future(
            client.xreadgroup(
                GROUP,
                self.consumer,
                {self.keys.tasks: ">"},
                count=count,
                block=max(1, int(self.block * 1000)),
            )
        )
        stopping = self._stop_waiter
        assert stopping is not None
        await asyncio.wait((read, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not read.done():  # stopped while waiting: take nothing more
            read.cancel()
            with contextlib.suppress(asyncio.CancelledError, *retryable_errors()):
                await read
            return
        try:
            answer: Any = read.result()
        except Exception as exc:
            if "NOGROUP" in str(exc):  # the stream went away (e.g. Redis lost its data)
                await self._ensure_group()
                return
            raise
        batch = [
            (entry_id.decode(), fields, 1)
            for _stream, entries in answer or ()
            for entry_id, fields in entries
        ]
        await self._admit(batch)

    async def _reclaim(self, count: int) -> None:
        """Take over entries idle for more than two heartbeats (their holder died)."""
        client = self.connector.client()
        idle_ms = int(self.heartbeat * 2000)
        try:
            claimed: Any = await client.xautoclaim(
                self.keys.tasks, GROUP, self.consumer, idle_ms, start_id="0-0", count=count
            )
        except Exception as exc:
            if "NOGROUP" in str(exc):
                await self._ensure_group()
                return
            raise
        entries = claimed[1] if len(claimed) > 1 else []
        batch: list[tuple[str, dict[bytes, bytes], int]] = []
        for entry_id_raw, fields in entries:
            if not fields:
                continue  # deleted meanwhile
            entry_id = entry_id_raw.decode()
            pending: Any = await client.xpending_range(
                self.keys.tasks, GROUP, min=entry_id, max=entry_id, count=1
            )
            deliveries = int(pending[0]["times_delivered"]) if pending else 1
            log.info(
                "worker %s: took over task %s (delivery %d)", self.spec.id, entry_id, deliveries
            )
            batch.append((entry_id, fields, deliveries))
        await self._admit(batch)

    async def _admit(self, batch: list[tuple[str, dict[bytes, bytes], int]]) -> None:
        """Hold the entries of ``batch`` and start a task for each, having tried to take all
        their run ids' leases in one round trip."""
        fresh = [item for item in batch if item[0] not in self._held]
        if not fresh:
            return
        for entry_id, fields, _deliveries in fresh:
            self._held[entry_id] = _run_id_of(fields)
        runnable = [
            (e, self._held[e]) for e, _f, d in fresh if d <= self.max_deliveries and self._held[e]
        ]
        codes: list[int] = []
        if runnable:
            keys = [k for _e, r in runnable for k in (self.keys.outcome(r), self.keys.lease(r))]
            try:
                codes = await self._script(TAKE)(keys=keys, args=[self._token, self._lease_ms])
            except BaseException:
                for entry_id, _fields, _deliveries in fresh:
                    self._held.pop(entry_id, None)  # left pending: taken over later
                raise
        taken = {entry_id: int(code) for (entry_id, _r), code in zip(runnable, codes, strict=True)}
        for entry_id, fields, deliveries in fresh:
            task = asyncio.create_task(
                self._handle(entry_id, fields, deliveries, taken.get(entry_id, 0))
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(
        self, entry_id: str, fields: dict[bytes, bytes], deliveries: int, taken: int
    ) -> None:
        try:
            await self._handle_task(entry_id, fields, deliveries, taken)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not acknowledged: the entry stays pending and is taken over (and counted) later.
            log.exception("worker %s: task %s failed before its outcome", self.spec.id, entry_id)
        finally:
            self._held.pop(entry_id, None)

    async def _handle_task(
        self, entry_id: str, fields: dict[bytes, bytes], deliveries: int, taken: int
    ) -> None:
        """Run one held entry. ``taken``: 1 = its lease is held, 2 = its outcome exists,
        0 = not known (the lease is taken, or waited for, here)."""
        run_id = _run_id_of(fields)
        try:
            payload: Any = json.loads(fields.get(b"payload", b"null"))
        except (ValueError, RecursionError):  # refused below as an invalid request
            payload = None
        if deliveries > self.max_deliveries:
            await self._dead_letter(entry_id, run_id, fields, deliveries)
            return
        if taken == 2:
            await self._acknowledge(entry_id)  # finished already: nothing to run
            return
        checked_id, rejected = self.worker.check(payload)
        if rejected is not None or not run_id or checked_id != run_id:
            if run_id and taken != 1:
                # Another worker runs this run id: its outcome, not this refusal, is the run
                # id's (whoever sent this one reads it as "a different payload").
                await self._acknowledge(entry_id)
                return
            outcome = rejected or Outcome(
                run_id,
                "invalid_request",
                error_result("the task's run_id does not match its payload", None),
            )
            await self._finish(entry_id, run_id or entry_id, outcome, lease=taken == 1)
            return
        if taken != 1 and not await self._take_lease(run_id):
            return  # finished elsewhere meanwhile: acknowledged by _take_lease
        outcome = await self.worker.execute(payload)
        await self._finish(entry_id, run_id, outcome, lease=True)

    async def _take_lease(self, run_id: str) -> bool:
        """Hold ``run_id``'s lease; ``False`` when its outcome exists (then there is nothing to
        run: the entry is acknowledged). Waits while another worker holds it."""
        keys = [self.keys.outcome(run_id), self.keys.lease(run_id)]
        while True:
            codes = await self._script(TAKE)(keys=keys, args=[self._token, self._lease_ms])
            if codes[0] == 1:
                return True
            if codes[0] == 2:
                entry_id = next((e for e, r in self._held.items() if r == run_id), None)
                if entry_id is not None:
                    await self._acknowledge(entry_id)
                return False
            # Another worker runs it: wait for its outcome (or for its lease to run out).
            await asyncio.sleep(min(0.2, self.heartbeat / 4))

    def _script(self, source: str) -> Any:
        """``source`` as a script run by its hash (reloaded when Redis lost it, e.g. after a
        restart), made once per client."""
        client = self.connector.client()
        cached = self._scripts.get(source)
        if cached is None or cached[0] is not client:
            cached = self._scripts[source] = (client, client.register_script(source))
        return cached[1]

    async def _acknowledge(self, entry_id: str) -> None:
        client = self.connector.client()
        pipe = client.pipeline(transaction=True)
        pipe.xack(self.keys.tasks, GROUP, entry_id)
        pipe.xdel(self.keys.tasks, entry_id)
        await pipe.execute()
        self.handled += 1

    async def _finish(self, entry_id: str, run_id: str, outcome: Outcome, *, lease: bool) -> None:
        """Write ``outcome`` (unless one exists) with the acknowledgement. Outcomes ready in the
        same turn of the event loop go in one round trip; while Redis is unreachable they are
        kept in memory and the write is retried."""
        data = json.dumps(outcome.to_json(), separators=(",", ":"), ensure_ascii=False)
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finishing.append((entry_id, run_id, data, self._token if lease else "", written))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="baton-worker-outcomes")
        await asyncio.shield(written)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # the other tasks finishing in this turn join the batch
        errors = retryable_errors()
        keys = self.keys
        while self._finishing:
            batch, self._finishing = self._finishing[:256], self._finishing[256:]
            script_keys = [keys.tasks]
            args: list[Any] = [GROUP, self._retention_ms]
            for entry_id, run_id, data, token, _written in batch:
                script_keys += [keys.outcome(run_id), keys.done(run_id), keys.lease(run_id)]
                args += [entry_id, data, token]
            delay = 0.05
            while True:
                try:
                    await self._script(FINISH)(keys=script_keys, args=args)
                    break
                except errors as exc:
                    log.warning("worker %s: could not write outcomes (%s)", self.spec.id, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
                except Exception as exc:  # Redis refused the write: the tasks stay pending
                    for *_rest, written in batch:
                        written.set_exception(exc)
                    break
            for *_rest, written in batch:
                if not written.done():
                    self.handled += 1
                    written.set_result(None)

    async def _dead_letter(
        self, entry_id: str, run_id: str, fields: dict[bytes, bytes], deliveries: int
    ) -> None:
        error = (
            f"the task was delivered {deliveries} times (more than max_attempts + 2 = "
            f"{self.max_deliveries}); each worker holding it stopped before finishing it"
        )
        await self.connector.client().xadd(
            self.keys.dead,
            {
                "run_id": run_id,
                "payload": fields.get(b"payload", b""),
                "error": error,
                "deliveries": str(deliveries),
                "entry_id": entry_id,
            },
            maxlen=DEAD_LETTERS_KEPT,
            approximate=True,
        )
        outcome = Outcome(
            run_id,
            RETRYABLE_ERROR,
            error_result(error, {"deliveries": deliveries}, retryable=True),
            attempts=deliveries,
        )
        await self._finish(entry_id, run_id or entry_id, outcome, lease=False)

    async def _heartbeats(self) -> None:
        """Keep the held entries (and their leases) from looking abandoned."""
        errors = retryable_errors()
        while True:
            await asyncio.sleep(self.heartbeat)
            held = dict(self._held)
            if not held:
                continue
            try:
                client = self.connector.client()
                pipe = client.pipeline(transaction=False)
                pipe.xclaim(self.keys.tasks, GROUP, self.consumer, 0, list(held), justid=True)
                for run_id in set(held.values()):
                    pipe.eval(RENEW_LEASE, 1, self.keys.lease(run_id), self._token, self._lease_ms)
                await pipe.execute()
            except errors as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.spec.id, exc)


def _run_id_of(fields: dict[bytes, bytes]) -> str:
    """A task's run id; ``""`` (refused as an invalid request) when it is not UTF-8 text, as
    in an entry written by hand: it must not stop the runner, nor come back for ever."""
    try:
        return fields.get(b"run_id", b"").decode()
    except UnicodeDecodeError:
        return ""
