"""Sub-tasks: child agents working for a parent ask, one at a time or fanned out in parallel.

    @tool
    async def research(topics: list[str], context: Context) -> str:
        tasks = [Subtask(researcher, f"Find the key facts about {t}.") for t in topics]
        results = await run_subtasks(context, tasks, concurrency=4)
        return "\\n\\n".join(f"{r.task}:\\n{r.message}" for r in results)

Each child runs ``agent.ask(task)`` on a conversation and stream of its own. The parent's stream
sees it as ``TaskStarted``, then transient ``TaskProgress`` notices (each tool call, tool error
and model answer of the child; never its text chunks), then ``TaskCompleted`` (with the child's
usage) or ``TaskFailed``. The child's usage counts toward the parent's ask, as kind
``"subtask"``.

A child that fails does not fail the parent: its result carries a short, readable message (no
traceback) and the other children go on. Cancelling the parent's ask cancels its running
children; each child's own loop leaves its history valid (pending tool calls answered, then
``RunFailed``).

``fan_out_tool(...)`` is a ready-made tool letting a model hand several tasks to a set of agents
in one call; ``Agent.as_tool()`` runs through ``run_subtask`` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict, Unpack

from ..context import Context
from ..conversation import new_id
from ..errors import AskSuspended, BatonError, ConfigError
from ..events import (
    Event,
    ModelCallRetry,
    ModelResponse,
    ObserverAlert,
    TaskCompleted,
    TaskFailed,
    TaskProgress,
    TaskStarted,
    ToolCall,
    ToolCallError,
    Usage,
)
from ..humans import HumanRelay
from ..redaction import redact_text
from ..tools.tool import Tool

if TYPE_CHECKING:
    from ..agent import Agent, AskOptions
    from ..reply import Reply

__all__ = [
    "Subtask",
    "SubtaskFailed",
    "SubtaskResult",
    "fan_out_tool",
    "run_subtask",
    "run_subtasks",
]

_DETAIL_CHARS = 120  # a TaskProgress detail
_ERROR_CHARS = 300  # a failed child's message, as the parent model reads it


class SubtaskFailed(BatonError):
    """A sub-task could not finish; raised by ``SubtaskResult.unwrap()`` (and so by a tool
    made with ``Agent.as_tool()``, which the calling model then reads as a short tool error)."""

    def __init__(self, message: str, *, error_type: str = "", task_id: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.task_id = task_id


class Subtask:
    """One task for a child agent: ``Subtask(agent, "Summarize ...", max_turns=5)``.

    Keyword options are those of ``agent.ask(...)`` (``stream=`` to watch the child's own
    stream, ``config=``, ``variables=``...). ``task_id`` names the task in the parent's
    ``Task*`` events (default: a fresh id).
    """

    __slots__ = ("agent", "options", "task", "task_id")

    def __init__(
        self,
        agent: Agent[Any],
        task: str,
        *,
        task_id: str | None = None,
        **options: Unpack[AskOptions],
    ) -> None:
        if not isinstance(task, str):
            raise TypeError(f"a Subtask's task is text, got {type(task).__name__}")
        self.agent = agent
        self.task = task
        self.task_id = task_id or new_id()
        self.options: AskOptions = options

    def __repr__(self) -> str:
        return f"Subtask({self.agent.name!r}, {_clip(self.task, 60)!r}, task_id={self.task_id!r})"


@dataclass(frozen=True, slots=True)
class SubtaskResult:
    """How one sub-task ended. On success ``text``/``output``/``reply`` are the child's answer;
    on failure ``error_type`` and ``error`` (a short message) say why. ``usage`` is what the
    child spent either way (on failure: its model calls and finished sub-tasks seen so far)."""

    task_id: str
    agent: str
    task: str
    text: str = ""
    output: Any = None
    usage: Usage = field(default_factory=Usage)
    error_type: str | None = None
    error: str | None = None
    reply: Reply[Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the child finished with an answer."""
        return self.error_type is None

    @property
    def message(self) -> str:
        """What a model should read: the answer, or a one-line account of the failure."""
        if self.ok:
            return self.text
        return (
            f"The {self.agent!r} agent could not finish the task ({self.error_type}): {self.error}"
        )

    def unwrap(self) -> Any:
        """The child's output, or ``SubtaskFailed`` with the short message."""
        if self.ok:
            return self.output
        raise SubtaskFailed(self.message, error_type=self.error_type or "", task_id=self.task_id)


