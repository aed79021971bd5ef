"""The Agent: a prompt, a model config, tools, an output schema and the opt-in layers
(middleware, policies, observers), compiled once into a ``Plan`` (how: ``planning.py``), and
the opening of each ask's run on its conversation (new, continued, held or resumed). The loop
itself is in ``loop.py``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, overload

from typing_extensions import TypeVar, Unpack

from .context import Context
from .conversation import Conversation, claim_stored, new_conversation, new_id
from .errors import ConfigError, ConversationBusy, NotSuspended
from .events import Event, HumanMessage, ModelRequest, RunStarted
from .history import History, Storage
from .hooks import ContextPolicy, Middleware, Observer
from .humans import HumanHandler, resumed_humans
from .loop import Plan, run_loop
from .models.base import ModelConfig, ModelSettings
from .models.hosted import split_hosted
from .models.registry import resolve_config
from .options import (
    AGENT_OPTION_NAMES,
    AgentOptions,
    AskOptions,
    PromptInput,
    as_parts,
    check_ask_options,
    check_hitl,
    check_mapping,
    check_positive,
    check_settings,
    check_threads,
    check_timeout,
    check_tool_list,
    unknown_option,
)
from .output import OutputSpec, Prompted, build_output_spec
from .overrides import AgentOverride, replaced_tools
from .planning import Planning
from .prompt import Instructions
from .run import (
    LiveRun,
    RunState,
    abandon_run,
    delete_run_state,
    load_run_state,
    open_run_index,
    paused_in,
    paused_run,
    stored_outcomes,
)
from .sync import run_sync
from .tools.threads import ToolThreads
from .tools.tool import Tool
from .tools.toolkit import split_sources

if TYPE_CHECKING:
    from .reply import Reply, Run

__all__ = ["Agent", "AgentOptions", "AskOptions", "PromptInput"]

OutputT = TypeVar("OutputT", default=str)
T = TypeVar("T")

PromptSource = str | Callable[..., str | Awaitable[str]] | None


class Agent(Planning, Generic[OutputT]):
    """An LLM agent: a prompt, a model config, tools and an output schema. It keeps no state
    between asks; conversations live in ``Reply`` objects (and in a ``History`` if given).

    ``prompt`` is a string, or a function (sync or async, parameters injected like a tool's)
    re-evaluated before every model call. ``reply.output`` is typed by ``response_schema``
    (a class, ``Prompted(cls)`` or an output function); for other schemas (``list[X]``,
    unions, ``Literal``) annotate the agent: ``agent: Agent[list[X]] = Agent(...)``.

    ``raise_tool_errors=True`` (for tests; also per ask, or ``agent.override(...)``): an
    exception a tool raises fails the ask as itself (type, message, traceback) instead of
    becoming a ``ToolCallError`` the model reads. Unknown tools, invalid arguments, timeouts,
    denied approvals and ``Retry`` still go back to the model.
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
        tool_threads: ToolThreads | None = None,
        settings: ModelSettings | None = None,
        history: History | None = None,
        description: str | None = None,
        middleware: Sequence[Middleware] = (),
        policies: Sequence[ContextPolicy] = (),
        observers: Sequence[Observer] = (),
        hitl: HumanHandler | None = None,
        storage: Storage | None = None,
        suspend_on_human: bool = False,
        raise_tool_errors: bool = False,
        **unknown: Any,  # not in the overloads: type checkers refuse them; here, said why
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("an Agent needs a non-empty name, e.g. Agent('assistant', ...)")
        if unknown:
            raise unknown_option(sorted(unknown)[0], AGENT_OPTION_NAMES, "Agent(...)")
        self.name = name
        self.description = description
        self.config = resolve_config(config) if config is not None else None
        self.max_turns = check_positive("max_turns", max_turns)
        self.output_retries = check_positive("output_retries", output_retries, 0)
        self.tool_concurrency = check_positive("tool_concurrency", tool_concurrency)
        self.tool_timeout = check_timeout(tool_timeout)
        # The thread pool this agent's sync tools run on (None: the process-wide one, see
        # baton.tools.threads): its own pool keeps other agents' stuck calls from its threads.
        self.tool_threads = check_threads(tool_threads)
        self.settings = check_settings(settings)
        self.dependencies: dict[Any, Any] = check_mapping("dependencies", dependencies)
        self.variables: dict[str, Any] = check_mapping("variables", variables)
        self.history = history
        self.hitl = check_hitl(hitl)  # answers human-input requests and approvals (baton.hitl)
        self.storage = storage  # keeps paused runs (baton.run.RunState)
        # context.input pauses the ask (saved for agent.resume) instead of waiting
        self.suspend_on_human = suspend_on_human
        # For tests: a tool's exception fails the ask (as itself) instead of becoming a
        # ToolCallError the model reads (see baton.tools.execution.execute_tool_call).
        self.raise_tool_errors = raise_tool_errors
        self._instructions = Instructions(prompt, owner=f"agent {name!r}")
        self._tool_sources: tuple[Any, ...] = check_tool_list(tools)
        self.middleware: tuple[Middleware, ...] = tuple(middleware)
        self.policies: tuple[ContextPolicy, ...] = tuple(policies)
        self.observers: tuple[Observer, ...] = tuple(observers)
        self._plan = self._build_plan(
            self._tool_sources,
            build_output_spec(response_schema),
            self.middleware,
            self.policies,
            self.observers,
            raise_tool_errors=raise_tool_errors,
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

    def ask(
        self, prompt: PromptInput, **options: Unpack[AskOptions]
    ) -> Coroutine[Any, Any, Reply[OutputT]]:
        """Start a conversation (or continue one by ``conversation_id``) and get the reply:
        ``reply = await agent.ask(...)``."""
        if options.get("conversation_id") is None:
            # A new conversation needs no claim: the run is made now and the ask is the loop's
            # own coroutine (one coroutine less per ask for the collector to walk, and two
            # fewer made; see benchmarks/README.md, "D in steady state"). A mistake in the
            # arguments is raised when the ask is awaited, as from any coroutine.
            try:
                run = self._new_run(prompt, options)
            except Exception as error:
                return _raise(error)
            return run_loop(run)
        return self._ask_stored(prompt, options)

    async def _ask_stored(self, prompt: PromptInput, options: AskOptions) -> Reply[OutputT]:
        return await run_loop(await self.open_run(prompt, options))

    # A forgotten ``await`` names what the user called (as baton.loop does for the loop).
    _ask_stored.__qualname__ = "Agent.ask"

    def ask_sync(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Reply[OutputT]:
        """Blocking ``ask`` for scripts and notebooks (works inside a running event loop too).
        Every blocking call runs on one loop of Baton's own (``baton.sync``), so SDK clients
        and connection pools are made once and closed at exit."""
        return run_sync(self.ask(prompt, **options))

    def run(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Run[OutputT]:
        """A live view of one ask: ``async with agent.run(...) as run: async for e in run``."""
        from .reply import Run

        return Run(self, prompt, None, options)

    async def resume(
        self, conversation_id: str, /, *answers: HumanMessage, **options: Unpack[AskOptions]
    ) -> Reply[OutputT]:
        """Continue a paused ask (``AskSuspended``), maybe in another process: record the
        ``answers`` (``HumanMessage(request_id=..., approved=... or text)``), run the calls that
        had not finished (never those that had) and carry on to the reply. Needs the same
        ``history=``, ``storage=``, tools and middleware as the agent that paused."""
        return await run_loop(await self.open_resumed(conversation_id, answers, options))

    async def paused(self, conversation_id: str, /) -> RunState | None:
        """The ask paused on ``conversation_id`` (``AskSuspended``), read from this agent's
        ``history=`` and ``storage=`` in any process, or None when nothing waits there.
        ``.requests`` are what it waits for: answer each with a ``HumanMessage`` carrying its
        ``request_id`` and pass them to ``resume``."""
        if self.history is None or self.storage is None:
            return None
        events = await self.history.load(conversation_id)
        return await paused_in(events, conversation_id, self.storage)

    async def open_run(
        self,
        prompt: PromptInput | None,
        options: AskOptions,
        *,
        after: Reply[Any] | None = None,
        held: Conversation | None = None,
    ) -> LiveRun:
        """Claim the conversation and make the run of one new ask, ready for
        ``baton.loop.run_loop`` (``ask``, ``reply.ask`` and ``run`` are built on these two).
        ``after``: the reply this ask continues. The claim is given back if this fails.

        For callers that run several agents on one conversation (``baton.teams``): ``held``
        is a conversation the caller has claimed and keeps claimed (the run neither claims it
        nor gives it back), and with it ``prompt=None`` makes a run with no new request (the
        agent takes its turn on the conversation as it stands; no ``ModelRequest`` is
        recorded)."""
        if held is not None:
            request = ModelRequest(() if prompt is None else as_parts(prompt))
            return self._held_run(request, held, options)
        if after is None and options.get("conversation_id") is None:
            return self._new_run(prompt, options)
        if options:
            check_ask_options(options)
        request = ModelRequest(as_parts(prompt))
        config, plan = self._config_and_plan(options)
        run_id = new_id()
        # The run's first events go in with the store's claim (one round trip less) unless
        # around_ask middleware runs before the run starts.
        start_with_claim = plan.chains.ask is None

        def start(conversation_id: str) -> tuple[Event, ...]:
            if not start_with_claim:
                return ()
            return (RunStarted(run_id, self.name, conversation_id), request)

        if after is not None:
            conversation = await after.claim_next(options, start(after.conversation_id))
        else:
            conversation = await self._claim(options, start(options["conversation_id"]))
        lease = conversation.claim
        started = lease is not None and lease.started  # the start is stored (and in memory)
        try:
            if conversation.history is not None and conversation.events and not started:
                paused = await paused_run(conversation, self.storage)
                if paused is not None:
                    ids = ", ".join(r.request_id for r in paused.requests)
                    raise ConversationBusy(
                        f"conversation {conversation.id} has an ask paused while waiting for "
                        f"a human (request {ids}); finish it first "
                        f"with agent.resume({conversation.id!r}, HumanMessage(request_id=..., "
                        "approved=... or text=...))"
                    )
            variables = options.get("variables")
            if variables:
                conversation.variables.update(variables)
            state = RunState(conversation.id, run_id, self.name, request)
            live = self._live(state, conversation, config, plan, options)
            if started:
                live.started = conversation.events[-2:]
            return live
        except BaseException as error:
            if started:
                await abandon_run(conversation, run_id, error)
            await conversation.release()
            raise

    def _new_run(self, prompt: PromptInput | None, options: AskOptions) -> LiveRun:
        """The run of one new ask on a new conversation (see ``open_run``): a new id needs
        no claim in the store, so nothing here waits."""
        # An option no ask takes is refused, not ignored (an ask without options, the usual
        # one, has nothing to check). A held run's (a team member's turn) were the team's,
        # checked by its ask.
        if options:
            check_ask_options(options)
        request = ModelRequest(as_parts(prompt))
        config, plan = self._config_and_plan(options)
        conversation = new_conversation(options.get("stream"), dict(self.variables), self.history)
        try:
            variables = options.get("variables")
            if variables:
                conversation.variables.update(variables)
            state = RunState(conversation.id, new_id(), self.name, request)
            return self._live(state, conversation, config, plan, options)
        except BaseException:
            conversation.busy = False  # the claim of a new conversation: in this process only
            raise

    def _held_run(
        self, request: ModelRequest, conversation: Conversation, options: AskOptions
    ) -> LiveRun:
        """The run of one ask on a conversation its caller holds (see ``open_run``)."""
        for key in ("stream", "conversation_id"):
            if key in options:
                raise ConfigError(
                    f"a run on a held conversation uses that conversation, so {key}= can't be "
                    "given with held="
                )
        variables = options.get("variables")
        if variables:
            conversation.variables.update(variables)
        state = RunState(conversation.id, new_id(), self.name, request)
        live = self._live(state, conversation, *self._config_and_plan(options), options)
        live.keeps_claim = True
        return live

    async def open_resumed(
        self,
        conversation_id: str,
        answers: Sequence[HumanMessage],
        options: AskOptions,
        *,
        held: Conversation | None = None,
        storage: Storage | None = None,
    ) -> LiveRun:
        """Claim a conversation whose ask is paused and make its run continue where it
        stood, with ``answers`` to its open requests (see ``resume``).

        For ``baton.teams``: ``held`` is the conversation, claimed by the caller (as in
        ``open_run``), and ``storage`` the one the paused run was saved in (the team's)."""
        if held is None and options:
            check_ask_options(options, "agent.resume()")
        history = self.history if held is None else held.history
        storage = storage or self.storage
        if storage is None or history is None:
            raise ConfigError(
                "agent.resume() continues an ask saved in a history and a storage: build the "
                "agent with the same history= and storage= as the one that paused"
            )
        config, plan = self._config_and_plan(options)
        conversation = held or await claim_stored(
            history,
            conversation_id,
            stream=options.get("stream"),
            variables=self.variables,
            wait=options.get("wait_busy", 0),
        )
        try:
            state = await load_run_state(storage, conversation_id)
            if state is None:
                raise NotSuspended(
                    f"conversation {conversation_id} has no paused ask (it was never paused, "
                    "or it was resumed already)"
                )
            start = open_run_index(conversation.events)
            started = conversation.events[start] if start >= 0 else None
            if started is None or getattr(started, "run_id", None) != state.run_id:
                raise NotSuspended(
                    f"the paused ask of conversation {conversation_id} does not match its "
                    "history (was the history changed, or a different history given?)"
                )
            by_id = {r.request_id for r in state.requests}
            for answer in answers:
                if not isinstance(answer, HumanMessage) or answer.request_id not in by_id:
                    raise ConfigError(
                        f"agent.resume() takes HumanMessage answers to the paused requests "
                        f"({', '.join(by_id)}), got {answer!r}"
                    )
            # Which calls finished is the history's to say (the store is the truth).
            state = replace(state, finished=stored_outcomes(conversation.events, start, state))
            live = self._live(state, conversation, config, plan, options)
            live.storage = storage
            live.keeps_claim = held is not None
            live.humans = resumed_humans(
                conversation.events, start, state.requests, state.asked_in, answers
            )
            # The model's client is made here, in the loop the resume runs on, before the
            # paused state goes: a client that can't be made (no credentials in this process)
            # leaves the ask paused, as any other failure before this point does.
            live.client = config.client()
            # Taken last: once the paused state is gone, only this resume can continue it.
            if not await delete_run_state(storage, conversation_id):
                raise NotSuspended(f"the paused ask of conversation {conversation_id} was resumed")
            if isinstance(state.variables, dict):
                conversation.variables.update(state.variables)
            return live
        except BaseException:
            if held is None:
                await conversation.release()
            raise

    async def _claim(self, options: AskOptions, start: Sequence[Event] = ()) -> Conversation:
        conversation_id = options["conversation_id"]
        history = self.history
        if history is None:
            raise ConfigError(
                "ask(conversation_id=...) continues a stored conversation and needs a "
                "history backend: Agent(..., history=MemoryHistory()) or another History; "
                "to continue in memory, call reply.ask(...)"
            )
        return await claim_stored(
            history,
            conversation_id,
            stream=options.get("stream"),
            variables=self.variables,
            wait=options.get("wait_busy", 0),
            start=start,
        )

    def _live(
        self,
        state: RunState,
        conversation: Conversation,
        config: ModelConfig,
        plan: Plan,
        options: AskOptions,
    ) -> LiveRun:
        dependencies: Mapping[Any, Any] = self.dependencies
        if "dependencies" in options:
            dependencies = {**self.dependencies, **options["dependencies"]}
        return LiveRun(
            state,
            conversation=conversation,
            plan=plan,
            config=config,
            settings=self._settings_for(config, options.get("settings")),
            dependencies=dependencies,
            max_turns=check_positive("max_turns", options.get("max_turns", self.max_turns)),
            output_retries=check_positive(
                "output_retries", options.get("output_retries", self.output_retries), 0
            ),
            tool_concurrency=check_positive(
                "tool_concurrency", options.get("tool_concurrency", self.tool_concurrency)
            ),
            tool_timeout=check_timeout(options.get("tool_timeout", self.tool_timeout)),
            tool_threads=(
                check_threads(options["tool_threads"])
                if "tool_threads" in options
                else self.tool_threads  # checked when the agent was made
            ),
            storage=self.storage,
            suspend_on_human=options.get("suspend_on_human", self.suspend_on_human),
            relay=options.get("relay"),
            owner=self,
        )

    async def aclose(self) -> None:
        """Close the agent's tool sources (an MCP server's session, ...)."""
        rest, hosted = split_hosted(self._tool_sources)
        _, sources = split_sources([*rest, *(h.fallback for h in hosted if h.fallback)])
        for source in sources:
            await source.aclose()

    # -- testing -----------------------------------------------------------------------------

    def override(
        self,
        *,
        tools: Mapping[str, Callable[..., Any]] | None = None,
        raise_tool_errors: bool | None = None,
    ) -> AgentOverride:
        """For tests: replace tool execution (and test settings) on this agent, for the asks
        started inside ``with agent.override(...):`` (or ``async with``), without middleware.

        ``tools={"charge": fake_charge}`` runs ``fake_charge`` (sync or async, taking the
        tool's parameters by name or ``**kwargs``, injections allowed) for calls of
        ``charge``; the model still sees the real tool, whose arguments are still validated
        (and approval still asked). ``raise_tool_errors=True``: see ``Agent``. The override
        follows the context (a context variable): asks started elsewhere, or on other agents,
        don't see it, and it is undone on exit, also after an error. Naming a tool the agent
        doesn't have is a ``ConfigError`` listing its tools."""
        where = f"agent {self.name!r}"
        replaced = replaced_tools(
            self.tools, tools or {}, where, has_sources=self._plan.sources is not None
        )
        return AgentOverride(self, replaced, raise_tool_errors)

    # -- composition -------------------------------------------------------------------------

    def as_tool(self, name: str | None = None, description: str | None = None) -> Tool:
        """This agent as a tool another agent can call with a task in plain words.

        The sub-agent runs its own conversation and stream; the caller's stream sees it as
        ``TaskStarted``, ``TaskProgress`` and ``TaskCompleted``/``TaskFailed`` events, and its
        usage counts toward the caller's ask (kind ``"subtask"``). If it fails, the calling model
        reads a short tool error instead of an answer; cancelling the caller cancels it.
        """
        from .harness.subtasks import Subtask, run_subtask  # a feature: loaded when used

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


async def _raise(error: Exception) -> Any:
    """A coroutine raising ``error`` when awaited (see ``Agent.ask``)."""
    raise error


_raise.__qualname__ = "Agent.ask"  # a forgotten await names what the user called
