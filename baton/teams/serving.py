"""What a protocol server (``baton.agui``, ``baton.a2a``) needs to serve a team whose ask
pauses for its client: the approvals its members ask for, made into pauses.

A member agent's approval (a tool made with ``requires_approval=True``) can only reach a
client as a paused ask (an AG-UI interrupt, an A2A ``input-required`` task), continued with
``team.resume`` in any process sharing the team's history and storage. ``approvals_for`` gives
the members ``ApprovalPolicy(suspend=True)`` when none brings one of its own, and refuses,
naming the member and the fix, a team whose approvals nobody could answer: one without
``history=`` and ``storage=`` (its ask can't pause), a member whose own ``ApprovalPolicy``
waits for an answer on the stream, or members some of which bring a policy and some not. A
member with a ``hitl=`` handler answers its approvals itself.
"""

from __future__ import annotations

from typing import Any

from ..agent import Agent
from ..errors import ConfigError
from ..hitl import ApprovalPolicy
from ..hooks import Middleware
from .team import Team

__all__ = ["approvals_for"]


def approvals_for(team: Team, protocol: str, pause: str) -> tuple[Middleware, ...]:
    """The middleware a served team's members get (the ask's ``middleware=``, which reaches
    every member) so that a member's approval pauses the team's ask: ``ApprovalPolicy(
    suspend=True)`` when a member has tools requiring approval and none has an
    ``ApprovalPolicy`` of its own (one of their own would then ask twice), else nothing.
    ``protocol`` names the server and ``pause`` what a pause is there (``"an interrupt"``),
    for the ``ConfigError`` raised, naming the member and the fix, for a team whose approvals
    nobody could answer (see the module docs)."""
    # Every member agent with tools requiring approval, once (an agent may be a member of
    # several teams inside this one; two agents may share a name).
    asking: dict[int, tuple[Agent[Any], list[str]]] = {}
    for member in team.all_members():
        agent = member.target
        if isinstance(agent, Agent):
            needing = sorted(name for name, t in agent.tools.items() if t.requires_approval)
            if needing:
                asking.setdefault(id(agent), (agent, needing))
    # A member with a hitl= handler answers its approvals itself; the others need a person.
    unanswered = [(a, needing) for a, needing in asking.values() if a.hitl is None]
    if not unanswered:
        return ()
    refused = f"team {team.name!r} can't be served over {protocol}"
    first, needing = unanswered[0]
    if team.history is None or team.storage is None:
        raise ConfigError(
            f"{refused}: its member {first.name!r} has tools requiring approval "
            f"({', '.join(needing)}), and an approval is served as {pause} that pauses the "
            "team's ask, which needs history= and storage= on the team. Give the team both, "
            "or give that agent hitl= (a handler answering approvals)"
        )
    for agent, _ in unanswered:
        policies = _policies(agent)
        if policies and not any(p.suspend for p in policies):
            raise ConfigError(
                f"{refused}: its member {agent.name!r} has an ApprovalPolicy that waits for an "
                "answer on the stream, and nobody answers there for a served team. Make it "
                f"ApprovalPolicy(suspend=True) (served as {pause}), or give that agent hitl= "
                "(a handler answering approvals)"
            )
    # The ask's middleware reaches every member: a policy added for all would ask twice in a
    # member that has one of its own (with a handler too).
    own = sorted({a.name for a, _ in asking.values() if _policies(a)})
    if not own:
        return (ApprovalPolicy(suspend=True),)
    without = sorted({a.name for a, _ in unanswered if not _policies(a)})
    if without:
        raise ConfigError(
            f"{refused}: its members {without} have tools requiring approval and no "
            f"ApprovalPolicy, while {own} have their own, so the app can't add one for all of "
            "them. Give each of them middleware=[ApprovalPolicy(suspend=True)] "
            f"(served as {pause})"
        )
    return ()


def _policies(agent: Agent[Any]) -> list[ApprovalPolicy]:
    return [m for m in agent.middleware if isinstance(m, ApprovalPolicy)]
