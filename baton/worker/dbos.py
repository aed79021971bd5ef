"""Durable workers on DBOS (PostgreSQL): ``pip install 'baton-agents[dbos]'``.

    DBOS(config={"name": "triage", "system_database_url": "postgresql://..."})
    durable = DBOSWorker(Worker(agent, spec))   # before DBOS.launch()
    DBOS.launch()
    output = await durable.run(payload)

A run is a DBOS workflow whose id is the run id; every model call and every tool call of its
asks is a DBOS step, recorded in PostgreSQL when it returns. A process that dies mid-run leaves
the workflow pending; when a process with the same DBOS executor id launches again, DBOS runs
the workflow again from the start, and each step that had finished returns its recorded result
instead of running (the model is not asked again, the tool is not called again): only the step
that was running, and what comes after it, run again.

What DBOS does and does not enforce:

- a workflow id runs once: a run id already started or finished answers with that workflow's
  outcome (the same run id with another payload is ``invalid_request``, checked by Baton);
- DBOS timeouts are cooperative, so Baton enforces ``timeout_seconds`` itself (each attempt is
  cancelled, as in-process; a cancelled step is not recorded and runs again on recovery);
- recovery picks up only the workflows of the executor that launches (``executor_id``, default
  ``"local"``): another executor's work needs that executor restarted, or DBOS Conductor;
- steps run in the order the loop makes them; with concurrent tool calls that order is the one
  they start in (set ``tool_concurrency=1`` on the agent for a strictly sequential replay);
- execution stays at least once for the step that was running when the process died.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..codec import from_dict, to_dict
from ..errors import ConfigError
from ..hooks import Middleware
from .outcome import Outcome, different_payload, payload_digest
from .requires import require
from .worker import Worker

if TYPE_CHECKING:
    from ..context import Context
    from ..events import ModelResponse, ToolCall, ToolCallError, ToolCallResult
    from ..hooks import ProceedModel, ProceedTool
    from ..models.base import ModelCall

__all__ = ["DBOSWorker", "DurableSteps"]

require("dbos", "dbos", "baton.worker.dbos")  # a ConfigError naming the extra when missing
from dbos import DBOS, SetWorkflowID  # noqa: E402
from dbos import error as dbos_errors  # noqa: E402

# The workers a workflow can run, by spec id (registered by DBOSWorker before launch).
_WORKERS: dict[str, Worker] = {}


@DBOS.step(name="baton.model_call")
async def _model_step(run: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    return to_dict(await run())


@DBOS.step(name="baton.tool_call")
async def _tool_step(run: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    return to_dict(await run())


class DurableSteps(Middleware):
    """Middleware that makes each model call and each tool call a DBOS step (outside a DBOS
    workflow it changes nothing). ``DBOSWorker`` adds it to every ask it runs."""

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        if DBOS.workflow_id is None:
            return await proceed(call)
        response: ModelResponse = from_dict(await _model_step(lambda: proceed(call)))
        return response

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        if DBOS.workflow_id is None:
            return await proceed(call)
        result: ToolCallResult | ToolCallError = from_dict(await _tool_step(lambda: proceed(call)))
        return result


_STEPS = DurableSteps()  # one instance: the agent's plan for it is made once


@DBOS.workflow(name="baton.worker.run")
async def _run_workflow(spec_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    worker = _WORKERS.get(spec_id)
    if worker is None:
        raise ConfigError(
            f"no DBOSWorker for spec {spec_id!r} in this process: make it before DBOS.launch()"
        )
    outcome = await worker.execute(payload, middleware=(_STEPS,))
    return outcome.to_json()


@DBOS.workflow(name="baton.worker.tick")
async def _scheduled_tick(scheduled: datetime, context: dict[str, Any]) -> None:
    """One tick of a DBOS schedule (``DBOSWorker.schedule``): the run of its payload, as a
    child workflow whose id is the tick's run id."""
    at = scheduled.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    run_id = f"{context['trigger']}@{at}"
    payload = {"run_id": run_id, "task": context["task"], "context": {**context["context"]}}
    payload["context"]["tick"] = at
    with SetWorkflowID(run_id):
        handle = await DBOS.start_workflow_async(_run_workflow, context["spec_id"], payload)
    await handle.get_result()


