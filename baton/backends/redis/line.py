"""One connection held for a claimed ask: its commands sent and answered in the asking task.

An ask on a stored conversation writes to Redis a few times in a row. Borrowing a pooled
connection for each write, and redis-py's per-command path around it (retries, observability
hooks, argument encoding, reply callbacks), cost about as much client time as the round trip
itself; so a claim checks one connection out of the pool when it is taken, writes on it with
redis-py's public connection API (``send_packed_command``, ``read_response``) and gives it back
with the release.

A write must not be torn by a cancel of the ask (the store is the truth: the ask's memory has to
end as the store does). A command smaller than the transport's buffer is handed over without
suspending (see ``sending``), so the only point where a cancel can reach a write that was sent
is the wait for its reply. There the reply is read to its end in a task of its own, the
``cut``: whoever records the write waits for it and learns how the write ended. A cancel that
lands before the command was sent (while a dropped connection is re-opened) leaves nothing
written. Larger commands, and a write while the held connection is answering another (tool
outcomes recorded concurrently), take the pool's way in a task of their own, as before.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ...redaction import logger
from .sending import UNTIMED_SEND, untimed

if TYPE_CHECKING:
    from redis.asyncio import ConnectionPool, Redis
    from redis.asyncio.connection import AbstractConnection

__all__ = ["Line", "command", "open_line", "pack", "prelude"]

log = logger("baton.backends.redis")

T = TypeVar("T")


def pack(head: bytes, count: int, args: Sequence[bytes]) -> bytes:
    """A RESP command: ``head`` (the first ``count`` arguments, packed once by ``prelude``)
    followed by ``args``."""
    parts = [b"*%d\r\n" % (count + len(args)), head]
    for arg in args:
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


def prelude(*args: bytes) -> bytes:
    """Constant leading arguments of a command, packed once (for ``pack``)."""
    return b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args)


def command(*args: bytes) -> bytes:
    """A whole RESP command."""
    return pack(b"", 0, args)


async def open_line(client: Redis) -> Line | None:
    """A connection of ``client``'s pool checked out as a ``Line``, when the pool is one Baton
    made from a URL (its sends of small commands never suspend, see ``sending``); ``None``
    for any other client, which is used through redis-py's own command path."""
    if client.connection is not None:  # a single-connection client: not ours to hold
        return None
    pool = client.connection_pool
    if not untimed(pool.connection_class):
        return None
    return Line(pool, await pool.get_connection())  # type: ignore[no-untyped-call]


class Line:
    """A pooled connection checked out for one claimed ask (see the module docs)."""

    __slots__ = ("_closed", "_conn", "_cut", "_pool", "_scripts", "busy")

    def __init__(self, pool: ConnectionPool, conn: AbstractConnection) -> None:
        self._pool = pool
        scripts = _SCRIPTS.get(pool)
        if scripts is None:
            scripts = _SCRIPTS[pool] = set()
        self._scripts = scripts
        self._conn: AbstractConnection | None = conn
        self._cut: asyncio.Future[Any] | None = None
        self._closed = False
        self.busy = False  # a command is waiting for its reply on the connection

    def knows(self, sha: bytes) -> bool:
        """Whether the script ``sha`` was sent whole on this pool before (then ``EVALSHA``
        finds it; the first time, ``EVAL`` sends it, and Redis keeps it from then on)."""
        if sha in self._scripts:
            return True
        self._scripts.add(sha)
        return False

    def takes(self, packed: bytes) -> bool:
        """Whether ``call`` can send ``packed`` now (else: the pool's way, in a task)."""
        return self._conn is not None and not self.busy and len(packed) < UNTIMED_SEND

    def take_cut(self) -> asyncio.Future[Any] | None:
        """The end of a command a cancel of its caller cut off after it was sent (once)."""
        cut, self._cut = self._cut, None
        return cut

    async def call(
        self,
        packed: bytes,
        answer: Callable[[Any], T],
        again: Callable[[], bytes] | None = None,
    ) -> T:
        """Send ``packed`` on the held connection and return ``answer(reply)``, in the calling
        task; ``again``: what to send instead when Redis doesn't know the script (NOSCRIPT).
        A cancel after the send leaves the rest to ``take_cut()``'s future (and re-raises)."""
        conn = self._conn
        assert conn is not None and not self.busy
        self.busy = True
        self._cut = None  # a cut is this call's only (one left by another was waited for)
        try:
            # Suspends only to re-open a dropped connection, before anything is sent.
            await conn.send_packed_command(packed, False)
        except BaseException:
            self.busy = False
            raise
        return await self._answer(conn, answer, again, cut_on_cancel=True)

    async def _answer(
        self,
        conn: AbstractConnection,
        answer: Callable[[Any], T],
        again: Callable[[], bytes] | None,
        *,
        cut_on_cancel: bool,
    ) -> T:
        no_script, response_error = _errors()
        handed_over = False
        try:
            while True:
                try:
                    # disconnect_on_error=False: a cancel leaves the connection (and what
                    # the parser has read of the reply) as it is, for the cut to read on.
                    reply = await conn.read_response(disconnect_on_error=not cut_on_cancel)
                except asyncio.CancelledError:
                    if cut_on_cancel:
                        cut = asyncio.ensure_future(
                            self._answer(conn, answer, again, cut_on_cancel=False)
                        )
                        cut.add_done_callback(_retrieved)
                        self._cut = cut
                        handed_over = True  # the cut settles the connection
                    raise
                except no_script:
                    if again is None:
                        raise
                    # The script was not run: send it whole (Redis caches it from then on).
                    await conn.send_packed_command(again(), False)
                    again = None
                    continue
                except response_error:
                    raise  # Redis answered: the connection is as good as before
                except BaseException:
                    if cut_on_cancel:
                        await conn.disconnect(nowait=True)  # what it holds is unknown
                    raise
                return answer(reply)
        finally:
            if not handed_over:
                self._settle()

    def _settle(self) -> None:
        """The connection answered (or failed): free for the next command, or given back."""
        self.busy = False
        if self._closed and self._conn is not None:
            conn, self._conn = self._conn, None
            _keep(_give_back(self._pool, conn))

    async def close(self) -> None:
        """Give the connection back to the pool (once it answered what is in flight)."""
        self._closed = True
        if not self.busy and self._conn is not None:
            conn, self._conn = self._conn, None
            await _give_back(self._pool, conn)


async def _give_back(pool: ConnectionPool, conn: AbstractConnection) -> None:
    # The pool's own bookkeeping failing must not turn a write Redis took into an error.
    try:
        await pool.release(conn)
    except Exception as exc:
        log.warning("could not give a Redis connection back to its pool (%s)", exc)


_ERRORS: tuple[type[BaseException], type[BaseException]] | None = None


def _errors() -> tuple[type[BaseException], type[BaseException]]:
    """redis-py's NOSCRIPT and reply errors (imported on first use: the driver is optional)."""
    global _ERRORS
    if _ERRORS is None:
        from redis.exceptions import NoScriptError, ResponseError

        _ERRORS = (NoScriptError, ResponseError)
    return _ERRORS


_BACKGROUND: set[asyncio.Future[Any]] = set()
# The scripts each pool sent whole (its server may have forgotten them since: a restart or a
# SCRIPT FLUSH makes EVALSHA answer NOSCRIPT, and the script is sent whole again).
_SCRIPTS: weakref.WeakKeyDictionary[ConnectionPool, set[bytes]] = weakref.WeakKeyDictionary()


def _keep(work: Any) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
