"""Running the tool calls of one model response.

Every failure the model can act on (unknown tool, bad arguments, a tool that raises or times out)
becomes a short ``ToolCallError`` that goes back to the model. Configuration mistakes (a missing
dependency) are the developer's to fix and propagate as exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from pydantic_core import ValidationError

from ..context import Context
from ..errors import AskSuspended, ConfigError, Retry
from ..events import Part, ToolCall, ToolCallError, ToolCallResult, ToolThreadAbandoned
from ..history import keep_running
from ..humans import CURRENT_CALL
from ..redaction import logger, redact_text
from .injection import resolve_injections
from .threads import ToolThreads, default_tool_threads
from .tool import Tool, ToolResult, parts_content, result_content, to_content, tool_parts

__all__ = ["execute_tool_call", "execute_tool_calls", "suspension_of"]

log = logger("baton.tools")

_MAX_ERROR_CHARS = 800

Record = Callable[[ToolCallResult | ToolCallError], Awaitable[None]]


async def _exit_after(
    returned: asyncio.Event, exits: contextlib.AsyncExitStack, error: BaseException
) -> None:
    """Clean up a timed-out sync tool's generator dependencies once its thread returns."""
    await returned.wait()
    try:
        await exits.__aexit__(type(error), error, error.__traceback__)
    except BaseException as exc:  # nobody awaits this any more: the tool's error was reported
        log.info("a dependency's clean-up after tool timeout failed: %s", type(exc).__name__)


def _unknown_tool(call: ToolCall, table: Mapping[str, Tool]) -> ToolCallError:
    names = ", ".join(sorted(table)) or "(none: answer without tools)"
    return ToolCallError(
        call.id,
        call.name,
        f"Unknown tool {call.name!r}. Available tools: {names}. "
        "Call one of these by its exact name.",
        "UnknownTool",
    )


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