@contextlib.contextmanager
def _launched() -> Iterator[None]:
    """DBOS's "not created" / "not launched" errors as a ``ConfigError`` saying what to do."""
    try:
        yield
    except dbos_errors.DBOSException as exc:
        if exc.dbos_error_code is not None or "DBOS was" not in exc.message:
            raise
        raise ConfigError(
            f"a DBOSWorker runs on a launched DBOS ({exc.message}): make the DBOSWorker, then "
            'DBOS(config={"name": ..., "system_database_url": ...}) and DBOS.launch()'
        ) from None


class DBOSWorker:
    """``worker`` run as DBOS workflows (see the module docs). Make it before
    ``DBOS.launch()``, so that a relaunch can recover its pending runs."""

    def __init__(self, worker: Worker) -> None:
        if not isinstance(worker, Worker):
            raise ConfigError(f"DBOSWorker(worker) takes a Worker, got {worker!r}")
        self.worker = worker
        self.spec = worker.spec
        _WORKERS[self.spec.id] = worker

    def __repr__(self) -> str:
        return f"DBOSWorker({self.spec.id!r})"

    async def run(self, payload: Any) -> dict[str, Any]:
        """Run ``payload`` as the workflow ``run_id`` (or join the one already started) and
        return the contract's output."""
        return (await self.run_outcome(payload)).output

    async def run_outcome(self, payload: Any) -> Outcome:
        run_id, rejected = self.worker.check(payload)
        if rejected is not None:
            return rejected
        assert isinstance(payload, Mapping)
        with _launched(), SetWorkflowID(run_id):
            handle = await DBOS.start_workflow_async(_run_workflow, self.spec.id, dict(payload))
        outcome = Outcome.from_json(await handle.get_result())
        if outcome.payload_digest and outcome.payload_digest != payload_digest(payload):
            return different_payload(run_id)
        return outcome

    def schedule(
        self,
        name: str,
        cron: str,
        task: str,
        *,
        context: Mapping[str, Any] | None = None,
        missed: str = "skip",
    ) -> None:
        """Run ``task`` at the times of ``cron`` (five fields, or six with seconds first; UTC)
        as DBOS's own schedule, after ``DBOS.launch()``: each tick runs once whichever
        processes share the system database, as the run ``<name>@<tick time>``. Ticks missed
        while every process was down are skipped (``missed="skip"``) or run on the next launch
        (``"catch_up"``: DBOS's backfill). Declaring the same name again replaces it."""
        if missed not in ("skip", "catch_up"):
            raise ConfigError(f"missed is 'skip' or 'catch_up', not {missed!r}")
        details = {
            "spec_id": self.spec.id,
            "trigger": name,
            "task": task,
            "context": dict(context or {}),
        }
        try:
            DBOS.apply_schedules(
                [
                    {
                        "schedule_name": name,
                        "workflow_fn": _scheduled_tick,
                        "schedule": cron,
                        "context": details,
                        "automatic_backfill": missed == "catch_up",
                    }
                ]
            )
        except Exception as exc:  # DBOS's own error type is not part of its public API
            raise ConfigError(f"DBOS refused the schedule {name!r}: {exc}") from None

    async def outcome(self, run_id: str) -> Outcome | None:
        """The outcome of the workflow ``run_id`` once it finished (``None`` before, or when
        there is no such workflow)."""
        with _launched():
            status = await DBOS.get_workflow_status_async(run_id)
        if status is None or status.status != "SUCCESS":
            return None
        handle: Any = await DBOS.retrieve_workflow_async(run_id)
        return Outcome.from_json(await handle.get_result())
