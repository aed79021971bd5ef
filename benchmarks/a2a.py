"""A2A round trip per message: Baton's ``A2AApp`` next to a bare a2a-sdk server.

    python -m benchmarks.a2a                   # about a minute
    python -m benchmarks.a2a --quick           # a smoke run

Two servers, each in a subprocess of its own on loopback, served by uvicorn:

- ``bare`` (the floor): the a2a-sdk's ``DefaultRequestHandler``, ``InMemoryTaskStore`` and
  JSON-RPC routes around an ``AgentExecutor`` that does nothing but answer: it enqueues the
  task and its completed status with the text "ok";
- ``baton``: ``A2AApp`` serving an agent whose model is a ``ScriptedModel`` answering "ok"
  (memory history and storage, ``no_token=True`` so neither side checks a token).

The client is the same for both: the a2a-sdk's own client (JSON-RPC, ``SendMessage``, not
streamed), each message a new task in a new context. ``c`` clients send at once (1, 10, 50),
each sending its share of ``--messages`` one after the other. Per repetition the figure is the
median round trip in µs (and messages per second); the table gives the median over
repetitions with the min-max spread, and Baton's overhead as the paired difference to the bare
server's figure of the same repetition (the servers take turns, so load changes fall on both).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any

import httpx

HOST = "127.0.0.1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the servers (run in subprocesses) -------------------------------------------------------


def bare_app(base: str) -> Any:
    from a2a.server.agent_execution import AgentExecutor, RequestContext
    from a2a.server.request_handlers import DefaultRequestHandler
    from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types.a2a_pb2 import (
        AgentCapabilities,
        AgentCard,
        AgentInterface,
        Message,
        Part,
        Role,
        Task,
        TaskState,
        TaskStatus,
    )
    from starlette.applications import Starlette

    class Nothing(AgentExecutor):
        async def execute(self, context: RequestContext, event_queue: Any) -> None:
            answer = Message(
                message_id=str(uuid.uuid4()), role=Role.ROLE_AGENT, parts=[Part(text="ok")]
            )
            status = TaskStatus(state=TaskState.TASK_STATE_COMPLETED, message=answer)
            task = Task(id=context.task_id, context_id=context.context_id, status=status)
            await event_queue.enqueue_event(task)

        async def cancel(self, context: RequestContext, event_queue: Any) -> None:
            return None

    card = AgentCard(
        name="bare",
        description="does nothing",
        version="1",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        supported_interfaces=[
            AgentInterface(url=f"{base}/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
    )
    handler = DefaultRequestHandler(
        agent_executor=Nothing(), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes = [*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")]
    return Starlette(routes=routes)


def baton_app(base: str) -> Any:
    from baton import Agent
    from baton.a2a import A2AApp
    from baton.history import MemoryHistory, MemoryStorage
    from baton.testing import ScriptedModel

    agent = Agent(
        "ok",
        config=ScriptedModel("ok", repeat=True, record=False),
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )
    return A2AApp(agent, no_token=True, url=base)


def serve(kind: str, port: int) -> None:
    import logging

    import uvicorn

    logging.getLogger("a2a").setLevel(logging.ERROR)  # the bare card's spec warnings
    base = f"http://{HOST}:{port}"
    app = bare_app(base) if kind == "bare" else baton_app(base)
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


@asynccontextmanager
async def server(kind: str) -> Any:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.a2a", "--serve", kind, "--port", str(port), cwd=ROOT
    )
    base = f"http://{HOST}:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"{base}/.well-known/agent-card.json")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"the {kind} server did not start")
        yield base
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


# -- the client ------------------------------------------------------------------------------


async def round_trips(base: str, concurrency: int, messages: int) -> tuple[list[float], float]:
    """Seconds per round trip of ``messages`` messages sent by ``concurrency`` clients, and
    the seconds they took together (after a warm-up)."""
    from a2a.client import ClientConfig, ClientFactory
    from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest

    limits = httpx.Limits(max_connections=concurrency + 5)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        config = ClientConfig(httpx_client=http, streaming=False)
        client = await ClientFactory(config).create_from_url(base)
        times: list[float] = []

        async def one_client(count: int) -> None:
            for _ in range(count):
                message = Message(
                    message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text="hi")]
                )
                start = time.perf_counter()
                async for response in client.send_message(SendMessageRequest(message=message)):
                    assert response.task.status.state == 3, response  # completed
                times.append(time.perf_counter() - start)

        per = max(1, messages // concurrency)
        await one_client(min(20, per))  # warm up: connections, first-call imports
        times.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one_client(per) for _ in range(concurrency)))
        wall = time.perf_counter() - started
        await client.close()
        return times, wall


async def main(args: argparse.Namespace) -> dict[str, Any]:
    reps = 1 if args.quick else args.reps
    messages = 100 if args.quick else args.messages
    samples: dict[str, dict[int, list[tuple[float, float]]]] = {"bare": {}, "baton": {}}
    async with server("bare") as bare, server("baton") as baton:
        bases = {"bare": bare, "baton": baton}
        for _ in range(reps):
            for c in args.concurrency:
                for kind in ("bare", "baton") if _ % 2 == 0 else ("baton", "bare"):
                    times, wall = await round_trips(bases[kind], c, messages)
                    median = statistics.median(times) * 1e6
                    samples[kind].setdefault(c, []).append((median, len(times) / wall))
    rows = []
    for c in args.concurrency:
        bare_rt = [m for m, _ in samples["bare"][c]]
        baton_rt = [m for m, _ in samples["baton"][c]]
        diffs = [b - a for a, b in zip(bare_rt, baton_rt, strict=True)]
        rows.append(
            {
                "concurrency": c,
                "bare_us": statistics.median(bare_rt),
                "bare_spread": (min(bare_rt), max(bare_rt)),
                "baton_us": statistics.median(baton_rt),
                "baton_spread": (min(baton_rt), max(baton_rt)),
                "overhead_us": statistics.median(diffs),
                "bare_msgs_s": statistics.median(r for _, r in samples["bare"][c]),
                "baton_msgs_s": statistics.median(r for _, r in samples["baton"][c]),
            }
        )
    print(
        "| clients | bare a2a-sdk (µs/message) | Baton A2AApp (µs/message) | Baton overhead | "
        "bare msgs/s | Baton msgs/s |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['concurrency']} | {r['bare_us']:,.0f} ({r['bare_spread'][0]:,.0f}-"
            f"{r['bare_spread'][1]:,.0f}) | {r['baton_us']:,.0f} ({r['baton_spread'][0]:,.0f}-"
            f"{r['baton_spread'][1]:,.0f}) | +{r['overhead_us']:,.0f} µs "
            f"({r['overhead_us'] / r['bare_us'] * 100:+.0f} %) | {r['bare_msgs_s']:,.0f} | "
            f"{r['baton_msgs_s']:,.0f} |"
        )
    return {"rows": rows, "reps": reps, "messages": messages}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 short repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--messages", type=int, default=500, help="messages per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--serve", choices=["bare", "baton"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve, options.port)
    else:
        result = asyncio.run(main(options))
        if options.json:
            with open(options.json, "w") as out:
                json.dump(result, out, indent=2)
