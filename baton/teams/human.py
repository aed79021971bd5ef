"""``Human(name)``: a person taking turns in a team.

    crew = RoundRobin([writer, Human("editor", handler=ask_editor)])        # a handler answers
    crew = RoundRobin([writer, Human("editor")])                            # or the stream does
    crew = RoundRobin([writer, Human("editor", suspend=True)], history=..., storage=...)

A human's turn records a ``HumanInputRequest`` (its ``request_id``) and waits for the answer:

- ``handler=``: a function (sync or async) given the request, returning text or a
  ``HumanMessage``;
- otherwise ``suspend=False`` (the default): a ``HumanMessage(request_id=..., text=...)`` sent
  on the conversation's stream (by a UI watching it) answers;
- ``suspend=True``: the team's ask pauses durably (``AskSuspended``; the team needs
  ``history=`` and ``storage=``) and ``team.resume(conversation_id, HumanMessage(request_id=...,
  text=...))`` continues it, in any process, with the same turn order, termination and usage.

The answer is recorded (``HumanMessage`` with the ``request_id``), then the human's words as a
message the members' models read (a ``HumanMessage`` remark).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ConfigError
from ..events import HumanInputRequest, HumanMessage

__all__ = ["Human", "HumanHandler", "pause_key"]

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
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a Human member needs a name, e.g. Human('editor')")
        if handler is not None and suspend:
            raise ConfigError("Human(...) takes handler= or suspend=True, not both")
        self.name = name
        self.description = description or f"{name}, a person"
        self.handler = handler
        self.prompt = prompt
        self.suspend = suspend

    def __repr__(self) -> str:
        return f"Human({self.name!r})"

    def request(self, request_id: str, team: str) -> HumanInputRequest:
        return HumanInputRequest(request_id, self.prompt or f"{self.name}: your turn in {team}")

    async def answer(self, request: HumanInputRequest) -> str:
        """The handler's answer to ``request``, as text."""
        assert self.handler is not None
        result: Any = self.handler(request)
        if inspect.isawaitable(result):
            result = await result
        return answer_text(result, self.name)


def answer_text(answer: Any, name: str) -> str:
    if isinstance(answer, HumanMessage):
        return answer.text
    if isinstance(answer, str):
        return answer
    raise ConfigError(
        f"the answer for human member {name!r} must be text or a HumanMessage, got {answer!r}"
    )


def pause_key(conversation_id: str) -> str:
    """The storage key of a team ask paused on a human member."""
    return f"baton:team-pause:{conversation_id}"
