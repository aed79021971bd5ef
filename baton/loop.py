"""The loop of one ask.

The user's ``ModelRequest`` -> model call -> ``ModelResponse`` -> if it asked for tools, run them
(concurrently, bounded) and call the model again with their results -> ... -> a final answer,
validated against the response schema -> ``Reply``. Every step is an event, recorded store-first
by the ``LiveRun`` (``run.py``) and delivered in causal order. ``run_loop`` is the one way in:
it runs a ``LiveRun`` made from a new ``RunState`` or from a paused one (``agent.resume``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .context import Context
from .conversation import Conversation, claims_in_store
from .errors import (
    AskSuspended,
    ConfigError,
    EmptyResponseError,
    MaxTurnsExceeded,
    OutputValidationError,
)
from .events import (
    Event,
    ModelResponse,
    OutputRejected,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    UsageReport,
)
from .history import HistoryView, MemoryHistory
from .hooks import Chains, ContextPolicy, Middleware, Observer
from .humans import CURRENT_CALL, HumanHandler, human_terminal
from .models.base import ModelCall, ValidChunks, valid_response
from .output import OutputInvalid, OutputSpec
from .prompt import Instructions
from .run import LiveRun, abandon_run, close_open_run
from .stream import MemoryStream
from .tools.execution import execute_tool_call, execute_tool_calls, suspension_of
from .tools.source import SourcedTables, ToolSource
from .tools.tool import Tool, ToolSpec

if TYPE_CHECKING:
    from .models.hosted import HostedTool
    from .reply import Reply


__all__ = ["Plan", "run_loop"]

_EMPTY_ANSWER = (
    "Your reply was empty. Answer the user's request, or call one of the available tools."
)


async def _call_model(call: ModelCall, context: Context) -> ModelResponse:
    run = context.run
    # Every model's text reaches the stream and the history as valid Unicode (lone surrogates
    # would make the store, or the next request, fail to encode the conversation).
    chunks = ValidChunks(run.deliver)
    client = run.client
    assert client is not None  # taken when the loop started
    response = await client.respond(call, chunks.emit)
    if chunks.holding:
        await chunks.flush()
    return valid_response(response)


def _call_tool(call: ToolCall, context: Context) -> Awaitable[ToolCallResult | ToolCallError]:
    # A plain function handing back execute_tool_call's coroutine: one coroutine less per call.
    run = context.run
    return execute_tool_call(
        call,
        run.table,
        context,
        run.tool_timeout,
        run.tool_threads,
        raise_errors=run.plan.raise_tool_errors,
    )


class Plan:
    """What an agent derives once (and once per distinct per-ask override): the tool table and
    specs, output, instructions, the composed middleware chains, policies and observers. The
    human-input chain ends in the agent's ``hitl`` handler (or the stream, see ``humans.py``).
    Tool sources (``tools/source.py``) add to the table once per run. ``raise_tool_errors``:
    a tool's exception fails the ask instead of becoming a ``ToolCallError`` (for tests)."""

    __slots__ = (
        "chains",
        "fixed",
        "hosted",
        "inherited",
        "instructions",
        "observers",
        "output",
        "policies",
        "raise_tool_errors",
        "sources",
        "specs",
        "system",
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
        sources: Sequence[ToolSource] = (),
        where: str = "the agent",
        raise_tool_errors: bool = False,
        hosted: tuple[HostedTool, ...] = (),
    ) -> None:
        self.table = table
        self.hosted = hosted  # provider-hosted tools, offered next to the function tools
        self.sources = SourcedTables(table, sources, where) if sources else None
        self.specs: tuple[ToolSpec, ...] = tuple(t.spec for t in table.values())
        self.output = output
        self.instructions = instructions.with_output(output)
        # Static instructions are the same at every model call: their text, made once (no
        # rendering coroutine per call). None with dynamic ones (rendered at each call).
        self.fixed = not self.instructions.is_dynamic
        self.system = self.instructions.static_text() if self.fixed else None
        self.chains = Chains(middleware, _call_model, _call_tool, human_terminal(hitl))
        # Middleware that sub-agents run by this agent's asks get too (Middleware.inherited).
        self.inherited = tuple(m for m in middleware if m.inherited)
        self.policies = tuple(policies)
        self.observers = tuple(observers)
        self.raise_tool_errors = raise_tool_errors


