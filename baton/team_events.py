"""What a team records in its conversation, around its members' runs: when it started, who
was chosen to speak and why, hand-offs, and how it ended (which termination fired, what each
member spent). Models never see these (the transcript shows members' runs only); they are how
a team's conversation is watched, and how a later ask finds where the team stood.

They live in the core (``baton.teams`` re-exports them) because they are stored: any process
that opens a team's conversation (an agent continuing it, a watcher, the dev UI, a worker)
must decode them without importing ``baton.teams``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import Event, Record, Usage, register

__all__ = [
    "Handoff",
    "MemberUsage",
    "SpeakerSelected",
    "TeamFailed",
    "TeamFinished",
    "TeamStarted",
]


@register
@dataclass(frozen=True, slots=True)
class TeamStarted(Event):
    """A team's ask began (``team_id`` names this ask; ``pattern``: ``RoundRobin``, ...)."""

    team_id: str
    team: str
    pattern: str
    conversation_id: str
    task: str = ""


@register
@dataclass(frozen=True, slots=True)
class SpeakerSelected(Event):
    """``member`` takes turn ``turn`` (counted from 0 in this ask) of team ``team``, and why."""

    team_id: str
    team: str
    member: str
    reason: str
    turn: int


@register
@dataclass(frozen=True, slots=True)
class Handoff(Event):
    """Member ``source`` handed the conversation to ``target`` (a swarm's transfer tool)."""

    team_id: str
    team: str
    source: str
    target: str
    reason: str = ""


@register
@dataclass(frozen=True, slots=True)
class MemberUsage(Record):
    """What one member spent in a team's ask."""

    member: str
    usage: Usage


@register
@dataclass(frozen=True, slots=True)
class TeamFinished(Event):
    """A team's ask ended normally: ``termination`` names the condition that fired (e.g.
    ``MaxTurns(20)``, ``TextMention('DONE')``, or ``answered`` when a swarm member answered
    without handing off); ``text`` is the last member's answer."""

    team_id: str
    team: str
    termination: str
    text: str
    turns: int
    usage: Usage = field(default_factory=Usage)
    members: tuple[MemberUsage, ...] = ()


@register
@dataclass(frozen=True, slots=True)
class TeamFailed(Event):
    """A team's ask ended with an error, a cancel, or a process that died (``Interrupted``,
    recorded by the next ask that opens the conversation)."""

    team_id: str
    team: str
    error_type: str
    message: str
