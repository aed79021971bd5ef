"""Finishing a subscriber's delivery that had to wait (``Resumed``): the rest of its coroutine,
run to its first wait by ``MemoryStream.send``, awaited with the stream's cancellation rules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

from .redaction import logger

__all__ = ["Resumed"]

log = logger("baton.stream")  # the stream's logger: what a delivery logs is the stream's


class Resumed:
    """Awaits the rest of a coroutine (or ``__await__`` iterator) already run to its first
    wait (``waiting``: what it yielded to the loop), like ``yield from``. On a cancellation it
    passes the cancellation in once; a subscriber that ignores it (waits again) is closed
    instead of waited for, and the cancellation goes on (``ignored_cancel`` is set)."""

    __slots__ = ("ignored_cancel", "step", "waiting")

    def __init__(self, step: Any, waiting: Any) -> None:
        self.step = step
        self.waiting = waiting
        self.ignored_cancel = False

    def __await__(self) -> Generator[Any, Any, None]:
        step, waiting = self.step, self.waiting
        self.waiting = None
        while True:
            try:
                sent = yield waiting
            except asyncio.CancelledError as cancel:
                try:
                    step.throw(cancel)
                except StopIteration:
                    pass  # it swallowed the cancellation and returned: the cancel still stands
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("stream subscriber raised on cancellation", exc_info=exc)
                else:
                    self.ignored_cancel = True
                    with contextlib.suppress(BaseException):
                        step.close()  # runs its finally blocks (they cannot wait any more)
                raise
            except GeneratorExit:
                step.close()  # the delivery itself is being closed: close the subscriber too
                raise
            except BaseException as exc:
                try:
                    waiting = step.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = step.send(sent)
                except StopIteration:
                    return
