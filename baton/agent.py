"""The Agent: a prompt, a model config, tools, an output schema and the opt-in layers
(middleware, policies, observers), compiled once into a ``Plan``. The loop itself is in
``loop.py``."""

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
)
from .events import (
    HumanMessage,
    ModelRequest,
    Part,
    Text,
)
from .harness.observers import Observer
from .harness.policies import ContextPolicy
from .history import History, Storage
from .hitl import HumanHandler
from .loop import Job, Plan, run_ask
from .middleware.base import Middleware
from .models.base import ModelConfig, ModelSettings
from .models.registry import resolve_config
from .output import OutputSpec, Prompted, build_output_spec
from .prompt import Instructions
from .stream import MemoryStream
from .tools.tool import Tool
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
    middleware: Sequence[Middleware]
    policies: Sequence[ContextPolicy]
    observers: Sequence[Observer]


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
    middleware: Sequence[Middleware]
    policies: Sequence[ContextPolicy]
    observers: Sequence[Observer]
    hitl: HumanHandler | None
    storage: Storage | None


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
        middleware: Sequence[Middleware] = (),
        policies: Sequence[ContextPolicy] = (),
        observers: Sequence[Observer] = (),
        hitl: HumanHandler | None = None,
        storage: Storage | None = None,
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
        self.hitl = hitl  # answers human-input requests and approvals (baton.hitl)
        self.storage = storage  # keeps suspended asks (baton.hitl)
        self._instructions = Instructions(prompt, owner=f"agent {name!r}")
        self._tool_sources: tuple[Any, ...] = tuple(tools)
        self.middleware: tuple[Middleware, ...] = tuple(middleware)
        self.policies: tuple[ContextPolicy, ...] = tuple(policies)
        self.observers: tuple[Observer, ...] = tuple(observers)
        self._plan = Plan(
            build_tool_table(self._tool_sources, f"agent {name!r}"),
            build_output_spec(response_schema),
            self._instructions,
            self.middleware,
            self.policies,
            self.observers,
            hitl=hitl,
            storage=storage,
        )
        self._plans: dict[tuple[Any, ...], Plan] = {}
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

    async def resume(
        self, conversation_id: str, /, *answers: HumanMessage, **options: Unpack[AskOptions]
    ) -> Reply[OutputT]:
        """Continue an ask that was suspended waiting for approval (``AskSuspended``), maybe in
        another process: record the ``answers`` (``HumanMessage(request_id=..., approved=...)``),
        run the calls that had not finished, and carry on to the reply. Needs the same
        ``history=``, ``storage=``, tools and middleware as the agent that was suspended."""
        from .hitl import resume

        return await resume(self, conversation_id, answers, options)

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
        if live is not None and live.busy:
            raise ConversationBusy(
                f"conversation {conversation_id} is still answering an earlier ask; await that "
                "reply before asking again"
            )
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

    def _prepare(self, prompt: PromptInput, conversation: Conversation, options: AskOptions) -> Job:
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
        job = Job(
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
            states=conversation.states,
        )
        job.context._job = job
        return job

    def _plan_for(self, options: AskOptions) -> Plan:
        extra_tools = options.get("tools")
        has_schema = "response_schema" in options
        layers: tuple[tuple[Any, ...], ...] = (
            tuple(options.get("middleware") or ()),
            tuple(options.get("policies") or ()),
            tuple(options.get("observers") or ()),
        )
        if not extra_tools and not has_schema and not any(layers):
            return self._plan
        tools_key = tuple(extra_tools) if extra_tools else ()
        schema = options.get("response_schema")
        key: tuple[Any, ...] = (tools_key, has_schema, schema if has_schema else None, layers)
        try:
            plan = self._plans.get(key)
        except TypeError:  # an unhashable schema: build without caching
            plan, key = None, ()
        if plan is None:
            table = build_tool_table((*self._tool_sources, *tools_key), f"agent {self.name!r}")
            output = build_output_spec(schema) if has_schema else self._plan.output
            middleware, policies, observers = layers
            plan = Plan(
                table,
                output,
                self._instructions,
                (*self.middleware, *middleware),
                (*self.policies, *policies),
                (*self.observers, *observers),
                hitl=self.hitl,
                storage=self.storage,
            )
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

    async def _execute(self, job: Job) -> Reply[OutputT]:
        conversation = job.conversation
        if conversation.busy:
            raise ConversationBusy(
                f"conversation {conversation.id} is still answering an earlier ask; await that "
                "reply before asking again (or start a new conversation)"
            )
        conversation.busy = True
        try:
            return await run_ask(self, job)
        finally:
            conversation.busy = False

    # -- composition -------------------------------------------------------------------------

    def as_tool(self, name: str | None = None, description: str | None = None) -> Tool:
        """This agent as a tool another agent can call with a task in plain words.

        The sub-agent runs its own conversation and stream; the caller's stream sees it as
        ``TaskStarted``, ``TaskProgress`` and ``TaskCompleted``/``TaskFailed`` events, and its
        usage counts toward the caller's ask (kind ``"subtask"``). If it fails, the calling model
        reads a short tool error instead of an answer; cancelling the caller cancels it.
        """
        from .harness.subtasks import Subtask, run_subtask

        agent = self
        tool_name = name or re.sub(r"[^a-zA-Z0-9_-]", "_", self.name)[:64]

        async def delegate(task: str, context: Context) -> Any:
            """Hand a task to the agent.

            Args:
                task: The task for the agent, in plain words, with everything it needs to know.
            """
            return (await run_subtask(context, Subtask(agent, task))).unwrap()

        return Tool(
            delegate,
            name=tool_name,
            description=description
            or self.description
            or f"Ask the {self.name!r} agent to handle a task and return its answer.",
        )


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
