"""Replies (the result of an ask, and the handle to continue it) and Runs (a live view of one)."""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar, Unpack

from .context import conversation_usage
from .conversation import Conversation, claim
from .errors import ConfigError
from .events import Event, HumanMessage, Media, ModelResponse, Usage, UsageReport
from .history import HistoryView
from .loop import run_loop
from .run import abandon_run
from .stream import Stream

if TYPE_CHECKING:
    from .agent import Agent, AskOptions, PromptInput
    from .run import LiveRun

__all__ = ["Reply", "Run"]

OutputT = TypeVar("OutputT", default=str)


class Reply(Generic[OutputT]):
    """The outcome of one ask.

    ``text`` is the final answer's text, ``output`` the validated structured result (the text
    itself when there is no response schema), ``usage`` what the whole ask cost, ``files`` the
    files the model produced (e.g. images), and ``events`` the conversation up to and including
    this reply. ``await reply.ask(...)`` continues it.
    """

    __slots__ = (
        "_agent",
        "_conversation",
        "_length",
        "output",
        "response",
        "run_id",
        "text",
        "usage",
        "usage_report",
    )

    def __init__(
        self,
        agent: Agent[Any],
        conversation: Conversation,
        run_id: str,
        text: str,
        output: OutputT,
        usage: Usage,
        response: ModelResponse,
        usage_report: UsageReport | None = None,
    ) -> None:
        self._agent = agent
        self._conversation = conversation
        self._length = len(conversation.events)
        self.run_id = run_id
        self.text = text
        self.output: OutputT = output
        self.usage = usage
        self.response = response
        # The same total broken down by kind (model, subtask, compaction), provider and model.
        self.usage_report = usage_report or UsageReport(usage)

    @property
    def files(self) -> tuple[Media, ...]:
        """The files the model produced in its final answer (``Image``, ``Audio``, ``Video``
        or ``Document`` parts, inline or by URL), e.g. the images a Gemini image model returns;
        empty when it produced none. Filled by Gemini and Vertex AI; the other providers'
        adapters take text and tool calls only from an answer."""
        return self.response.files

    @property
    def events(self) -> HistoryView:
        """The conversation's events up to this reply (later asks don't change it)."""
        return HistoryView(self._conversation.events, self._length)

    @property
    def conversation_id(self) -> str:
        return self._conversation.id

    @property
    def conversation_usage(self) -> UsageReport:
        """The usage of every ask of the conversation up to this reply (``usage`` is this
        ask's), per kind, provider and model too; for a conversation continued from a
        history, the asks stored there count as well."""
        return conversation_usage(self.events)

    @property
    def stream(self) -> Stream:
        """The conversation's stream: subscribe here to watch its later asks."""
        return self._conversation.stream

    @property
    def variables(self) -> dict[str, Any]:
        """The conversation's variables (shared with later asks)."""
        return self._conversation.variables

    async def claim_next(self, options: AskOptions, start: Sequence[Event] = ()) -> Conversation:
        """Claim the conversation the next ask continues: this reply's, or a branch from this
        reply when the conversation moved on after it (here, or in another process).
        ``start``: the next run's first events, stored with the claim when the store can (see
        ``baton.conversation.claim_stored``)."""
        for key in ("stream", "conversation_id"):
            if key in options:
                raise ConfigError(
                    f"reply.ask() continues this reply's conversation, so {key}= can't be given "
                    "here; watch later asks through reply.stream, or start a new conversation "
                    f"with agent.ask(..., {key}=...)"
                )
        wait = options.get("wait_busy", 0)
        conversation = self._conversation
        if len(conversation.events) == self._length:
            await claim(conversation, wait, start)  # brings it up to date with the store
            held = conversation.claim
            if (held is not None and held.started) or len(conversation.events) == self._length:
                return conversation
            await conversation.release()
        branch = conversation.fork(self._length)
        await claim(branch, wait)
        return branch

    async def ask(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Reply[OutputT]:
        """Continue the conversation with another message."""
        return await run_loop(await self._agent.open_run(prompt, options, after=self))

    def ask_sync(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Reply[OutputT]:
        """Blocking ``ask``."""
        from .sync import run_sync

        return run_sync(self.ask(prompt, **options))

    def run(self, prompt: PromptInput, **options: Unpack[AskOptions]) -> Run[OutputT]:
        """A live view of the next ask in this conversation."""
        return Run(self._agent, prompt, self, options)

    def __repr__(self) -> str:
        return f"Reply({self.text[:60]!r}, usage={self.usage})"


class _RunQueue:
    """The run's own event buffer. When full, the agent waits for the reader (back-pressure):
    a run's reader is its owner. Once the owner stops reading, events are no longer buffered."""

    __slots__ = ("_buffer", "_closed", "_discard", "_limit", "_reader", "_space")

    def __init__(self, limit: int) -> None:
        self._buffer: deque[Event] = deque()
        self._reader: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None
        self._closed = False
        self._discard = False
        self._limit = limit

    def push(self, event: Event) -> asyncio.Future[None] | None:
        if self._discard:
            return None
        self._buffer.append(event)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        if len(self._buffer) >= self._limit:
            # One future for every producer that finds the buffer full (concurrent tool calls
            # emit too): replacing it would leave earlier waiters blocked forever.
            if self._space is None or self._space.done():
                self._space = asyncio.get_running_loop().create_future()
            return self._space
        return None

    def _release(self) -> None:
        space = self._space
        if space is not None and not space.done():
            space.set_result(None)
        self._space = None

    def close(self) -> None:
        self._closed = True
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    def unbounded(self) -> None:
        """Stop back-pressure but keep what is buffered (e.g. while the ask is cancelled)."""
        self._limit = sys.maxsize
        self._release()

    def stop_reading(self) -> None:
        self._discard = True
        self._buffer.clear()
        self._release()

    async def get(self) -> Event | None:
        while not self._buffer:
            if self._closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        event = self._buffer.popleft()
        if self._space is not None and len(self._buffer) < self._limit // 2:
            self._release()
        return event


class Run(Generic[OutputT]):
    """A live ask. Iterate it for every event as it happens (chunks included), then
    ``await run.result()`` for the ``Reply``.

    Leaving the ``async with`` block before the ask finished cancels it (the conversation's
    history stays valid). If the ask failed and ``result()`` was never awaited, the error is
    raised when the block exits, so failures are never silent.
    """

    def __init__(
        self,
        agent: Agent[Any],
        prompt: PromptInput,
        continues: Reply[Any] | None,
        options: AskOptions,
        *,
        buffer: int = 4096,
    ) -> None:
        self._agent = agent
        self._prompt = prompt
        self._continues = continues
        self._options = options
        self._queue = _RunQueue(buffer)
        self._task: asyncio.Task[Any] | None = None
        self._live: LiveRun | None = None
        self._result_taken = False

    async def __aenter__(self) -> Run[OutputT]:
        live = await self._agent.open_run(self._prompt, self._options, after=self._continues)
        live.tap = self._queue.push  # this ask's events only, even on a shared stream
        self._live = live
        self._task = asyncio.create_task(run_loop(live))
        self._task.add_done_callback(self._finished)
        return self

    def _finished(self, _: asyncio.Task[Any]) -> None:
        self._queue.close()

    def __aiter__(self) -> Run[OutputT]:
        return self

    async def __anext__(self) -> Event:
        if self._task is None:
            raise RuntimeError("use the run inside 'async with agent.run(...) as run:'")
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def result(self) -> Reply[OutputT]:
        """Wait for the ask to finish and return its reply (or raise its error)."""
        if self._task is None:
            raise RuntimeError("use the run inside 'async with agent.run(...) as run:'")
        self._result_taken = True
        self._queue.stop_reading()
        return await self._task  # type: ignore[no-any-return]

    def send(self, remark: HumanMessage | str) -> None:
        """Tell the running ask something (a remark, not an answer to a request): it is
        recorded and the model reads it at its next call; sent after the last one, it is kept
        in the conversation for the next ask. Remarks sent on the conversation's stream
        (``stream.send(HumanMessage("..."))``) go the same way."""
        live = self._live
        if live is None:
            raise RuntimeError("use the run inside 'async with agent.run(...) as run:'")
        message = HumanMessage(remark) if isinstance(remark, str) else remark
        if not isinstance(message, HumanMessage) or message.request_id is not None:
            raise ConfigError(
                "run.send takes a remark (text, or HumanMessage without request_id); answer a "
                "request with stream.send(HumanMessage(request_id=..., ...))"
            )
        live.remark(message)

    async def cancel(self) -> None:
        """Stop the ask now; its history is left valid."""
        task = self._task
        if task is not None and not task.done():
            # The cancelled loop still records its clean-up events; nobody is reading now.
            self._queue.unbounded()
            task.cancel()
            # wait() rather than `await task`: it never raises, so a cancellation aimed at the
            # caller itself is not swallowed here.
            await asyncio.wait({task})
            live = self._live
            if live is not None and not live.entered:  # cancelled before it began
                if live.started:  # its start went in with the claim: close it in the store
                    await abandon_run(live.conversation, live.run_id, asyncio.CancelledError())
                await live.conversation.release()

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        task = self._task
        if task is None:
            return
        self._queue.stop_reading()
        if not task.done():
            await self.cancel()
            return
        if task.cancelled():
            return
        error = task.exception()  # also marks the error as retrieved
        if error is not None and exc_type is None and not self._result_taken:
            raise error
