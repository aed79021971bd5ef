"""The Agent and its loop.

One ask: the user's ``ModelRequest`` -> model call -> ``ModelResponse`` -> if it asked for tools,
run them (concurrently, bounded) and call the model again with their results -> ... -> a final
answer, validated against the response schema -> ``Reply``. Every step is an event on the
conversation's stream, in causal order; ``_execute`` below is that loop, top to bottom.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypedDict, overload

from typing_extensions import TypeVar, Unpack

from .context import Context, UsageCounter
from .conversation import Conversation, new_id
from .errors import (
    ConfigError,
    ConversationBusy,
    EmptyResponseError,
    MaxTurnsExceeded,
    OutputValidationError,
)
from .events import (
    Event,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Part,
    RunFailed,
    RunFinished,
    RunStarted,
    Text,
    ToolCallError,
    ToolCallResult,
    UsageReport,
)
from .history import History, HistoryView
from .models.base import ModelCall, ModelConfig, ModelSettings
from .models.registry import resolve_config
from .output import OutputInvalid, OutputSpec, Prompted, build_output_spec
from .prompt import Instructions
from .stream import MemoryStream
from .tools.execution import execute_tool_calls
from .tools.tool import Tool, ToolSpec
from .tools.toolkit import build_tool_table

if TYPE_CHECKING:
    from .reply import Reply, Run

__all__ = ["Agent", "AgentOptions", "AskOptions", "PromptInput"]

OutputT = TypeVar("OutputT", default=str)
T = TypeVar("T")

PromptInput = str | Part | Sequence[str | Part]

_EMPTY_ANSWER = (
    "Your reply was empty. Answer the user's request, or call one of the available tools."
)


class AskOptions(TypedDict, total=False):
    """Per-ask options; each adds to (never silently replaces) the agent's own."""

    tools: Iterable[Any]
    response_schema: Any
    dependencies: Mapping[Any, Any]
    variables: Mapping[str, Any]
    max_turns: int
    output_retries: int
    tool_concurrency: int
    tool_timeout: float | None
    settings: ModelSettings
    config: ModelConfig | str
    stream: MemoryStream
    conversation_id: str


class _Plan:
    """What an agent derives once (and once per distinct per-ask override): tools and output."""

    __slots__ = ("instructions", "output", "specs", "table")

    def __init__(
        self, table: dict[str, Tool], output: OutputSpec | None, instructions: Instructions
    ) -> None:
        self.table = table
        self.specs: tuple[ToolSpec, ...] = tuple(t.spec for t in table.values())
        self.output = output
        self.instructions = instructions.with_output(output)


class _Job:
    """One prepared ask, and the one path its events take: history, stream, and the ask's tap
    (a ``Run``'s own reader, which sees this ask's events and nobody else's)."""

    __slots__ = (
        "config",
        "context",
        "conversation",
        "max_turns",
        "output_retries",
        "plan",
        "request",
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
        plan: _Plan,
        request: ModelRequest,
        run_id: str,
        settings: ModelSettings,
        tool_concurrency: int,
        tool_timeout: float | None,
    ) -> None:
        self.config = config
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
        self.context: Context  # set right after construction (it needs `emit`)

    async def record(self, event: Event) -> None:
        """Append a persistent event to history, then deliver it."""
        conversation = self.conversation
        conversation.events.append(event)
        if conversation.history is not None:
            await conversation.history.append(conversation.id, (event,))
            conversation.saved += 1
        await self.deliver(event)

    async def deliver(self, event: Event) -> None:
        """Deliver an event live (stream and tap) without keeping it in history."""
        await self.conversation.stream.send(event)
        tap = self.tap
        if tap is not None:
            waiting = tap(event)
            if waiting is not None:
                await waiting

    async def emit(self, event: Event) -> None:
        """Publish any event: transient ones live only, the rest into history too."""
        if event.transient:
            await self.deliver(event)
        else:
            await self.record(event)


def _as_parts(prompt: PromptInput) -> tuple[Part, ...]:
    if isinstance(prompt, str):
        return (Text(prompt),)
    if isinstance(prompt, Part):
        return (prompt,)
    parts: list[Part] = []
    for item in prompt:
        if isinstance(item, str):
            parts.append(Text(item))
        elif isinstance(item, Part):
            parts.append(item)
        else:
            raise TypeError(f"an ask takes text and input parts (Text, Image, ...), got {item!r}")
    return tuple(parts)


