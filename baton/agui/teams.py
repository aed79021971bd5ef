"""What serving a team over AG-UI needs beyond an agent: the approvals its members ask for,
served as interrupts, and the client-held conversation as a team reply to continue (a team
without ``history=``).

A served team's ask pauses on a ``Human(name, suspend=True)`` member (of the team, of a member
team, or a graph's node): the member's turn is an AG-UI interrupt with ``reason:
"input_required"``. A ``Human`` with neither ``handler=`` nor ``suspend=True`` (its turn would
wait on a stream no client reaches), or with ``suspend=True`` in a team without ``history=``
and ``storage=``, is refused when the app is made (``baton.teams.serving.check_humans``, as
``A2AApp`` does). It pauses too on a member agent's approval (a tool made with
``requires_approval=True``): the app gives the members ``ApprovalPolicy(suspend=True)`` when
none brings an ``ApprovalPolicy`` of its own, and the approval is an interrupt with ``reason:
"tool_call"``; ``team.resume`` continues either, in any process sharing the team's history and
storage. A team whose approvals nobody could answer is refused when the app is made, naming the
member and the fix: a team without ``history=`` and ``storage=`` (its ask can't pause), or a
member whose own ``ApprovalPolicy`` waits for an answer on the stream (the rule
``baton.teams.serving.approvals_for``, which ``A2AApp`` shares). A member with a
``hitl=`` handler answers its approvals itself. A member in a graph's parallel branch can't
pause the graph: its approval ends the run with ``RUN_ERROR`` saying so. Front-end tools are
refused (a call to one would pause a member's run where no client tool message can reach it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..conversation import Conversation
from ..events import ModelResponse, Usage, UsageReport
from ..middleware.base import Middleware
from ..teams import Team, TeamReply, TeamState
from ..teams.serving import approvals_for as shared_approvals_for
from .inputs import BadInput, replayed_conversation

__all__ = [
    "FRONTEND_TOOLS_REFUSED",
    "approvals_for",
    "refuse_frontend_tools",
    "replayed_team_reply",
]

FRONTEND_TOOLS_REFUSED = (
    "front-end tools can't be given to a team: a call to one pauses the member's run, and a "
    "team served over AG-UI pauses only on a Human(..., suspend=True) member; serve an agent "
    "for front-end tools, or declare none"
)


def approvals_for(team: Team, given: Sequence[Middleware] = ()) -> tuple[Middleware, ...]:
    """The middleware a served team's members get so that a member's approval pauses the
    team's ask as an interrupt (``baton.teams.serving.approvals_for``, the rule ``A2AApp``
    shares); ``given``: the middleware the app was given for every ask. Raises
    ``ConfigError``, naming the member and the fix, for a team whose approvals nobody could
    answer."""
    return shared_approvals_for(team, "AG-UI", "an interrupt", given)


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
