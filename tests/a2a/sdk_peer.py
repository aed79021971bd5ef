"""A remote agent Baton did not write: a server made of the a2a-sdk's own classes (request
handler, in-memory task store, card, JSON-RPC and HTTP+JSON routes) around a trivial
``AgentExecutor`` written here. What it does depends on the message:

- ``ask colour``: the task asks "What colour?" (input-required); the answer completes it.
- ``fail``: the task fails with "no such thing".
- ``slow``: streams a first piece, then waits until cancelled.
- anything else: streams "echo: <text>" in two pieces and says how many messages its context
  has seen (so a test can tell a continued remote conversation from a new one).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from a2a.helpers import new_text_artifact_update_event, new_text_status_update_event
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events.event_queue_v2 import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Task,
    TaskState,
    TaskStatus,
)
from starlette.applications import Starlette


@dataclass
class PeerLog:
    """What the peer saw: the texts per context, and the tasks it was told to cancel."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)


class PeerExecutor(AgentExecutor):
    def __init__(self, log: PeerLog) -> None:
        self.log = log

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, ctx = str(context.task_id), str(context.context_id)
        text = context.get_user_input()
        self.log.texts.setdefault(ctx, []).append(text)
        current = context.current_task
        if current is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=ctx,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                )
            )

        def status(state: Any, words: str) -> Any:
            return new_text_status_update_event(task_id, ctx, state, words)

        if current is not None and current.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            await event_queue.enqueue_event(
                status(TaskState.TASK_STATE_COMPLETED, f"colour: {text}")
            )
        elif text == "ask colour":
            await event_queue.enqueue_event(
                status(TaskState.TASK_STATE_INPUT_REQUIRED, "What colour?")
            )
        elif text == "fail":
            await event_queue.enqueue_event(status(TaskState.TASK_STATE_FAILED, "no such thing"))
        elif text == "slow":
            await event_queue.enqueue_event(
                new_text_artifact_update_event(
                    task_id, ctx, "answer", "starting...", artifact_id="a"
                )
            )
            self.log.slow_started.set()
            await asyncio.Event().wait()  # until cancelled
        else:
            count = len(self.log.texts[ctx])
            for piece, append in ((f"echo: {text}", False), (f" (message {count})", True)):
                await event_queue.enqueue_event(
                    new_text_artifact_update_event(
                        task_id, ctx, "answer", piece, append=append, artifact_id="a"
                    )
                )
            await event_queue.enqueue_event(status(TaskState.TASK_STATE_COMPLETED, "done"))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        self.log.cancelled.append(str(context.task_id))
        await event_queue.enqueue_event(
            new_text_status_update_event(
                str(context.task_id),
                str(context.context_id),
                TaskState.TASK_STATE_CANCELED,
                "stopped",
            )
        )


def peer_app(log: PeerLog) -> tuple[Starlette, AgentCard]:
    """The peer's app and its card (the test fills in the card's URLs once it serves)."""
    card = AgentCard(
        name="echo-peer",
        description="Echoes what it is told.",
        version="1.0",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="echo", name="echo", description="Echo", tags=["echo"])],
    )
    handler = DefaultRequestHandler(
        agent_executor=PeerExecutor(log), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes = [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(handler, rpc_url="/"),
        *create_rest_routes(handler),
    ]
    return Starlette(routes=routes), card


def point_card(card: AgentCard, base: str, first: str) -> None:
    """List the peer's transports at ``base``, ``first`` ("JSONRPC" or "HTTP+JSON") first."""
    interfaces = {
        "JSONRPC": AgentInterface(
            url=f"{base}/", protocol_binding="JSONRPC", protocol_version="1.0"
        ),
        "HTTP+JSON": AgentInterface(url=base, protocol_binding="HTTP+JSON", protocol_version="1.0"),
    }
    del card.supported_interfaces[:]
    card.supported_interfaces.extend(
        [interfaces[first], *(v for k, v in interfaces.items() if k != first)]
    )
