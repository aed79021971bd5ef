"""One database per URL: a pool of connections (PostgreSQL, asyncpg) or a single connection
(SQLite, aiosqlite), opened on first use, with Baton's schema created or upgraded then.

Stores given a URL share one ``Database`` per URL in the process (counted: the last store to
close it closes the pool). SQL is written once with ``$1``-style parameters; for SQLite they
become ``?1``. Drivers are imported only when a database is first used.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import re
import sqlite3
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar

from ...errors import BackendUnavailable, ConfigError
from ...history import write_abandoned
from .url import DatabaseURL, Dialect, parse_url

__all__ = ["Database", "DatabaseUnavailable", "Session"]

_DRIVERS: dict[Dialect, tuple[str, str]] = {
    "sqlite": ("aiosqlite", "sqlite"),
    "postgresql": ("asyncpg", "postgres"),
}


class DatabaseUnavailable(BackendUnavailable, ConnectionError):
    """The database could not be reached or used: the server is down or dropped the connection,
    or (SQLite) another connection kept the file locked for longer than ``lock_wait``. Retryable
    (``retryable``), like every ``BackendUnavailable``."""


T = TypeVar("T")

LOCK_WAIT = 30.0
"""Seconds a SQLite statement waits for another connection's lock on the file (the default of
``Database(lock_wait=...)``)."""

# SQLite waits this long (ms) for a lock inside its own thread; longer waits happen on the
# event loop (``_unlocked``), so a cancelled ask never sits behind a locked file.
_BUSY_SLICE_MS = 50


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


async def _unlocked(op: Callable[[], Awaitable[T]], lock_wait: float, where: str) -> T:
    """Run a SQLite operation, trying again (with backoff, up to ``lock_wait`` seconds) while
    another connection holds the file locked; then ``DatabaseUnavailable``."""
    deadline: float | None = None
    delay = 0.002
    while True:
        try:
            return await op()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            if write_abandoned():  # the ask was cancelled; this statement never ran
                raise DatabaseUnavailable(
                    f"{where} was locked by another connection when the ask was cancelled; "
                    "nothing was written"
                ) from None
            now = time.monotonic()
            deadline = deadline or now + lock_wait
            if now >= deadline:
                raise DatabaseUnavailable(
                    f"{where} stayed locked by another connection for {lock_wait:g} s ({exc}); "
                    "a long transaction elsewhere holds it: retry later, or raise "
                    "Database(..., lock_wait=SECONDS)"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


# asyncpg's errors that mean the server can't be reached or used (matched by name, so the
# driver is imported only when a PostgreSQL database is used).
_ASYNCPG_CONNECTION_ERRORS = {
    "PostgresConnectionError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "TooManyConnectionsError",
    "AdminShutdownError",
    "CrashShutdownError",
    "ConnectionRejectionError",
}


# SQLite's result codes for a database that can't be used right now (the file, the disk, a
# lock), as opposed to a statement that is wrong.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOMEM",
)


# asyncpg's errors for text PostgreSQL can't hold: a NUL character in a parameter (the stored
# events are JSON text, which writes it as an escape; ids and keys are passed as they are).
_ASYNCPG_NUL_ERRORS = {"CharacterNotInRepertoireError", "UntranslatableCharacterError"}


def _is_nul_refused(exc: BaseException) -> bool:
    return any(cls.__name__ in _ASYNCPG_NUL_ERRORS for cls in type(exc).__mro__)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None) or ""
        return name.startswith(_SQLITE_UNAVAILABLE)
    if isinstance(exc, OSError):
        return True
    return any(cls.__name__ in _ASYNCPG_CONNECTION_ERRORS for cls in type(exc).__mro__)


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e9:
        raise ConfigError(
            f"Database({name}=...) must be a positive number of seconds, got {value!r}"
        )
    return float(value)


class Session(Protocol):
    """One connection, for one unit of work (inside a transaction or not)."""

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None: ...


@lru_cache(maxsize=256)
def _qmark(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)


class _SQLiteSession:
    __slots__ = ("_conn", "_lock_wait", "_where")

    def __init__(self, conn: Any, lock_wait: float, where: str) -> None:
        self._conn = conn
        self._lock_wait = lock_wait
        self._where = where

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        rows = await _unlocked(
            lambda: self._conn.execute_fetchall(_qmark(sql), args), self._lock_wait, self._where
        )
        return list(rows)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def execute(self, sql: str, *args: Any) -> int:
        async def run() -> int:
            async with self._conn.execute(_qmark(sql), args) as cursor:
                return int(cursor.rowcount)

        return await _unlocked(run, self._lock_wait, self._where)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        rows = list(args)
        await _unlocked(
            lambda: self._conn.executemany(_qmark(sql), rows), self._lock_wait, self._where
        )


class _PostgresSession:
    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        return list(await self._conn.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        status = str(await self._conn.execute(sql, *args))
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, args)


class Engine(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def session(self, transaction: bool) -> AbstractAsyncContextManager[Session]: ...

    def migration(self) -> AbstractAsyncContextManager[Session]: ...


class _SQLite:
    """One aiosqlite connection; an asyncio lock gives it to one unit of work at a time, and
    ``BEGIN IMMEDIATE`` serializes writers across processes."""

    def __init__(self, path: str, lock_wait: float = LOCK_WAIT) -> None:
        self.path = path
        self.lock_wait = lock_wait
        self.where = f"the SQLite database {path}"
        self.conn: Any = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        aiosqlite = importlib.import_module("aiosqlite")
        if self.path != ":memory:":
            await asyncio.to_thread(Path(self.path).parent.mkdir, parents=True, exist_ok=True)
        self.lock = asyncio.Lock()
        conn = aiosqlite.connect(self.path, isolation_level=None)
        # aiosqlite's worker thread is not a daemon: a connection never closed would keep the
        # process from exiting. Killing it at exit is safe: SQLite rolls back what was open.
        thread = getattr(conn, "_thread", None)
        if thread is not None:
            thread.daemon = True
        await conn
        try:
            await conn.execute(f"PRAGMA busy_timeout = {_BUSY_SLICE_MS}")
            if self.path != ":memory:":
                await _wal(conn)
                await conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await conn.close()
            raise
        self.conn = conn

    async def close(self) -> None:
        if self.conn is not None:
            async with self.lock:
                conn, self.conn = self.conn, None
                await conn.close()

    @asynccontextmanager
    async def session(self, transaction: bool) -> AsyncIterator[Session]:
        async with self.lock:
            conn = self.conn
            if conn is None:
                raise RuntimeError("the SQLite database is closed")
            if conn.in_transaction:  # left open by a cancelled unit of work
                await conn.rollback()
            session = _SQLiteSession(conn, self.lock_wait, self.where)
            if not transaction:
                yield session
                return
            await session.execute("BEGIN IMMEDIATE")
            try:
                yield session
            except BaseException:
                await asyncio.shield(conn.rollback())
                raise
            await asyncio.shield(conn.commit())

    def migration(self) -> AbstractAsyncContextManager[Session]:
        return self.session(True)


async def _wal(conn: Any) -> None:
    """Switch to WAL. Two connections doing so on a new file at once can get "database is
    locked" without SQLite's busy handler being consulted, so retry that for a while."""
    for attempt in range(200):
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            await asyncio.sleep(0.005 * min(attempt + 1, 20))