async def execute_tool_call(
    call: ToolCall,
    table: Mapping[str, Tool],
    context: Context,
    default_timeout: float | None,
    threads: ToolThreads | None = None,
    *,
    raise_errors: bool = False,
) -> ToolCallResult | ToolCallError:
    """Validate, inject, run and wrap one call.

    A sync tool (not ``inline``) runs on ``threads`` (default: the process-wide
    ``default_tool_threads()``). Python cannot kill a thread: a sync tool that outlives its
    timeout gets a ``ToolTimeout`` error at once, but its function runs on in a thread the pool
    abandons (no longer counted against its size), reported as a ``ToolThreadAbandoned`` event.

    ``raise_errors`` (``raise_tool_errors=True`` on the agent, for tests): an exception the
    tool raises (a ``Depends`` function of it included) propagates as it is, traceback and all,
    instead of becoming a ``ToolCallError``. Unknown tools, invalid arguments, ``Retry``, our
    timeout and a result that can't be shown still become errors the model reads.
    """
    tool = table.get(call.name)
    if tool is None:
        return _unknown_tool(call, table)
    try:
        kwargs = tool.schema.validate_json(call.arguments)
    except ValidationError as exc:
        from .schema import describe_validation_error  # loaded with the tool's schema

        return ToolCallError(
            call.id,
            call.name,
            f"Invalid arguments for tool {call.name!r}: {describe_validation_error(exc)}. "
            "Call the tool again with corrected arguments.",
            "InvalidArguments",
        )
    signature = tool.signature
    fn = tool.function
    if tool.bound_to is not None:
        fn = functools.partial(fn, tool.bound_to)
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    deadline: asyncio.Timeout | None = None
    left_running: list[bool] | None = None  # set when a sync tool's thread outlives its timeout
    # Generator dependencies (Depends) end with the call: their clean-up is kept here.
    exits = contextlib.AsyncExitStack() if signature.needs_cleanup else None
    returned: asyncio.Event | None = None  # a sync call's thread returned (with ``exits`` only)
    try:
        try:
            # Injection runs inside the try: a Depends() function that fails is the tool failing.
            if signature.injections:
                await resolve_injections(signature, context, call, kwargs, exits=exits)
            if signature.is_async:
                if timeout is None:
                    value = await fn(**kwargs)
                else:
                    async with asyncio.timeout(timeout) as deadline:
                        value = await fn(**kwargs)
            elif tool.inline:
                value = fn(**kwargs)
            else:
                pool = threads if threads is not None else default_tool_threads()
                if timeout is None:
                    value = await pool.run(fn, kwargs)
                else:
                    left_running = []
                    if exits is not None:  # their clean-up waits for the thread to return
                        returned = asyncio.Event()
                    async with asyncio.timeout(timeout) as deadline:
                        value = await pool.run(
                            fn,
                            kwargs,
                            on_abandon=functools.partial(left_running.append, True),
                            on_finish=None if returned is None else returned.set,
                        )
        except BaseException as exc:
            if exits is not None:  # generator dependencies see the failure at their yield
                if left_running and returned is not None:  # ... once the abandoned thread
                    keep_running(_exit_after(returned, exits, exc))  # no longer uses them
                else:
                    await exits.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        if exits is not None:
            await exits.aclose()  # the code after their yield runs now the call is over
    except Retry as exc:
        return ToolCallError(call.id, call.name, _short(exc.message), "Retry")
    except TimeoutError as exc:
        if deadline is None or not deadline.expired():
            if raise_errors:
                _raised_by(call, exc)
                raise
            return _failed(call, exc)  # the tool's own timeout, not ours
        if left_running and timeout is not None:
            pool = threads if threads is not None else default_tool_threads()
            log.warning(
                "sync tool %s outlived its %gs timeout; its thread is left running (%d abandoned)",
                call.name,
                timeout,
                pool.abandoned,
            )
            await context.emit(ToolThreadAbandoned(call.id, call.name, timeout, pool.abandoned))
        return ToolCallError(
            call.id,
            call.name,
            f"Tool {call.name!r} did not finish within {timeout:g} seconds and was stopped.",
            "ToolTimeout",
        )
    except (ConfigError, AskSuspended):
        raise
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the ask (or this call's task) is being cancelled: let it go
        # The tool raised CancelledError itself (e.g. it awaited something another task
        # cancelled): a failure like any other, which the model reads.
        return _failed(call, exc)
    except Exception as exc:
        if raise_errors:
            _raised_by(call, exc)
            raise
        # The message may carry secrets the tool handled: only its type is logged by default;
        # the traceback is there for whoever turns on DEBUG for baton.tools.
        log.info("tool %s raised %s", call.name, type(exc).__name__)
        log.debug("tool %s failure", call.name, exc_info=exc)
        return _failed(call, exc)
    try:
        if isinstance(value, ToolResult):
            if value.content is None:
                parts = tool_parts(value.value) or ()
                content = parts_content(parts) if parts else to_content(value.value)
            else:
                content, parts = result_content(value.content)
            return ToolCallResult(call.id, call.name, content, value.value, value.final, parts)
        # Media (a part, or a list or tuple holding one): the bytes are kept once, in parts.
        media = tool_parts(value) if isinstance(value, Part | list | tuple) else None
        if media is not None:
            return ToolCallResult(call.id, call.name, parts_content(media), None, False, media)
        return ToolCallResult(call.id, call.name, to_content(value), value)
    except Exception as exc:  # a value that can't be shown (its __str__ raises, ...)
        return ToolCallError(
            call.id,
            call.name,
            _short(
                f"Tool {call.name!r} returned a value that cannot be converted to text "
                f"({type(exc).__name__}: {exc}); the tool should return text, numbers, lists, "
                "dicts or pydantic models."
            ),
            "UnconvertibleResult",
        )


def _raised_by(call: ToolCall, exc: BaseException) -> None:
    exc.add_note(f"raised by tool {call.name!r} (call {call.id}); raise_tool_errors=True")


def _failed(call: ToolCall, exc: BaseException) -> ToolCallError:
    detail = str(exc) or "(no message)"
    return ToolCallError(
        call.id,
        call.name,
        _short(redact_text(f"Tool {call.name!r} failed: {type(exc).__name__}: {detail}")),
        type(exc).__name__,
    )


def execute_tool_calls(
    calls: Sequence[ToolCall],
    table: Mapping[str, Tool],
    context: Context,
    *,
    concurrency: int,
    run_call: Callable[[ToolCall, Context], Awaitable[ToolCallResult | ToolCallError]],
    record: Record | None = None,
) -> Coroutine[Any, Any, list[ToolCallResult | ToolCallError]]:
    """Run the calls of one response (``await execute_tool_calls(...)``, or a task made of
    it); ``record`` is awaited with each outcome as it completes (default: the ask's run
    records it, store first, as the loop does).

    Calls run concurrently (at most ``concurrency`` at once); a tool marked ``sequential`` runs
    alone, after the calls before it and before the calls after it. ``run_call`` runs one call
    (``execute_tool_call`` wrapped in the agent's tool middleware).

    A call that pauses the ask (``AskSuspended``) does not stop the others: they finish and
    their outcomes are recorded, calls after a sequential boundary don't start, and then one
    ``AskSuspended`` with every paused call's requests is raised.
    """
    if len(calls) == 1:
        # The common case, on one coroutine: while the tool runs, the ask holds nothing more
        # here for the cyclic collector to walk (see benchmarks/README.md, "D in steady state").
        return _execute_one(calls[0], context, run_call, record)
    return _Round(context, run_call, record).run_all(calls, table, concurrency)


async def _execute_one(
    call: ToolCall,
    context: Context,
    run_call: Callable[[ToolCall, Context], Awaitable[ToolCallResult | ToolCallError]],
    record: Record | None,
) -> list[ToolCallResult | ToolCallError]:
    """Run and record one call; a pause of this ask raises its ``AskSuspended`` with the
    call's id as ``asked_in``."""
    previous = CURRENT_CALL.get()
    # What humans.current_call() reads, middleware included; set back (rather than reset with
    # a token) so that the ask holds no token while the call runs.
    CURRENT_CALL.set(call)
    try:
        await context.emit(call)  # transient notice: this call starts now
        outcome = await run_call(call, context)
    except AskSuspended as suspended:
        if suspended.run_id != context.run_id:
            raise  # an outer ask pauses (a sub-agent's request went to its parent)
        asked_in = (call.id,) * len(suspended.requests)
        raise suspension_of(context, (suspended,), asked_in) from None
    finally:
        CURRENT_CALL.set(previous)
    if record is None:
        await context.run.record_outcome(outcome)
    else:
        await record(outcome)
    return [outcome]


def suspension_of(
    context: Context, paused: Sequence[AskSuspended], asked_in: tuple[str, ...]
) -> AskSuspended:
    """The one ``AskSuspended`` of a round: every paused call's requests, with the id of the
    call each was asked in (``asked_in``). The loop runs a response's single call itself and
    raises this too when the call pauses the ask."""
    return AskSuspended(
        "; ".join(str(s) for s in paused),
        conversation_id=context.conversation_id,
        run_id=context.run_id,
        requests=tuple(r for s in paused for r in s.requests),
        asked_in=asked_in,
    )


class _Round:
    """The calls of one response with several calls as they run: their outcomes, and the
    calls that paused.

    A slotted object rather than closures over the caller's locals: an ask in flight holds
    one object here instead of a function, its cells and their tuple, all of which the
    cyclic collector would walk (see benchmarks/README.md, "D in steady state")."""

    __slots__ = ("context", "limit", "outcomes", "paused", "record", "run_call")

    def __init__(
        self,
        context: Context,
        run_call: Callable[[ToolCall, Context], Awaitable[ToolCallResult | ToolCallError]],
        record: Record | None,
    ) -> None:
        self.context = context
        self.run_call = run_call
        self.record = record
        self.outcomes: list[ToolCallResult | ToolCallError] = []
        self.paused: list[AskSuspended] = []
        self.limit: asyncio.Semaphore | None = None

    async def one(self, call: ToolCall) -> None:
        try:
            self.outcomes += await _execute_one(call, self.context, self.run_call, self.record)
        except AskSuspended as suspended:
            if suspended.run_id != self.context.run_id:
                raise  # an outer ask pauses
            self.paused.append(suspended)  # with its call's id (see _execute_one)

    async def run_all(
        self, calls: Sequence[ToolCall], table: Mapping[str, Tool], concurrency: int
    ) -> list[ToolCallResult | ToolCallError]:
        self.limit = asyncio.Semaphore(concurrency)
        group: list[ToolCall] = []
        for call in calls:
            tool = table.get(call.name)
            if tool is not None and tool.sequential:
                if group:
                    await self._together(group)
                    group = []
                if self.paused:
                    break
                await self.one(call)
            else:
                if self.paused:
                    break
                group.append(call)
        if group and not self.paused:
            await self._together(group)
        paused = self.paused
        if paused:
            # Each came from _execute_one, its requests' calls in its asked_in already.
            raise suspension_of(self.context, paused, tuple(i for s in paused for i in s.asked_in))
        return self.outcomes

    async def _bounded(self, call: ToolCall) -> None:
        assert self.limit is not None
        async with self.limit:
            await self.one(call)

    async def _together(self, group: list[ToolCall]) -> None:
        if len(group) == 1:
            await self.one(group[0])
            return
        try:
            async with asyncio.TaskGroup() as tasks:
                for call in group:
                    tasks.create_task(self._bounded(call))
        except BaseExceptionGroup as group_error:
            # Surface the first real error, not an ExceptionGroup the caller never asked for.
            raise group_error.exceptions[0] from None
