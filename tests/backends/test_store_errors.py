"""Store errors reach the user as Baton errors (issue 10, point 17): an unreachable Redis or
PostgreSQL is a retryable ``BackendUnavailable`` naming the store with its password hidden, and
a SQLite file another connection keeps locked neither holds a cancelled ask up nor leaves the
conversation broken."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from baton import Agent, tool
from baton.backends.redis import RedisHistory, RedisStorage, close_pools
from baton.backends.sql import Database, DatabaseUnavailable, SQLHistory, SQLStorage
from baton.errors import BackendUnavailable
from baton.testing import ScriptedModel, call

HistoryCheck = Any  # the valid_history fixture (tests/conftest.py)
SECRET = "s3cret-pass"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_redis_is_a_retryable_backend_error_without_the_password() -> None:
    url = f"redis://user:{SECRET}@127.0.0.1:{closed_port()}/0"
    agent = Agent("a", history=RedisHistory(url), storage=RedisStorage(url))
    try:
        with pytest.raises(BackendUnavailable, match="could not use Redis") as raised:
            await agent.ask("hi", config=ScriptedModel("yo"), conversation_id="c")
        assert raised.value.retryable
        assert SECRET not in str(raised.value) and "***" in str(raised.value)
        assert ".." not in str(raised.value)  # the driver's own full stop is not doubled
        with pytest.raises(BackendUnavailable) as stored:
            await RedisStorage(url).get("k")
        assert SECRET not in str(stored.value)
        assert SECRET not in repr(RedisHistory(url))
    finally:
        await close_pools()


async def test_an_unreachable_postgresql_is_a_retryable_backend_error_without_the_password() -> (
    None
):
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{closed_port()}/test"
    history, storage = SQLHistory(url), SQLStorage(url)
    try:
        agent = Agent("a", history=history, storage=storage)
        with pytest.raises(DatabaseUnavailable) as raised:
            await agent.ask("hi", config=ScriptedModel("yo"), conversation_id="c")
        assert isinstance(raised.value, BackendUnavailable) and raised.value.retryable
        assert SECRET not in str(raised.value)
    finally:
        await history.aclose()
        await storage.aclose()


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another connection that takes the file's write lock and keeps it."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_file_locked_past_lock_wait_is_a_backend_error_and_the_next_ask_works(
    tmp_path: Path, valid_history: HistoryCheck
) -> None:
    path = tmp_path / "locked.db"
    async with Database(f"sqlite:///{path}", lock_wait=0.2) as db:
        agent = Agent("a", history=SQLHistory(db), storage=SQLStorage(db))
        await agent.ask("one", config=ScriptedModel("1"), conversation_id="c")
        other = hold_write_lock(path)
        try:
            with pytest.raises(DatabaseUnavailable, match="stayed locked by another connection"):
                await agent.ask("two", config=ScriptedModel("2"), conversation_id="c")
        finally:
            other.rollback()
            other.close()
        reply = await agent.ask("three", config=ScriptedModel("3"), conversation_id="c")
        assert reply.text == "3"
        valid_history(await SQLHistory(db).load("c"))


async def test_a_cancelled_ask_is_not_held_up_by_a_locked_file(
    tmp_path: Path, valid_history: HistoryCheck
) -> None:
    """The file is locked by another connection while a tool runs, so the tool's result can't
    be written; the ask is cancelled then. The cancel returns while the lock is still held (the
    default lock_wait is 30 s), and once it is given back the next ask repairs the run."""
    path = tmp_path / "locked.db"
    locked = asyncio.Event()
    holder: list[sqlite3.Connection] = []

    @tool
    def lock_the_file() -> str:
        """Another program takes the database's write lock."""
        holder.append(hold_write_lock(path))
        locked.set()
        return "locked"

    async with Database(f"sqlite:///{path}") as db:
        agent = Agent("a", tools=[lock_the_file], history=SQLHistory(db), storage=SQLStorage(db))
        asking = asyncio.create_task(
            agent.ask(
                "go", config=ScriptedModel(call("lock_the_file"), "done"), conversation_id="c"
            )
        )
        await locked.wait()  # the result's write waits for the lock (or is about to)
        asking.cancel()
        try:
            with pytest.raises(asyncio.CancelledError):
                await asking
            assert holder[0].in_transaction  # the cancel did not wait for the lock to go
        finally:
            holder[0].rollback()
            holder[0].close()
        # The cancelled ask's claim is given back in the background once the file is free.
        reply = await agent.ask(
            "again", config=ScriptedModel("fine"), conversation_id="c", wait_busy=30
        )
        assert reply.text == "fine"
        stored = await SQLHistory(db).load("c")
        assert [type(e).__name__ for e in stored].count("RunFailed") == 1
        valid_history(stored)


CTRL_C = """
import asyncio, signal, sys
# Ctrl-C as in a terminal, even when the tests run as a background job (which ignores SIGINT).
signal.signal(signal.SIGINT, signal.default_int_handler)
from baton import Agent, tool
from baton.backends.sql import SQLHistory, SQLStorage
from baton.testing import ScriptedModel, call

@tool
async def wait_forever() -> str:
    '''Wait for something that never comes.'''
    print("in tool", flush=True)
    await asyncio.Event().wait()
    return "never"

url = sys.argv[1]
agent = Agent("a", tools=[wait_forever], history=SQLHistory(url), storage=SQLStorage(url))
agent.ask_sync("go", config=ScriptedModel(call("wait_forever"), "done"), conversation_id="c")
"""


async def test_ctrl_c_during_ask_sync_cancels_the_ask_and_closes_its_run(
    sqlite_url: str, valid_history: HistoryCheck
) -> None:
    """ask_sync runs on Baton's own loop: Ctrl-C in the caller's thread must stop the ask
    there too (no model call or tool left running), with its run closed in the store."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CTRL_C,
        sqlite_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    assert (await child.stdout.readline()).decode().strip() == "in tool"
    child.send_signal(signal.SIGINT)
    _, err = await child.communicate()
    assert child.returncode != 0 and b"KeyboardInterrupt" in err
    async with SQLHistory(sqlite_url) as history:
        stored = await history.load("c")
    assert [(type(e).__name__, getattr(e, "error_type", None)) for e in stored][-2:] == [
        ("ToolCallError", "Cancelled"),
        ("RunFailed", "Cancelled"),
    ]
    valid_history(stored)


async def test_a_wrong_statement_is_not_reported_as_an_unavailable_database(sql_url: str) -> None:
    """Only a database that can't be used now is ``DatabaseUnavailable`` (retryable); a
    statement that is wrong is not dressed up as one."""
    async with Database(sql_url) as db:
        with pytest.raises(Exception) as raised:
            await db.fetch("SELEC 1")
        assert not isinstance(raised.value, BackendUnavailable)
