"""The loop of one ask.

The user's ``ModelRequest`` -> model call -> ``ModelResponse`` -> if it asked for tools, run them
(concurrently, bounded) and call the model again with their results -> ... -> a final answer,
validated against the response schema -> ``Reply``. Every step is an event on the conversation's
stream, in causal order. ``run_ask`` below is that loop, top to bottom; ``Job`` is the one path
every event of the ask takes (history, stream, the ask's own reader, observers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .context import Context
from .conversation import Conversation
from .errors import (
    AskSuspended,
    EmptyResponseError,
    MaxTurnsExceeded,
    ObserverHalt,
    OutputValidationError,
)
from .events import (
    Event,
    ModelRequest,
    ModelResponse,
    ObserverAlert,
    OutputRejected,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    UsageReport,
)
from .harness.observers import Observer
from .harness.policies import ContextPolicy
from .history import HistoryView, Storage
from .hitl import (
    CURRENT_CALL,
    HumanHandler,
    Humans,
    Resumed,
    check_not_suspended,
    human_terminal,
    keep_suspended,
    with_approval_policy,
)
from .middleware.base import Chains, Middleware
from .models.base import ModelCall, ModelConfig, ModelSettings
from .output import OutputInvalid, OutputSpec
from .prompt import Instructions
from .tools.execution import execute_tool_call, execute_tool_calls
from .tools.tool import Tool, ToolSpec

if TYPE_CHECKING:
    from .agent import Agent
    from .reply import Reply

__all__ = ["Job", "Plan", "run_ask"]

_EMPTY_ANSWER = (
    "Your reply was empty. Answer the user's request, or call one of the available tools."
)


async def _call_model(call: ModelCall, context: Context) -> ModelResponse:
    job = context._job
    return await job.client.respond(call, job.deliver)


async def _call_tool(call: ToolCall, context: Context) -> ToolCallResult | ToolCallError:
    job = context._job
    token = CURRENT_CALL.set(call)  # what hitl.current_call() reads inside the tool
    try:
        return await execute_tool_call(call, job.plan.table, context, job.tool_timeout)
    finally:
        CURRENT_CALL.reset(token)


class Plan:
    """What an agent derives once (and once per distinct per-ask override): the tool table and
    specs, output, instructions, the composed middleware chains, policies and observers. The
    human-input chain ends in the agent's ``hitl`` handler (or the stream); ``storage`` keeps
    suspended asks (see ``hitl.py``)."""

    __slots__ = (
        "chains",
        "instructions",
        "observers",
        "output",
        "policies",
        "specs",
        "storage",
        "table",
    )

    def __init__(
        self,
        table: dict[str, Tool],
        output: OutputSpec | None,
        instructions: Instructions,
        middleware: Sequence[Middleware] = (),
        policies: Sequence[ContextPolicy] = (),
        observers: Sequence[Observer] = (),
        hitl: HumanHandler | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.table = table
        self.specs: tuple[ToolSpec, ...] = tuple(t.spec for t in table.values())
        self.output = output
        self.instructions = instructions.with_output(output)
        middleware = with_approval_policy(middleware, table)  # for requires_approval tools
        self.chains = Chains(middleware, _call_model, _call_tool, human_terminal(hitl))
        self.storage = storage
        self.policies = tuple(policies)
        self.observers = tuple(observers)


class Job:
    """One prepared ask, and the one path its events take: history, stream, the ask's tap (a
    ``Run``'s own reader, which sees this ask's events and nobody else's) and observers."""

    __slots__ = (
        "alerts",
        "client",
        "config",
        "context",
        "conversation",
        "halt",
        "humans",
        "max_turns",
        "output_retries",
        "plan",
        "request",
        "resumed",
        "run_id",
        "settings",
        "tap",
        "tool_concurrency",
        "tool_timeout",
    )

    def __init__(
        self,
        config: ModelConfig,
        conversation: Conversation,
        max_turns: int,
        output_retries: int,
        plan: Plan,
        request: ModelRequest,
        run_id: str,
        settings: ModelSettings,
        tool_concurrency: int,
        tool_timeout: float | None,
    ) -> None:
        self.config = config
        self.client = config.client()
        self.conversation = conversation
        self.tool_concurrency = tool_concurrency
        self.tool_timeout = tool_timeout
        self.max_turns = max_turns
        self.output_retries = output_retries
        self.plan = plan
        self.request = request
        self.run_id = run_id
        self.settings = settings
        self.tap: Callable[[Event], Any] | None = None
        self.alerts: list[ObserverAlert] = []
        self.halt: ObserverAlert | None = None
        self.humans: Humans | None = None  # this ask's human requests (hitl.py)
        self.resumed: Resumed | None = None  # set when a suspended ask continues (hitl.resume)
        self.context: Context  # set right after construction (it needs `emit`)

    async def record(self, event: Event, *, to_stream: bool = True) -> None:
        """Append a persistent event to history, then deliver it (``to_stream=False``: it came
        from the stream, e.g. a human's answer, so only history and this ask's readers get it)."""
        conversation = self.conversation
        conversation.events.append(event)
        if conversation.history is not None:
            await conversation.history.append(conversation.id, (event,))
            conversation.saved += 1
        await self.deliver(event, to_stream=to_stream)
        if self.alerts:
            await self._record_alerts()

    async def deliver(self, event: Event, *, to_stream: bool = True) -> None:
        """Deliver an event live (stream, tap, observers) without keeping it in history."""
        if to_stream:
            await self.conversation.stream.send(event)
        tap = self.tap
        if tap is not None:
            waiting = tap(event)
            if waiting is not None:
                await waiting
        observers = self.plan.observers
        if observers and not isinstance(event, ObserverAlert):
            for observer in observers:
                alert = observer.observe(event, self.context)
                if alert is not None:
                    self.alerts.append(alert)

    async def emit(self, event: Event) -> None:
        """Publish any event: transient ones live only, the rest into history too."""
        if event.transient:
            await self.deliver(event)
        else:
            await self.record(event)

    async def _record_alerts(self) -> None:
        alerts, self.alerts = self.alerts, []
        for alert in alerts:
            await self.record(alert)
            if alert.fatal and self.halt is None:
                self.halt = alert

    def check_halt(self) -> None:
        if self.halt is not None:
            raise ObserverHalt(
                f"observer {self.halt.observer!r} stopped the ask: {self.halt.message}",
                observer=self.halt.observer,
            )


