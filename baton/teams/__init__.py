"""Teams: several agents (or teams) taking turns on one conversation, asked like an agent.

    from baton.teams import RoundRobin, Selector, Swarm, Member, LastN, MaxTurns, TextMention

    crew = RoundRobin([writer, critic], termination=TextMention("APPROVED") | MaxTurns(6))
    reply = await crew.ask("Write a haiku about tea.")
    print(reply.text, reply.termination, reply.usage_by_member)
    reply = await reply.ask("Now one about coffee.")     # goes on after the last speaker

Patterns: ``RoundRobin`` (fixed order), ``Selector`` (a model picks the next speaker),
``Swarm`` (members hand off with ``transfer_to_<name>`` tools), ``Sequential`` (steps with a
carryover), ``Graph`` (nodes, conditional edges, fan-out, joins). A member is an agent, a team
(a nested chat), ``Human(name)``, a remote A2A agent (``RemoteAgent.as_member()``) or
``Member(agent_or_team, view=...)``. A supervisor needs no class: an agent whose tools are its
members' ``as_tool()``.
"""

from .events import Handoff, MemberUsage, SpeakerSelected, TeamFailed, TeamFinished, TeamStarted
from .graph import Condition, Graph
from .human import Human, HumanHandler
from .patterns import RoundRobin, Selector, SpeakerChoice
from .sequential import Carryover, Fresh, Sequential
from .state import PausedTeamAsk, TeamState, Turn
from .swarm import Swarm, Transfer
from .team import DEFAULT_MAX_TURNS, Team, TeamReply, TeamRun
from .termination import (
    CostLimit,
    FunctionCondition,
    HandoffTo,
    MaxTurns,
    StopTool,
    Termination,
    TextMention,
    Timeout,
    TokenLimit,
)
from .views import (
    All,
    InputFilter,
    LastN,
    Member,
    Nothing,
    OwnAndAddressed,
    Summary,
    View,
    text_only,
)

__all__ = [
    "DEFAULT_MAX_TURNS",
    "All",
    "Carryover",
    "Condition",
    "CostLimit",
    "Fresh",
    "FunctionCondition",
    "Graph",
    "Handoff",
    "HandoffTo",
    "Human",
    "HumanHandler",
    "InputFilter",
    "LastN",
    "MaxTurns",
    "Member",
    "MemberUsage",
    "Nothing",
    "OwnAndAddressed",
    "PausedTeamAsk",
    "RoundRobin",
    "Selector",
    "Sequential",
    "SpeakerChoice",
    "SpeakerSelected",
    "StopTool",
    "Summary",
    "Swarm",
    "Team",
    "TeamFailed",
    "TeamFinished",
    "TeamReply",
    "TeamRun",
    "TeamStarted",
    "TeamState",
    "Termination",
    "TextMention",
    "Timeout",
    "TokenLimit",
    "Transfer",
    "Turn",
    "View",
    "text_only",
]
