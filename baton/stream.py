"""The event stream: how the world watches (and steps into) a conversation.

``MemoryStream`` delivers every event, in the order it was sent, to its subscribers:

- ``stream.subscribe(fn)`` calls ``fn(event)`` for each event (sync or async ``fn``);
- ``stream.where(TextChunk | ToolCall, name="add")`` narrows by type, fields or a predicate;
- ``async for event in stream.where(...)`` iterates live events;
- ``await stream.where(HumanMessage, request_id=rid).next(timeout=30)`` waits for one event.

Delivery is inline: ``send`` returns once every subscriber has seen the event, so subscribers see
events in causal order (a request before the response it caused) and may act before the loop moves
on. A subscriber that raises is isolated: the error is logged and reported to the other subscribers
as a ``SubscriberFailed`` event; the agent's loop never sees it.

Slow subscribers. An async subscriber that has to wait gets ``delivery_timeout`` seconds (default
30, ``None``: no bound) to return; past that it is cancelled, detached (it gets no more events) and
reported as a ``SubscriberFailed`` event (``error_type="SubscriberTimeout"``). One that finishes
without waiting costs no timer. When the ask is cancelled while a subscriber waits, the subscriber
gets the cancellation; one that ignores it is dropped rather than waited for, and detached. The
events that close a failed or cancelled ask are delivered with a short bound
(``CLEANUP_DELIVERY_TIMEOUT``), so cleanup never waits on a stuck subscriber.

A *sync* subscriber runs on the event loop: while it blocks (``time.sleep``, a blocking socket,
a lock), the whole loop waits with it, every ask of the process included, and no timeout can
interrupt it (Python cannot stop a running function from outside). Keep sync subscribers quick, or
run them off the loop with ``stream.subscribe(in_thread(fn))``: ``fn`` then runs on a thread of its
own, in order, and counts as an async subscriber (the delivery timeout applies; a thread stuck
past it is abandoned, as Python cannot kill a thread).

Back-pressure policy for iterators: each ``async for`` watcher buffers at most ``max_buffer``
events (default 10,000). A watcher that falls further behind is detached: it yields what it had
buffered and then raises ``StreamOverflow``. The agent never waits for a watcher, so a stalled
consumer can neither block an agent nor grow memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from .errors import ConfigError, StreamClosed, StreamOverflow, SubscriberTimeout
from .event_filter import EventFilter
from .event_filter import Where as Where  # what subscribe(where=...) takes: re-exported
from .events import Event, HumanMessage, SubscriberFailed
from .redaction import logger
from .resumed import Resumed
from .subscribers import in_thread  # re-exported: the stream's subscribers off the loop

__all__ = [
    "CLEANUP_DELIVERY_TIMEOUT",
    "DEFAULT_DELIVERY_TIMEOUT",
    "DEFAULT_MAX_BUFFER",
    "EventFilter",
    "MemoryStream",
    "Stream",
    "StreamView",
    "Subscription",
    "Watcher",
    "cleanup_delivery",
    "in_thread",
]

log = logger("baton.stream")

E = TypeVar("E", bound=Event)
Subscriber = Callable[[Any], Any]
DEFAULT_MAX_BUFFER = 10_000
DEFAULT_DELIVERY_TIMEOUT = 30.0
"""Seconds an async subscriber may wait while handling one event before it is detached."""
CLEANUP_DELIVERY_TIMEOUT = 0.25
"""Seconds a subscriber may wait on an event that closes a failed or cancelled ask (short: a
cancelled ask has about a second to close its run, see ``baton.run``)."""


# Set while a failed or cancelled ask delivers its closing events (see ``cleanup_delivery``).
# Read only when a delivery has to wait, so the fast path never looks at it.
_CLEANUP: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "baton_stream_cleanup", default=None
)


class _Sub:
    __slots__ = ("check", "filter", "fn", "is_async", "name")

    def __init__(self, fn: Subscriber, filter_: EventFilter | None, name: str) -> None:
        self.fn = fn
        self.filter = filter_
        # Types are matched by the stream's index; only field/predicate filters need a check.
        has_checks = filter_ is not None and (filter_.fields or filter_.predicate)
        self.check = filter_ if has_checks else None
        self.is_async = inspect.iscoroutinefunction(fn)
        self.name = name


class Subscription:
    """Handle returned by ``subscribe``; call ``unsubscribe()`` (or use ``with``) to stop."""

    __slots__ = ("_stream", "_sub")

    def __init__(self, stream: MemoryStream, sub: _Sub) -> None:
        self._stream = stream
        self._sub = sub

    def unsubscribe(self) -> None:
        self._stream._remove(self._sub)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()


@runtime_checkable
class Stream(Protocol):
    """What an agent needs from a stream; backends (memory, Redis) implement it. Everything
    that takes or holds a stream is typed against this protocol."""

    async def send(self, event: Event) -> None:
        """Deliver an event to every matching subscriber, in order."""
        ...

    def subscribe(self, fn: Subscriber, *, where: Where = None) -> Subscription: ...

    def where(
        self, *types: Any, predicate: Callable[[Any], bool] | None = None, **fields: Any
    ) -> StreamView[Any]: ...

    def __aiter__(self) -> Watcher[Event]: ...

    def close(self) -> None: ...


class MemoryStream:
    """An in-process stream with subscribers indexed by event type."""

    __slots__ = (
        "__weakref__",
        "_closed",
        "_index",
        "_on_subscribe",
        "_subs",
        "delivery_timeout",
        "max_buffer",
        "remarks",
    )

    def __init__(
        self,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        on_subscribe: Callable[[], None] | None = None,
        delivery_timeout: float | None = DEFAULT_DELIVERY_TIMEOUT,
    ) -> None:
        """``on_subscribe`` is called after each new subscriber (a stream backed by a store
        starts following the store's other writers then). ``delivery_timeout``: seconds an
        async subscriber may wait on one event before it is detached (``None``: no bound; see
        the module docs)."""
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.delivery_timeout = (  # a stream per ask: the default needs no checking
            delivery_timeout
            if delivery_timeout is DEFAULT_DELIVERY_TIMEOUT
            else check_delivery_timeout(delivery_timeout)
        )
        self._on_subscribe = on_subscribe
        # A list from the first subscriber on: most conversations' streams never get one.
        self._subs: list[_Sub] | tuple[()] = ()
        # Concrete event class -> the subscribers whose types match it; rebuilt lazily after
        # (un)subscribe, so sending costs one dict lookup when nobody listens.
        self._index: dict[type, tuple[_Sub, ...]] = {}
        self._closed = False
        self.max_buffer = max_buffer
        # The inbox of the ask running on this stream: remarks (HumanMessages answering no
        # request) sent while it runs are given to its model at the next call.
        self.remarks: Callable[[HumanMessage], object] | None = None

    # -- sending -----------------------------------------------------------------------------

    async def send(self, event: Event) -> None:
        remarks = self.remarks
        if remarks is not None and event.__class__ is HumanMessage and event.request_id is None:
            remarks(event)
        if not self._subs:
            return
        subs = self._index.get(event.__class__)
        if subs is None:
            subs = self._resolve(event.__class__)
        if not subs:
            return
        failures: list[tuple[_Sub, Exception]] | None = None
        for sub in subs:
            if sub.check is not None and not sub.check.accepts(event):
                continue
            try:
                if sub.is_async:
                    step: Any = sub.fn(event)
                else:
                    step = sub.fn(event)
                    if step is None or not inspect.isawaitable(step):
                        continue
                    if not inspect.iscoroutine(step):
                        step = step.__await__()
                # Run it to its first wait by hand: most subscribers finish without waiting, and
                # those pay for no task and no timer. Only one that waits gets its deadline.
                try:
                    waiting = step.send(None)
                except StopIteration:
                    continue
                await self._wait_for(sub, event, step, waiting)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if failures is None:
                    failures = []
                failures.append((sub, exc))
        if failures is not None:
            # Reported after everyone has seen the event, so reports never precede their cause.
            await self._report_failures(event, failures)

    async def _wait_for(self, sub: _Sub, event: Event, step: Any, waiting: Any) -> None:
        """Finish a subscriber's delivery that has to wait, within the delivery timeout (or the
        cleanup bound); past it, cancel and detach the subscriber (``SubscriberTimeout``)."""
        limit = self.delivery_timeout
        cleanup = _CLEANUP.get()
        if cleanup is not None and (limit is None or cleanup < limit):
            limit = cleanup
        rest = Resumed(step, waiting)
        deadline: asyncio.Timeout | None = None
        try:
            if limit is None:
                await rest
                return
            async with asyncio.timeout(limit) as deadline:
                await rest
        except TimeoutError:
            if deadline is None or not deadline.expired():
                raise  # the subscriber's own timeout: a failure like any other
        except asyncio.CancelledError:
            if rest.ignored_cancel:
                # It would have held the cancelled ask: never call it again.
                log.warning("stream subscriber %s ignored a cancellation; detached", sub.name)
                self._remove(sub)
            raise
        if not deadline.expired():
            return  # it returned in time
        self._remove(sub)
        raise SubscriberTimeout(
            f"subscriber {sub.name} did not return within {limit:g} seconds on "
            f"{type(event).__name__} and was detached (it gets no more events)"
        )

    async def _report_failures(self, event: Event, failures: list[tuple[_Sub, Exception]]) -> None:
        for sub, exc in failures:
            log.warning(
                "stream subscriber %s failed on %s", sub.name, type(event).__name__, exc_info=exc
            )
            if isinstance(event, SubscriberFailed):
                continue  # never report failures about failure reports: no loops
            await self.send(
                SubscriberFailed(sub.name, type(event).__name__, type(exc).__name__, str(exc))
            )

    def _resolve(self, cls: type) -> tuple[_Sub, ...]:
        subs = tuple(s for s in self._subs if s.filter is None or issubclass(cls, s.filter.types))
        self._index[cls] = subs
        return subs

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, fn: Subscriber, *, where: Where = None) -> Subscription:
        """Call ``fn(event)`` for every event (matching ``where``: event classes, ``A | B``, or
        a filter; ``stream.where(...).subscribe(fn)`` also narrows by fields). ``fn`` may be
        async."""
        if where is not None and not isinstance(where, EventFilter):
            where = EventFilter.build((where,), None, {})
        name = getattr(fn, "__qualname__", None) or repr(fn)
        return Subscription(self, self._add(_Sub(fn, where, name)))

    def where(
        self, *types: Any, predicate: Callable[[Any], bool] | None = None, **fields: Any
    ) -> StreamView[Any]:
        """A filtered view: by event types (``A | B``), field values, and/or a predicate."""
        return StreamView(self, EventFilter.build(types, predicate, fields))

    def __aiter__(self) -> Watcher[Event]:
        return Watcher(self, None)

    def close(self) -> None:
        """End every watcher's iteration; pending ``next()`` waits raise ``StreamClosed``."""
        self._closed = True
        subs, self._subs = self._subs, ()
        for sub in subs:
            closer = getattr(sub.fn, "close_stream", None)
            if closer is not None:
                closer()
        self._index.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def _add(self, sub: _Sub) -> _Sub:
        if self._closed:
            raise StreamClosed("cannot subscribe to a closed stream")
        if not self._subs:
            self._subs = []
        self._subs.append(sub)
        self._index.clear()
        if self._on_subscribe is not None:
            self._on_subscribe()
        return sub

    def _remove(self, sub: _Sub) -> None:
        subs = self._subs
        if not subs:
            return
        try:
            subs.remove(sub)
        except ValueError:
            return
        self._index.clear()


