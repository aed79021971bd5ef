"""``Worker``: an agent held to a ``WorkerSpec``'s contract.

    spec = WorkerSpec.load("support_triage.worker.md")
    worker = Worker(spec.agent(config="openai:gpt-5"), spec)
    output = await worker.run({"run_id": "r1", "task": "...", "context": {}})
    # {"run_id": "r1", "status": "ok", "result": {...}}

What ``run`` enforces, in order: the payload must match the input schema (else
``invalid_request``; the agent never runs); a ``run_id`` that already finished returns its stored
outcome without running (the same ``run_id`` with another payload is ``invalid_request``); one
in progress (in this process, or in another one sharing the agent's claiming history) is
waited for; then up to ``max_attempts`` attempts, each an ask bounded by ``timeout_seconds``
(Baton cancels it; the stored conversation stays valid), retrying with backoff what may
succeed next time (provider errors marked retryable, timeouts, an unreachable store), and
stopping at once on what can't (authentication, configuration): ``retryable_error`` with
``"retryable": false``, or ``failed`` if the spec's status enum has it. An answer that still
fails the result schema after the agent's output retries is ``invalid_output``.

Execution is at least once: a process that dies mid-attempt leaves no outcome, and the run is
done again by whoever runs that ``run_id`` next. Tools with side effects read the run id and
attempt (``context.work``, a ``WorkItem``) to make themselves idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..context import Context, WorkItem
from ..errors import (
    AskSuspended,
    BackendUnavailable,
    BatonError,
    ConfigError,
    ConversationBusy,
    EmptyResponseError,
    ModelError,
    OutputValidationError,
)
from ..events import ModelResponse, Usage
from ..history import ClaimingHistory, MemoryStorage, Storage
from ..hooks import Middleware, ProceedModel
from ..models.base import ModelCall
from ..output import build_output_spec
from ..stream import Stream
from .outcome import (
    INVALID_OUTPUT,
    INVALID_REQUEST,
    OK,
    RETRYABLE_ERROR,
    Outcome,
    StorageOutcomes,
    different_payload,
    error_result,
    payload_digest,
)
from .requires import require_jsonschema
from .spec import WorkerSpec, check_seconds

__all__ = ["Worker", "is_retryable"]

# Runs in progress in this process, per (storage, spec id, run id): a second caller waits.
# Each with its payload's digest: another payload under the same run id is refused at once.
_RUNNING: dict[tuple[int, str, str], tuple[asyncio.Future[Outcome], str]] = {}

# The usage of the model calls of the attempt running in this context (see _Spending).
_SPENT: contextvars.ContextVar[list[Usage] | None] = contextvars.ContextVar(
    "baton_worker_spent", default=None
)


class _Spending(Middleware):
    """Notes what each model call of an attempt used: an attempt that fails has no reply to
    read its usage from, and the outcome counts every attempt's."""

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        response = await proceed(call)
        spent = _SPENT.get()
        if spent is not None:
            spent.append(response.usage)
        return response


_SPENDING = (_Spending(),)  # one instance: the agent's plan for it is made once


def is_retryable(error: BaseException) -> bool:
    """Whether trying again may succeed: provider errors marked retryable, timeouts, an
    unreachable store, a conversation busy elsewhere, a model answering nothing."""
    if isinstance(error, ModelError | BackendUnavailable):
        return error.retryable
    return isinstance(error, TimeoutError | ConversationBusy | EmptyResponseError | OSError)


