"""A team's reply (a ``Reply`` holding the last member's answer, continued with
``reply.ask``) and its live view (``team.run``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..conversation import Conversation
from ..errors import ConfigError
from ..events import Event, HumanMessage, ModelResponse, Usage, UsageReport
from ..options import PromptInput
from ..reply import Reply
from ..sync import run_sync
from .events import TeamFinished, TeamStarted
from .state import TeamState, Turn

if TYPE_CHECKING:
    from .team import Team

__all__ = ["TeamReply", "TeamRun"]


class TeamReply(Reply[Any]):
    """A team's reply: a ``Reply`` (``text``, ``output``, ``usage``, ``events``, ...) of the
    last member's answer, with ``termination`` (what ended the ask), ``turns`` (this ask's,
    in order), ``usage_by_member`` and ``speaker`` (the last member who spoke).
    ``reply.ask(...)`` continues the team's conversation."""

    __slots__ = ("state", "team")

    def __init__(
        self,
        team: Team,
        conversation: Conversation,
        run_id: str,
        text: str,
        output: Any,
        usage: Usage,
        response: ModelResponse,
        usage_report: UsageReport,
        state: TeamState,
    ) -> None:
        super().__init__(
            cast(Any, team), conversation, run_id, text, output, usage, response, usage_report
        )
        self.team = team
        self.state = state

    @property
    def termination(self) -> str:
        """The condition that ended the ask, as ``TeamFinished`` names it."""
        for event in reversed(self.events):
            if isinstance(event, TeamFinished) and event.team_id == self.run_id:
                return event.termination
        return ""

    @property
    def turns(self) -> list[Turn]:
        """This ask's finished turns, in order."""
        return list(self.state.turns)

    @property
    def speaker(self) -> str:
        """The member who took the ask's last turn ("" when a ``Timeout`` cut the first)."""
        return self.state.turns[-1].member if self.state.turns else ""

    @property
    def usage_by_member(self) -> dict[str, Usage]:
        """What each member (and a selector's model) spent in this ask."""
        return dict(self.state.by_member)

    async def ask(self, prompt: PromptInput, **options: Any) -> TeamReply:
        """Continue the team's conversation with another message."""
        for key in ("stream", "conversation_id"):
            if key in options:
                raise ConfigError(f"reply.ask() continues this reply's conversation: no {key}=")
        return await self.team.ask_with(prompt, options, self)

    def ask_sync(self, prompt: PromptInput, **options: Any) -> TeamReply:
        """Blocking ``ask``."""
        return run_sync(self.ask(prompt, **options))

    def run(self, prompt: PromptInput, **options: Any) -> TeamRun:  # type: ignore[override]
        """A live view of the next ask on this conversation (see ``Team.run``)."""
        return TeamRun(self.team, prompt, options, self)

    def __repr__(self) -> str:
        return f"TeamReply({self.text[:60]!r}, termination={self.termination!r})"


_DONE = object()


class TeamRun:
    """A live team ask: ``async with team.run(task) as run: async for event in run: ...``
    gives every member's events (chunks included) and the team's, then ``await run.result()``.
    Leaving the block early cancels the ask (the history stays valid)."""

    def __init__(
        self, team: Team, task: PromptInput, options: Mapping[str, Any], after: TeamReply | None
    ) -> None:
        self._team = team
        self._task_input = task
        self._options = options
        self._after = after
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[TeamReply] | None = None
        self._reading = True
        self._result_taken = False
        self._conversation: Conversation | None = None
        self._remarks: list[HumanMessage] = []

    def _push(self, event: Event) -> None:
        if self._conversation is None and isinstance(event, TeamStarted):
            self._conversation = self._team.conversation(event.conversation_id)
            for remark in self._remarks:
                self.send(remark)
            self._remarks.clear()
        if self._reading:
            self._queue.put_nowait(event)

    def send(self, remark: HumanMessage | str) -> None:
        """Tell the running team something (a remark): it is recorded and the next member's
        model reads it; sent after the last one, it is kept for the next ask."""
        message = HumanMessage(remark) if isinstance(remark, str) else remark
        if not isinstance(message, HumanMessage) or message.request_id is not None:
            raise ConfigError(
                "run.send takes a remark (text, or HumanMessage without request_id); answer a "
                "human member's request with stream.send(HumanMessage(request_id=..., ...))"
            )
        conversation = self._conversation
        if conversation is None:
            self._remarks.append(message)  # given to the ask as soon as it starts
            return
        # Kept by the conversation: the next member's run records it and its model reads it
        # (as a run's own remarks); one sent after the last turn waits for the next ask.
        conversation.remark(message)

    async def __aenter__(self) -> TeamRun:
        self._task = asyncio.create_task(
            self._team.ask_with(self._task_input, self._options, self._after, self._push)
        )
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_DONE))
        return self

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        if self._task is None:
            raise RuntimeError("use the run inside 'async with team.run(...) as run:'")
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            yield item

    async def result(self) -> TeamReply:
        """The ask's reply, once it finished (events not read yet are dropped)."""
        if self._task is None:
            raise RuntimeError("use the run inside 'async with team.run(...) as run:'")
        self._reading = False
        self._result_taken = True
        return await self._task

    async def cancel(self) -> None:
        """Stop the ask now; the history is left valid."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        task = self._task
        if task is None:
            return
        self._reading = False
        if not task.done():
            await self.cancel()
            return
        failed = not task.cancelled() and task.exception() is not None
        if failed and exc_type is None and not self._result_taken:
            raise cast(BaseException, task.exception())
