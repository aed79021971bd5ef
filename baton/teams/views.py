"""What each member of a team sees of the team's conversation: ``Member(agent, view=...)``.

A view chooses which events *before* the member's running turn its model is shown (its own
running turn is always shown whole, so its tool calls and their results stay paired). The
transcript then renders them as usual: the member's own answers as its assistant turns, every
other member's as that member's named turn, never with another member's reasoning.

- ``All()`` (default): the whole conversation.
- ``LastN(n)``: the task, then the last ``n`` messages of members and humans, as text (tool
  calls and their results from earlier turns are not shown, other members' never).
- ``OwnAndAddressed()``: the task and the humans' messages, the member's own turns, and other
  members' answers that name it (``@name`` or its name as a word).
- ``Nothing()``: only the task of the latest ask.
- ``Summary(model)``: the task, and a model's summary of the rest.

Views act through a context policy (``baton.hooks.ContextPolicy``): the stored conversation is
never changed, only what one model call is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from ..context import Context
from ..errors import ConfigError
from ..events import (
    CompactionSummary,
    Event,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    RunStarted,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from ..history import HistoryView
from ..hooks import ContextPolicy
from ..models.base import ModelCall, ModelConfig
from ..models.registry import resolve_config
from ..transcript import transcript

if TYPE_CHECKING:
    from ..agent import Agent
    from .human import Human
    from .team import Team

__all__ = [
    "All",
    "InputFilter",
    "LastN",
    "Member",
    "Nothing",
    "OwnAndAddressed",
    "Summary",
    "View",
    "as_member",
    "said",
    "text_only",
]

InputFilter = Callable[[Sequence[Event]], Sequence[Event]]
"""A swarm hand-off's filter: given the events before the target's turn, what it sees."""


class View:
    """Base of the views (see the module docs): ``select`` the events before the turn."""

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event] | None:
        """The events of ``before`` that ``member`` sees (``None``: all of them)."""
        return None

    async def shown(
        self, before: Sequence[Event], member: str, context: Context
    ) -> Sequence[Event] | None:
        """What the member's model call is shown: ``select``, plus what the view spends on the
        ask (a summary's model call is counted in the member's usage)."""
        return await self.select(before, member)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class All(View):
    """The whole conversation (the default)."""


def _is_request(event: Event) -> bool:
    return isinstance(event, ModelRequest) and bool(event.parts)


def _is_human(event: Event) -> bool:
    return _is_request(event) or (
        isinstance(event, HumanMessage) and event.request_id is None and bool(event.text)
    )


def said(event: Event) -> tuple[str, str] | None:
    """Who said what, for a message a team's members and humans exchange: ``("user", the
    task)``, ``("human", a remark)``, ``(member, its answer)``; ``None`` for anything else (a
    human's answer to a request is recorded again as a remark, so it is not one)."""
    if isinstance(event, ModelResponse):
        return (event.agent or "assistant", event.text) if event.text else None
    if _is_request(event):
        return "user", cast(ModelRequest, event).text
    if isinstance(event, HumanMessage) and event.request_id is None and event.text:
        return "human", event.text
    return None


def _task_index(events: Sequence[Event]) -> int:
    for i in range(len(events) - 1, -1, -1):
        if _is_request(events[i]):
            return i
    return -1


def _as_text(event: Event) -> Event | None:
    """``event`` as a message without tool traffic (``None``: it has no text)."""
    if _is_human(event):
        return event
    if isinstance(event, ModelResponse) and event.text:
        if event.tool_calls or event.reasoning or event.provider_data is not None:
            return replace(event, tool_calls=(), reasoning="", provider_data=None)
        return event
    return None


def text_only(events: Sequence[Event]) -> list[Event]:
    """An input filter: the humans' and members' messages as text, without tool traffic."""
    return [shown for e in events if (shown := _as_text(e)) is not None]


class LastN(View):
    """The task, then the last ``n`` messages (see the module docs)."""

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"LastN takes a number of messages of at least 1, got {n!r}")
        self.n = n

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event]:
        window: list[Event] = []  # read from the end: the window's cost, not the history's
        i = len(before) - 1
        while i >= 0 and len(window) < self.n:
            shown = _as_text(before[i])
            if shown is not None:
                window.append(shown)
            i -= 1
        window.reverse()
        task = _task_index(before)
        if task >= 0 and not any(e is before[task] for e in window):
            window = [before[task], *window]
        return window

    def __repr__(self) -> str:
        return f"LastN({self.n})"


class OwnAndAddressed(View):
    """The humans' messages, the member's own turns, and answers that name it."""

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event]:
        named = re.compile(rf"(?<![\w-])@?{re.escape(member)}(?![\w-])", re.IGNORECASE)
        own_calls: set[str] = set()
        kept: list[Event] = []
        for event in before:
            if _is_human(event):
                kept.append(event)
            elif isinstance(event, ModelResponse):
                if event.agent == member:
                    kept.append(event)
                    own_calls.update(c.id for c in event.tool_calls)
                elif event.text and named.search(event.text):
                    shown = _as_text(event)
                    if shown is not None:
                        kept.append(shown)
            elif isinstance(event, ToolCallResult | ToolCallError) and event.call_id in own_calls:
                kept.append(event)
        return kept


class Nothing(View):
    """Only the task of the latest ask."""

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event]:
        task = _task_index(before)
        return [before[task]] if task >= 0 else []


