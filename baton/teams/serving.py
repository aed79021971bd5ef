"""What a protocol server (``baton.agui``, ``baton.a2a``) needs to serve a team whose ask
pauses for its client: human members it can ask (``check_humans``), and the approvals its
members ask for, made into pauses (``approvals_for``).

A member agent's approval (a tool made with ``requires_approval=True``, or a call an
``ApprovalPolicy`` matches) can only reach a client as a paused ask (an AG-UI interrupt, an A2A
``input-required`` task), continued with ``team.resume`` in any process sharing the team's
history and storage. ``approvals_for`` gives the members ``ApprovalPolicy(suspend=True)`` when
a member needs approvals and none brings a policy (nor the server), and refuses, naming the
member and the fix, a team whose approvals nobody could answer: one without ``history=`` and
``storage=`` (its ask can't pause), an ``ApprovalPolicy`` that waits for an answer on the
stream (a member's own or the server's), or a policy the server's middleware would add a second
time to a member that brings one. A member with a ``hitl=`` handler answers its approvals
itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..agent import Agent
from ..errors import ConfigError
from ..hitl import ApprovalPolicy
from ..hooks import Middleware
from .human import Human
from .team import Team

__all__ = ["approvals_for", "check_humans"]


def check_humans(team: Team, protocol: str, pause: str) -> None:
    """Refuse, naming the member and the fix, a team with a ``Human`` member no client of
    ``protocol`` could answer: one without ``handler=`` and ``suspend=True`` (its turn waits
    for an answer on the stream, which no client of a served team reaches: the ask would hang),
    or one with ``suspend=True`` in a team without ``history=`` and ``storage=`` (its turn
    pauses the ask as ``pause``, kept in those stores)."""
    for member in team.all_members():
        human = member.target
        if not isinstance(human, Human) or human.handler is not None:
            continue
        refused = f"team {team.name!r} can't be served over {protocol}: its member {human.name!r}"
        if not human.suspend:
            raise ConfigError(
                f"{refused} is a Human without handler= and without suspend=True, whose turn "
                f"waits for an answer on the stream, where no {protocol} client can send one. "
                f"Make it Human({human.name!r}, suspend=True) (its turn asked of the client as "
                f"{pause}) or give it handler= (answered in this process)"
            )
        if team.history is None or team.storage is None:
            raise ConfigError(
                f"{refused} is a Human(suspend=True), whose turn pauses the team's ask as "
                f"{pause}, which needs history= and storage= on the team (shared by every "
                "replica). Give the team both"
            )


def approvals_for(
    team: Team, protocol: str, pause: str, given: Sequence[Middleware] = ()
) -> tuple[Middleware, ...]:
    """The middleware a served team's members get (the ask's ``middleware=``, which reaches
    every member) so that a member's approval pauses the team's ask: ``ApprovalPolicy(
    suspend=True)`` when a member has tools requiring approval and no policy is brought (by a
    member or in ``given``, the middleware the server gives every ask), else nothing.
    ``protocol`` names the server and ``pause`` what a pause is there (``"an interrupt"``),
    for the ``ConfigError`` raised, naming the member and the fix, for a team whose approvals
    nobody could answer (see the module docs)."""
    refused = f"team {team.name!r} can't be served over {protocol}"
    # Every member agent once (an agent may be a member of several teams inside this one; two
    # agents may share a name): the tools it needs approved, the policies it brings.
    agents: dict[int, tuple[Agent[Any], list[str], list[ApprovalPolicy]]] = {}
    for member in team.all_members():
        agent = member.target
        if isinstance(agent, Agent) and id(agent) not in agents:
            needing = sorted(name for name, t in agent.tools.items() if t.requires_approval)
            agents[id(agent)] = (agent, needing, _policies(agent.middleware))
    served = _policies(given)
    for policy in served:
        if not policy.suspend:
            raise ConfigError(
                f"{refused}: the ApprovalPolicy given to the app waits for an answer on the "
                "stream, and nobody answers there for a served team. Make it "
                f"ApprovalPolicy(..., suspend=True) (served as {pause})"
            )
    # A member with a hitl= handler answers its approvals itself; the others need a person.
    unanswered = [(a, needing, own) for a, needing, own in agents.values() if a.hitl is None]
    for agent, _, own in unanswered:
        if any(not p.suspend for p in own):
            raise ConfigError(
                f"{refused}: its member {agent.name!r} has an ApprovalPolicy that waits for an "
                "answer on the stream, and nobody answers there for a served team. Make it "
                f"ApprovalPolicy(..., suspend=True) (served as {pause}), or give that agent "
                "hitl= (a handler answering approvals)"
            )
    pausing = [(a, needing) for a, needing, own in unanswered if needing or own]
    if pausing and (team.history is None or team.storage is None):
        agent, needing = pausing[0]
        what = (
            f"tools requiring approval ({', '.join(needing)})" if needing else "an ApprovalPolicy"
        )
        raise ConfigError(
            f"{refused}: its member {agent.name!r} has {what}, and an approval is served "
            f"as {pause} that pauses the team's ask, which needs history= and storage= on the "
            "team. Give the team both, or give that agent hitl= (a handler answering approvals)"
        )
    # The ask's middleware reaches every member: a policy given to all of them would ask a
    # second time in a member that brings its own (with a handler too).
    bringing = sorted({a.name for a, _, own in agents.values() if own})
    if served and bringing:
        raise ConfigError(
            f"{refused}: the app's ApprovalPolicy reaches every member, and {bringing} bring "
            "their own, which would ask a second time. Give the policy to the members that "
            "need one instead of the app"
        )
    bare = sorted({a.name for a, needing, own in unanswered if needing and not own})
    if not bare or served:
        return ()
    if not bringing:
        return (ApprovalPolicy(suspend=True),)
    raise ConfigError(
        f"{refused}: its members {bare} have tools requiring approval and no ApprovalPolicy, "
        f"while {bringing} have their own, so the app can't add one for all of them. Give "
        f"each of them middleware=[ApprovalPolicy(suspend=True)] (served as {pause})"
    )


def _policies(middleware: Sequence[Middleware]) -> list[ApprovalPolicy]:
    return [m for m in middleware if isinstance(m, ApprovalPolicy)]
