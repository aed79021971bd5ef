"""What the A2A tests share: a served agent with tools that need a human, served teams that
pause (a human member, a member's approval), and a thin layer over the a2a-sdk client (the
real peer) to send messages and read what comes back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    TaskState,
)
from google.protobuf import struct_pb2
from google.protobuf.json_format import ParseDict

from baton import Agent, Context, tool
from baton.history import History, MemoryHistory, MemoryStorage, Storage
from baton.teams import Human, MaxTurns, RoundRobin, TextMention
from baton.testing import ScriptedModel, call, chunks

TOKEN = "test-token-0123456789abcdef"

# A tool that blocks until the test opens the gate: a task that is surely running.
GATES: dict[str, asyncio.Event] = {}


@tool(requires_approval=True)
def delete(path: str) -> str:
    """Delete a file.

    Args:
        path: The file to delete.
    """
    return f"deleted {path}"


@tool
async def city(context: Context) -> str:
    """Ask the user which city they mean."""
    return "weather in " + await context.input("Which city?")


@tool
async def wait(gate: str) -> str:
    """Wait for a gate to open.

    Args:
        gate: The gate's name.
    """
    await GATES.setdefault(gate, asyncio.Event()).wait()
    return "opened"


# What the served teams' ``publish`` tool published, in order (a tool run once is one entry).
publications: list[str] = []

EDITOR_ASKS = "What should the writer change?"


@tool(requires_approval=True)
def publish(title: str) -> str:
    """Publish a post.

    Args:
        title: The post's title.
    """
    publications.append(title)
    return f"published {title}"


def editorial(
    *writer: Any,
    publisher: tuple[Any, ...] = (),
    history: History | None = None,
    storage: Storage | None = None,
) -> RoundRobin:
    """A served team that pauses: a writer (the scripted ``writer`` turns), then a
    ``Human("editor", suspend=True)``, then (given ``publisher`` turns) an agent publishing
    with a tool requiring approval; it ends when a member says DONE."""
    members: list[Any] = [
        Agent("writer", config=ScriptedModel(*writer)),
        Human("editor", suspend=True, prompt=EDITOR_ASKS),
    ]
    if publisher:
        members.append(Agent("publisher", config=ScriptedModel(*publisher), tools=[publish]))
    return RoundRobin(
        members,
        name="editorial",
        termination=TextMention("DONE") | MaxTurns(6),
        history=history if history is not None else MemoryHistory(),
        storage=storage if storage is not None else MemoryStorage(),
    )


def publishing(
    *turns: Any, history: History | None = None, storage: Storage | None = None
) -> RoundRobin:
    """A served team of one member whose ``publish`` tool requires approval."""
    return RoundRobin(
        [Agent("publisher", config=ScriptedModel(*turns), tools=[publish])],
        name="publishing",
        termination=MaxTurns(1),
        history=history if history is not None else MemoryHistory(),
        storage=storage if storage is not None else MemoryStorage(),
    )


def make_agent(
    *turns: Any, history: History | None = None, storage: Storage | None = None
) -> Agent[str]:
    """The served agent: the scripted ``turns`` over and over, one script per conversation."""
    return Agent(
        "files",
        description="Looks after files.",
        config=ScriptedModel(*turns, per_conversation=True),
        tools=[delete, city, wait],
        history=history if history is not None else MemoryHistory(),
        storage=storage if storage is not None else MemoryStorage(),
    )


def streamed_hello() -> tuple[Any, ...]:
    return (chunks("Hel", "lo ", "there"),)


def approval_script() -> tuple[Any, ...]:
    return (call("delete", path="a.txt"), "done")


@asynccontextmanager
async def a2a_client(
    base: str, *, binding: str = "JSONRPC", streaming: bool = True, token: str | None = TOKEN
) -> AsyncIterator[Client]:
    """The a2a-sdk's own client for the agent at ``base`` (its card read first)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        config = ClientConfig(
            httpx_client=http, streaming=streaming, supported_protocol_bindings=[binding]
        )
        client = await ClientFactory(config).create_from_url(base)
        try:
            yield client
        finally:
            await client.close()


def user_message(
    text: str | None = None,
    *,
    data: Any = None,
    context_id: str = "",
    task_id: str = "",
) -> Message:
    parts = [Part(text=text)] if text is not None else []
    if data is not None:
        parts.append(Part(data=ParseDict(data, struct_pb2.Value())))
    return Message(
        message_id=str(uuid.uuid4()),
        role=Role.ROLE_USER,
        parts=parts,
        context_id=context_id,
        task_id=task_id,
    )


class Outcome:
    """Everything one SendMessage (streamed or not) answered, and the task as it ended."""

    def __init__(self, responses: list[StreamResponse]) -> None:
        self.responses = responses
        self.kinds = [r.WhichOneof("payload") for r in responses]
        self.task_id = self.context_id = ""
        self.state = TaskState.TASK_STATE_UNSPECIFIED
        self.text = ""
        self.status_data: list[Any] = []
        for r in responses:
            if r.HasField("task"):
                self.task_id, self.context_id = r.task.id, r.task.context_id
                self._status(r.task.status)
            elif r.HasField("status_update"):
                self.task_id = r.status_update.task_id
                self.context_id = r.status_update.context_id
                self._status(r.status_update.status)

    def _status(self, status: Any) -> None:
        from google.protobuf.json_format import MessageToDict

        self.state = status.state
        if status.HasField("message"):
            self.text = "\n".join(p.text for p in status.message.parts if p.HasField("text"))
            self.status_data = [
                MessageToDict(p.data) for p in status.message.parts if p.HasField("data")
            ]

    @property
    def chunks(self) -> list[str]:
        """The streamed pieces of the answer artifact, in order."""
        return [
            "".join(p.text for p in r.artifact_update.artifact.parts)
            for r in self.responses
            if r.HasField("artifact_update") and not r.artifact_update.last_chunk
        ]


async def send(client: Client, message: Message) -> Outcome:
    return Outcome([r async for r in client.send_message(SendMessageRequest(message=message))])
