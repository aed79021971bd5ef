"""Baton's run events as AG-UI events, in an order the AG-UI client accepts.

One ``Translator`` per AG-UI run (one HTTP request). It keeps what is open (a text message, a
reasoning message, tool calls whose arguments are streaming, sub-task steps) and closes it
before anything that must not interleave with it, so the stream always satisfies the client's
checks: a text or reasoning message is closed before a tool call or another message starts, a
tool call is ended before its result, and nothing is open when the run finishes.

Mapping:

- ``TextChunk`` -> ``TEXT_MESSAGE_START`` (once) + ``TEXT_MESSAGE_CONTENT``; a ``ModelResponse``
  whose text was not streamed (a model called without streaming) -> the three events at once.
- ``ReasoningChunk`` -> ``REASONING_START`` + ``REASONING_MESSAGE_START`` (once) +
  ``REASONING_MESSAGE_CONTENT``; closed with ``REASONING_MESSAGE_END`` + ``REASONING_END``.
- ``ToolCallDelta`` -> ``TOOL_CALL_START`` (once per call) + ``TOOL_CALL_ARGS``; the
  ``ModelResponse`` that holds the call ends it (``TOOL_CALL_END``), or sends all three when
  the provider did not stream the call.
- ``ToolCallResult`` / ``ToolCallError`` -> ``TOOL_CALL_RESULT`` (an error's message as the
  content, and as ``error`` on the event's metadata).
- ``TaskStarted`` / ``TaskCompleted`` / ``TaskFailed`` (sub-tasks) -> ``STEP_STARTED`` /
  ``STEP_FINISHED``.
- With ``team=True`` (a team served: several runs in one AG-UI run), each member's run is a
  step named after the member: ``RunStarted`` -> ``STEP_STARTED``, ``RunFinished`` /
  ``RunFailed`` -> ``STEP_FINISHED``; the member's messages carry its name
  (``TEXT_MESSAGE_START.name``). The team's own events (speaker selection, hand-offs) have no
  AG-UI counterpart and are not sent. The endpoint sends the one ``RUN_STARTED`` /
  ``RUN_FINISHED`` pair of the request itself: Baton's run events never become those.

A call that started in an earlier AG-UI run (a run resumed after an approval) is not started
again: its result refers to the original call id, as the protocol's interrupt rules ask.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ag_ui.core import (
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from ..events import (
    Event,
    ModelCallRetry,
    ModelResponse,
    ReasoningChunk,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
)

__all__ = ["Translator", "message_id"]


def message_id() -> str:
    """A new message id (random; AG-UI ids only need to be unique in the thread)."""
    return "msg_" + os.urandom(8).hex()


class Translator:
    """Turns one AG-UI run's Baton events into AG-UI events (see the module docs).
    ``open_calls`` are the calls started and not yet ended, ``ended`` those ended here."""

    __slots__ = (
        "_reasoning",
        "_speaker",
        "_steps",
        "_streamed_reasoning",
        "_streamed_text",
        "_team",
        "_text",
        "ended",
        "open_calls",
    )

    def __init__(self, *, team: bool = False) -> None:
        self._team = team  # member runs are steps (see the module docs)
        self._speaker: str | None = None  # the member whose run is open (a team's)
        self._text: str | None = None  # the open text message's id
        self._reasoning: str | None = None  # the open reasoning message's id
        self._streamed_text = False  # this model turn's text came as chunks
        self._streamed_reasoning = False
        self.open_calls: dict[str, str] = {}  # call id -> name, started and not yet ended
        self.ended: set[str] = set()  # calls started and ended in this AG-UI run
        self._steps: dict[str, str] = {}  # sub-task or member run id -> its step's name

    def translate(self, event: Event) -> Iterator[BaseEvent]:
        """The AG-UI events ``event`` stands for (often none)."""
        kind = event.__class__
        if kind is TextChunk:
            yield from self._text_chunk(event.text)  # type: ignore[attr-defined]
        elif kind is ReasoningChunk:
            yield from self._reasoning_chunk(event.text)  # type: ignore[attr-defined]
        elif kind is ToolCallDelta:
            yield from self._call_delta(event)  # type: ignore[arg-type]
        elif kind is ModelResponse:
            yield from self._response(event)  # type: ignore[arg-type]
        elif kind is ToolCallResult or kind is ToolCallError:
            yield from self._result(event)  # type: ignore[arg-type]
        elif kind is ModelCallRetry:
            # The failed attempt's text can't be taken back over AG-UI: close it, so the
            # retried answer arrives as a message of its own.
            yield from self.close_messages()
            self._streamed_text = self._streamed_reasoning = False
        elif kind is TaskStarted:
            yield from self._step_started(event)  # type: ignore[arg-type]
        elif kind is TaskCompleted or kind is TaskFailed:
            yield from self._step_finished(event.task_id)  # type: ignore[attr-defined]
        elif kind is ToolCall:
            pass  # a call starting to run: announced already (or in an earlier AG-UI run)
        elif self._team:
            if kind is RunStarted:
                yield from self._member_started(event)  # type: ignore[arg-type]
            elif kind is RunFinished or kind is RunFailed:
                yield from self._member_finished(event.run_id)  # type: ignore[attr-defined]

    # -- messages ---------------------------------------------------------------------------

    def _text_chunk(self, text: str) -> Iterator[BaseEvent]:
        if self._reasoning is not None:
            yield from self._close_reasoning()
        if self._text is None:
            self._text = message_id()
            yield TextMessageStartEvent(message_id=self._text, role="assistant", name=self._speaker)
        self._streamed_text = True
        if text:
            yield TextMessageContentEvent(message_id=self._text, delta=text)

    def _reasoning_chunk(self, text: str) -> Iterator[BaseEvent]:
        if self._text is not None:
            yield from self._close_text()
        if self._reasoning is None:
            self._reasoning = message_id()
            yield ReasoningStartEvent(message_id=self._reasoning)
            yield ReasoningMessageStartEvent(message_id=self._reasoning, role="reasoning")
        self._streamed_reasoning = True
        if text:
            yield ReasoningMessageContentEvent(message_id=self._reasoning, delta=text)

    def _close_text(self) -> Iterator[BaseEvent]:
        if self._text is not None:
            yield TextMessageEndEvent(message_id=self._text)
            self._text = None

    def _close_reasoning(self) -> Iterator[BaseEvent]:
        if self._reasoning is not None:
            yield ReasoningMessageEndEvent(message_id=self._reasoning)
            yield ReasoningEndEvent(message_id=self._reasoning)
            self._reasoning = None

    def close_messages(self) -> Iterator[BaseEvent]:
        """End the open text and reasoning messages, if any."""
        yield from self._close_reasoning()
        yield from self._close_text()

    # -- tool calls -------------------------------------------------------------------------

    def _call_delta(self, delta: ToolCallDelta) -> Iterator[BaseEvent]:
        if delta.call_id not in self.open_calls:
            yield from self.close_messages()
            self.open_calls[delta.call_id] = delta.name
            yield ToolCallStartEvent(tool_call_id=delta.call_id, tool_call_name=delta.name)
        if delta.delta:
            yield ToolCallArgsEvent(tool_call_id=delta.call_id, delta=delta.delta)

    def _response(self, response: ModelResponse) -> Iterator[BaseEvent]:
        if response.reasoning and not self._streamed_reasoning:
            yield from self._reasoning_chunk(response.reasoning)
        if response.text and not self._streamed_text:
            yield from self._text_chunk(response.text)
        yield from self.close_messages()
        self._streamed_text = self._streamed_reasoning = False
        for call in response.tool_calls:
            if call.id not in self.open_calls:
                self.open_calls[call.id] = call.name
                yield ToolCallStartEvent(tool_call_id=call.id, tool_call_name=call.name)
                if call.arguments:
                    yield ToolCallArgsEvent(tool_call_id=call.id, delta=call.arguments)
            yield from self._end_call(call.id)

    def _end_call(self, call_id: str) -> Iterator[BaseEvent]:
        if self.open_calls.pop(call_id, None) is not None:
            self.ended.add(call_id)
            yield ToolCallEndEvent(tool_call_id=call_id)

    def close_calls(self) -> Iterator[BaseEvent]:
        """End every call still open (a run that stopped while a call was forming)."""
        for call_id in list(self.open_calls):
            yield from self._end_call(call_id)

    def _result(self, outcome: ToolCallResult | ToolCallError) -> Iterator[BaseEvent]:
        yield from self.close_messages()
        yield from self._end_call(outcome.call_id)
        if isinstance(outcome, ToolCallResult):
            yield ToolCallResultEvent(
                message_id=message_id(), tool_call_id=outcome.call_id, content=outcome.content
            )
        else:
            yield ToolCallResultEvent(
                message_id=message_id(),
                tool_call_id=outcome.call_id,
                content=outcome.message,
                metadata={"error": outcome.error_type},
            )

    # -- sub-tasks --------------------------------------------------------------------------

    def _step_started(self, task: TaskStarted) -> Iterator[BaseEvent]:
        name = f"{task.agent} ({task.task_id})"
        self._steps[task.task_id] = name
        yield StepStartedEvent(step_name=name)

    def _step_finished(self, task_id: str) -> Iterator[BaseEvent]:
        name = self._steps.pop(task_id, None)
        if name is not None:
            yield StepFinishedEvent(step_name=name)

    # -- a team's member turns ---------------------------------------------------------------

    def _member_started(self, started: RunStarted) -> Iterator[BaseEvent]:
        yield from self.close_messages()
        self._speaker = started.agent
        self._steps[started.run_id] = started.agent
        yield StepStartedEvent(step_name=started.agent)

    def resume_member(self, agent: str, run_id: str) -> Iterator[BaseEvent]:
        """Open the step of ``agent``'s run ``run_id``, paused in an earlier AG-UI run and going
        on in this one (a team's ask resumed after its approval or question), as its
        ``RunStarted`` did: its messages carry its name, its end closes the step."""
        self._speaker = agent
        self._steps[run_id] = agent
        yield StepStartedEvent(step_name=agent)

    def _member_finished(self, run_id: str) -> Iterator[BaseEvent]:
        yield from self.close_messages()
        yield from self.close_calls()
        self._speaker = None
        yield from self._step_finished(run_id)

    def close(self) -> Iterator[BaseEvent]:
        """Close everything still open, before the run's last event."""
        yield from self.close_messages()
        yield from self.close_calls()
        for task_id in list(self._steps):
            yield from self._step_finished(task_id)
