"""``Sequential``: chats in order, each starting fresh with a carryover from the ones before.

    pipeline = Sequential([researcher, writer, editor], carryover="last")
    reply = await pipeline.ask("An article on green tea")

Every step takes one turn (a step that is a team runs its own chat in that turn). The first
step gets the task; each later step a new request: the task, then the carryover: the previous
step's answer (``"last"``, the default), a model's summary of every earlier answer
(``"summary"``, with ``summary_model=``), or what a function of the earlier ``Turn`` records
returns (sync or async). An agent step sees only that request (it starts fresh); a team step's
members see the conversation through their own views. All of it is one conversation: each
step's run and request are in the history, and ``reply.ask`` runs the sequence again on a new
task.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from ..agent import Agent
from ..errors import ConfigError
from ..events import Event
from ..models.base import ModelConfig
from ..options import PromptInput, check_one_argument
from .state import TeamState, Turn
from .team import Team
from .views import All, Member, View, as_member

__all__ = ["Carryover", "Fresh", "Sequential"]

Carryover = Literal["last", "summary"] | Callable[[list[Turn]], str | Awaitable[str]]


class Fresh(View):
    """Nothing before the member's own turn (its request included in the turn)."""

    async def select(self, before: Sequence[Event], member: str) -> Sequence[Event]:
        return []


class Sequential(Team):
    """Steps in order, each starting fresh with a carryover (see the module docs)."""

    ends_within_limit = True  # done after its last step: a MaxTurns beyond it loses nothing

    def __init__(
        self,
        steps: Sequence[Any],
        *,
        carryover: Carryover = "last",
        summary_model: ModelConfig | str | None = None,
        name: str = "sequential",
        **options: Any,
    ) -> None:
        members = [_fresh(step) for step in steps]
        options.setdefault("max_turns", max(len(members), 1))
        super().__init__(name, members, **options)
        if len(self.members) > self.max_turns.n:
            raise ConfigError(
                f"Sequential {name!r} has {len(self.members)} steps but max_turns="
                f"{self.max_turns.n}: raise max_turns"
            )
        if carryover == "summary":
            if summary_model is None:
                raise ConfigError(
                    "carryover='summary' needs summary_model= (the model that summarizes)"
                )
            self.summarizer: Agent[str] | None = Agent(
                f"{name}-summarizer",
                "Summarize the results you are given for the next step of the work: what was "
                "found and decided, briefly and factually.",
                config=summary_model,
            )
        elif carryover == "last":
            self.summarizer = None
        else:
            check_one_argument(
                carryover,
                "carryover= takes 'last', 'summary' or a function of the earlier turns (one "
                "argument, the list of Turn records) returning text",
            )
            self.summarizer = None
        self.carryover = carryover

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        index = len(state.turns)
        return self.members[index], f"step {index + 1} of {len(self.members)}"

    async def finished(self, state: TeamState) -> str | None:
        return "sequence done" if len(state.turns) >= len(self.members) else None

    async def prompt_for(
        self, state: TeamState, member: Member, task: PromptInput | None
    ) -> PromptInput | None:
        if not state.turns:
            return task
        carried = await self._carry(state)
        base = state.task or "Continue the work."
        return f"{base}\n\nCarried over from the earlier steps:\n{carried}"

    async def _carry(self, state: TeamState) -> str:
        turns, carryover = state.turns, self.carryover
        if carryover == "last":
            last = turns[-1]
            return f"[{last.member}] {last.text}"
        if carryover == "summary":
            assert self.summarizer is not None
            reply = await self.summarizer.ask("\n\n".join(f"[{t.member}] {t.text}" for t in turns))
            # Counted in the ask's total, and under its own name (as a selector's model).
            state.charge(self.summarizer.name, reply.usage)
            return reply.text
        result = carryover(list(turns))
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, str):
            raise ConfigError(f"the carryover function must return text, got {result!r}")
        return result


def _fresh(step: Any) -> Member:
    member = as_member(step)
    if isinstance(member.target, Agent) and type(member.view) is All:
        return Member(member.target, view=Fresh(), name=member.name, description=member.description)
    return member
