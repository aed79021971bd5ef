"""A team: members (agents, teams, ``Member(...)``) taking turns on ONE conversation.

A team is asked like an agent (``ask``, ``reply.ask``, ``run``, ``ask_sync``, ``as_tool``).
Its ask claims the conversation once and holds it to the end; each member turn is that
member's own run on it (``RunStarted`` with the member's name ... ``RunFinished``, through
``Agent.open_run(held=...)`` and ``baton.loop.run_loop``), so the transcript shows every
member the others' answers as their named turns. Around the runs the team records its own
events (``baton.teams.events``) store-first, in the same history. A member that is a team
takes its turn on the same conversation (its events nested inside the outer team's). A member
agent that pauses its own turn (``suspend_on_human``, ``ApprovalPolicy(suspend=True)``) pauses
the team's ask durably, as a ``Human(..., suspend=True)`` member does: its run is saved in the
team's ``storage=`` and ``team.resume`` continues it where it stood (``why_no_pause`` says when
an ask can't pause: that is then a ``ConfigError``). How a member's turn is taken and run to
its end is ``turns.py``; how a pause is kept and an ask resumed (a member team's pause too),
``pausing.py``.

What the patterns decide (who speaks next, when the pattern itself is done) is in
``patterns.py``, ``swarm.py``, ``sequential.py`` and ``graph.py``; when to stop is
``termination.py``; what each member sees, ``views.py``; human members' turns, ``human.py``;
how the team's own events are kept and a failed ask closed, ``recording.py``; the reply and the
live view, ``reply.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, cast

from ..context import Context
from ..conversation import Conversation, new_id
from ..errors import AskSuspended, ConfigError
from ..events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelResponse,
    Usage,
    UsageLine,
    UsageReport,
)
from ..history import History, Storage
from ..options import PromptInput, as_parts, check_mapping
from ..sync import run_sync
from ..tools.tool import Tool
from ..transcript import part_text
from .events import Handoff as HandoffEvent
from .events import SpeakerSelected, TeamFailed, TeamFinished, TeamStarted
from .opening import MADE_WITH, MEMBER_OPTIONS, no_option, open_conversation, repair
from .pausing import Pausing
from .recording import Sink, TeamAsk, close_failed, record
from .reply import TeamReply, TeamRun
from .state import PausedTeamAsk, TeamState, Turn
from .termination import (
    AnyOf,
    MaxTurns,
    Termination,
    Timeout,
    checked_only,
    checked_parts,
    either,
    first_fired,
    within,
)
from .turns import MemberTurns
from .views import InputFilter, Member, ViewPolicy, as_member

__all__ = ["DEFAULT_MAX_TURNS", "Team", "TeamReply", "TeamRun"]


DEFAULT_MAX_TURNS = 20


class Team(MemberTurns, Pausing):
    """Base of the team patterns (``RoundRobin``, ``Selector``, ``Swarm``...): see the
    module docs. ``termination`` composes conditions (``MaxTurns(5) | TextMention("DONE")``);
    ``max_turns`` is the hard limit of member turns per ask (20). ``history``/``storage``
    keep the team's conversation (members' own are not used in a team)."""

    # Whether the pattern's own end always comes within its hard limit (a Sequential's, after
    # its last step), so that a MaxTurns above the limit takes nothing away from an ask.
    ends_within_limit: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        members: Sequence[Any],
        *,
        termination: Termination | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        history: History | None = None,
        storage: Storage | None = None,
        description: str | None = None,
        variables: Mapping[str, Any] | None = None,
        **unknown: Any,  # a pattern's **options: a mistyped option is named, not a TypeError
    ) -> None:
        if unknown:
            raise no_option(
                sorted(unknown)[0], options_of(type(self)), f"{type(self).__name__}(...)"
            )
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a team needs a non-empty name, e.g. RoundRobin([...], name='crew')")
        self.name = name
        self.description = description
        self.history = history
        self.storage = storage
        self.variables: dict[str, Any] = check_mapping("variables", variables)
        self.middleware: tuple[Any, ...] = ()  # what a sub-task runner looks for (as_tool)
        self.max_turns = hard_limit(name, termination, max_turns, self.ends_within_limit)
        self.termination = termination
        self._stop: Termination = (
            self.max_turns if termination is None else AnyOf(termination, self.max_turns)
        )
        # Conditions decided by their sync check alone are checked without a coroutine each,
        # the parts of an `|` one after the other (see checked_parts).
        self._checks = checked_parts(self._stop) if checked_only(self._stop) else None
        # The soonest Timeout that stops the ask by itself (not only with another condition).
        timeouts = sorted(either(self._stop, Timeout), key=lambda t: t.seconds)
        self._timeout: Timeout | None = timeouts[0] if timeouts else None
        if isinstance(members, str | Mapping) or not isinstance(members, Sequence):
            raise ConfigError(
                f"team {name!r} takes a list of members, e.g. RoundRobin([a, b]), got "
                f"{members!r:.80}"
            )
        self.members: tuple[Member, ...] = tuple(as_member(m) for m in members)
        if not self.members:
            raise ConfigError(f"team {name!r} needs at least one member")
        self.by_name: dict[str, Member] = {}
        for member in self.members:
            if member.name in self.by_name:
                raise ConfigError(
                    f"team {name!r} has two members named {member.name!r}: give one "
                    "Member(agent, name=...) another name"
                )
            if member.target is self:
                raise ConfigError(f"team {name!r} can't be a member of itself")
            self.by_name[member.name] = member
        # Hand-off input filters waiting for their target's turn: (conversation, member).
        self._filters: dict[tuple[str, str], InputFilter] = {}
        self._policies: dict[str, tuple[ViewPolicy, ...]] = {
            m.name: (ViewPolicy(m.name, m.view, self._pending_filter),) for m in self.members
        }
        # A member seeing the whole conversation needs its view policy only for a hand-off's
        # input filter: until a filter is first expected (expect_filter), its runs go without
        # one (no policy call per model call, the agent's own plan).
        self._filtering = False
        self._asks: dict[str, TeamAsk] = {}  # running asks by conversation id (for member tools)
        self._member_options: dict[str, Mapping[str, Any]] = {}  # see _turn_options

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.members)
        return f"{type(self).__name__}({self.name!r}, [{names}])"

    # -- what patterns decide ----------------------------------------------------------------

    def prepare(self) -> None:
        """Called before every ask (a graph checks itself here)."""

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        """The member who speaks next, and why (``SpeakerSelected.reason``)."""
        raise NotImplementedError

    async def finished(self, state: TeamState) -> str | None:
        """A pattern's own end after the latest turn (e.g. a swarm member answered without
        handing off), named for ``TeamFinished``; ``None`` to go on."""
        return None

    async def prompt_for(
        self, state: TeamState, member: Member, task: PromptInput | None
    ) -> PromptInput | None:
        """The request ``member``'s turn starts with: the task for the ask's first turn, none
        after (the member takes its turn on the conversation as it stands)."""
        return task if not state.turns else None

    def member_tools(self, member: Member) -> tuple[Tool, ...]:
        """Tools the team gives ``member`` for its turns (a swarm's hand-off tools)."""
        return ()

    def kept_on_pause(self, state: TeamState) -> dict[str, Any]:
        """What this pattern knows of a pausing ask that its history does not say (a graph's
        ready nodes), as JSON-able data: saved with the pause and handed to
        ``restore_on_resume``, maybe in another process. Most patterns read everything they
        need from the history: nothing."""
        return {}

    def restore_on_resume(self, state: TeamState, kept: Mapping[str, Any]) -> None:
        """Put back into the rebuilt ``state`` of a resumed ask what ``kept_on_pause`` saved."""

    def resumed_speaker(self, events: Sequence[Event]) -> str | None:
        """Who spoke last in this team's conversation (to go on from there), read from the
        history: the last speaker this team selected."""
        for event in own_events(events, self.name):
            if isinstance(event, SpeakerSelected):
                return event.member
        return None

    # -- asking ------------------------------------------------------------------------------

    async def ask(self, task: PromptInput, **options: Any) -> TeamReply:
        """Run the team on ``task`` until a termination fires; the reply holds the last
        member's answer. ``conversation_id=`` continues a stored conversation (needs
        ``history=``), ``stream=`` watches it, ``wait_busy=`` waits for a running ask;
        ``middleware=``, ``observers=`` and ``suspend_on_human=`` go to every member's run."""
        return await self.ask_with(task, options)

    def ask_sync(self, task: PromptInput, **options: Any) -> TeamReply:
        """Blocking ``ask``."""
        return run_sync(self.ask(task, **options))

    def run(self, task: PromptInput, **options: Any) -> TeamRun:
        """A live view of one ask: every member's events and the team's, in order."""
        return TeamRun(self, task, options, None)

    def as_tool(self, name: str | None = None, description: str | None = None) -> Tool:
        """This team as a tool an agent calls with a task in plain words (a sub-task: the
        caller's stream sees ``TaskStarted``/``TaskProgress``/``TaskCompleted``)."""
        from ..harness.subtasks import Subtask, run_subtask

        team = self

        async def delegate(task: str, context: Context) -> Any:
            """Hand a task to the team.

            Args:
                task: The task for the team, in plain words, with everything it needs to know.
            """
            # A team runs like an agent for a sub-task (name, middleware, run(...)).
            return (await run_subtask(context, Subtask(cast(Any, team), task))).unwrap()

        return Tool(
            delegate,
            name=name or _tool_name(self.name),
            description=description
            or self.description
            or f"Ask the {self.name!r} team to work on a task and return its answer.",
        )

    async def ask_with(
        self,
        task: PromptInput,
        options: Mapping[str, Any],
        after: TeamReply | None = None,
        sink: Sink | None = None,
    ) -> TeamReply:
        """One ask, as ``ask``, ``reply.ask`` and ``run`` make it: ``after`` is the reply it
        continues, ``sink`` the live reader given every event (``TeamRun``)."""
        self.prepare()
        as_parts(task)  # a bad task fails before anything is claimed
        conversation = await open_conversation(self.history, self.variables, options, after)
        try:
            if options.get("variables"):
                conversation.variables.update(options["variables"])
            await repair(conversation, self.storage)
            passed = {k: options[k] for k in MEMBER_OPTIONS if k in options}
            state = await self.play(
                task, conversation, sink, passed, top=True, storage=self.storage, asked=True
            )
            return self._reply(conversation, state)
        finally:
            await conversation.release()

    def _reply(self, conversation: Conversation, state: TeamState) -> TeamReply:
        # No turn finished only when a Timeout cut the first one: an empty answer.
        last = state.turns[-1] if state.turns else Turn(self.name, "", "", Usage())
        # What the ask's TeamFinished recorded (summed once, at its end).
        finished = state.finished
        usage, members = (finished.usage, finished.members) if finished else state.totals()
        lines = tuple(UsageLine(f"member:{m.member}", "", "", m.usage) for m in members)
        response = last.response or ModelResponse(last.text, agent=last.member)
        return TeamReply(
            self,
            conversation,
            state.team_id,
            last.text,
            last.output,
            usage,
            response,
            UsageReport(usage, lines),
            state,
        )

    async def resume(
        self, conversation_id: str, /, *answers: HumanMessage, **options: Any
    ) -> TeamReply:
        """Continue a team ask paused on a ``Human(..., suspend=True)`` member (of this team, a
        member team or a graph's node), or by a member agent that paused its own turn
        (``suspend_on_human``, ``ApprovalPolicy(suspend=True)``, ``context.pause``), maybe in
        another process: ``answers`` holds ``HumanMessage(request_id=..., text=... or
        approved=...)``; a member's run goes on where it stood. Needs the same ``history=`` and
        ``storage=`` as the team that paused. Options: ``stream=``, ``wait_busy=``, and
        ``middleware=`` / ``observers=`` / ``suspend_on_human=`` for the members' runs. See
        ``pausing.py``."""
        return await self._resume_ask(conversation_id, answers, options)

    async def cancel_paused(
        self,
        conversation_id: str,
        /,
        *,
        reason: str = "The paused ask was cancelled.",
        wait_busy: float = 0,
    ) -> None:
        """End the ask of this team paused on ``conversation_id`` without answering it, in any
        process sharing the team's ``history=`` and ``storage=``: a member's paused run closes
        as cancelled (its open tool calls answered, none run), the ask and any member team's
        ask open in it with ``TeamFailed`` (``error_type="Cancelled"``, ``reason`` its
        message); the request stays unanswered and the next ask on the conversation starts
        afresh. ``NotSuspended`` when nothing of this team is paused there (maybe resumed
        elsewhere). What a server does when its client cancels a paused task."""
        await self._cancel_paused(conversation_id, reason, wait_busy)

    async def paused(self, conversation_id: str, /) -> PausedTeamAsk | None:
        """The ask of this team paused on ``conversation_id`` (``AskSuspended``), read from the
        team's ``history=`` and ``storage=`` in any process, or None when nothing waits there.
        ``.member`` is who waits (a member team's member, when the pause is in its turn);
        ``.requests`` are all it waits for, as recorded: answer each with a ``HumanMessage``
        carrying its ``request_id`` and pass them to ``resume`` (the shape of
        ``Agent.paused``)."""
        return await self._paused_ask(conversation_id)

    async def pending_request(
        self, conversation_id: str
    ) -> HumanInputRequest | ApprovalRequest | None:
        """The first request a paused ask of this team on ``conversation_id`` waits for, or
        None; ``paused(conversation_id).requests`` has them all (a member agent may wait for
        several: two tool calls to approve)."""
        paused = await self.paused(conversation_id)
        return None if paused is None else paused.requests[0]

    def all_members(self) -> list[Member]:
        """Every member taking turns in this team: its own, then, for a member that is a team,
        that team's (each team once). What a server checks before serving the team."""
        self.prepare()
        found: list[Member] = []
        seen: set[int] = {id(self)}
        pending = list(self.members)
        while pending:
            member = pending.pop(0)
            found.append(member)
            target = member.target
            if isinstance(target, Team) and id(target) not in seen:
                seen.add(id(target))
                target.prepare()  # a graph is built when first asked
                pending.extend(target.members)
        return found

    # -- playing turns -----------------------------------------------------------------------

    async def play(
        self,
        task: PromptInput | None,
        conversation: Conversation,
        sink: Sink | None,
        member_options: Mapping[str, Any] | None = None,
        *,
        top: bool = False,
        storage: Storage | None = None,
        asked: bool = False,
    ) -> TeamState:
        """Play one ask on a conversation the caller holds: ``task`` (``None`` for a team
        taking a turn inside another team) goes to the first member. Returns the final state.
        ``top``: the ask can pause (not in a graph's parallel branch); ``storage``: where a
        pause is kept (the team asked's); ``asked``: the ask is the team's own, which keeps
        its pause (a member team's ask hands it up: see ``TeamAsk``)."""
        self.prepare()
        team_id = new_id()
        task_text = "" if task is None else _task_text(task)
        state = TeamState(
            self.name,
            team_id,
            task_text,
            conversation.events,
            conversation.variables,
            previous_speaker=self.resumed_speaker(conversation.events),
            conversation_id=conversation.id,
        )
        ask = TeamAsk(
            conversation,
            state,
            sink,
            member_options or {},
            top=top,
            storage=storage,
            asked=asked,
        )
        started = TeamStarted(team_id, self.name, type(self).__name__, conversation.id, task_text)
        return await self._drive(ask, task, started=started)

    async def _drive(
        self,
        ask: TeamAsk,
        task: PromptInput | None,
        *,
        started: TeamStarted | None = None,
        resumed: Callable[[TeamAsk], Awaitable[Turn]] | None = None,
    ) -> TeamState:
        """The turns of one ask, from its start or from the turn it paused in (``resumed``
        takes that turn to its end)."""
        conversation, state = ask.conversation, ask.state
        team_id = state.team_id
        outer = self._asks.get(conversation.id)
        self._asks[conversation.id] = ask
        try:
            ended: str | None = None
            if started is not None:
                await record(ask, started)
            if resumed is not None:
                ended = await self.turn_taken(ask, await resumed(ask))
            while ended is None:
                ended = await self.step(ask, task)
            assert ended is not None
            usage, members = state.totals()
            finished = TeamFinished(
                team_id, self.name, ended, state.last_text, len(state.turns), usage, members
            )
            await record(ask, finished)
            state.finished = finished
            return state
        except AskSuspended as suspended:
            if suspended.run_id != team_id:
                await close_failed(ask, self.name, suspended)  # a member's own pause: not resumable
            raise  # this team's pause: its ask stays open until team.resume
        except BaseException as error:
            await close_failed(ask, self.name, error)
            raise
        finally:
            if outer is None:
                self._asks.pop(conversation.id, None)
            else:
                self._asks[conversation.id] = outer
            for key in [k for k in self._filters if k[0] == conversation.id]:
                del self._filters[key]

    async def step(self, ask: TeamAsk, task: PromptInput | None) -> str | None:
        """One step of an ask: the next member chosen takes its turn. Returns what ended the
        ask (``TeamFinished.termination``), or ``None`` to go on. A ``Graph`` takes the nodes
        ready together in one step, in parallel."""
        state, conversation = ask.state, ask.conversation
        member, reason = await self.choose(state)
        selected = SpeakerSelected(state.team_id, self.name, member.name, reason, state.next_turn)
        prompt = await self.prompt_for(state, member, task)
        timeout = self._timeout
        if timeout is None:
            turn = await self._take_turn(ask, member, prompt, selected)
        else:
            # A Timeout cuts a running turn too (its run closes as cancelled); the ask then
            # ends normally with the last answer it has.
            limit = asyncio.timeout(max(0.0, timeout.seconds - state.elapsed))
            try:
                async with limit:
                    turn = await self._take_turn(ask, member, prompt, selected)
            except TimeoutError:
                if not limit.expired():
                    raise  # the member's own error, not the team's limit
                self._filters.pop((conversation.id, member.name), None)
                return repr(timeout)
        if self._filtering:  # a filter expected for this turn is used up
            self._filters.pop((conversation.id, member.name), None)
        return await self.turn_taken(ask, turn)

    async def turn_taken(self, ask: TeamAsk, turn: Turn) -> str | None:
        """Keep a finished turn (its hand-off recorded); what ended the ask, or ``None``."""
        state = ask.state
        state.add(turn)
        if turn.handoff is not None:
            await record(
                ask,
                HandoffEvent(
                    state.team_id, self.name, turn.member, turn.handoff, turn.handoff_reason
                ),
            )
        # The pattern's own end names it best when a limit fires on the same turn.
        ended = await self.finished(state)
        if ended:
            return ended
        checks = self._checks
        if checks is None:
            return await first_fired(self._stop, state)
        for condition in checks:
            if condition.check(state):
                return repr(condition)
        return None

    def why_no_pause(self, ask: TeamAsk) -> str | None:
        """Why ``ask`` can't pause durably (``None``: it can). It can when it is the team's
        own ask or a member team's turn in it, not in a graph's parallel branch, and the team
        asked has a history and a storage (the pause is saved in that storage)."""
        if not ask.top:
            return (
                "it takes its turn in a graph's parallel branch (a branch can't pause the "
                "graph: answer it live, with handler= or hitl=, or on the stream when the "
                "graph is not served; or give the member a node outside the parallel branches)"
            )
        if ask.storage is None or ask.conversation.history is None:
            return "give the team asked history= and storage="
        return None

    # -- hand-offs ---------------------------------------------------------------------------

    def _pending_filter(self, conversation_id: str, member: str) -> InputFilter | None:
        return self._filters.get((conversation_id, member))

    def running(self, conversation_id: str) -> TeamState | None:
        """The state of this team's ask running on ``conversation_id`` (for member tools)."""
        ask = self._asks.get(conversation_id)
        return None if ask is None else ask.state

    def conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation of this team's ask running on ``conversation_id``, if any."""
        ask = self._asks.get(conversation_id)
        return None if ask is None else ask.conversation

    def expect_filter(self, conversation_id: str, member: str, fn: InputFilter) -> None:
        """Show ``member`` its next turn through ``fn`` (a hand-off's input filter)."""
        if not self._filtering:  # from now on every member's run goes through its view
            self._filtering = True
            self._member_options.clear()
        self._filters[(conversation_id, member)] = fn


def hard_limit(
    name: str, termination: object, max_turns: object, ends_within: bool = False
) -> MaxTurns:
    """The hard limit of a team's asks, once ``termination`` is checked: a condition, none of
    whose ``MaxTurns`` the hard limit would always cut short (it could never fire: the team
    would stop before the turns asked for), unless the pattern ``ends_within`` its limit
    anyway."""
    if termination is not None and not isinstance(termination, Termination):
        raise ConfigError(
            "termination= takes a condition (MaxTurns(n), TextMention('DONE'), "
            f"FunctionCondition(fn), a | b, ...), got {termination!r}"
        )
    limit = MaxTurns(cast(int, max_turns))
    for turns in [] if termination is None or ends_within else within(termination, MaxTurns):
        if turns.n > limit.n:
            raise ConfigError(
                f"team {name!r}: termination {turns!r} can never fire, as every ask stops after "
                f"max_turns={limit.n} member turns (the hard limit); pass max_turns={turns.n} too"
            )
    return limit


def options_of(pattern: type) -> frozenset[str]:
    """The options ``pattern`` is made with: every team's and its own keyword arguments."""
    own = inspect.signature(pattern).parameters.values()
    named = {p.name for p in own if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return MADE_WITH | (named - {"members", "steps"})


def own_events(events: Sequence[Event], name: str) -> Iterator[SpeakerSelected | HandoffEvent]:
    """The speaker selections and hand-offs of team ``name`` in the ended asks at the depth
    of an ask starting now, latest first: read from the end, an ended ask's events are one
    level in; a member team's nested deeper (maybe of the same name: a RoundRobin inside a
    RoundRobin, both named by default) are passed over."""
    level = 0
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        kind = type(event)
        if kind is TeamFinished or kind is TeamFailed:
            level += 1
        elif kind is TeamStarted:
            level -= 1
        elif level == 1 and (kind is SpeakerSelected or kind is HandoffEvent):
            found = cast(SpeakerSelected | HandoffEvent, event)
            if found.team == name:
                yield found


def _tool_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64]


def _task_text(task: PromptInput) -> str:
    parts = as_parts(task)
    return "\n".join(part_text(p) for p in parts)
