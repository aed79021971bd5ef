"""A remote A2A agent as a team member (``remote.as_member()``).

Its turns are runs like any member's: a run of an agent named after it whose "model" is the
remote agent. Each turn sends what the team said since the member's last turn (the task, the
humans' and the other members' messages, as ``[author] text`` lines; no tool traffic), in the
remote context kept for the team's conversation, so the remote agent remembers the earlier
turns on its side. Its answer streams into the team's stream as the member's text, and is
recorded as the member's answer (other members see it as its named turn). A remote question
(``input-required``) is the member's answer for that turn; its next turn answers that remote
task.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..agent import Agent
from ..events import Event, ModelResponse, TextChunk, Usage
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from ..teams.views import said

if TYPE_CHECKING:
    from .remote import RemoteAgent

__all__ = ["RemoteTurns", "Render", "latest_text", "news", "remote_member"]


Render = Callable[[Sequence[Event], str], str]
"""What a remote member sends for its turn: a function of the events it is shown and its own
name (default ``news``: every message since its last turn, as ``[author] text`` lines)."""


def remote_member(
    remote: RemoteAgent, name: str | None, description: str | None, render: Render | None = None
) -> Agent[str]:
    label = name or remote.name or re.sub(r"^https?://", "", remote.url)
    member_name = re.sub(r"[^a-zA-Z0-9_-]", "_", label)[:64]
    return Agent(
        member_name,
        config=RemoteTurns(remote, render or news),
        description=description or remote.description or f"the remote agent at {remote.url}",
    )


def latest_text(messages: Sequence[Event], me: str) -> str:
    """A ``render`` for remote agents that take plain text: the latest message's text only."""
    said = _since_last_turn(messages, me)
    return said[-1][1] if said else ""


def news(messages: Sequence[Event], me: str) -> str:
    """What was said since ``me`` last answered, as ``[author] text`` lines."""
    return "\n".join(f"[{author}] {text}" for author, text in _since_last_turn(messages, me))


def _since_last_turn(messages: Sequence[Event], me: str) -> list[tuple[str, str]]:
    """The messages (author, text) since ``me`` last answered."""
    start = 0
    for i in range(len(messages) - 1, -1, -1):
        event = messages[i]
        if isinstance(event, ModelResponse) and event.agent == me:
            start = i + 1
            break
    return [m for e in messages[start:] if (m := said(e)) is not None]


class RemoteTurns(ModelConfig, ModelClient):
    """The "model" of a remote member: its answers come from the remote agent."""

    def __init__(
        self, remote: RemoteAgent, render: Render = news, max_conversations: int = 1000
    ) -> None:
        self.remote = remote
        self.render = render
        self._waiting: OrderedDict[str, str] = OrderedDict()  # conversation -> remote task
        self._max = max_conversations

    @property
    def provider(self) -> str:
        return "a2a"

    @property
    def model_name(self) -> str:
        return self.remote.url

    def create_client(self) -> ModelClient:
        return self

    def client(self) -> ModelClient:
        return self

    async def aclose(self) -> None:
        await self.remote.aclose()

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        conversation_id = call.conversation_id
        text = self.render(call.messages, call.agent) or "(your turn)"

        async def piece(chunk: str) -> None:
            if call.settings.stream:
                await emit(TextChunk(chunk))

        reply = await self.remote.send(
            text,
            context_id=self.remote.context_of(conversation_id),
            task_id=self._waiting.pop(conversation_id, None),
            on_text=piece,
        )
        if reply.context_id:
            self.remote.remember(conversation_id, reply.context_id)
        if reply.state == "input-required" and reply.task_id:
            self._waiting[conversation_id] = reply.task_id
            while len(self._waiting) > self._max:
                self._waiting.popitem(last=False)
        return ModelResponse(
            reply.text or "(no answer)",
            usage=Usage(requests=1),
            provider="a2a",
            model=self.remote.url,
            agent=call.agent,
        )
