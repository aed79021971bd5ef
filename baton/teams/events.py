"""A team's events (defined in the core, ``baton.team_events``, since stored conversations
hold them; see there)."""

from ..team_events import (
    Handoff,
    MemberUsage,
    SpeakerSelected,
    TeamFailed,
    TeamFinished,
    TeamStarted,
)

__all__ = [
    "Handoff",
    "MemberUsage",
    "SpeakerSelected",
    "TeamFailed",
    "TeamFinished",
    "TeamStarted",
]