class _Postgres:
    """An asyncpg pool; the schema step holds a transaction-scoped advisory lock."""

    def __init__(self, dsn: str, schema: str | None, pool_size: int) -> None:
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.pool: Any = None

    async def open(self) -> None:
        asyncpg = importlib.import_module("asyncpg")
        settings = {"search_path": f'"{self.schema}"'} if self.schema else None
        try:
            self.pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, server_settings=settings
            )
        except (TimeoutError, OSError) as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await pool.close()

    @asynccontextmanager
    async def session(self, transaction: bool) -> AsyncIterator[Session]:
        if self.pool is None:
            raise RuntimeError("the PostgreSQL pool is closed")
        async with self.pool.acquire() as conn:
            if not transaction:
                yield _PostgresSession(conn)
                return
            async with conn.transaction():
                yield _PostgresSession(conn)

    @asynccontextmanager
    async def migration(self) -> AsyncIterator[Session]:
        async with self.session(True) as session:
            key = zlib.crc32(f"baton-schema:{self.schema or ''}".encode()) - 2**31
            await session.execute("SELECT pg_advisory_xact_lock($1::bigint)", key)
            if self.schema:
                await session.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            yield session


class Database:
    """Baton's tables in one database, reached through a pool (or SQLite connection).

    ``migrate=True`` (the default) creates or upgrades the schema on first use; with ``False``
    the schema must already be at this code's version (see ``baton.backends.sql.migrate``).
    A database newer than the code is always refused. Close with ``await db.aclose()`` or use
    ``async with``. ``Database.shared(url)`` hands out one counted instance per URL.
    """

    _shared: ClassVar[weakref.WeakValueDictionary[DatabaseURL, Database]] = (
        weakref.WeakValueDictionary()
    )

    def __init__(
        self,
        url: str | DatabaseURL,
        *,
        migrate: bool = True,
        pool_size: int = 10,
        lock_wait: float = LOCK_WAIT,
    ) -> None:
        self.url = url if isinstance(url, DatabaseURL) else parse_url(url)
        module, extra = _DRIVERS[self.url.dialect]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"{self.url.redacted} needs the {module} driver: "
                f"pip install 'baton-agents[{extra}]'"
            )
        self.migrate = migrate
        self._engine: Engine = (
            _SQLite(self.url.target, _positive("lock_wait", lock_wait))
            if self.url.dialect == "sqlite"
            else _Postgres(self.url.target, self.url.schema, pool_size)
        )
        self._state = "new"  # new -> open -> ready -> closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        self._users = 1
        self._is_shared = False

    @classmethod
    def shared(cls, url: str | DatabaseURL) -> Database:
        """The process's database for ``url``, opened by the first user, closed by the last."""
        parsed = url if isinstance(url, DatabaseURL) else parse_url(url)
        db = cls._shared.get(parsed)
        if db is None:
            db = cls._shared[parsed] = cls(parsed)
            db._is_shared = True
        else:
            db._users += 1
        return db

    @property
    def dialect(self) -> Dialect:
        return self.url.dialect

    def __repr__(self) -> str:
        return f"Database({self.url.redacted!r}, {self._state})"

    # -- units of work -----------------------------------------------------------------------

    def session(self) -> AbstractAsyncContextManager[Session]:
        """A connection for several statements, outside any transaction."""
        return self._unit(transaction=False)

    def transaction(self) -> AbstractAsyncContextManager[Session]:
        """A connection inside a transaction (committed at the end, rolled back on error)."""
        return self._unit(transaction=True)

    @asynccontextmanager
    async def _unit(self, *, transaction: bool) -> AsyncIterator[Session]:
        try:
            engine = await self._ready()
            async with engine.session(transaction) as session:
                yield session
        except Exception as exc:
            if _is_nul_refused(exc):
                # (No URL here: this reaches served clients, whose input it usually is.)
                raise ConfigError(
                    "PostgreSQL can't store the NUL character (\\x00), and a value given "
                    "holds one (an id, a key, or text stored as it is, such as a note's): "
                    "remove it"
                ) from None
            unavailable = self._unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable | None:
        """A driver's connection-level error as a ``DatabaseUnavailable`` naming the database
        (its password hidden); ``None`` for other errors (raised as they are)."""
        if isinstance(exc, BackendUnavailable) or not _is_connection_error(exc):
            return None
        return DatabaseUnavailable(
            f"{self.url.redacted} could not be used: {type(exc).__name__}: {exc}. Check that "
            "the database is running and reachable (and the file writable); the ask can be "
            "retried"
        )

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        async with self.session() as session:
            return await session.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.session() as session:
            return await session.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self.session() as session:
            return await session.execute(sql, *args)

    # -- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Give up this reference; the last one closes the pool (closing twice is fine)."""
        if self._state == "closed":
            return
        self._users -= 1
        if self._users > 0:
            return
        self._state = "closed"
        if self._is_shared and self._shared.get(self.url) is self:
            del self._shared[self.url]
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop is loop:
            await self._engine.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connected(self) -> Engine:
        """The engine, connected (the schema untouched): for the schema step itself."""
        loop = asyncio.get_running_loop()
        if self._state == "closed":
            raise RuntimeError(f"{self!r} is closed")
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                raise ConfigError(
                    f"{self!r} is in use by another event loop; make one per loop (or close it "
                    "before the loop ends)"
                )
            self._loop, self._state, self._opening = loop, "new", asyncio.Lock()
        assert self._opening is not None
        async with self._opening:
            if self._state == "new":
                await self._engine.open()
                self._state = "open"
        return self._engine

    async def _ready(self) -> Engine:
        if self._state == "ready" and self._loop is asyncio.get_running_loop():
            return self._engine
        engine = await self.connected()
        assert self._opening is not None
        async with self._opening:
            if self._state == "open":
                from .schema import prepare

                await prepare(engine, self.dialect, allow_upgrade=self.migrate)
                self._state = "ready"
        return engine
