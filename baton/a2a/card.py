"""The agent card: what an A2A client learns about a served agent before talking to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..agent import Agent
from ..errors import ConfigError
from ..teams import Team

if TYPE_CHECKING:
    from a2a.types.a2a_pb2 import AgentCard

__all__ = ["INPUT_MODES", "Skill", "build_card", "skills_of"]

INPUT_MODES = ("text/plain", "application/json")
"""What a served agent reads: text parts, and data parts (given to the model as JSON)."""


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill the agent card lists: ``Skill("forecast", "Weather forecasts", "Gives ...")``.
    Without explicit skills the card lists one per tool of the agent (or one for the agent
    itself when it has no tools)."""

    id: str
    name: str
    description: str
    tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


def skills_of(agent: Agent[Any] | Team, given: Sequence[Skill] | None) -> tuple[Skill, ...]:
    """The skills to list: ``given`` (checked), else derived from the agent's tools (a team:
    one skill, the team itself)."""
    if given is not None:
        skills = tuple(given)
        for skill in skills:
            if not isinstance(skill, Skill):
                raise ConfigError(
                    f"skills= takes baton.a2a.Skill(id, name, description), got {skill!r}"
                )
        return skills
    if isinstance(agent, Team):
        members = ", ".join(m.name for m in agent.members)
        about = agent.description or f"Ask the {agent.name!r} team ({members})."
        return (Skill(agent.name, agent.name, about),)
    about = agent.description or f"Ask the {agent.name!r} agent."
    derived = [
        Skill(name, name, tool.spec.description or f"The agent's {name!r} tool.")
        for name, tool in agent.tools.items()
    ]
    return tuple(derived) or (Skill(agent.name, agent.name, about),)


def build_card(
    agent: Agent[Any] | Team,
    *,
    url: str,
    name: str,
    description: str,
    version: str,
    skills: Sequence[Skill],
    bearer: bool,
) -> AgentCard:
    """The card of ``agent`` served at base ``url`` over JSON-RPC (``url/``) and HTTP+JSON
    (``url``); ``bearer``: requests need ``Authorization: Bearer <token>``."""
    from a2a.types.a2a_pb2 import (
        AgentCapabilities,
        AgentCard,
        AgentInterface,
        AgentSkill,
        HTTPAuthSecurityScheme,
        SecurityRequirement,
        SecurityScheme,
        StringList,
    )
    from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, TransportProtocol

    base = url.rstrip("/")
    structured = getattr(agent, "output_spec", None) is not None
    output_modes = ["text/plain", *(["application/json"] if structured else [])]
    card = AgentCard(
        name=name,
        description=description,
        version=version,
        supported_interfaces=[
            AgentInterface(
                url=f"{base}/",
                protocol_binding=TransportProtocol.JSONRPC.value,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            ),
            AgentInterface(
                url=base,
                protocol_binding=TransportProtocol.HTTP_JSON.value,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            ),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=list(INPUT_MODES),
        default_output_modes=output_modes,
        skills=[
            AgentSkill(
                id=s.id,
                name=s.name,
                description=s.description,
                tags=list(s.tags) or [agent.name],
                examples=list(s.examples),
            )
            for s in skills
        ],
    )
    if bearer:
        card.security_schemes["bearer"].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer", description="Authorization: Bearer <token>"
                )
            )
        )
        card.security_requirements.append(
            SecurityRequirement(schemes={"bearer": StringList(list=[])})
        )
    return card