async def run_subtask(context: Context, subtask: Subtask) -> SubtaskResult:
    """Run one sub-task for the ask that ``context`` belongs to (see the module docs).

    Returns a result whether the child succeeded or failed; only cancellation propagates
    (after ``TaskFailed`` is published and the child's usage so far counted).
    """
    agent, task_id = subtask.agent, subtask.task_id
    tally = _Tally()
    await context.emit(TaskStarted(task_id, agent.name, subtask.task))
    options: AskOptions = {"relay": HumanRelay(context, task_id), **subtask.options}
    # A child with its own middleware of the same kind (its own Telemetry) keeps just that.
    given = {type(m) for m in (*agent.middleware, *options.get("middleware", ()))}
    inherited = tuple(m for m in context.inherited_middleware if type(m) not in given)
    if inherited:  # the parent's Telemetry (say) wraps the child's ask too
        options["middleware"] = (*inherited, *options.get("middleware", ()))
    try:
        async with agent.run(subtask.task, **options) as run:
            async for event in run:
                tally.see(event)
                progress = _progress(event)
                if progress is not None:
                    await context.emit(TaskProgress(task_id, *progress))
            reply = await run.result()
    except asyncio.CancelledError:
        tally.roll_up(context)
        await context.emit(TaskFailed(task_id, "Cancelled", "The sub-task was cancelled."))
        raise
    except AskSuspended:
        # The parent pauses with the child's request; the child runs again on resume.
        tally.roll_up(context)
        await context.emit(TaskFailed(task_id, "Paused", "The ask paused for a human."))
        raise
    except Exception as error:
        error_type, message = type(error).__name__, _error_text(error)
        tally.roll_up(context)
        await context.emit(TaskFailed(task_id, error_type, message))
        return SubtaskResult(
            task_id,
            agent.name,
            subtask.task,
            usage=tally.usage,
            error_type=error_type,
            error=message,
        )
    tally.roll_up(context, reply)
    await context.emit(TaskCompleted(task_id, reply.text, reply.usage))
    return SubtaskResult(
        task_id, agent.name, subtask.task, reply.text, reply.output, reply.usage, reply=reply
    )