async def run_ask(agent: Agent[Any], job: Job) -> Reply[Any]:
    """One ask, through the ``around_ask`` middleware when there is any."""
    around = job.plan.chains.ask
    if around is None:
        return await _loop(agent, job)
    return await around(job.context, lambda: _loop(agent, job))


async def _loop(agent: Agent[Any], job: Job) -> Reply[Any]:
    from .reply import Reply

    conversation = job.conversation
    context = job.context
    plan = job.plan
    counter = context._counter
    model_chain = plan.chains.model
    provider, model_name = job.config.provider, job.config.model_name
    response_at = -1  # index in history of the last response whose tool calls are running
    resumed = job.resumed  # a suspended ask continuing (hitl.resume) in its unfinished turn
    if resumed is None:
        await check_not_suspended(job)
    try:
        if conversation.history is not None and conversation.saved < len(conversation.events):
            await _save_backlog(conversation)
        if resumed is None:
            await job.record(RunStarted(job.run_id, agent.name, conversation.id))
            await job.record(job.request)
        retries_left = job.output_retries
        rejected = {"empty": 0, "invalid": 0}
        output: Any = None
        text = ""
        for turn in range(resumed.turn if resumed else 0, job.max_turns):
            context.turn = turn
            job.check_halt()  # e.g. a budget an observer saw exceeded since the last step
            if resumed is None:
                call = ModelCall(
                    agent.name,
                    conversation.id,
                    job.run_id,
                    await plan.instructions.render(context),
                    HistoryView(conversation.events),
                    plan.specs,
                    plan.output,
                    job.settings,
                    provider,
                    model_name,
                )
                for policy in plan.policies:
                    call = await policy.apply(call, context)
                response: ModelResponse = await model_chain(call, context)
                counter.add(
                    response.usage,
                    "model",
                    response.provider or provider,  # a FallbackModel may have answered
                    response.model or model_name,
                    len(response.tool_calls),
                )
                if response.tool_calls:
                    # Set before recording: whatever stops the ask from here on (an observer's
                    # fatal alert included) finds these calls and answers them.
                    response_at = len(conversation.events)
                await job.record(response)
                job.check_halt()
                calls: Sequence[ToolCall] = response.tool_calls
                finished: list[ToolCallResult | ToolCallError] = []
            else:
                # The turn the ask was suspended in: its response and the outcomes of the calls
                # that finished then are in history; only the other calls run now.
                response, response_at = resumed.response, resumed.response_at
                calls, finished, resumed = resumed.pending, list(resumed.finished), None
            if response.tool_calls:
                outcomes = finished + await execute_tool_calls(
                    calls,
                    plan.table,
                    context,
                    concurrency=job.tool_concurrency,
                    run_call=plan.chains.tool,
                    record=job.record,
                )
                response_at = -1
                job.check_halt()
                final = _final_result(outcomes)
                if final is None:
                    continue
                text = final.content
                output = _validate_final(plan.output, final)
                break
            if not response.text.strip():
                rejected["empty"] += 1
                if retries_left == 0:
                    raise EmptyResponseError(
                        f"agent {agent.name!r} got no usable final answer in "
                        f"{_attempts(rejected)}, the last one empty; check the model and prompt"
                    )
                retries_left -= 1
                await job.record(OutputRejected(_EMPTY_ANSWER))
                continue
            text = response.text
            if plan.output is None:
                output = text
                break
            try:
                output = await plan.output.parse(text, context)
                break
            except OutputInvalid as invalid:
                rejected["invalid"] += 1
                if retries_left == 0:
                    raise OutputValidationError(
                        f"agent {agent.name!r} got no valid final answer in "
                        f"{_attempts(rejected)}; last problem: {invalid.message} "
                        "(raise output_retries, simplify the schema, or use Prompted(...) "
                        "for models without native structured output)",
                        text=text,
                        errors=invalid.message,
                    ) from None
                retries_left -= 1
                await job.record(OutputRejected(invalid.message, text))
        else:
            raise MaxTurnsExceeded(
                f"agent {agent.name!r} made {job.max_turns} model calls without a final "
                f"answer (max_turns={job.max_turns}); raise it with Agent(..., max_turns=N) "
                "or ask(..., max_turns=N), or check whether the model keeps calling tools"
            )
        usage = counter.snapshot()
        report = UsageReport(usage, counter.breakdown(usage))
        await job.record(report)
        await job.record(RunFinished(job.run_id, text, output))
        return Reply(agent, conversation, job.run_id, text, output, usage, response, report)
    except AskSuspended as suspended:
        # The run stays open (no stand-in results, no RunFailed) for agent.resume to continue;
        # if it can't be saved, the ask fails like any other.
        try:
            await keep_suspended(job, suspended, response_at)
        except BaseException as error:
            await _close_failed_run(job, response_at, error)
            raise
        raise
    except BaseException as error:
        await _close_failed_run(job, response_at, error)
        raise


