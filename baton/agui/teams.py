"""What serving a team over AG-UI needs beyond an agent: the check that the team can be served
(a member's approval is not served as an interrupt), and the client-held conversation as a
team reply to continue (a team without ``history=``).

A served team's ask pauses on a ``Human(name, suspend=True)`` member (of the team, of a member
team, or a graph's node; ``team.resume`` continues it, in any process sharing the team's
history and storage): the member's turn is an AG-UI interrupt with ``reason:
"input_required"``. A member agent's own pause (an approval with ``ApprovalPolicy(suspend=True)``
and the like) pauses a team's ask in Python, but is not served here as an interrupt, so a
member whose tools require approval must answer them itself (``hitl=`` on that agent); and
front-end tools are refused (they would pause a member's run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..agent import Agent
from ..conversation import Conversation
from ..errors import ConfigError
from ..events import ModelResponse, Usage, UsageReport
from ..teams import Team, TeamReply, TeamState
from .inputs import BadInput, replayed_conversation

__all__ = [
    "FRONTEND_TOOLS_REFUSED",
    "check_team",
    "refuse_frontend_tools",
    "replayed_team_reply",
]

FRONTEND_TOOLS_REFUSED = (
    "front-end tools can't be given to a team: a call to one pauses the member's run, and a "
    "team served over AG-UI pauses only on a Human(..., suspend=True) member; serve an agent "
    "for front-end tools, or declare none"
)


def check_team(team: Team) -> None:
    """Refuse a team whose members would wait for an approval nobody can give (see the
    module docs), naming the member and the fix."""
    for member in team.all_members():
        agent = member.target
        if not isinstance(agent, Agent) or agent.hitl is not None:
            continue
        needing = sorted(name for name, t in agent.tools.items() if t.requires_approval)
        if needing:
            raise ConfigError(
                f"team {team.name!r} can't be served over AG-UI: its member {agent.name!r} has "
                f"tools requiring approval ({', '.join(needing)}), and a member's approval "
                "is not served as an interrupt. Give that agent hitl= (a handler answering "
                "approvals), or ask a person through a Human(name, suspend=True) member"
            )


def replayed_team_reply(team: Team, messages: Sequence[Any], thread: str) -> TeamReply:
    """The client-held conversation (a team without a history) as a reply to continue."""
    events, last = replayed_conversation(messages, team.name, thread)
    conversation = Conversation(id=thread, events=events, variables=dict(team.variables))
    response = last or ModelResponse()
    state = TeamState(team.name, "", "", conversation.events, conversation.variables)
    return TeamReply(
        team,
        conversation,
        "",
        response.text,
        response.text,
        Usage(),
        response,
        UsageReport(Usage(), ()),
        state,
    )


def refuse_frontend_tools(declared: Sequence[Any]) -> None:
    """A request declaring front-end tools to a team: refused (see the module docs)."""
    if declared:
        raise BadInput(FRONTEND_TOOLS_REFUSED)