async def run_subtasks(
    context: Context, subtasks: Iterable[Subtask], *, concurrency: int = 4
) -> list[SubtaskResult]:
    """Run sub-tasks in parallel, at most ``concurrency`` at once; results in the given order.

    A child's failure is one failed result among the others. Cancelling the caller (the
    parent's ask) cancels every child still running or waiting for its turn. When children
    ask for a human and the parent pauses, the others run on first, so that the pause carries
    every child's request at once.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be an integer of at least 1, got {concurrency!r}")
    items = list(subtasks)
    if not items:
        return []
    if len(items) == 1:
        return [await run_subtask(context, items[0])]
    results: list[SubtaskResult | None] = [None] * len(items)
    limit = asyncio.Semaphore(concurrency)
    paused: list[AskSuspended] = []

    async def one(index: int, subtask: Subtask) -> None:
        async with limit:
            try:
                results[index] = await run_subtask(context, subtask)
            except AskSuspended as suspended:
                paused.append(suspended)  # the others go on, so the pause asks everything once

    try:
        async with asyncio.TaskGroup() as group:
            for index, subtask in enumerate(items):
                group.create_task(one(index, subtask))
    except BaseExceptionGroup as errors:
        # Not a child's failure (those are results): e.g. the parent's stream raised.
        raise errors.exceptions[0] from None
    if paused:
        first = paused[0]
        raise AskSuspended(
            str(first),
            conversation_id=first.conversation_id,
            run_id=first.run_id,
            requests=tuple(r for p in paused for r in p.requests),
            asked_in=tuple(c for p in paused for c in p.asked_in),
        )
    return [result for result in results if result is not None]


def fan_out_tool(
    agents: Mapping[str, Agent[Any]] | Sequence[Agent[Any]],
    *,
    name: str = "delegate_tasks",
    description: str | None = None,
    concurrency: int = 4,
    max_tasks: int = 8,
) -> Tool:
    """A tool letting a model hand several independent tasks to ``agents`` in one call.

    ``agents`` maps the names the model uses to agents (a sequence uses each agent's name).
    The model calls it with ``tasks=[{"agent": ..., "task": ...}, ...]`` (at most
    ``max_tasks``); the children run in parallel (at most ``concurrency`` at once) and the
    model reads a JSON list with each one's ``answer`` or ``error``.
    """
    table = _agent_table(agents)
    if isinstance(max_tasks, bool) or not isinstance(max_tasks, int) or max_tasks < 1:
        raise ConfigError(f"max_tasks must be an integer of at least 1, got {max_tasks!r}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be an integer of at least 1, got {concurrency!r}")
    names = tuple(table)
    request = _request_type(names)

    async def delegate_tasks(tasks: list[Any], context: Context) -> list[dict[str, str]]:
        """Hand independent tasks to helper agents, which work on them in parallel.

        Args:
            tasks: The tasks, each for one agent; say everything the agent needs to know.
        """
        subtasks = [Subtask(table[item["agent"]], item["task"]) for item in tasks]
        results = await run_subtasks(context, subtasks, concurrency=concurrency)
        return [_report(key["agent"], result) for key, result in zip(tasks, results, strict=True)]

    delegate_tasks.__annotations__ = {
        "tasks": Annotated[cast(Any, list)[request], Field(min_length=1, max_length=max_tasks)],
        "context": Context,
        "return": list[dict[str, str]],
    }
    lines = [f"- {key}: {_describe(agent)}" for key, agent in table.items()]
    return Tool(
        delegate_tasks,
        name=name,
        description=description
        or "Hand independent tasks to helper agents, which work on them in parallel, and get "
        "each one's answer (or why it failed). Agents:\n"
        + "\n".join(lines),
    )


# -- helpers --------------------------------------------------------------------------------------


class _Tally:
    """What a child spent, from its events (used when it fails before reporting its usage):
    per model that actually answered (a child's ``FallbackModel`` may answer on another
    provider than the one configured), and what its own sub-tasks reported."""

    __slots__ = ("lines", "usage")

    def __init__(self) -> None:
        self.usage = Usage()
        self.lines: dict[tuple[str, str, str], Usage] = {}

    def _add(self, key: tuple[str, str, str], usage: Usage) -> None:
        self.usage = self.usage + usage
        self.lines[key] = self.lines.get(key, Usage()) + usage

    def see(self, event: Event) -> None:
        if isinstance(event, ModelResponse):
            calls = Usage(tool_calls=len(event.tool_calls)) if event.tool_calls else Usage()
            self._add(("model", event.provider or "", event.model or ""), event.usage + calls)
        elif isinstance(event, TaskCompleted):
            self._add(("subtask", "", ""), event.usage)

    def roll_up(self, context: Context, reply: Reply[Any] | None = None) -> None:
        """Count the child's usage toward the parent's ask, under kind ``"subtask"`` for its
        model calls and ``"subtask/<kind>"`` for the rest of its breakdown (its compaction, its
        own sub-tasks), each on the provider and model that did the work. From the child's
        report when it finished, else from what its events showed."""
        if reply is not None:
            lines = [
                (ln.kind, ln.provider, ln.model, ln.usage) for ln in reply.usage_report.breakdown
            ]
        else:
            lines = [(k, p, m, u) for (k, p, m), u in self.lines.items()]
        for kind, provider, model, usage in lines:
            if usage != Usage():
                sub = "subtask" if kind == "model" else f"subtask/{kind}"
                context.add_usage(usage, kind=sub, provider=provider, model=model)


def _clip(text: str, limit: int = _DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _progress(event: Event) -> tuple[str, str] | None:
    """The (kind, detail) a child's event shows as on the parent's stream, if any."""
    if isinstance(event, ToolCall):
        return "tool_call", _clip(f"{event.name}({event.arguments})")
    if isinstance(event, ToolCallError):
        return "tool_error", _clip(f"{event.name}: {event.message}")
    if isinstance(event, ModelResponse):
        if event.tool_calls:
            return "response", _clip("calls " + ", ".join(c.name for c in event.tool_calls))
        return "response", _clip(event.text)
    if isinstance(event, TaskStarted):
        return "subtask", _clip(f"{event.agent}: {event.task}")
    if isinstance(event, ObserverAlert):
        return "alert", _clip(f"{event.observer}: {event.message}")
    if isinstance(event, ModelCallRetry):
        return "retry", _clip(f"attempt {event.attempt}: {event.error_type}")
    return None


def _error_text(error: BaseException) -> str:
    return _clip(redact_text(str(error)) or type(error).__name__, _ERROR_CHARS)


def _report(agent: str, result: SubtaskResult) -> dict[str, str]:
    if result.ok:
        return {"agent": agent, "task": result.task, "answer": result.text}
    return {"agent": agent, "task": result.task, "error": f"{result.error_type}: {result.error}"}


def _agent_table(agents: Mapping[str, Agent[Any]] | Sequence[Agent[Any]]) -> dict[str, Agent[Any]]:
    if isinstance(agents, Mapping):
        table = dict(agents)
    else:
        table = {}
        for agent in agents:
            if agent.name in table:
                raise ConfigError(
                    f"two agents are named {agent.name!r}: pass a dict to give them distinct "
                    "names, e.g. fan_out_tool({'a': agent_a, 'b': agent_b})"
                )
            table[agent.name] = agent
    if not table:
        raise ConfigError("fan_out_tool needs at least one agent to hand tasks to")
    for key in table:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"fan_out_tool: agent names must be non-empty strings, got {key!r}")
    return table


def _request_type(names: tuple[str, ...]) -> Any:
    """``{"agent": one of names, "task": str}`` as a TypedDict (built at run time)."""
    agent_name = cast(Any, Literal).__getitem__(names)
    fields = {
        "agent": Annotated[agent_name, Field(description="Which agent does the task.")],
        "task": Annotated[str, Field(description="The task, in plain words.")],
    }
    request = cast(Any, TypedDict)("SubtaskRequest", fields)
    request.__pydantic_config__ = ConfigDict(extra="forbid")
    return request


def _describe(agent: Agent[Any]) -> str:
    return _clip(agent.description or f"the {agent.name!r} agent", 200)