def _check_positive(name: str, value: int, minimum: int = 1) -> int:
    if not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


def _check_timeout(value: float | None) -> float | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
    ):
        raise ConfigError(f"tool_timeout must be a positive number of seconds, got {value!r}")
    return value


class AgentOptions(TypedDict, total=False):
    """The keyword options of ``Agent(...)`` besides ``response_schema`` (see ``Agent``)."""

    config: ModelConfig | str | None
    tools: Iterable[Any]
    output_retries: int
    dependencies: Mapping[Any, Any] | None
    variables: Mapping[str, Any] | None
    max_turns: int
    tool_concurrency: int
    tool_timeout: float | None
    settings: ModelSettings | None
    history: History | None
    description: str | None


PromptSource = str | Callable[..., str | Awaitable[str]] | None


class Agent(Generic[OutputT]):
    """An LLM agent: a prompt, a model config, tools and an output schema. It keeps no state
    between asks; conversations live in ``Reply`` objects (and in a ``History`` if given).

    ``prompt`` is a string, or a function (sync or async, parameters injected like a tool's)
    re-evaluated before every model call. ``reply.output`` is typed by ``response_schema``
    (a class, ``Prompted(cls)`` or an output function); for other schemas (``list[X]``,
    unions, ``Literal``) annotate the agent: ``agent: Agent[list[X]] = Agent(...)``.
    """

    @overload
    def __init__(
        self: Agent[str],
        name: str,
        prompt: PromptSource = None,
        *,
        response_schema: None = None,
        **options: Unpack[AgentOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: Agent[T],
        name: str,
        prompt: PromptSource = None,
        *,
        response_schema: type[T] | Prompted[T] | Callable[..., Awaitable[T]] | Callable[..., T],
        **options: Unpack[AgentOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: Agent[Any],
        name: str,
        prompt: PromptSource = None,
        *,
        response_schema: Any,
        **options: Unpack[AgentOptions],
    ) -> None: ...

    def __init__(
        self,
        name: str,
        prompt: PromptSource = None,
        *,
        config: ModelConfig | str | None = None,
        tools: Iterable[Any] = (),
        response_schema: Any = None,
        output_retries: int = 2,
        dependencies: Mapping[Any, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        max_turns: int = 20,
        tool_concurrency: int = 8,
        tool_timeout: float | None = None,
        settings: ModelSettings | None = None,
        history: History | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("an Agent needs a non-empty name, e.g. Agent('assistant', ...)")
        self.name = name
        self.description = description
        self.config = resolve_config(config) if config is not None else None
        self.max_turns = _check_positive("max_turns", max_turns)
        self.output_retries = _check_positive("output_retries", output_retries, 0)
        self.tool_concurrency = _check_positive("tool_concurrency", tool_concurrency)
        self.tool_timeout = _check_timeout(tool_timeout)
        self.settings = settings
        self.dependencies: dict[Any, Any] = dict(dependencies or {})
        self.variables: dict[str, Any] = dict(variables or {})
        self.history = history
        self._instructions = Instructions(prompt, owner=f"agent {name!r}")
        self._tool_sources: tuple[Any, ...] = tuple(tools)
        self._plan = _Plan(
            build_tool_table(self._tool_sources, f"agent {name!r}"),
            build_output_spec(response_schema),
            self._instructions,
        )
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._settings_cache: dict[int, tuple[ModelConfig, ModelSettings]] = {}

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, tools={list(self._plan.table)})"

    @property
    def tools(self) -> Mapping[str, Tool]:
        return self._plan.table

    @property
    def output_spec(self) -> OutputSpec | None:
        return self._plan.output

    # -- asking ------------------------------------------------------------------------------

    async def ask(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Reply[OutputT]:
        """Start a conversation (or continue one by ``conversation_id``) and get the reply."""
        conversation = await self._open_conversation(options)
        return await self._execute(self._prepare(prompt, conversation, options))

    def ask_sync(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Reply[OutputT]:
        """Blocking ``ask`` for scripts and notebooks (works inside a running event loop too)."""
        return _run_sync(self.ask(prompt, **options))

    def run(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Run[OutputT]:
        """A live view of one ask: ``async with agent.run(...) as run: async for e in run``."""
        from .reply import Run

        return Run(self, prompt, None, options)

    async def _continue(
        self, conversation: Conversation, prompt: PromptInput, options: AskOptions
    ) -> Reply[OutputT]:
        return await self._execute(self._prepare(prompt, conversation, options))

    async def _open_conversation(self, options: AskOptions) -> Conversation:
        stream = options.get("stream")
        conversation_id = options.get("conversation_id")
        if conversation_id is None or self.history is None:
            if conversation_id is not None:
                raise ConfigError(
                    "ask(conversation_id=...) continues a stored conversation and needs a "
                    "history backend: Agent(..., history=MemoryHistory()) or another History; "
                    "to continue in memory, call reply.ask(...)"
                )
            return Conversation(stream=stream, variables=dict(self.variables), history=self.history)
        history = self.history
        key = (id(history), conversation_id)
        live = _LIVE_CONVERSATIONS.get(key)
        # One object per stored conversation in this process, so that its asks take turns
        # (ConversationBusy) instead of interleaving; reloaded if it changed elsewhere.
        if (
            live is not None
            and (stream is None or stream is live.stream)
            and await history.length(conversation_id) == live.saved
        ):
            return live
        events = await history.load(conversation_id)
        conversation = Conversation(
            id=conversation_id,
            events=events,
            stream=stream if stream is not None else (live.stream if live is not None else None),
            variables=dict(live.variables) if live is not None else dict(self.variables),
            history=history,
        )
        if live is None or not live.busy:
            _LIVE_CONVERSATIONS[key] = conversation
        return conversation

    def _prepare(
        self, prompt: PromptInput, conversation: Conversation, options: AskOptions
    ) -> _Job:
        config = options.get("config") or self.config
        if config is None:
            raise ConfigError(
                f"agent {self.name!r} has no model: pass config=... to Agent(...) or to ask(...), "
                "e.g. config=ScriptedModel('hi') for tests or config='openai:gpt-5'"
            )
        config = resolve_config(config)
        variables = options.get("variables")
        if variables:
            conversation.variables.update(variables)
        dependencies: Mapping[Any, Any] = self.dependencies
        if "dependencies" in options:
            dependencies = {**self.dependencies, **options["dependencies"]}
        max_turns = options.get("max_turns", self.max_turns)
        output_retries = options.get("output_retries", self.output_retries)
        job = _Job(
            config=config,
            conversation=conversation,
            max_turns=_check_positive("max_turns", max_turns),
            output_retries=_check_positive("output_retries", output_retries, 0),
            plan=self._plan_for(options),
            request=ModelRequest(_as_parts(prompt)),
            run_id=new_id(),
            settings=self._settings_for(config, options.get("settings")),
            tool_concurrency=_check_positive(
                "tool_concurrency", options.get("tool_concurrency", self.tool_concurrency)
            ),
            tool_timeout=_check_timeout(options.get("tool_timeout", self.tool_timeout)),
        )
        job.context = Context(
            agent_name=self.name,
            conversation_id=conversation.id,
            run_id=job.run_id,
            stream=conversation.stream,
            events=conversation.events,
            variables=conversation.variables,
            dependencies=dependencies,
            counter=UsageCounter(),
            send=job.emit,
        )
        return job

    def _plan_for(self, options: AskOptions) -> _Plan:
        extra_tools = options.get("tools")
        has_schema = "response_schema" in options
        if not extra_tools and not has_schema:
            return self._plan
        tools_key = tuple(extra_tools) if extra_tools else ()
        schema = options.get("response_schema")
        key: tuple[Any, ...] = (tools_key, has_schema, schema if has_schema else None)
        try:
            plan = self._plans.get(key)
        except TypeError:  # an unhashable schema: build without caching
            plan, key = None, ()
        if plan is None:
            table = build_tool_table((*self._tool_sources, *tools_key), f"agent {self.name!r}")
            output = build_output_spec(schema) if has_schema else self._plan.output
            plan = _Plan(table, output, self._instructions)
            if key:
                if len(self._plans) >= 64:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = plan
        return plan

    def _settings_for(self, config: ModelConfig, override: ModelSettings | None) -> ModelSettings:
        if override is None:
            cached = self._settings_cache.get(id(config))
            if cached is not None and cached[0] is config:
                return cached[1]
        merged = config.settings.merge(self.settings).merge(override)
        if override is None:
            self._settings_cache[id(config)] = (config, merged)
        return merged

    # -- the loop ----------------------------------------------------------------------------

    async def _execute(self, job: _Job) -> Reply[OutputT]:
        from .reply import Reply

        conversation: Conversation = job.conversation
        if conversation.busy:
            raise ConversationBusy(
                f"conversation {conversation.id} is still answering an earlier ask; await that "
                "reply before asking again (or start a new conversation)"
            )
        conversation.busy = True
        context: Context = job.context
        plan: _Plan = job.plan
        counter = context._counter
        response_at = -1  # index in history of the last response that asked for tools
        try:
            if conversation.history is not None and conversation.saved < len(conversation.events):
                await _save_backlog(conversation)
            await job.record(RunStarted(job.run_id, self.name, conversation.id))
            await job.record(job.request)
            client = job.config.client()
            retries_left: int = job.output_retries
            rejected = {"empty": 0, "invalid": 0}
            output: Any = None
            text = ""
            for turn in range(job.max_turns):
                context.turn = turn
                call = ModelCall(
                    self.name,
                    conversation.id,
                    job.run_id,
                    await plan.instructions.render(context),
                    HistoryView(conversation.events),
                    plan.specs,
                    plan.output,
                    job.settings,
                )
                response: ModelResponse = await client.respond(call, job.deliver)
                counter.add(response.usage)
                await job.record(response)
                if response.tool_calls:
                    response_at = len(conversation.events) - 1
                    counter.tool_calls += len(response.tool_calls)
                    outcomes = await execute_tool_calls(
                        response.tool_calls,
                        plan.table,
                        context,
                        concurrency=job.tool_concurrency,
                        default_timeout=job.tool_timeout,
                        record=job.record,
                    )
                    response_at = -1
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
                            f"agent {self.name!r} got no usable final answer in "
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
                            f"agent {self.name!r} got no valid final answer in "
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
                    f"agent {self.name!r} made {job.max_turns} model calls without a final "
                    f"answer (max_turns={job.max_turns}); raise it with Agent(..., max_turns=N) "
                    "or ask(..., max_turns=N), or check whether the model keeps calling tools"
                )
            usage = counter.snapshot()
            await job.record(UsageReport(usage))
            await job.record(RunFinished(job.run_id, text, output))
            return Reply(self, conversation, job.run_id, text, output, usage, response)
        except BaseException as error:
            await _close_failed_run(job, response_at, error)
            raise
        finally:
            conversation.busy = False

    # -- composition -------------------------------------------------------------------------

    def as_tool(self, name: str | None = None, description: str | None = None) -> Tool:
        """This agent as a tool another agent can call with a task in plain words.

        The sub-agent runs its own conversation; its usage counts toward the caller's ask.
        """
        agent = self
        tool_name = name or re.sub(r"[^a-zA-Z0-9_-]", "_", self.name)[:64]

        async def delegate(task: str, context: Context) -> Any:
            """Hand a task to the agent.

            Args:
                task: The task for the agent, in plain words, with everything it needs to know.
            """
            reply = await agent.ask(task)
            context.add_usage(reply.usage)
            return reply.output

        return Tool(
            delegate,
            name=tool_name,
            description=description
            or self.description
            or f"Ask the {self.name!r} agent to handle a task and return its answer.",
        )


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


async def _close_failed_run(job: _Job, response_at: int, error: BaseException) -> None:
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


# Stored conversations open in this process, keyed by (id(history), conversation id). A live
# Conversation holds its history, so the history's id cannot be reused while the entry exists.
_LIVE_CONVERSATIONS: weakref.WeakValueDictionary[tuple[int, str], Conversation] = (
    weakref.WeakValueDictionary()
)

_sync_pool: ThreadPoolExecutor | None = None


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (a notebook, a sync callback): run on a helper thread's
    # own loop instead of failing.
    global _sync_pool
    if _sync_pool is None:
        _sync_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="baton-sync")
    return _sync_pool.submit(asyncio.run, coro).result()