class Worker:
    """``agent`` held to ``spec`` (see the module docs).

    ``storage``: where outcomes are kept (default: the agent's ``storage``, else memory of this
    worker's own). ``retry_delay``: the first backoff in seconds, doubled per attempt up to
    ``max_retry_delay`` (with jitter, and at least a provider's ``retry_after``).
    ``wait_seconds``: how long a ``run_id`` in progress elsewhere is waited for (default: the
    spec's ``timeout_seconds`` times ``max_attempts``, plus the backoffs between them).
    """

    def __init__(
        self,
        agent: Any,
        spec: WorkerSpec,
        *,
        storage: Storage | None = None,
        retry_delay: float = 0.5,
        max_retry_delay: float = 10.0,
        wait_seconds: float | None = None,
    ) -> None:
        if not isinstance(spec, WorkerSpec):
            raise ConfigError(f"Worker(agent, spec) takes a WorkerSpec, got {spec!r}")
        if not hasattr(agent, "ask"):
            raise ConfigError(f"Worker(agent, spec) takes an Agent, got {agent!r}")
        retry_delay = check_seconds("retry_delay", retry_delay, zero=True)
        max_retry_delay = check_seconds("max_retry_delay", max_retry_delay, zero=True)
        if wait_seconds is not None:
            wait_seconds = check_seconds("wait_seconds", wait_seconds, zero=True)
        self.agent = agent
        self.spec = spec
        self.storage: Storage = storage or getattr(agent, "storage", None) or MemoryStorage()
        self.outcomes = StorageOutcomes(self.storage, spec.id, spec.retention_seconds)
        self.retry_delay = float(retry_delay)
        self.max_retry_delay = float(max_retry_delay)
        attempts = spec.max_attempts
        self.wait_seconds = (
            wait_seconds
            if wait_seconds is not None
            else spec.timeout_seconds * attempts + self.max_retry_delay * (attempts - 1)
        )
        jsonschema = require_jsonschema()
        self._input = jsonschema.Draft202012Validator(dict(spec.input_schema))
        self._output = build_output_spec(spec.result_schema)
        history = getattr(agent, "history", None)
        self._claims = history if isinstance(history, ClaimingHistory) else None

    def __repr__(self) -> str:
        return f"Worker({self.spec.id!r}, agent={getattr(self.agent, 'name', self.agent)!r})"

    # -- the contract ----------------------------------------------------------------------

    async def run(self, payload: Any, *, stream: Stream | None = None) -> dict[str, Any]:
        """Run ``payload`` under the contract; return ``{"run_id", "status", "result"}``.
        ``stream``: every attempt's events go to it."""
        return (await self.run_outcome(payload, stream=stream)).output

    async def run_outcome(self, payload: Any, *, stream: Stream | None = None) -> Outcome:
        """``run``, returning the whole ``Outcome`` (attempts, duration, usage)."""
        run_id, rejected = self.check(payload)
        if not run_id:
            assert rejected is not None
            return rejected  # no run id to keep it under
        digest = payload_digest(payload) if rejected is None else rejected.payload_digest
        stored = await self.outcomes.get(run_id)
        if stored is not None:
            return self._replay(stored, digest)
        key = (id(self.storage), self.spec.id, run_id)
        running = _RUNNING.get(key)
        if running is not None:  # in progress in this process: its outcome is ours
            future, running_digest = running
            if digest != running_digest:
                return different_payload(run_id)
            try:
                async with asyncio.timeout(self.wait_seconds):
                    return self._replay(await asyncio.shield(future), digest)
            except TimeoutError:
                return self._busy(run_id)
        future = asyncio.get_running_loop().create_future()
        _RUNNING[key] = (future, digest)
        try:
            outcome = await self._run_claimed(run_id, payload, digest, rejected, stream)
            future.set_result(outcome)
            return outcome
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody may be waiting
            raise
        finally:
            del _RUNNING[key]

    async def outcome(self, run_id: str) -> Outcome | None:
        """The stored outcome of ``run_id`` (``None``: never finished, or past retention)."""
        return await self.outcomes.get(run_id)

    def check(self, payload: Any) -> tuple[str, Outcome | None]:
        """The payload's run id and, when the payload breaks the input schema, the
        ``invalid_request`` outcome (the run id is ``""`` when there is none to read)."""
        key = self.spec.idempotency_key
        run_id = payload.get(key) if isinstance(payload, Mapping) else None
        run_id = run_id if isinstance(run_id, str) else ""
        errors = sorted(self._input.iter_errors(payload), key=lambda e: list(e.absolute_path))
        if not errors and not run_id:
            errors_text = [f"{key}: the idempotency key must be a non-empty string"]
        else:
            errors_text = [
                f"{'/'.join(map(str, e.absolute_path)) or 'the payload'}: {e.message}"
                for e in errors[:10]
            ]
        if not errors_text:
            try:
                payload_digest(payload)
            except (TypeError, ValueError) as exc:
                errors_text = [f"the payload is not JSON: {exc}"]
        if not errors_text:
            return run_id, None
        try:
            digest = payload_digest(payload)
        except (TypeError, ValueError):
            digest = ""
        return run_id, Outcome(
            run_id,
            INVALID_REQUEST,
            error_result("the payload does not match the worker's input schema", errors_text),
            payload_digest=digest,
        )

    # -- doing the work --------------------------------------------------------------------

    async def execute(
        self,
        payload: Mapping[str, Any],
        *,
        stream: Stream | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> Outcome:
        """Run a checked payload's attempts and return how it ended, storing nothing and
        checking no idempotency: what runners that keep outcomes themselves call.
        ``middleware``: added to each attempt's ask (the DBOS runner's steps)."""
        run_id = str(payload[self.spec.idempotency_key])
        digest = payload_digest(payload)
        started = time.monotonic()
        usage = Usage()
        prompt = _prompt(payload, self.spec.idempotency_key)
        spec = self.spec
        last: BaseException | None = None
        attempt = 0
        for attempt in range(1, spec.max_attempts + 1):
            options: dict[str, Any] = {
                "response_schema": self._output,
                "dependencies": {WorkItem: WorkItem(run_id, attempt)},
            }
            if stream is not None:
                options["stream"] = stream
            options["middleware"] = (*_SPENDING, *middleware) if middleware else _SPENDING
            spent: list[Usage] = []
            noted = _SPENT.set(spent)
            if getattr(self.agent, "history", None) is not None:
                options["conversation_id"] = f"worker:{spec.id}:{run_id}:{attempt}"
                options["wait_busy"] = spec.timeout_seconds
            timer = asyncio.timeout(spec.timeout_seconds)
            try:
                async with timer:
                    reply = await self.agent.ask(prompt, **options)
                _SPENT.reset(noted)
            except TimeoutError as error:
                usage = _spent(usage, spent, noted)
                if not timer.expired():
                    last = error
                else:
                    last = TimeoutError(
                        f"attempt {attempt} did not finish within {spec.timeout_seconds:g} s "
                        "(timeout_seconds); it was cancelled"
                    )
            except OutputValidationError as error:
                usage = _spent(usage, spent, noted)
                return self._ended(
                    run_id,
                    INVALID_OUTPUT,
                    error_result(str(error), error.errors, text=error.text),
                    attempt,
                    started,
                    usage,
                    digest,
                )
            except asyncio.CancelledError:
                _SPENT.reset(noted)
                raise
            except AskSuspended as error:
                usage = _spent(usage, spent, noted)
                last = error
                break  # nobody answers a worker's questions: retrying asks again
            except Exception as error:
                usage = _spent(usage, spent, noted)
                last = error
            else:
                usage += reply.usage
                output = reply.output
                result = output if isinstance(output, dict) else {"result": output}
                return self._ended(run_id, OK, result, attempt, started, usage, digest)
            if not is_retryable(last):
                break
            if attempt < spec.max_attempts:
                await asyncio.sleep(self._delay(attempt, last))
        assert last is not None
        retryable = is_retryable(last)
        status = RETRYABLE_ERROR if retryable else (spec.failed_status or RETRYABLE_ERROR)
        details = {"type": type(last).__name__, "attempts": attempt}
        result = error_result(_describe(last), details, retryable=retryable)
        return self._ended(run_id, status, result, attempt, started, usage, digest)

    async def _run_claimed(
        self,
        run_id: str,
        payload: Any,
        digest: str,
        rejected: Outcome | None,
        stream: Stream | None,
    ) -> Outcome:
        """Hold ``run_id`` (across processes when the agent's history can claim), then run it
        and keep its outcome, unless another holder finished it meanwhile."""
        try:
            async with self._claim(run_id):
                stored = await self.outcomes.get(run_id)
                if stored is not None:
                    return self._replay(stored, digest)
                outcome = rejected or await self.execute(payload, stream=stream)
                await self.outcomes.put(outcome)
                return outcome
        except ConversationBusy:
            return self._busy(run_id)

    @contextlib.asynccontextmanager
    async def _claim(self, run_id: str) -> AsyncIterator[None]:
        if self._claims is None:
            yield
            return
        claim = await self._claims.claim(f"worker:{self.spec.id}:{run_id}", wait=self.wait_seconds)
        try:
            yield
        finally:
            await claim.release()

    def _replay(self, stored: Outcome, digest: str) -> Outcome:
        if digest and stored.payload_digest and digest != stored.payload_digest:
            return different_payload(stored.run_id)
        return stored

    def _busy(self, run_id: str) -> Outcome:
        return Outcome(
            run_id,
            RETRYABLE_ERROR,
            error_result(
                f"run {run_id!r} is in progress elsewhere and did not finish within "
                f"{self.wait_seconds:g} s; ask again later for its outcome",
                None,
                retryable=True,
            ),
        )

    def _delay(self, attempt: int, error: BaseException) -> float:
        delay: float = min(self.retry_delay * 2.0 ** (attempt - 1), self.max_retry_delay)
        delay *= random.uniform(0.5, 1.0)  # jitter: retries of many runs don't line up
        after = getattr(error, "retry_after", None)
        if isinstance(after, int | float) and after > delay:
            delay = min(float(after), self.max_retry_delay)
        return delay

    def _ended(
        self,
        run_id: str,
        status: str,
        result: dict[str, Any],
        attempts: int,
        started: float,
        usage: Usage,
        digest: str,
    ) -> Outcome:
        return Outcome(
            run_id,
            status,
            result,
            attempts=attempts,
            duration=time.monotonic() - started,
            usage=usage,
            payload_digest=digest,
        )


def _spent(usage: Usage, spent: list[Usage], noted: contextvars.Token[list[Usage] | None]) -> Usage:
    """``usage`` plus what a failed attempt's model calls used."""
    _SPENT.reset(noted)
    for line in spent:
        usage += line
    return usage


def _prompt(payload: Mapping[str, Any], key: str) -> Any:
    """What the agent is asked: the task's text, with the rest of the payload as JSON data."""
    rest = {k: v for k, v in payload.items() if k != key}
    task = rest.pop("task", None)
    if not isinstance(task, str):
        return rest or dict(payload)
    rest = {k: v for k, v in rest.items() if v not in ({}, None)}
    return [task, rest] if rest else task


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return (
        text if isinstance(error, BatonError | TimeoutError) else f"{type(error).__name__}: {text}"
    )
