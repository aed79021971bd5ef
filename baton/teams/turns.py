"""A member's turn in a team's ask: taken by an agent (its own run on the held conversation,
opened with the member's options: its view, the team's tools for it), a ``Human`` or a member
team (its own ask, nested), and run to its end, a ``Turn``. The ``MemberTurns`` part of
``Team``; which member speaks and when the ask ends is ``team.py``'s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, cast

from ..agent import Agent
from ..errors import AskSuspended, ConfigError
from ..events import ModelResponse, RunStarted
from ..loop import run_loop
from ..options import PromptInput
from ..run import LiveRun, abandon_run
from ..storing import store
from ..tools.tool import Tool
from .events import SpeakerSelected
from .human import Human, human_turn
from .recording import TeamAsk, deliver, record
from .state import TeamState, Turn, team_turn
from .views import All, Member, ViewPolicy

__all__ = ["MemberTurns"]


class MemberTurns:
    """Taking a member's turn and running it to its end: a part of ``Team`` (see the module
    docs)."""

    if TYPE_CHECKING:  # what it uses of the rest of the team (``team.py``, ``pausing.py``)
        name: str
        _filtering: bool
        _policies: dict[str, tuple[ViewPolicy, ...]]
        _member_options: dict[str, Mapping[str, Any]]

        def member_tools(self, member: Member) -> tuple[Tool, ...]: ...

        def kept_on_pause(self, state: TeamState) -> dict[str, Any]: ...

        def why_no_pause(self, ask: TeamAsk) -> str | None: ...

        async def _paused_in_member(
            self, ask: TeamAsk, member: Member, suspended: AskSuspended
        ) -> NoReturn: ...

        async def _pause(
            self,
            ask: TeamAsk,
            member: Member,
            suspended: AskSuspended,
            message: str,
            **saved: Any,
        ) -> NoReturn: ...

    async def _take_turn(
        self, ask: TeamAsk, member: Member, prompt: PromptInput | None, selected: SpeakerSelected
    ) -> Turn:
        target = member.target
        conversation = ask.conversation
        if not isinstance(target, Agent):
            await record(ask, selected)
            if isinstance(target, Human):
                why, kept = None, None
                if target.suspend:
                    why, kept = self.why_no_pause(ask), self.kept_on_pause(ask.state)
                return await human_turn(ask, member, target, self.name, why, kept)
            try:
                inner = await target.play(
                    prompt,
                    conversation,
                    ask.sink,
                    ask.member_options,
                    top=ask.top,
                    storage=ask.storage,
                )
            except AskSuspended as suspended:
                await self._paused_in_member(ask, member, suspended)
            return team_turn(member.name, inner)
        options = self._turn_options(ask, member)
        live = await target.open_run(prompt, cast(Any, options), held=conversation)
        live.tap = ask.sink
        # A member's own pause (suspend_on_human, ApprovalPolicy(suspend=True), ...) pauses
        # the team's ask: its run is saved in the team's storage (see _member_run).
        live.storage = ask.storage if self.why_no_pause(ask) is None else None
        start = len(conversation.events)
        if live.plan.chains.ask is None:
            # The selection and the run's start go to the store in one write (a round trip
            # less per turn on a durable history); the loop then only delivers the start.
            started = RunStarted(live.run_id, live.agent_name, conversation.id)
            opening = (started, live.request) if live.request.parts else (started,)
            await store(conversation, (selected, *opening))
            try:
                await deliver(ask, selected)
            except BaseException as error:
                await abandon_run(conversation, live.run_id, error)
                raise
            live.started = opening
        else:  # around_ask middleware runs before the run starts: it records its own start
            await record(ask, selected)
        return await self._member_run(ask, member, live, start)

    async def _member_run(
        self, ask: TeamAsk, member: Member, live: LiveRun, start: int, resumed: bool = False
    ) -> Turn:
        """Run a member's turn (new, or ``resumed``) to its end: its ``Turn``. A run that pauses
        itself pauses the team's ask (``AskSuspended`` with the member's requests), to go on
        with ``team.resume``; a team that can't pause fails with a ``ConfigError`` saying why."""
        conversation = ask.conversation
        try:
            reply = await run_loop(live)
        except AskSuspended as suspended:
            storage = ask.storage
            if suspended.run_id != live.run_id or storage is None:
                raise
            ids = ", ".join(r.request_id for r in suspended.requests)
            await self._pause(
                ask,
                member,
                suspended,
                f"team {self.name!r} waits for the requests of its member {member.name!r} "
                f"(request {ids}); continue it with team.resume({conversation.id!r}, "
                "HumanMessage(request_id=..., text=... or approved=True/False))",
                run_id=live.run_id,
                request_ids=list(suspended.request_ids),
            )
        except ConfigError as error:
            why = self.why_no_pause(ask)
            if why is None or "storage=" not in str(error):
                raise
            raise ConfigError(
                f"member {member.name!r} of team {self.name!r} paused its turn, which pauses "
                f"the team's ask, and this ask can't pause: {why}"
            ) from error
        called: tuple[str, ...] = ()
        if resumed or reply.usage.tool_calls:  # a turn that called no tool: nothing to read
            called = tuple(
                c.name
                for e in conversation.events[start:]
                if isinstance(e, ModelResponse)
                for c in e.tool_calls
            )
        handoff = ask.state.handoffs.pop(reply.run_id, None)
        return Turn(
            member.name,
            reply.text,
            reply.output,
            reply.usage,
            called,
            handoff[0] if handoff else None,
            handoff[1] if handoff else "",
            reply.response,
        )

    def _turn_options(self, ask: TeamAsk, member: Member) -> Mapping[str, Any]:
        """The options of ``member``'s run: its view, the team's tools for it, and what the
        ask passes to every member; made once per member when the ask passes nothing."""
        cached = None if ask.member_options else self._member_options.get(member.name)
        if cached is not None:
            return cached
        options: dict[str, Any] = {**ask.member_options}
        if self._filtering or type(member.view) is not All:
            options["policies"] = self._policies[member.name]
        tools = self.member_tools(member)
        if tools:
            options["tools"] = tools
        if not ask.member_options:
            self._member_options[member.name] = options
        return options