def check_delivery_timeout(value: float | None) -> float | None:
    """``value`` if it is a valid delivery timeout (finite and positive, or ``None``)."""
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")  # NaN fails this too
    ):
        raise ConfigError(
            f"delivery_timeout must be a finite, positive number of seconds or None, got {value!r}"
        )
    return value


@contextlib.contextmanager
def cleanup_delivery(limit: float | None = None) -> Iterator[None]:
    """Within this block (in this task), a subscriber delivery that has to wait gets at most
    ``limit`` seconds (default ``CLEANUP_DELIVERY_TIMEOUT``; the stream's own
    ``delivery_timeout`` if lower): a failed or cancelled ask delivers its closing events this
    way, so it never waits on a stuck subscriber."""
    token = _CLEANUP.set(CLEANUP_DELIVERY_TIMEOUT if limit is None else limit)
    try:
        yield
    finally:
        _CLEANUP.reset(token)


class StreamView(Generic[E]):
    """A filtered window on a stream: subscribe to it, iterate it, or await its next event."""

    __slots__ = ("_filter", "_stream")

    def __init__(self, stream: MemoryStream, filter_: EventFilter) -> None:
        self._stream = stream
        self._filter = filter_

    def where(
        self, *types: Any, predicate: Callable[[Any], bool] | None = None, **fields: Any
    ) -> StreamView[Any]:
        """Narrow further; both filters apply."""
        return StreamView(
            self._stream, self._filter.narrow(EventFilter.build(types, predicate, fields))
        )

    def subscribe(self, fn: Subscriber) -> Subscription:
        return self._stream.subscribe(fn, where=self._filter)

    def __aiter__(self) -> Watcher[E]:
        return Watcher(self._stream, self._filter)

    def next(self, timeout: float | None = None) -> Awaitable[E]:
        """Wait for the next matching event. Listening starts now, at the call, not at the await."""
        future: asyncio.Future[E] = asyncio.get_running_loop().create_future()

        def deliver(event: Any) -> None:
            if not future.done():
                future.set_result(event)

        def close_stream() -> None:
            if not future.done():
                future.set_exception(StreamClosed("the stream closed before a matching event"))

        deliver.close_stream = close_stream  # type: ignore[attr-defined]
        sub = self._stream._add(_Sub(deliver, self._filter, "next()"))
        return self._wait(future, sub, timeout)

    async def _wait(self, future: asyncio.Future[E], sub: _Sub, timeout: float | None) -> E:  # noqa: ASYNC109
        try:
            if timeout is None:
                return await future
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._stream._remove(sub)


