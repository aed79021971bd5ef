"""Stores for the durable-run tests, and the programs those tests run as separate processes:

    python tests/backends/run_procs.py <command> <store> [args...]

``<store>`` is a SQL URL (``sqlite:///...``, ``postgresql://...?schema=...``) or a Redis URL
with its key prefix after ``#`` (``redis://127.0.0.1:6379/0#prefix:``).

- ``die-in-tool <cid>``: an ask whose first tool round finishes and whose second blocks; prints
  "in tool" once the second call runs (the test then kills this process with SIGKILL).
- ``hold <cid>``: an ask whose model never answers; prints "holding" once the ask has the
  conversation (the test then asks on it from its own process).
- ``resume <log> <cid>...``: resume the paused asks of these conversations, approving each;
  every tool run is appended to ``<log>`` (``<tool> <cid>``); prints "resumed N".
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from baton import Agent, Context, tool
from baton.events import HumanMessage
from baton.history import History, Storage
from baton.hitl import ApprovalPolicy
from baton.testing import ScriptedModel, call

LEASE = 0.5  # seconds: a killed holder blocks its conversation this long at most


@asynccontextmanager
async def stores(spec: str, lease: float = LEASE) -> AsyncIterator[tuple[History, Storage]]:
    """A history and a storage on ``spec``, as a new process would open them."""
    if spec.startswith("redis://"):
        from baton.backends.redis import RedisHistory, RedisStorage, close_pools

        url, prefix = spec.split("#", 1)
        try:
            yield RedisHistory(url, prefix=prefix, lease=lease), RedisStorage(url, prefix=prefix)
        finally:
            await close_pools()
        return
    from baton.backends.sql import SQLHistory, SQLStorage

    history, storage = SQLHistory(spec, lease=lease), SQLStorage(spec)
    try:
        yield history, storage
    finally:
        await history.aclose()
        await storage.aclose()


def logging_tools(log: Path | None) -> list[Any]:
    """``fetch`` and ``deploy`` (needs approval); each run is appended to ``log``."""

    def note(name: str, context: Context) -> None:
        if log is not None:
            with log.open("a") as out:
                out.write(f"{name} {context.conversation_id}\n")

    @tool
    def fetch(context: Context) -> str:
        """Fetch the build."""
        note("fetch", context)
        return "build 42"

    @tool(requires_approval=True)
    def deploy(env: str, context: Context) -> str:
        """Deploy to an environment."""
        note("deploy", context)
        return f"deployed to {env}"

    return [fetch, deploy]


def ops_agent(model: ScriptedModel, history: History, storage: Storage, log: Path | None) -> Agent:
    return Agent(
        "ops",
        config=model,
        tools=logging_tools(log),
        middleware=[ApprovalPolicy(suspend=True)],
        history=history,
        storage=storage,
    )


async def die_in_tool(spec: str, cid: str) -> None:
    @tool
    def quick() -> str:
        """Quick."""
        return "quick done"

    @tool
    async def slow() -> str:
        """Slow."""
        print("in tool", flush=True)
        await asyncio.sleep(3600)
        return "never"

    async with stores(spec) as (history, storage):
        model = ScriptedModel(call("quick"), call("slow"))
        agent = Agent("a", config=model, tools=[quick, slow], history=history, storage=storage)
        await agent.ask("work", conversation_id=cid)


async def hold(spec: str, cid: str) -> None:
    async def never(_: object) -> str:
        print("holding", flush=True)
        await asyncio.sleep(3600)
        return "never"

    async with stores(spec) as (history, storage):
        agent = Agent("a", config=ScriptedModel(never), history=history, storage=storage)
        await agent.ask("hold", conversation_id=cid)


async def resume(spec: str, log: str, *cids: str) -> None:
    async with stores(spec) as (history, storage):
        for cid in cids:
            agent = ops_agent(ScriptedModel("Deployed."), history, storage, Path(log))
            state_requests = await paused_requests(storage, cid)
            answers = [HumanMessage(request_id=rid, approved=True) for rid in state_requests]
            await agent.resume(cid, *answers)
        print(f"resumed {len(cids)}", flush=True)


async def paused_requests(storage: Storage, cid: str) -> list[str]:
    from baton.run import load_run_state

    state = await load_run_state(storage, cid)
    assert state is not None, cid
    return [r.request_id for r in state.requests]


COMMANDS = {"die-in-tool": die_in_tool, "hold": hold, "resume": resume}

if __name__ == "__main__":
    command, spec, *args = sys.argv[1:]
    asyncio.run(COMMANDS[command](spec, *args))
