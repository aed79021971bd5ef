"""Where one team ask stands: the turns taken so far, what they cost, and the hand-off a
member asked for. Termination conditions, speaker choices and graph conditions read it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..context import UsageTotal
from ..conversation import Conversation
from ..errors import NotSuspended
from ..events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelResponse,
    RunFinished,
    RunStarted,
    Usage,
    UsageReport,
)
from ..runstate import RunState
from .events import MemberUsage, SpeakerSelected, TeamFailed, TeamFinished, TeamStarted

__all__ = [
    "PausedTeamAsk",
    "TeamState",
    "Turn",
    "closing_teams",
    "open_teams",
    "rebuild_state",
    "team_turn",
]


@dataclass(frozen=True, slots=True)
class PausedTeamAsk:
    """A team ask waiting durably (``team.paused(conversation_id)``): the member whose turn
    waits (a member of a member team, when the pause is in that team's turn), and every
    request it waits for (a ``Human`` member's ``HumanInputRequest``; a member
    agent's own ``HumanInputRequest`` or ``ApprovalRequest`` records). Answer each with a
    ``HumanMessage`` carrying its ``request_id`` and pass them to ``team.resume``. ``run`` is
    the member agent's paused run, which goes on when they are answered (None: a ``Human``
    member's turn waits)."""

    team: str
    team_id: str
    member: str
    requests: tuple[HumanInputRequest | ApprovalRequest, ...]
    run: RunState | None = None


@dataclass(slots=True)
class Turn:
    """One member's finished turn: what it answered, the tools it called (names, in order),
    what it cost, and the member it handed off to (``None``: no hand-off). Made once per turn
    and read after (not frozen: a frozen dataclass costs a call per field to make)."""

    member: str
    text: str
    output: Any
    usage: Usage
    tools: tuple[str, ...] = ()
    handoff: str | None = None
    handoff_reason: str = ""
    response: ModelResponse | None = None


@dataclass(slots=True)
class TeamState:
    """One ask of a team (see the module docs). ``turns`` are this ask's; ``previous_speaker``
    is the last member who spoke in this conversation (in an earlier ask too); ``events`` is the
    conversation so far; ``variables`` the conversation's variables."""

    team: str
    team_id: str
    task: str
    events: Sequence[Event]
    variables: dict[str, Any]
    previous_speaker: str | None = None
    turns: list[Turn] = field(default_factory=list)
    # What each member (and a selector's model) spent, counted in place: a turn adds its
    # usage to one tally instead of making two ``Usage`` records (the total and the member's).
    spent: dict[str, UsageTotal] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    # Conditions combined with `&` remember here which of their parts fired in this ask.
    fired: set[int] = field(default_factory=set)
    # A hand-off asked for in the running turn: run id -> (target, reason).
    handoffs: dict[str, tuple[str, str]] = field(default_factory=dict)
    conversation_id: str = ""
    # What a pattern keeps for this ask only (a graph's ready nodes, ...).
    scratch: dict[str, Any] = field(default_factory=dict)
    # Turns selected in this ask and cut short before they ended (a graph's branches that a
    # join on "any" cancelled): each has its ``SpeakerSelected`` stored, and no ``Turn``.
    cut: int = 0
    # The ask's end as recorded (set once ``TeamFinished`` is stored): the reply reads its
    # totals instead of summing the tallies again.
    finished: TeamFinished | None = None

    @property
    def next_turn(self) -> int:
        """The number of the next turn selected in this ask (``SpeakerSelected.turn``)."""
        return len(self.turns) + self.cut

    @property
    def last(self) -> Turn | None:
        """The latest turn of this ask."""
        return self.turns[-1] if self.turns else None

    @property
    def last_text(self) -> str:
        """The latest member's answer in this ask ("" before the first turn)."""
        return self.turns[-1].text if self.turns else ""

    @property
    def elapsed(self) -> float:
        """Seconds since this ask began."""
        return time.monotonic() - self.started

    @property
    def usage(self) -> Usage:
        """What this ask spent so far, all members together."""
        total = UsageTotal()
        for tally in self.spent.values():
            total.add_usage(tally)
        return total.snapshot()

    @property
    def by_member(self) -> dict[str, Usage]:
        """What each member (and a selector's model, under ``<team>-selector``) spent so far."""
        return {name: tally.snapshot() for name, tally in self.spent.items()}

    def totals(self) -> tuple[Usage, tuple[MemberUsage, ...]]:
        """What this ask spent so far: the total and each member's, one snapshot per tally
        (``usage`` and ``by_member`` together, for the ask's end)."""
        total = UsageTotal()
        members: list[MemberUsage] = []
        for name, tally in self.spent.items():
            spent = tally.snapshot()
            total.add_usage(spent)
            members.append(MemberUsage(name, spent))
        return total.snapshot(), tuple(members)

    def charge(self, member: str, usage: Usage) -> None:
        """Count ``usage`` as spent by ``member`` in this ask."""
        tally = self.spent.get(member)
        if tally is None:
            tally = self.spent[member] = UsageTotal()
        tally.add_usage(usage)

    def off_record(self) -> dict[str, dict[str, Any]]:
        """What was spent by others than the members who took turns (a selector's model, a
        summarizer), as JSON-able data: the history does not hold it, so a pause keeps it."""
        members = {turn.member for turn in self.turns}
        return {
            name: dataclasses.asdict(tally.snapshot())
            for name, tally in self.spent.items()
            if name not in members
        }

    def restore_off_record(self, saved: object) -> None:
        """Charge again what ``off_record`` kept of a paused ask (resumed, maybe elsewhere)."""
        if not isinstance(saved, dict):
            return  # a pause saved before this was kept
        fields = {f.name for f in dataclasses.fields(Usage)}
        for name, usage in saved.items():
            if isinstance(usage, dict):
                self.charge(str(name), Usage(**{k: v for k, v in usage.items() if k in fields}))

    def add(self, turn: Turn) -> None:
        """A finished turn: kept, its usage charged to its member."""
        self.turns.append(turn)
        self.charge(turn.member, turn.usage)
        self.previous_speaker = turn.member


def open_teams(events: Sequence[Event]) -> list[tuple[str, str]]:
    """The team asks (id, team) started and not ended, outermost first."""
    open_asks: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, TeamStarted):
            open_asks.append((event.team_id, event.team))
        elif isinstance(event, TeamFinished | TeamFailed):
            open_asks = [a for a in open_asks if a[0] != event.team_id]
    return open_asks


def closing_teams(
    events: Sequence[Event], error_type: str, message: str, inside: str | None = None
) -> list[TeamFailed]:
    """The ``TeamFailed`` closing the team asks open in ``events``, innermost first: all of
    them, or ask ``inside`` and the member teams' asks open in it (none when it is closed)."""
    still_open = open_teams(events)
    if inside is not None:
        ids = [team_id for team_id, _ in still_open]
        still_open = still_open[ids.index(inside) :] if inside in ids else []
    return [
        TeamFailed(team_id, team, error_type, message) for team_id, team in reversed(still_open)
    ]


def rebuild_state(team: str, conversation: Conversation, team_id: str) -> TeamState:
    """The state of paused ask ``team_id``, read back from the history."""
    events = conversation.events
    start = next(
        (
            i
            for i in range(len(events) - 1, -1, -1)
            if isinstance(events[i], TeamStarted) and events[i].team_id == team_id  # type: ignore[attr-defined]
        ),
        -1,
    )
    if start < 0:
        raise NotSuspended(f"the paused team ask {team_id} is not in the history")
    started = events[start]
    assert isinstance(started, TeamStarted)
    state = TeamState(
        team,
        team_id,
        started.task,
        events,
        conversation.variables,
        conversation_id=conversation.id,
    )
    current: str | None = None
    text, usage, ran = "", Usage(), False
    for event in events[start + 1 :]:
        if isinstance(event, SpeakerSelected) and event.team_id == team_id:
            if current is not None:
                state.add(Turn(current, text, text, usage))
            current, text, usage, ran = event.member, "", Usage(), False
        elif isinstance(event, RunStarted):
            ran = True
        elif isinstance(event, RunFinished):
            text = event.text
        elif isinstance(event, UsageReport):
            usage = usage + event.usage
        elif isinstance(event, HumanMessage) and event.request_id is not None and not ran:
            text = event.text  # a human member's answer: a turn with no run of its own
        elif isinstance(event, TeamFinished) and event.team_id != team_id:
            text = event.text  # a member team's answer: its last member's, a person's too
    return state  # the last speaker selected is the human whose answer comes now


def team_turn(member: str, state: TeamState) -> Turn:
    """The turn of ``member``, a team whose ask ended in ``state``: its last turn's answer, its
    whole ask's usage (an empty answer when its Timeout cut its first turn)."""
    usage = state.finished.usage if state.finished is not None else state.usage
    if not state.turns:
        return Turn(member, "", "", usage)
    last = state.turns[-1]
    return Turn(member, last.text, last.output, usage, response=last.response)