def run_loop(run: LiveRun) -> Coroutine[Any, Any, Reply[Any]]:
    """Run one ask to its reply (``await run_loop(run)``), through the ``around_ask``
    middleware when there is any; the conversation's claim is given back at the end, however
    the ask ends.

    Without ``around_ask`` middleware (the common case) this is the loop's own coroutine:
    an ask waiting in a tool then holds one coroutine less for the collector to walk."""
    if run.plan.chains.ask is None:
        return _loop(run, True)
    return _around_ask(run)


async def _around_ask(run: LiveRun) -> Reply[Any]:
    _enter(run)
    try:
        around = run.plan.chains.ask
        assert around is not None
        return await around(run.context, functools.partial(_loop, run, False))
    except AskSuspended as suspended:
        if suspended.run_id == run.run_id and not run.pausing:
            raise ConfigError(
                "an ask can pause only while it runs (from a tool, a model-call, tool-call or "
                "human-input middleware, a context policy or the instructions); around_ask "
                "middleware runs before the run starts and after it ends"
            ) from None
        raise
    finally:
        await _leave(run)


def _enter(run: LiveRun) -> None:
    """Start the ask: it takes the remarks sent on its conversation's stream, unless another
    ask holds them (on a stream several conversations share, the one that started first: a
    remark there names no conversation). A stream made later takes them for it too."""
    run.entered = True
    conversation = run.conversation
    stream = conversation.made_stream
    if stream is None:
        conversation.taking_remarks = True
    elif (type(stream) is MemoryStream or hasattr(stream, "remarks")) and getattr(
        stream, "remarks", None
    ) is None:
        stream.remarks = conversation.remark
        conversation.taking_remarks = True


async def _leave(run: LiveRun) -> None:
    """End the ask, however it ended: let go of the stream's remarks and of the claim."""
    held = _let_go(run)
    if held is not None:
        await held.release()


def _let_go(run: LiveRun) -> Conversation | None:
    """``_leave`` up to the store's claim: the conversation whose claim is still to be given
    back (``await conversation.release()``), if any (a plain function: no coroutine per ask
    when there is none, the usual case)."""
    # The run and its context refer to each other: the run lets go of its context here, so
    # that an ask leaves no reference cycle behind (the cyclic collector would have to find
    # and free it, with everything it holds). A context kept by a tool still works.
    del run.context
    conversation = run.conversation
    if conversation.taking_remarks:  # the stream and its remarks refer to each other too
        conversation.taking_remarks = False
        stream = conversation.made_stream
        if stream is not None and getattr(stream, "remarks", None) == conversation.remark:
            stream.remarks = None  # type: ignore[attr-defined]
    if run.keeps_claim:
        return None  # its caller holds the conversation (a team between its members' turns)
    if conversation.claim is None:
        conversation.busy = False
        return None
    return conversation


async def _unopened(run: LiveRun, error: BaseException) -> None:
    """End an ask that failed before it began (its model's client could not be made), as
    ``Agent.open_run`` ends one that fails: a start stored with the claim is closed in the
    store, and the claim is given back; nothing else is recorded."""
    if run.started:
        await abandon_run(run.conversation, run.run_id, error)
    await _leave(run)


async def _open_cleanly(run: LiveRun) -> None:
    """Inside ``around_ask`` (so inside a ``ConversationLock``): catch up with a history that
    can't claim conversations, then close a run a dead process left open."""
    conversation = run.conversation
    history = conversation.history
    assert history is not None
    if (
        run.plan.chains.ask is not None
        and type(history) is not MemoryHistory
        and not claims_in_store(history)
        and await history.length(conversation.id) != conversation.saved
    ):
        await conversation.reload()
    if conversation.events:
        await close_open_run(conversation, run.storage)


