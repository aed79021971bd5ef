"""The context handed to tools, prompts and output functions, and the injection markers.

A parameter is injected (and never shown to the model) when it is annotated ``Context`` or
``ToolCall``, or when it carries one of these markers, either as ``Annotated[T, marker]`` or as
its default value:

- ``Inject(key)``: a value from the agent's (or the ask's) ``dependencies``, looked up by ``key``
  (a name or a type); with no key, by the parameter's type, then by its name.
- ``Variable(name, default=...)``: a per-conversation variable (``context.variables``).
- ``Depends(fn)``: the result of calling ``fn``, whose own parameters are injected the same way;
  solved once per call even when several parameters depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .events import Event, ModelRequest, Usage, UsageLine, UsageReport

if TYPE_CHECKING:
    from .events import ApprovalRequest, HumanInputRequest, HumanMessage, ToolCall
    from .history import HistoryView
    from .hooks import Middleware
    from .models.base import ModelConfig
    from .run import LiveRun
    from .stream import Stream
    from .tools.tool import Tool

__all__ = [
    "Context",
    "Depends",
    "Inject",
    "UsageTotal",
    "Variable",
    "WorkItem",
    "conversation_usage",
]

_NO_DEFAULT: Any = object()
T = TypeVar("T")


class InjectMarker:
    __slots__ = ("default", "default_factory", "key")

    def __init__(
        self,
        key: str | type | None,
        default: Any = _NO_DEFAULT,
        default_factory: Callable[[], Any] | None = None,
    ) -> None:
        if default is not _NO_DEFAULT and default_factory is not None:
            raise TypeError("Inject() takes default= or default_factory=, not both")
        if default_factory is not None and not callable(default_factory):
            raise TypeError(
                f"Inject(default_factory=...) takes a callable, got {default_factory!r}"
            )
        self.key = key
        self.default = default
        self.default_factory = default_factory

    def __repr__(self) -> str:
        return f"Inject({self.key!r})"


class VariableMarker:
    __slots__ = ("default", "name")

    def __init__(self, name: str | None, default: Any) -> None:
        self.name = name
        self.default = default

    def __repr__(self) -> str:
        return f"Variable({self.name!r})"


class DependsMarker:
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Depends() takes a callable, got {fn!r}")
        self.fn = fn

    def __repr__(self) -> str:
        return f"Depends({getattr(self.fn, '__qualname__', self.fn)!r})"


def Inject(
    key: str | type | None = None,
    *,
    default: Any = _NO_DEFAULT,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """Inject a dependency by name or type (default: the parameter's type, then its name).

    A dependency nobody provided is ``default`` (or ``default_factory()``, called each time it
    is needed), or the parameter's own default (``cache: Annotated[dict, Inject()] = None``);
    without one, the call fails with ``MissingDependency``."""
    return InjectMarker(key, default, default_factory)


def Variable(name: str | None = None, *, default: Any = _NO_DEFAULT) -> Any:
    """Inject a conversation variable (default: the parameter's name)."""
    return VariableMarker(name, default)


def Depends(fn: Callable[..., Any]) -> Any:
    """Inject the result of ``fn`` (sync or async), whose parameters are injected too.

    ``fn`` may be a generator (or async generator) function: the value is what it yields, and
    the code after its ``yield`` runs when the call that needed it ends (the tool call, the
    instructions' rendering, the output function), also when that call fails: the error is
    raised at the ``yield``, as with ``contextlib.contextmanager``. Within one call each ``fn``
    runs once, however many parameters depend on it."""
    return DependsMarker(fn)


class WorkItem:
    """The unit of work an ask belongs to, when a runner (``baton.worker``) started it: the
    work's ``run_id`` (the same on every attempt and every process that retries it) and the
    ``attempt`` number (1, 2, ...). A tool with side effects uses ``run_id`` (with its own
    step name) as its idempotency key: a worker may run a task's body more than once.

    Read it as ``context.work`` or inject it: ``work: Annotated[WorkItem, Inject()]``."""

    __slots__ = ("attempt", "run_id")

    def __init__(self, run_id: str, attempt: int = 1) -> None:
        self.run_id = run_id
        self.attempt = attempt

    def __repr__(self) -> str:
        return f"WorkItem({self.run_id!r}, attempt={self.attempt})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkItem):
            return NotImplemented
        return (self.run_id, self.attempt) == (other.run_id, other.attempt)

    def __hash__(self) -> int:
        return hash((self.run_id, self.attempt))


class UsageTotal:
    """A running sum of ``Usage`` records, added to in place (no record made per addition);
    ``snapshot()`` is the sum as a ``Usage``."""

    __slots__ = (
        "cache_read_tokens",
        "cache_write_tokens",
        "cost",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "requests",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.reasoning_tokens = 0
        self.tool_calls = 0
        self.cost = 0.0

    def add_usage(self, usage: Usage | UsageTotal) -> None:
        """Add ``usage`` (a record, or another running total) to this total."""
        self.requests += usage.requests
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        self.tool_calls += usage.tool_calls
        self.cost += usage.cost

    def snapshot(self) -> Usage:
        return Usage(
            self.requests,
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.tool_calls,
            self.cost,
        )


class UsageCounter(UsageTotal):
    """A mutable running total, turned into a ``Usage`` record when asked. Each addition is
    also noted by kind, provider and model, and summed only when a breakdown is asked for.

    While every addition shares one kind, provider and model (an ask on one model: the usual
    case), the running total is that one line's sum, so no line is kept: an ask in flight
    holds no list for the cyclic collector to walk. From the first addition under another,
    the total so far becomes the first line and each addition is noted."""

    __slots__ = ("_kind", "_lines", "_model", "_provider")

    def __init__(self) -> None:
        super().__init__()
        self._kind: str | None = None  # the first addition's kind, provider and model
        self._provider = ""
        self._model = ""
        self._lines: list[tuple[str, str, str, Usage, int]] | None = None  # see the class docs

    def add(
        self,
        usage: Usage,
        kind: str = "model",
        provider: str = "",
        model: str = "",
        tool_calls: int = 0,
    ) -> None:
        """Count ``usage`` (and ``tool_calls`` made on its behalf) under kind/provider/model."""
        lines = self._lines
        if lines is None:
            if self._kind is None:
                self._kind, self._provider, self._model = kind, provider, model
            elif kind != self._kind or provider != self._provider or model != self._model:
                first = (self._kind, self._provider, self._model, self.snapshot(), 0)
                lines = self._lines = [first]
        if lines is not None:
            lines.append((kind, provider, model, usage, tool_calls))
        self.tool_calls += tool_calls
        self.add_usage(usage)

    def breakdown(self, total: Usage | None = None) -> tuple[UsageLine, ...]:
        """Usage summed per (kind, provider, model), in order of first appearance. ``total``
        (this counter's snapshot) saves making one in the common case of a single line."""
        lines = self._lines
        if lines is None:
            if self._kind is None:
                return ()
            line = total if total is not None else self.snapshot()
            return (UsageLine(self._kind, self._provider, self._model, line),)
        totals: dict[tuple[str, str, str], Usage] = {}
        for kind, provider, model, usage, tool_calls in lines:
            key = (kind, provider, model)
            if tool_calls:
                usage = usage + Usage(tool_calls=tool_calls)
            previous = totals.get(key)
            totals[key] = usage if previous is None else previous + usage
        return tuple(UsageLine(k, p, m, u) for (k, p, m), u in totals.items())


def conversation_usage(events: Iterable[Event]) -> UsageReport:
    """The usage of every ask in ``events`` (a conversation, e.g. ``reply.events`` or what a
    history loaded), summed from their ``UsageReport``s: the total, and per kind of work,
    provider and model. An ask that failed before its end records no report and adds nothing."""
    counter = UsageCounter()
    for event in events:
        if isinstance(event, UsageReport):
            if event.breakdown:
                for line in event.breakdown:
                    counter.add(line.usage, line.kind, line.provider, line.model)
            else:
                counter.add(event.usage)
    total = counter.snapshot()
    return UsageReport(total, counter.breakdown(total))


class Context:
    """What tools, prompts, output functions and every hook can see of the ask they run in.

    ``variables`` belong to the conversation and persist across its asks; ``dependencies`` are
    the agent's plus the ask's. ``usage`` is the ask's running total so far. Features reach
    the run only through these members: its ids and request, usage, per-conversation state,
    ``emit``, ``ask_human``/``input``/``approve`` and ``pause``.
    """

    __slots__ = ("_counter", "dependencies", "run", "turn")

    def __init__(
        self, run: LiveRun, dependencies: Mapping[Any, Any], counter: UsageCounter
    ) -> None:
        self.run = run  # the live run (baton.run): the core's handle on this ask
        self.dependencies = dependencies
        self._counter = counter
        self.turn = run.turn

    @property
    def agent_name(self) -> str:
        return self.run.agent_name

    @property
    def conversation_id(self) -> str:
        return self.run.conversation.id

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def work(self) -> WorkItem | None:
        """The work item (run id and attempt) a worker runs this ask for; ``None`` outside
        one. A runner passes it in ``dependencies`` under ``WorkItem``."""
        item = self.dependencies.get(WorkItem)
        return item if isinstance(item, WorkItem) else None

    @property
    def request(self) -> ModelRequest:
        """The user's message that started this ask. A run that started with no message of
        its own (a team member's turn, taken on the conversation as it stands) has the
        latest message in the conversation: the team's task, or a later one."""
        request = self.run.request
        if request.parts:
            return request
        events = self.run.conversation.events
        for i in range(len(events) - 1, -1, -1):
            event = events[i]
            if type(event) is ModelRequest and event.parts:
                return event
        return request

    @property
    def stream(self) -> Stream:
        """The conversation's stream."""
        return self.run.conversation.stream

    @property
    def variables(self) -> dict[str, Any]:
        """The conversation's variables (they persist across its asks)."""
        return self.run.conversation.variables

    @property
    def events(self) -> HistoryView:
        """The conversation's events so far (a read-only view)."""
        from .history import HistoryView

        return HistoryView(self.run.conversation.events)

    @property
    def usage(self) -> Usage:
        """Usage of the current ask so far."""
        return self._counter.snapshot()

    @property
    def usage_counter(self) -> UsageCounter:
        """The ask's running usage total, read without copying (don't change it: use
        ``add_usage``)."""
        return self._counter

    @property
    def model_config(self) -> ModelConfig:
        """The model config this ask runs on."""
        return self.run.config

    @property
    def inherited_middleware(self) -> tuple[Middleware, ...]:
        """The middleware of this ask that the sub-agents it runs get too
        (``Middleware.inherited``)."""
        return self.run.plan.inherited

    def tool(self, name: str) -> Tool | None:
        """The ask's tool called ``name``, if it has one."""
        return self.run.table.get(name)

    @property
    def can_pause(self) -> bool:
        """Whether this ask can pause (it has a history and a storage to be resumed from)."""
        return self.run.can_pause()

    @property
    def pauses_for_humans(self) -> bool:
        """Whether a question to a human pauses this ask rather than waiting for the answer
        (``suspend_on_human=True``, and not a sub-agent's ask, whose questions go to its
        parent). Pausing also needs ``can_pause``; without it, pausing is a ``ConfigError``."""
        run = self.run
        return run.suspend_on_human and run.relay is None

    def add_usage(
        self, usage: Usage, kind: str = "subtask", provider: str = "", model: str = ""
    ) -> None:
        """Count usage spent on this ask's behalf elsewhere (a sub-agent, a compaction...)."""
        self._counter.add(usage, kind, provider, model)

    def state(self, owner: object, factory: Callable[[], T]) -> T:
        """Per-conversation state of ``owner`` (a middleware, observer or policy), made by
        ``factory`` on first use. Owners are shared by all conversations of an agent, so this is
        where their state lives."""
        states = self.run.conversation.states
        key = id(owner)
        entry = states.get(key)
        if entry is None or entry[0] is not owner:
            entry = states[key] = (owner, factory())
        return entry[1]

    async def emit(self, event: Event) -> None:
        """Publish an event on the conversation's stream (kept in history unless transient)."""
        await self.run.emit(event)

    async def ask_human(
        self,
        request: HumanInputRequest | ApprovalRequest,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        hint: str = "a timeout",
    ) -> HumanMessage:
        """Send a request through the ``around_human_input`` middleware to whoever answers it
        (see ``baton.humans``) and return the answer; both are recorded. ``timeout=0`` takes
        only an answer that is already there. Raises ``HumanInputTimeout``."""
        from .humans import ask_human

        return await ask_human(self, request, timeout, hint)

    def pause(self, *requests: HumanInputRequest | ApprovalRequest) -> NoReturn:
        """Pause this ask until ``requests`` are answered: the run is saved and the ask raises
        ``AskSuspended``; ``agent.resume(conversation_id, *answers)`` continues it (the tool
        call that paused runs again, and asking the same request again gets the answer)."""
        from .humans import pause_for

        raise pause_for(self, *requests)

    async def input(
        self,
        prompt: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        default: str | None = None,
    ) -> str:
        """Ask a human for text and wait for the answer (see ``baton.hitl``).

        The ``HumanInputRequest`` goes through the ``around_human_input`` middleware to the
        agent's ``hitl=`` handler or, without one, to whoever answers on the stream with a
        ``HumanMessage`` carrying its ``request_id``. Past ``timeout`` seconds it raises
        ``HumanInputTimeout`` (in a tool: a tool error the model reads), or returns ``default``
        if one is given. With ``suspend_on_human=True`` (agent or ask) the ask pauses instead
        of waiting (after ``timeout``, if one is given).
        """
        from .humans import ask_input

        return await ask_input(self, prompt, timeout, default)

    async def approve(
        self,
        reason: str,
        *,
        call: ToolCall | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        default: bool | None = None,
    ) -> bool:
        """Ask a human to approve an action; ``True`` only for an answer with ``approved=True``.

        Like ``input``, but the request is an ``ApprovalRequest`` for ``call`` (default: the
        tool call running this code). Past ``timeout`` seconds it raises ``HumanInputTimeout``,
        or returns ``default`` if one is given. With ``suspend_on_human=True`` the ask pauses
        instead of waiting, as for ``input``.
        """
        from .humans import ask_approval

        return await ask_approval(self, reason, call, timeout, default)
