"""``Human(name)``: a person taking turns in a team.

    crew = RoundRobin([writer, Human("editor", handler=ask_editor)])        # a handler answers
    crew = RoundRobin([writer, Human("editor")])                            # or the stream does
    crew = RoundRobin([writer, Human("editor", suspend=True)], history=..., storage=...)

A human's turn records a ``HumanInputRequest`` (its ``request_id``) and waits for the answer:

- ``handler=``: a function (sync or async) given the request, returning text or a
  ``HumanMessage`` (a sync one runs on a thread, as ``hitl=`` handlers do: it may block);
- otherwise ``suspend=False`` (the default): a ``HumanMessage(request_id=..., text=...)`` sent
  on the conversation's stream (by a UI watching it) answers;
- ``timeout=`` (seconds) bounds the wait for a handler's or the stream's answer: past it the
  team's ask fails with ``HumanInputTimeout`` (the conversation stays valid; the next ask
  starts afresh); without it the turn waits as long as it takes. A sync handler can't be
  stopped: it runs on until it returns (its answer unused), and the event loop's shutdown
  waits for its thread;
- ``suspend=True``: the team's ask pauses durably (``AskSuspended``; the team needs
  ``history=`` and ``storage=``) and ``team.resume(conversation_id, HumanMessage(request_id=...,
  text=...))`` continues it, in any process, with the same turn order, termination and usage.
  A human in a team that is itself a member pauses the team asked (whose store keeps the
  pause, the member team's inside it); not in a graph's parallel branch (a ``ConfigError``).

The answer is recorded (``HumanMessage`` with the ``request_id``), then the human's words as a
message the members' models read (a ``HumanMessage`` remark).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..conversation import new_id
from ..errors import AskSuspended, ConfigError, HumanInputTimeout
from ..events import HumanInputRequest, HumanMessage, UnattendedRequest, Usage
from ..humans import call_handler
from ..options import check_one_argument
from ..redaction import logger
from ..stream import MemoryStream
from .recording import TeamAsk, keep_pause, pause_key, record
from .state import Turn

if TYPE_CHECKING:
    from .views import Member

__all__ = ["Human", "HumanHandler", "human_turn", "pause_key", "record_answer"]

log = logger("baton.teams")

HumanHandler = Callable[[HumanInputRequest], str | HumanMessage | Awaitable[str | HumanMessage]]


class Human:
    """A person as a team member (see the module docs)."""

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        handler: HumanHandler | None = None,
        prompt: str | None = None,
        suspend: bool = False,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a Human member needs a name, e.g. Human('editor')")
        if handler is not None:
            check_one_argument(
                handler,
                f"Human({name!r}) handler= takes a function (sync or async) given the request "
                "(one argument) and returning the answer's text",
            )
        if handler is not None and suspend:
            raise ConfigError("Human(...) takes handler= or suspend=True, not both")
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
                raise ConfigError(
                    f"Human({name!r}) timeout= is a positive number of seconds, got {timeout!r}"
                )
            if suspend:
                raise ConfigError(
                    f"Human({name!r}, suspend=True) pauses the ask instead of waiting: "
                    "timeout= bounds a wait (with handler= or on the stream), so drop one"
                )
        self.name = name
        self.description = description or f"{name}, a person"
        self.handler = handler
        self.prompt = prompt
        self.suspend = suspend
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Human({self.name!r})"

    def request(self, request_id: str, team: str) -> HumanInputRequest:
        return HumanInputRequest(request_id, self.prompt or f"{self.name}: your turn in {team}")

    async def answer(self, request: HumanInputRequest) -> str:
        """The handler's answer to ``request``, as text. A plain function may block (a
        terminal prompt): it runs on a thread, as ``hitl=`` handlers do, so the event loop and
        ``timeout=`` go on meanwhile."""
        assert self.handler is not None
        return answer_text(await call_handler(self.handler, request), self.name)


def answer_text(answer: Any, name: str) -> str:
    if isinstance(answer, HumanMessage):
        return answer.text
    if isinstance(answer, str):
        return answer
    raise ConfigError(
        f"the answer for human member {name!r} must be text or a HumanMessage, got {answer!r}"
    )


async def human_turn(
    ask: TeamAsk,
    member: Member,
    human: Human,
    team: str,
    why_no_pause: str | None = None,
    kept: Mapping[str, Any] | None = None,
) -> Turn:
    """A human member's turn in ``team``'s ask (see the module docs). With ``suspend=True``
    the ask pauses unless ``why_no_pause`` (``Team.why_no_pause``) says why it can't; the
    pause keeps ``kept`` (what the team's pattern saves of the ask: ``Team.kept_on_pause``)."""
    conversation = ask.conversation
    request = human.request(new_id(), team)
    on_stream = False
    if human.handler is not None:
        await record(ask, request)
        async with _answered_within(human, request, team):
            text = await human.answer(request)
    elif human.suspend:
        if why_no_pause is not None:
            raise ConfigError(
                f"Human({human.name!r}, suspend=True) pauses the team's ask, and this ask "
                f"can't pause: {why_no_pause}"
            )
        await record(ask, request)
        suspended = AskSuspended(
            f"team {team!r} waits for {human.name!r} (request {request.request_id}); "
            f"continue it with team.resume({conversation.id!r}, "
            f"HumanMessage(request_id={request.request_id!r}, text=...))",
            conversation_id=conversation.id,
            run_id=ask.state.team_id,
            requests=(request,),
        )
        await keep_pause(
            ask,
            suspended,
            team=team,
            member=member.name,
            kept=kept or {},
            request_id=request.request_id,
        )
    else:
        waiting = conversation.stream.where(HumanMessage, request_id=request.request_id).next()
        try:
            await record(ask, request)
            stream = conversation.stream
            if ask.sink is None and type(stream) is MemoryStream and stream.subscriber_count < 2:
                # Nobody can answer yet (no handler, no reader, nobody on the stream but
                # this wait): say so at once, as a member's own request would.
                message = (
                    f"team {team!r} waits for {human.name!r} (request "
                    f"{request.request_id}) but nobody watches its stream: give the member "
                    "a handler=, watch the team with team.run(...), or use suspend=True"
                )
                log.warning("%s", message)
                await record(ask, UnattendedRequest(request.request_id, message))
        except BaseException:
            if inspect.iscoroutine(waiting):
                waiting.close()
            raise
        async with _answered_within(human, request, team):
            answer = await waiting
        text = answer_text(answer, human.name)
        on_stream = True
    await record_answer(ask, request.request_id, text, to_stream=not on_stream)
    return Turn(member.name, text, text, Usage())


@contextlib.asynccontextmanager
async def _answered_within(
    human: Human, request: HumanInputRequest, team: str
) -> AsyncIterator[None]:
    """The wait for ``human``'s answer, bounded by its ``timeout=`` (if any)."""
    if human.timeout is None:
        yield
        return
    try:
        async with asyncio.timeout(human.timeout):
            yield
    except TimeoutError:
        raise HumanInputTimeout(
            f"team {team!r}: {human.name!r} did not answer within {human.timeout:g} s "
            f"(request {request.request_id}); allow longer with Human(..., timeout=N), or use "
            "suspend=True to pause the ask until an answer comes",
            request_id=request.request_id,
            timeout=human.timeout,
        ) from None


async def record_answer(ask: TeamAsk, request_id: str, text: str, *, to_stream: bool) -> None:
    """A human member's answer, then the same words as a message models read."""
    await record(ask, HumanMessage(text, request_id=request_id), to_stream=to_stream)
    await record(ask, HumanMessage(text))