async def _loop(run: LiveRun, owner: bool) -> Reply[Any]:
    """The ask itself. ``owner``: no ``around_ask`` middleware runs it, so it starts and ends
    the ask too (``_enter``, ``_leave``)."""
    Reply = _REPLY[0] if _REPLY else _reply_class()  # imported once, not per ask
    conversation = run.conversation
    context = run.context
    plan = run.plan
    counter = run  # the ask's usage total (LiveRun is its UsageCounter)
    model_chain = plan.chains.model
    provider, model_name = run.config.provider, run.config.model_name
    agent_name = run.agent_name
    resumed = run.resumed  # a paused run continuing in the turn it paused in
    try:
        if run.client is None:  # (a resumed run has it: see Agent.open_resumed)
            run.client = run.config.client()  # this loop's (see LiveRun.client)
    except BaseException as error:
        if owner:  # (inside around_ask middleware, _around_ask ends the ask)
            await _unopened(run, error)
        raise
    if owner:
        _enter(run)
    try:
        if run.started:  # stored with the claim: only delivered now
            await run.deliver_many(run.started)
        elif resumed is None:
            if conversation.history is not None:
                await _open_cleanly(run)
            started = RunStarted(run.run_id, agent_name, conversation.id)
            # A run with no new request (a team member's turn) records none.
            await run.record_many((started, run.request) if run.request.parts else (started,))
        if plan.sources is not None:  # tool sources are listed once per run
            run.table, run.specs = await plan.sources.table(context)
        retries_left = run.output_retries
        rejected = {"empty": 0, "invalid": 0}
        output: Any = None
        text = ""
        response: ModelResponse | None = None
        unrecorded: tuple[ModelResponse, ...] = ()  # a final text answer, kept with RunFinished
        for turn in range(run.turn, run.max_turns):
            run.turn = context.turn = turn
            run.check_halt()  # e.g. a budget an observer saw exceeded since the last step
            calls: Sequence[ToolCall]
            if resumed is not None and resumed.response is not None:
                # The turn the run paused in: its response and the outcomes of the calls that
                # finished then are stored; only the other calls run now.
                response = resumed.response
                run.response, run.finished = response, resumed.finished
                calls = _unfinished(response, resumed.pending)
                resumed = None
            else:
                resumed = None
                if conversation.inbox:  # remarks a human sent meanwhile: the model reads them
                    await _take_remarks(run)
                call = ModelCall(
                    agent_name,
                    conversation.id,
                    run.run_id,
                    plan.system if plan.fixed else await plan.instructions.render(context),
                    HistoryView(conversation.events),
                    run.specs,
                    plan.output,
                    run.settings,
                    provider,
                    model_name,
                    plan.hosted,
                )
                for policy in plan.policies:
                    call = await policy.apply(call, context)
                response = await model_chain(call, context)
                del call  # not held (with its view of the history) while the tools run
                if response.agent != agent_name:  # who wrote it, for other agents' transcripts
                    response = replace(response, agent=agent_name)
                counter.add(
                    response.usage,
                    "model",
                    response.provider or provider,  # a FallbackModel may have answered
                    response.model or model_name,
                    len(response.tool_calls),
                )
                if response.tool_calls:
                    # Set before recording: whatever stops the run from here on finds these
                    # calls (a pause saves them; a failure answers them).
                    run.response = response
                    run.finished = ()  # the outcomes of the last round were used already
                elif plan.output is None and not plan.observers and response.text.strip():
                    # The final answer: stored in one write with the run's end (one round trip
                    # less on a durable history). Nothing runs in between (an observer could
                    # halt on the answer, so with observers it is recorded on its own).
                    unrecorded = (response,)
                    text = output = response.text
                    break
                await run.record(response)
                run.check_halt()
                calls = response.tool_calls
            if response.tool_calls:
                if len(calls) == 1:
                    # The usual round, run on this frame (as execute_tool_calls runs one call):
                    # while the tool runs, the ask holds no coroutine more for the collector.
                    one = calls[0]
                    previous = CURRENT_CALL.get()  # humans.current_call(), middleware included
                    CURRENT_CALL.set(one)  # set back, not reset: no token held meanwhile
                    try:
                        if run.heard():  # a transient notice: this call starts now
                            await run.deliver(one)
                        outcome = await plan.chains.tool(one, context)
                    except AskSuspended as suspended:
                        if suspended.run_id != run.run_id:
                            raise  # an outer ask pauses (a sub-agent's request went to it)
                        asked_in = (one.id,) * len(suspended.requests)
                        raise suspension_of(context, (suspended,), asked_in) from None
                    finally:
                        CURRENT_CALL.set(previous)
                    await run.record_outcome(outcome)
                else:
                    await execute_tool_calls(
                        calls,
                        run.table,
                        context,
                        concurrency=run.tool_concurrency,
                        run_call=plan.chains.tool,
                    )  # each outcome recorded by the run (run.record_outcome) as it comes
                outcomes = run.finished
                run.response = None
                run.check_halt()
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
                        f"agent {agent_name!r} got no usable final answer in "
                        f"{_attempts(rejected)}, the last one empty; check the model and prompt"
                    )
                retries_left -= 1
                await run.record(OutputRejected(_EMPTY_ANSWER))
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
                        f"agent {agent_name!r} got no valid final answer in "
                        f"{_attempts(rejected)}; last problem: {invalid.message} "
                        "(raise output_retries, simplify the schema, or use Prompted(...) "
                        "for models without native structured output)",
                        text=text,
                        errors=invalid.message,
                    ) from None
                retries_left -= 1
                await run.record(OutputRejected(invalid.message, text))
        else:
            raise MaxTurnsExceeded(
                f"agent {agent_name!r} made {run.max_turns} model calls without a final "
                f"answer (max_turns={run.max_turns}); raise it with Agent(..., max_turns=N) "
                "or ask(..., max_turns=N), or check whether the model keeps calling tools"
            )
        assert response is not None
        if conversation.inbox:  # remarks sent after the last model call: kept, after the answer
            if unrecorded:
                await run.record_many(unrecorded)
                unrecorded = ()
            await _take_remarks(run)
        usage = counter.snapshot()
        report = UsageReport(usage, counter.breakdown(usage))
        # The last write gives the store's claim back in the same round trip, unless around_ask
        # middleware still runs after it or the stream is shared with other processes (their
        # next ask could then publish before this one's end).
        await run.record_many(
            (*unrecorded, report, RunFinished(run.run_id, text, output)),
            last=plan.chains.ask is None
            and type(conversation.made_stream) in (MemoryStream, type(None))  # not shared
            and not run.keeps_claim,
        )
        return Reply(run.owner, conversation, run.run_id, text, output, usage, response, report)
    except AskSuspended as suspended:
        if suspended.run_id != run.run_id:
            # An outer ask pauses with a request this one relayed to it: this run is done
            # (the outer one runs it again when it resumes).
            await run.close_failed(suspended)
            raise
        # The run stays open (no stand-in results, no RunFailed) until agent.resume continues
        # it; if it can't be saved, the ask fails like any other.
        try:
            paused = await run.pause(suspended)
        except BaseException as error:
            await run.close_failed(error)
            raise
        raise paused from None
    except BaseException as error:
        await run.close_failed(error)
        raise
    finally:
        if owner:
            held = _let_go(run)
            if held is not None:
                await held.release()


# ``agent.ask`` on a new conversation hands back this coroutine itself, so a forgotten
# ``await`` is reported with its name: the name of what the user called, not of this module's
# internals ("coroutine 'Agent.ask' was never awaited"). Set once: coroutines copy it when made.
_loop.__name__ = "ask"
_loop.__qualname__ = "Agent.ask"

_REPLY: list[type[Reply[Any]]] = []  # baton.reply's Reply, once imported (it imports this module)


def _reply_class() -> type[Reply[Any]]:
    from .reply import Reply

    _REPLY.append(Reply)
    return Reply


async def _take_remarks(run: LiveRun) -> None:
    """Record the remarks sent since the last model call (they came on the stream, or through
    ``Run.send``: not sent to the stream again)."""
    for remark in run.remarks():
        await run.record(remark, to_stream=False)


def _unfinished(response: ModelResponse, pending: Sequence[str]) -> list[ToolCall]:
    """The calls of ``response`` whose ids are ``pending`` (a resumed run's open calls)."""
    ids = set(pending)
    return [c for c in response.tool_calls if c.id in ids]


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
