"""How a team's ask pauses and goes on, in any process: the ``Pausing`` part of ``Team``.

An ask pauses in a member's turn: a ``Human(..., suspend=True)`` member's (``human.py``), a
member agent's own run that pauses (``suspend_on_human``, ``ApprovalPolicy(suspend=True)``,
``context.pause``: ``Team._member_run``), or a member team's ask that paused in its own turn.
The team asked saves the pause in one write (``recording.keep_pause``): who paused, what the
pattern keeps of the ask (``kept_on_pause``: a graph's ready nodes) and what goes on with the
member's turn (the human's request, the run's requests, or the member team's own pause, saved
the same way, under ``inner``). ``resume`` reads it back, rebuilds the state of the ask from the
history, finishes the paused turn (the member team's ask first, to its end) and goes on with the
ask; ``paused`` tells what a paused ask waits for; ``cancel_paused`` ends it unanswered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from ..agent import Agent
from ..conversation import Conversation, claim_stored
from ..errors import AskSuspended, ConfigError, NotSuspended
from ..events import Event, HumanInputRequest, HumanMessage, RunStarted, Usage
from ..history import History, Storage
from ..options import PromptInput
from ..repair import closing_events
from ..run import open_run_index
from ..runstate import delete_run_state, load_run_state
from ..storing import store
from .human import Human, pause_key, record_answer
from .opening import MEMBER_OPTIONS
from .recording import PendingPause, TeamAsk, innermost, keep_pause
from .state import PausedTeamAsk, TeamState, Turn, closing_teams, rebuild_state, team_turn
from .views import Member

if TYPE_CHECKING:
    from ..run import LiveRun
    from .events import TeamStarted
    from .reply import TeamReply

__all__ = ["Pausing"]


class Pausing:
    """Pausing and resuming a team's ask: a part of ``Team`` (see the module docs)."""

    if TYPE_CHECKING:  # what it uses of the rest of the team (``team.py``)
        name: str
        storage: Storage | None
        history: History | None
        variables: dict[str, Any]
        by_name: dict[str, Member]

        def prepare(self) -> None: ...

        def kept_on_pause(self, state: TeamState) -> dict[str, Any]: ...

        def restore_on_resume(self, state: TeamState, kept: Mapping[str, Any]) -> None: ...

        def _reply(self, conversation: Conversation, state: TeamState) -> TeamReply: ...

        def _turn_options(self, ask: TeamAsk, member: Member) -> Mapping[str, Any]: ...

        async def _drive(
            self,
            ask: TeamAsk,
            task: PromptInput | None,
            *,
            started: TeamStarted | None = None,
            resumed: Callable[[TeamAsk], Awaitable[Turn]] | None = None,
        ) -> TeamState: ...

        async def _member_run(
            self, ask: TeamAsk, member: Member, live: LiveRun, start: int, resumed: bool = False
        ) -> Turn: ...

    async def _resume_ask(
        self, conversation_id: str, answers: Sequence[HumanMessage], options: Mapping[str, Any]
    ) -> TeamReply:
        """``Team.resume`` (see there)."""
        self.prepare()
        # A relay belongs to the ask that started the team (as a sub-task), not to a resume.
        unknown = sorted(set(options) - {"stream", "wait_busy"} - (MEMBER_OPTIONS - {"relay"}))
        if unknown:
            raise ConfigError(
                "team.resume() takes stream=, wait_busy=, middleware=, observers= and "
                f"suspend_on_human=, not {unknown[0]}= (the paused ask goes on with what it "
                "started with)"
            )
        storage, history = self._stores("resume() continues")
        conversation = await claim_stored(
            history,
            conversation_id,
            stream=options.get("stream"),
            variables=self.variables,
            wait=options.get("wait_busy", 0),
        )
        try:
            paused = await self._pause_record(storage, conversation_id)
            passed = {k: options[k] for k in MEMBER_OPTIONS if k in options}
            state, turn = self._paused_turn(conversation, paused, answers, storage)
            if not await storage.delete(pause_key(conversation_id)):
                raise NotSuspended(f"the paused team ask of {conversation_id} was resumed")
            ask = TeamAsk(conversation, state, None, passed, top=True, storage=storage, asked=True)
            state = await self._drive(ask, None, resumed=turn)
            return self._reply(conversation, state)
        finally:
            await conversation.release()

    def _stores(self, doing: str) -> tuple[Storage, History]:
        """The team's storage and history, which a paused ask lives in (``doing``: what the
        caller does with it, for the error)."""
        storage, history = self.storage, self.history
        if storage is None or history is None:
            raise ConfigError(
                f"team.{doing} an ask saved in a history and a storage: build the team with "
                "the same history= and storage= as the one that paused"
            )
        return storage, history

    async def _pause_record(self, storage: Storage, conversation_id: str) -> dict[str, Any]:
        """This team's pause record on ``conversation_id`` (``NotSuspended``: none)."""
        paused = await storage.get(pause_key(conversation_id))
        if not isinstance(paused, dict) or paused.get("team") != self.name:
            raise NotSuspended(
                f"team {self.name!r} has no paused ask on conversation {conversation_id}"
            )
        return paused

    async def _cancel_paused(self, conversation_id: str, reason: str, wait_busy: float) -> None:
        """``Team.cancel_paused`` (see there)."""
        self.prepare()
        storage, history = self._stores("cancel_paused() ends")
        conversation = await claim_stored(
            history, conversation_id, stream=None, variables=self.variables, wait=wait_busy
        )
        try:
            paused = await self._pause_record(storage, conversation_id)
            waiting = innermost(paused)  # a member team's pause: who waits there
            events = conversation.events
            closing: list[Event] = []
            start = open_run_index(events)
            started = events[start] if start >= 0 else None
            if isinstance(started, RunStarted) and started.run_id == waiting.get("run_id"):
                # A member's paused run: its open calls answered (none run), then closed.
                run_id = started.run_id
                closing += closing_events(events, start, run_id, "Cancelled", reason, "cancelled")
            # The ask and the member teams' asks open in it, innermost first, as a cancelled
            # ask closes.
            closing += closing_teams(events, "Cancelled", reason, inside=paused.get("team_id", ""))
            # The history first: a crash before the pause is forgotten leaves it closed, and
            # a second cancel only forgets the pause.
            if closing:
                await store(conversation, closing)
            if "run_id" in waiting:
                await delete_run_state(storage, conversation_id)
            await storage.delete(pause_key(conversation_id))
        finally:
            await conversation.release()

    def _paused_turn(
        self,
        conversation: Conversation,
        paused: Mapping[str, Any],
        answers: Sequence[HumanMessage],
        storage: Storage,
    ) -> tuple[TeamState, Callable[[TeamAsk], Awaitable[Turn]]]:
        """The state of this team's paused ask as the history has it, and the rest of the turn
        it paused in, given ``answers`` (see ``resume``). ``paused`` is what the pause saved:
        a human member's request, a member agent's paused run, or the pause of a member that
        is a team (``inner``, saved the same way by that team)."""
        member = self.by_name.get(paused["member"])
        if member is None:
            raise ConfigError(
                f"team {self.name!r} paused for {paused['member']!r}, which is not a member "
                f"of this team ({list(self.by_name)}): resume with the team that paused"
            )
        turn: Callable[[TeamAsk], Awaitable[Turn]]
        if "inner" in paused:  # a member team paused in its own turn: it goes on first
            turn = self._resumed_team(member, conversation, paused["inner"], answers, storage)
        elif "run_id" in paused:  # a member's own run paused: it goes on where it stood
            turn = self._resumed_run(member, conversation, answers, paused["request_ids"], storage)
        else:
            turn = self._resumed_human(member, paused["request_id"], answers)
        state = rebuild_state(self.name, conversation, paused["team_id"])
        state.restore_off_record(paused.get("spent"))
        self.restore_on_resume(state, paused.get("pattern") or {})
        return state, turn

    def _resumed_team(
        self,
        member: Member,
        conversation: Conversation,
        inner: Mapping[str, Any],
        answers: Sequence[HumanMessage],
        storage: Storage,
    ) -> Callable[[TeamAsk], Awaitable[Turn]]:
        """The rest of the turn of a member team that paused in it: that team's ask goes on
        (its own paused turn first) to its end, which ends the member's turn."""
        target = member.target
        if not isinstance(target, Pausing) or not isinstance(inner, dict):
            raise ConfigError(
                f"team {self.name!r} paused in a turn of its member team {member.name!r}, "
                "which is not a team in this team: resume with the team that paused"
            )
        target.prepare()
        state, turn = target._paused_turn(conversation, inner, answers, storage)

        async def resumed(ask: TeamAsk) -> Turn:
            nested = TeamAsk(
                conversation, state, ask.sink, ask.member_options, top=ask.top, storage=storage
            )
            try:
                final = await target._drive(nested, None, resumed=turn)
            except AskSuspended as suspended:
                await self._paused_in_member(ask, member, suspended)
            return team_turn(member.name, final)

        return resumed

    async def _paused_in_member(
        self, ask: TeamAsk, member: Member, suspended: AskSuspended
    ) -> NoReturn:
        """A member team's ask paused in its turn (a ``PendingPause``, with what that team saves
        of it): this team's pause, with the member team's inside it, saved in one write when
        this team is the one asked (else handed up the same way), so that ``resume`` on the
        team asked goes on in the member's turn. Any other ``AskSuspended`` (a pause the member
        team could not keep: it closed its ask) goes on as it is."""
        if not isinstance(suspended, PendingPause):
            raise suspended
        await self._pause(
            ask,
            member,
            suspended,
            f"team {self.name!r} waits in the turn of its member {member.name!r}: {suspended}",
            inner=suspended.record,
        )

    async def _pause(
        self,
        ask: TeamAsk,
        member: Member,
        suspended: AskSuspended,
        message: str,
        **saved: Any,
    ) -> NoReturn:
        """Pause ``ask`` in ``member``'s turn, waiting for ``suspended``'s requests: the caller
        is told ``message``; the pause keeps who paused, the pattern's own (``kept_on_pause``)
        and ``saved`` (what goes on with the member's turn: see ``_paused_turn``)."""
        paused = AskSuspended(
            message,
            conversation_id=ask.conversation.id,
            run_id=ask.state.team_id,
            requests=suspended.requests,
            asked_in=suspended.asked_in,
        )
        await keep_pause(
            ask,
            paused,
            team=self.name,
            member=member.name,
            kept=self.kept_on_pause(ask.state),
            **saved,
        )

    def _resumed_human(
        self, member: Member, request_id: str, answers: Sequence[HumanMessage]
    ) -> Callable[[TeamAsk], Awaitable[Turn]]:
        """The turn of a paused human member, taken with its answer among ``answers``."""
        answer = next(
            (a for a in answers if isinstance(a, HumanMessage) and a.request_id == request_id),
            None,
        )
        if answer is None:
            raise ConfigError(
                f"team.resume() takes the answer to the paused request: "
                f"HumanMessage(request_id={request_id!r}, text=...)"
            )
        text = answer.text

        async def turn(ask: TeamAsk) -> Turn:
            await record_answer(ask, request_id, text, to_stream=True)
            return Turn(member.name, text, text, Usage())

        return turn

    def _resumed_run(
        self,
        member: Member,
        conversation: Conversation,
        answers: Sequence[HumanMessage],
        request_ids: Sequence[str],
        storage: Storage,
    ) -> Callable[[TeamAsk], Awaitable[Turn]]:
        """The rest of a member's turn whose own run paused, given ``answers``."""
        target = member.target
        if not isinstance(target, Agent):
            raise ConfigError(
                f"team {self.name!r} paused in a run of {member.name!r}, which is not an agent "
                "in this team: resume with the team that paused"
            )
        for answer in answers:
            if not isinstance(answer, HumanMessage) or answer.request_id not in request_ids:
                raise ConfigError(
                    f"team.resume() takes HumanMessage answers to the paused requests "
                    f"({', '.join(request_ids)}), got {answer!r}"
                )

        async def turn(ask: TeamAsk) -> Turn:
            options = self._turn_options(ask, member)
            start = max(0, open_run_index(conversation.events))  # the tools called before too
            live = await target.open_resumed(
                conversation.id,
                answers,
                cast(Any, options),
                held=conversation,
                storage=storage,
            )
            return await self._member_run(ask, member, live, start, resumed=True)

        return turn

    async def _paused_ask(self, conversation_id: str) -> PausedTeamAsk | None:
        """``Team.paused`` (see there)."""
        self.prepare()  # a graph not asked yet in this process is built first
        storage, history = self.storage, self.history
        if storage is None or history is None:
            return None
        paused = await storage.get(pause_key(conversation_id))
        if not isinstance(paused, dict) or paused.get("team") != self.name:
            return None
        team_id = str(paused.get("team_id"))
        team: Pausing = self
        while isinstance(paused.get("inner"), dict):  # a member team's pause: the one waiting
            nested = team.by_name.get(str(paused.get("member")))
            if nested is None or not isinstance(nested.target, Pausing):
                break
            team, paused = nested.target, paused["inner"]
            team.prepare()
        member = str(paused.get("member"))
        if "run_id" in paused:  # a member agent's own run paused: its saved state holds them
            run = await load_run_state(storage, conversation_id)
            if run is not None and run.run_id == paused["run_id"]:
                return PausedTeamAsk(self.name, team_id, member, run.requests, run)
        request_id = str(paused.get("request_id") or (paused.get("request_ids") or [""])[0])
        for event in reversed(await history.load(conversation_id)):
            if isinstance(event, HumanInputRequest) and event.request_id == request_id:
                return PausedTeamAsk(self.name, team_id, member, (event,))
        # A human's turn whose request is not in the history (written by an older version).
        target = team.by_name[member].target if member in team.by_name else None
        request = (
            target.request(request_id, team.name)
            if isinstance(target, Human)
            else HumanInputRequest(request_id, f"{member}: your turn in {self.name}")
        )
        return PausedTeamAsk(self.name, team_id, member, (request,))