async def _save_backlog(conversation: Conversation) -> None:
    assert conversation.history is not None
    backlog = conversation.events[conversation.saved :]
    await conversation.history.append(conversation.id, backlog)
    conversation.saved += len(backlog)


def _attempts(rejected: dict[str, int]) -> str:
    total = rejected["empty"] + rejected["invalid"]
    kinds = ", ".join(f"{n} {kind}" for kind, n in rejected.items() if n)
    return f"{total} attempt{'s' if total != 1 else ''} ({kinds})"


def _final_result(outcomes: Sequence[Event]) -> ToolCallResult | None:
    for outcome in outcomes:
        if isinstance(outcome, ToolCallResult) and outcome.final:
            return outcome
    return None


def _validate_final(spec: OutputSpec | None, final: ToolCallResult) -> Any:
    if spec is None:
        return final.value
    try:
        return spec.validate_value(final.value)
    except ValueError as exc:
        raise OutputValidationError(
            f"tool {final.name!r} returned ToolResult(final=True) with a value that does not "
            f"match the response schema: {exc}",
            text=final.content,
        ) from None


async def _close_failed_run(job: Job, response_at: int, error: BaseException) -> None:
    """Leave a valid history after a failure: every tool call answered, then ``RunFailed``."""
    conversation = job.conversation
    try:
        if response_at >= 0:
            response = conversation.events[response_at]
            assert isinstance(response, ModelResponse)
            answered = {
                e.call_id
                for e in conversation.events[response_at + 1 :]
                if isinstance(e, ToolCallResult | ToolCallError)
            }
            reason = "cancelled" if isinstance(error, asyncio.CancelledError) else "interrupted"
            for call in response.tool_calls:
                if call.id not in answered:
                    await job.record(
                        ToolCallError(
                            call.id,
                            call.name,
                            f"The call was {reason} before it finished; no result is available.",
                            "Cancelled",
                        ),
                    )
        kind = "Cancelled" if isinstance(error, asyncio.CancelledError) else type(error).__name__
        await job.record(RunFailed(job.run_id, kind, str(error) or kind))
    except Exception:
        pass