class Watcher(Generic[E]):
    """An ``async for`` iterator over live events with a bounded buffer (see module docs)."""

    __slots__ = ("__weakref__", "_buffer", "_done", "_error", "_max", "_stream", "_sub", "_waiter")

    def __init__(self, stream: MemoryStream, filter_: EventFilter | None) -> None:
        self._buffer: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._error: BaseException | None = None
        self._max = stream.max_buffer
        self._stream = stream
        ref = weakref.ref(self)

        # The stream holds only a weak reference: a watcher abandoned by `break` is collected and
        # unsubscribes itself instead of buffering forever.
        def push(event: Any) -> None:
            watcher = ref()
            if watcher is not None:
                watcher._push(event)

        def close_stream() -> None:
            watcher = ref()
            if watcher is not None:
                watcher._finish(None)

        push.close_stream = close_stream  # type: ignore[attr-defined]
        self._sub = stream._add(_Sub(push, filter_, "watcher"))
        weakref.finalize(self, stream._remove, self._sub)

    def _push(self, event: Any) -> None:
        if self._done:
            return
        if len(self._buffer) >= self._max:
            self._finish(
                StreamOverflow(
                    f"stream watcher fell more than {self._max} events behind and was detached; "
                    "consume faster, or create the stream with a larger max_buffer"
                )
            )
            return
        self._buffer.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self, error: BaseException | None) -> None:
        self._done = True
        self._error = error
        self._stream._remove(self._sub)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Watcher[E]:
        return self

    async def __anext__(self) -> E:
        while not self._buffer:
            if self._done:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop watching; iteration ends after the events already buffered."""
        if not self._done:
            self._finish(None)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Watcher[E]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def collect(iterator: AsyncIterator[E], limit: int) -> list[E]:
    """Gather up to ``limit`` events from an iterator (handy in scripts and tests)."""
    out: list[E] = []
    async for event in iterator:
        out.append(event)
        if len(out) >= limit:
            break
    return out
