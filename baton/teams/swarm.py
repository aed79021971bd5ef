"""``Swarm``: members hand the conversation to each other with tools the team makes.

    desk = Swarm([triage, billing, refunds], start="triage")
    reply = await desk.ask("I was charged twice")      # triage -> transfer_to_billing -> ...
    await reply.ask("And the refund?")                 # goes on with the member who answered

Each member gets a ``transfer_to_<name>`` tool per member it may hand off to (every other
member by default; ``handoffs={"triage": ["billing", Transfer("refunds", input_filter=...)]}``
chooses). The tool takes an optional reason and ends the member's turn: the target speaks
next. Only the first hand-off of a turn counts: any other transfer in it is answered with a
tool error naming the member who got the conversation. A member that answers with text and no
hand-off ends the ask with that answer (``TeamFinished(termination="answered")``); the next
ask continues with that member. The target sees the conversation through its view and, for
that one turn, the hand-off's ``input_filter``; another member's reasoning is never replayed
to it (the transcript shows other members' turns as named text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..context import Context
from ..errors import ConfigError, Retry
from ..events import Event
from ..options import check_one_argument
from ..tools.tool import Tool, ToolResult
from .events import Handoff
from .state import TeamState
from .team import Team, own_events
from .termination import HandoffTo, within
from .views import InputFilter, Member

__all__ = ["Swarm", "Transfer"]


class Transfer:
    """A hand-off a swarm member may make: to ``target`` (a member's name, or a name a
    ``HandoffTo`` condition ends the ask on), with an optional ``description`` for the
    tool and an ``input_filter`` deciding what of the conversation the target sees in its turn
    (e.g. ``baton.teams.text_only``)."""

    __slots__ = ("description", "input_filter", "target")

    def __init__(
        self,
        target: str,
        *,
        description: str | None = None,
        input_filter: InputFilter | None = None,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise ConfigError(f"Transfer takes a target name, got {target!r}")
        if input_filter is not None:
            check_one_argument(
                input_filter,
                f"Transfer({target!r}) input_filter= takes a function of the events before the "
                "target's turn (one argument) returning those it sees, e.g. text_only",
            )
        self.target = target
        self.description = description
        self.input_filter = input_filter

    def __repr__(self) -> str:
        return f"Transfer({self.target!r})"


class Swarm(Team):
    """Members hand off to each other (see the module docs). ``start`` is the first speaker
    (default: the first member)."""

    def __init__(
        self,
        members: Sequence[Any],
        *,
        start: str | None = None,
        handoffs: Mapping[str, Sequence[str | Transfer]] | None = None,
        name: str = "swarm",
        **options: Any,
    ) -> None:
        super().__init__(name, members, **options)
        self.start = start or self.members[0].name
        if self.start not in self.by_name:
            raise ConfigError(
                f"Swarm {name!r}: start= takes a member's name ({list(self.by_name)}), got "
                f"{self.start!r}"
            )
        if handoffs is not None:
            if not isinstance(handoffs, Mapping):
                raise ConfigError(
                    f"Swarm {name!r}: handoffs= takes a dict of who may hand off to whom, e.g. "
                    f"handoffs={{'triage': ['billing']}}, got {handoffs!r:.80}"
                )
            unknown = [n for n in handoffs if n not in self.by_name]
            if unknown:
                raise ConfigError(f"Swarm {name!r}: handoffs= names non-members {unknown}")
        # A hand-off's target is a member, or a name a HandoffTo condition ends the ask on.
        ends = {c.target for c in within(self._stop, HandoffTo)}
        self.transfers: dict[str, tuple[Transfer, ...]] = {}
        for member in self.members:
            given = (
                handoffs.get(member.name, ())
                if handoffs is not None
                else [m.name for m in self.members if m is not member]
            )
            if isinstance(given, str | Transfer) or not isinstance(given, Sequence):
                # The example shows what was given as a list, when it was one target.
                single = isinstance(given, str | Transfer)
                example = f"[{given!r}]" if single else "['billing', Transfer('support')]"
                raise ConfigError(
                    f"Swarm {name!r}: handoffs[{member.name!r}] takes a list of targets, e.g. "
                    f"{example}, got {given!r:.80}"
                )
            transfers = tuple(t if isinstance(t, Transfer) else Transfer(t) for t in given)
            for transfer in transfers:
                if transfer.target not in self.by_name and transfer.target not in ends:
                    raise ConfigError(
                        f"Swarm {name!r}: {member.name!r} may hand off to "
                        f"{transfer.target!r}, which is not a member ({list(self.by_name)}); "
                        f"to end the ask there, pass termination=HandoffTo({transfer.target!r})"
                    )
            self.transfers[member.name] = transfers
        for member in self.members:
            target = member.target
            if self.transfers[member.name] and getattr(target, "output_spec", None) is not None:
                # A hand-off ends the turn with the transfer as its final result, which a
                # response schema would reject.
                raise ConfigError(
                    f"Swarm {name!r}: member {member.name!r} has a response_schema; members "
                    "that hand off answer in text (give the schema to a member without "
                    "hand-offs, or ask for structured output after the swarm)"
                )
        # Made once: a member's plan (its tool table) is then cached across turns.
        self._tools: dict[str, tuple[Tool, ...]] = {
            name: tuple(self._transfer_tool(t) for t in transfers)
            for name, transfers in self.transfers.items()
        }

    def member_tools(self, member: Member) -> tuple[Tool, ...]:
        return self._tools.get(member.name, ())

    def _transfer_tool(self, transfer: Transfer) -> Tool:
        swarm, target = self, transfer.target
        description = transfer.description or (
            f"Hand the conversation to {target}"
            + (
                f" ({swarm.by_name[target].description})"
                if target in swarm.by_name and swarm.by_name[target].description
                else ""
            )
            + ". Call it alone, when it is that member's turn."
        )

        async def transfer_to(context: Context, reason: str = "") -> ToolResult:
            """Hand the conversation over.

            Args:
                reason: Why, in a few words (the next member reads it).
            """
            state = swarm.running(context.conversation_id)
            if state is None:
                raise Retry(f"no {swarm.name!r} swarm is running this conversation")
            taken = state.handoffs.get(context.run_id)
            if taken is not None:
                raise Retry(
                    f"not transferred: only the first hand-off of a turn counts, and the "
                    f"conversation already goes to {taken[0]}"
                )
            state.handoffs[context.run_id] = (target, reason)
            if transfer.input_filter is not None:
                swarm.expect_filter(context.conversation_id, target, transfer.input_filter)
            return ToolResult(f"Transferred to {target}.", final=True)

        return Tool(transfer_to, name=f"transfer_to_{_safe(target)}", description=description)

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        last = state.last
        if last is not None and last.handoff is not None:
            target = last.handoff
            if target not in self.by_name:
                raise ConfigError(
                    f"Swarm {self.name!r}: {last.member} handed off to {target!r}, which is not "
                    f"a member; end the ask there with termination=HandoffTo({target!r})"
                )
            why = f": {last.handoff_reason}" if last.handoff_reason else ""
            return self.by_name[target], f"handoff from {last.member}{why}"
        previous = state.previous_speaker
        if previous is not None and previous in self.by_name:
            return self.by_name[previous], f"{previous} has the conversation"
        return self.by_name[self.start], "start"

    async def finished(self, state: TeamState) -> str | None:
        last = state.last
        return "answered" if last is not None and last.handoff is None else None

    def resumed_speaker(self, events: Sequence[Event]) -> str | None:
        for event in own_events(events, self.name):
            return event.target if isinstance(event, Handoff) else event.member
        return None


def _safe(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:52]