class Summary(View):
    """The task, and ``model``'s summary of everything else said before the turn (made once
    per conversation length, so a member's several model calls in one turn share it)."""

    def __init__(self, model: ModelConfig | str, *, prompt: str | None = None) -> None:
        from ..agent import Agent

        self.model = model
        self.agent: Agent[str] = Agent(
            "summarizer",
            prompt
            or "Summarize the conversation you are given for a team member who joins it: who "
            "said what, what was decided, what is still open. Be brief and factual.",
            config=model,
        )
        self._cache: dict[tuple[str, int], tuple[Event, str]] = {}

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event]:
        return (await self._summarized(before, member))[0]

    async def shown(
        self, before: Sequence[Event], member: str, context: Context
    ) -> Sequence[Event] | None:
        events, spent = await self._summarized(before, member)
        if spent is not None:
            model = resolve_config(self.model)
            context.add_usage(spent, "team-summary", model.provider, model.model_name)
        return events

    async def _summarized(
        self, before: Sequence[Event], member: str
    ) -> tuple[Sequence[Event], Usage | None]:
        """The events shown, and the usage of the summary when one was made (not cached)."""
        task = _task_index(before)
        rest = [e for i, e in enumerate(before) if i != task]
        lines = [_line(role, event) for role, event in transcript(rest, None)]
        lines = [line for line in lines if line]
        kept: list[Event] = [before[task]] if task >= 0 else []
        if not lines:
            return kept, None
        # Keyed by who reads and how far: the last event is kept in the entry and compared by
        # identity, so another conversation of the same length never gets this summary.
        key = (member, len(before))
        cached = self._cache.get(key)
        spent: Usage | None = None
        if cached is not None and cached[0] is before[-1]:
            summary = cached[1]
        else:
            reply = await self.agent.ask("\n".join(lines))
            summary, spent = reply.text, reply.usage
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (before[-1], summary)
        return [CompactionSummary(summary, len(rest), "team-summary"), *kept], spent

    def __repr__(self) -> str:
        return f"Summary({self.model!r})"


def _line(role: str, event: Event) -> str:
    if isinstance(event, ModelResponse):
        return f"[{event.agent or 'assistant'}] {event.text}" if event.text else ""
    if isinstance(event, ModelRequest):
        return f"[user] {event.text}"
    if isinstance(event, HumanMessage):
        return f"[human] {event.text}"
    if isinstance(event, ToolCallResult):
        return f"[tool {event.name}] {event.content}"
    return ""


class Member:
    """A team member with options: ``Member(agent_or_team, view=LastN(4))``. ``name`` and
    ``description`` default to the agent's (used by selectors and hand-off tools)."""

    __slots__ = ("description", "name", "target", "view")

    def __init__(
        self,
        target: Agent[Any] | Team | Human,
        *,
        view: View | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if isinstance(cast(Any, target), Member):
            raise ConfigError("Member(...) takes an agent, a team or a Human, not another Member")
        from ..agent import Agent
        from .human import Human
        from .team import Team

        if not isinstance(target, Agent | Team | Human):
            raise ConfigError(
                f"Member(...) takes an agent, a team or a Human, got {cast(Any, target)!r:.80}"
            )
        if view is not None and not isinstance(view, View):
            raise ConfigError(
                f"view= takes All(), LastN(n), OwnAndAddressed(), Nothing() or Summary(model), "
                f"got {view!r}"
            )
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ConfigError(f"Member name= takes a non-empty name, got {name!r}")
        if isinstance(target, Team) and view is not None and type(view) is not All:
            raise ConfigError(
                f"team {target.name!r} is a member: what its members see is set on them "
                "(Member(agent, view=...) inside that team), not on the team"
            )
        self.target = target
        self.view = view or All()
        self.name: str = name or target.name
        self.description: str = description or getattr(target, "description", None) or ""

    def __repr__(self) -> str:
        return f"Member({self.name!r}, view={self.view!r})"


def as_member(value: Any) -> Member:
    """``value`` as a ``Member`` (an agent or a team gets the default view)."""
    if isinstance(value, Member):
        return value
    from ..agent import Agent
    from .human import Human
    from .team import Team

    if isinstance(value, Agent | Team | Human):
        return Member(value)
    raise ConfigError(
        f"a team's members are agents, teams or Member(agent_or_team, view=...), got {value!r}"
    )


def run_start(events: Sequence[Event], run_id: str) -> int:
    """The index of run ``run_id``'s ``RunStarted`` (searched from the end), or -1."""
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, RunStarted) and event.run_id == run_id:
            return i
    return -1


class ViewPolicy(ContextPolicy):
    """Shows one member the events its view selects, plus its running turn. ``pending`` gives
    the input filter of a hand-off to this member, if one waits for its turn."""

    def __init__(
        self,
        member: str,
        view: View,
        pending: Callable[[str, str], InputFilter | None],
    ) -> None:
        self.member = member
        self.view = view
        self.pending = pending

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        messages = call.messages
        input_filter = self.pending(context.conversation_id, self.member)
        if input_filter is None and type(self.view) is All:
            return call
        start = run_start(messages, context.run_id)
        if start < 0:
            return call
        before: Sequence[Event] = messages[:start]
        if input_filter is not None:
            before = list(input_filter(before))
        # Whose turns are "own" is the transcript's to say: the agent's name (the author its
        # answers are recorded under), which a Member(name=...) alias does not change.
        selected = await self.view.shown(before, context.agent_name, context)
        if selected is not None:
            before = selected
        events = [*before, *messages[start:]]
        return replace(call, messages=HistoryView(events))
