"""Sending a command without a task and a timer per send.

redis-py times every send of a connection that has a ``socket_timeout`` (its default is 5 s)
with ``asyncio.wait_for``, which on Python 3.11 wraps the send in a task of its own: one more
task, timer and event-loop turn per command, about a tenth of what a stored ask costs on the
client. A send can only wait when what it writes overflows the transport's buffer: Redis
answers a command after reading all of it, so when a command starts, the one before it has left
the buffer, and a command smaller than asyncio's buffer limit (64 KiB) is handed over without
waiting. The pools Baton makes from a URL therefore send such commands untimed (the read of the
reply keeps redis-py's own timeout, so a silent server still ends in ``TimeoutError``) and time
larger ones with ``asyncio.timeout``. A client passed in by the user is used as it was made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

__all__ = ["UNTIMED_SEND", "timed_sends", "untimed"]

UNTIMED_SEND = 64 * 1024
"""Bytes below which a command is sent without a timer (asyncio's default high-water mark of a
transport's write buffer: a smaller write into an empty buffer never waits)."""


_MADE: dict[type[Any], type[Any]] = {}


def _size(command: bytes | list[bytes]) -> int:
    return len(command) if isinstance(command, bytes) else sum(len(c) for c in command)


def timed_sends(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (the connection class redis-py picked for a URL: TCP, TLS or a Unix socket)
    with small sends untimed and large ones timed by ``asyncio.timeout`` rather than
    ``asyncio.wait_for`` (made once per class)."""
    made = _MADE.get(base)
    if made is None:
        made = _MADE[base] = _make(base)
    return made


def untimed(cls: type[Any]) -> bool:
    """Whether ``cls`` is a connection class made by ``timed_sends`` (small sends untimed)."""
    return cls in _MADE.values()


def _make(base: type[AbstractConnection]) -> type[AbstractConnection]:
    from redis.exceptions import TimeoutError as RedisTimeout

    async def send_packed_command(
        self: AbstractConnection,
        command: bytes | str | Iterable[bytes],
        check_health: bool = True,
    ) -> None:
        timeout = self.socket_timeout
        if not timeout or not self.is_connected or (check_health and self.health_check_interval):
            # Connecting or checking health reads replies: redis-py's own way, timed.
            await base.send_packed_command(self, command, check_health)
            return
        if isinstance(command, str):
            command = command.encode()
        if not isinstance(command, bytes):
            command = list(command)
        # redis-py only wraps the send in wait_for while socket_timeout is set; the read
        # that follows sees it again (nothing else uses this connection in between).
        self.socket_timeout = None
        try:
            if _size(command) < UNTIMED_SEND:
                await base.send_packed_command(self, command, check_health)
                return
            async with asyncio.timeout(timeout):
                await base.send_packed_command(self, command, check_health)
        except TimeoutError:
            # The cancelled send already closed the connection (redis-py does on any
            # interrupted write); report it as redis-py would have.
            raise RedisTimeout("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout

    namespace: dict[str, Any] = {
        "send_packed_command": send_packed_command,
        "__doc__": base.__doc__,
        "__module__": __name__,
    }
    return type(f"TimedSends{base.__name__}", (base,), namespace)
