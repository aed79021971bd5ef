"""Compaction: when a conversation grows past a threshold, earlier events are replaced, in what
the model sees, by a summary; history itself is append-only and keeps every event.

    agent = Agent(..., policies=[Compaction(LLMSummary(summarizer_config), max_tokens=50_000)])

``Compaction(strategy, max_events=, max_tokens=)`` is a context policy. Before every model call
(that is, after each turn: the previous ask's last one, or the tool step just run) it measures
what the call would see; past a threshold it compacts:

1. the cut: the kept tail holds the strategy's latest ``keep_events`` messages and starts at a
   safe boundary (never between a tool call and its result);
2. the strategy summarizes what lies before the cut (``TailWindow``: a plain note that earlier
   messages were dropped; ``LLMSummary``: a model's summary of them and of the previous
   summary, its usage counted in the ask as kind ``"compaction"``);
3. a ``CompactionSummary(summary, covers=cut)`` event is recorded through ``context.emit``,
   so it is in the conversation's history (and any ``History`` backend), on its stream, and in
   ``reply.events``, as are all the events it covers.

``Compacted()`` (which ``Compaction`` extends) makes each call see
``[latest CompactionSummary] + events[covers:]`` (older summaries left out); when the latest
user request lies in the covered span (a compaction in the middle of an ask), it follows the
summary. The view is a list kept per conversation that grows with it, so each call adds only
its new events and providers keep converting incrementally. Use ``Compacted()`` alone for an
agent that should see a conversation compacted by another one.

``covers`` counts events from the start of the conversation: the summary stands in for the
first ``covers`` events (it is cumulative: a later summary includes the earlier one). Both
policies read the stored history, so they come before other policies in ``policies=[...]``.

Why a policy and not an ``around_ask`` middleware: compacting after ``proceed()`` returns is
too late to count a summarizer's usage in the ask (its ``Reply`` and ``UsageReport`` are made
by then), and compacting before the next ask records the summary ahead of that ask's
``RunStarted`` (and ahead of a forked conversation's unsaved backlog). Before a model call,
both are right, and long tool loops are compacted too.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import to_json

from ..errors import ConfigError
from ..events import (
    CompactionSummary,
    Data,
    Event,
    FileUrl,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    OutputRejected,
    Text,
    ToolCallError,
    ToolCallResult,
)
from ..history import HistoryView
from ._window import EventIndex, sent_to_model, tail
from .policies import ContextPolicy
from .tokens import event_tokens

if TYPE_CHECKING:
    from ..agent import Agent
    from ..context import Context
    from ..models.base import ModelCall, ModelConfig

__all__ = ["Compacted", "Compaction", "CompactionStrategy", "LLMSummary", "TailWindow"]

DROPPED_NOTE = (
    "Earlier messages of this conversation were dropped to keep it short; "
    "the most recent ones follow."
)

SUMMARY_PROMPT = (
    "Summarize the conversation below. It will continue from your summary alone, so keep what "
    "still matters: the user's goals and preferences, decisions made, facts, names and numbers, "
    "what tool calls found, and open questions or unfinished steps. Be concise and write no "
    "preamble."
)


class CompactionStrategy:
    """Turns the events being compacted into the text of a ``CompactionSummary``. The kept
    tail holds the latest ``keep_events`` messages (fewer when a tool step would be split)."""

    name: ClassVar[str] = "compaction"

    def __init__(self, keep_events: int) -> None:
        if isinstance(keep_events, bool) or not isinstance(keep_events, int) or keep_events < 0:
            raise ConfigError(f"keep_events must be an integer of at least 0, got {keep_events!r}")
        self.keep_events = keep_events

    async def summarize(
        self, previous: CompactionSummary | None, events: Sequence[Event], context: Context
    ) -> str:
        """The summary of ``events`` (the messages now being compacted), following on from
        ``previous`` (the summary they come after, if any)."""
        raise NotImplementedError


class TailWindow(CompactionStrategy):
    """Keep the latest ``keep_events`` messages; the summary is a plain note that earlier ones
    were dropped (no model is called)."""

    name: ClassVar[str] = "tail_window"

    def __init__(self, keep_events: int = 10, *, note: str = DROPPED_NOTE) -> None:
        super().__init__(keep_events)
        self.note = note

    async def summarize(
        self, previous: CompactionSummary | None, events: Sequence[Event], context: Context
    ) -> str:
        return self.note

    def __repr__(self) -> str:
        return f"TailWindow(keep_events={self.keep_events})"


class LLMSummary(CompactionStrategy):
    """Keep the latest ``keep_events`` messages and have a model summarize the earlier ones
    (with the previous summary). ``summarizer`` is a model config (or its name, like
    ``"openai:gpt-5-mini"``) or an ``Agent``; it gets ``prompt`` followed by a transcript of
    the events, each clipped to ``max_event_chars``. Its usage is added to the ask's, as kind
    ``"compaction"``. If the summarizer fails, the ask fails with its error."""

    name: ClassVar[str] = "llm_summary"

    def __init__(
        self,
        summarizer: ModelConfig | str | Agent[Any],
        *,
        keep_events: int = 6,
        prompt: str = SUMMARY_PROMPT,
        max_event_chars: int = 4000,
    ) -> None:
        super().__init__(keep_events)
        self.summarizer = summarizer
        self.prompt = prompt
        self.max_event_chars = max_event_chars
        self._agent: Agent[Any] | None = None

    def agent(self) -> Agent[Any]:
        """The agent that writes the summaries (made from the config on first use)."""
        if self._agent is None:
            from ..agent import Agent

            summarizer = self.summarizer
            self._agent = (
                summarizer
                if isinstance(summarizer, Agent)
                else Agent("compaction", config=summarizer, max_turns=2)
            )
        return self._agent

    async def summarize(
        self, previous: CompactionSummary | None, events: Sequence[Event], context: Context
    ) -> str:
        agent = self.agent()
        text = f"{self.prompt}\n\n{transcript(previous, events, self.max_event_chars)}"
        reply = await agent.ask(text)
        config = agent.config
        provider = config.provider if config is not None else ""
        model = reply.response.model or (config.model_name if config is not None else "")
        context.add_usage(reply.usage, "compaction", provider, model)
        return reply.text.strip() or DROPPED_NOTE

    def __repr__(self) -> str:
        return f"LLMSummary({self.summarizer!r}, keep_events={self.keep_events})"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [... {len(text) - limit} more characters]"


def _describe(event: Event, limit: int) -> str:
    if isinstance(event, ModelRequest):
        parts: list[str] = []
        for part in event.parts:
            if isinstance(part, Text):
                parts.append(part.text)
            elif isinstance(part, Data):
                parts.append(to_json(part.value).decode())
            elif isinstance(part, FileUrl):
                parts.append(f"[file {part.url}]")
            else:
                parts.append(f"[{type(part).__name__.lower()}]")
        return "User: " + _clip("\n".join(parts), limit)
    if isinstance(event, ModelResponse):
        lines = [f"Assistant: {_clip(event.text, limit)}"] if event.text else []
        lines.extend(
            f"Assistant called {c.name}({_clip(c.arguments, limit)})" for c in event.tool_calls
        )
        return "\n".join(lines)
    if isinstance(event, ToolCallResult):
        return f"Tool {event.name} returned: {_clip(event.content, limit)}"
    if isinstance(event, ToolCallError):
        return f"Tool {event.name} failed: {_clip(event.message, limit)}"
    if isinstance(event, OutputRejected):
        return f"User (about the previous answer): {_clip(event.message, limit)}"
    if isinstance(event, HumanMessage):
        return f"User: {_clip(event.text, limit)}"
    return ""


def transcript(
    previous: CompactionSummary | None, events: Sequence[Event], max_event_chars: int = 4000
) -> str:
    """A plain-text transcript of ``events`` for a summarizer, after the previous summary."""
    lines = [f"Summary of the earlier conversation:\n{previous.summary}"] if previous else []
    lines.extend(line for line in (_describe(e, max_event_chars) for e in events) if line)
    return "\n\n".join(lines)


class _View:
    """Per conversation: an index of the stored events and the compacted view built from it."""

    __slots__ = (
        "covers",
        "events",
        "generation",
        "index",
        "pinned",
        "summary",
        "summary_tokens",
        "upto",
    )

    def __init__(self, index: EventIndex) -> None:
        self.index = index
        self.summary: CompactionSummary | None = None
        self.events: list[Event] = []
        self.covers = 0
        self.pinned = -1
        self.upto = 0
        self.generation = -1
        self.summary_tokens = -1  # counted when first needed


class Compacted(ContextPolicy):
    """Each model call sees the latest ``CompactionSummary`` at its head, then the events after
    the span it covers (the latest request too, if it was covered). Without a summary, calls
    are unchanged. History is not touched."""

    _tokens = False
    _model: str | None = None

    def _view(self, call: ModelCall, context: Context) -> _View:
        messages = call.messages
        events = context.events
        n = len(messages)
        if n > len(events) or (
            n and (messages[0] is not events[0] or messages[-1] is not events[n - 1])
        ):
            raise ConfigError(
                f"{type(self).__name__}() reads the conversation's stored events, but an earlier "
                "policy changed the messages: list it first in policies=[...]"
            )
        view = context.state(
            self,
            lambda: _View(EventIndex(tokens=self._tokens, model=self._model, summaries_sent=False)),
        )
        self._refresh(view, messages)
        return view

    def _refresh(self, view: _View, events: Sequence[Event]) -> None:
        index = view.index
        index.update(events)
        n = index.count
        if index.summary < 0:
            view.summary = None
            return
        summary = events[index.summary]
        assert isinstance(summary, CompactionSummary)
        covers = max(0, min(summary.covers, index.summary))
        q = index.request
        pinned = q if 0 <= q < covers else -1
        if (
            summary is not view.summary
            or pinned != view.pinned
            or index.generation != view.generation
            or view.upto > n
        ):
            # A new list: views handed out earlier keep their events.
            view.events = [summary, events[pinned]] if pinned >= 0 else [summary]
            view.summary, view.covers, view.pinned = summary, covers, pinned
            view.generation, view.upto = index.generation, covers
            view.summary_tokens = -1
        if view.upto < n:
            view.events.extend(
                e for e in tail(events, view.upto) if not isinstance(e, CompactionSummary)
            )
            view.upto = n

    @staticmethod
    def _compacted(call: ModelCall, view: _View) -> ModelCall:
        if view.summary is None:
            return call
        return replace(call, messages=HistoryView(view.events, len(view.events)))

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        return self._compacted(call, self._view(call, context))


class Compaction(Compacted):
    """Compacts the conversation with ``strategy`` when what the next model call would see
    holds more than ``max_events`` messages or ``max_tokens`` tokens (of ``model``'s
    tokenizer; the summary and a pinned request count too), and shows every call the compacted
    view (see the module docs). The compacted events stay in history."""

    def __init__(
        self,
        strategy: CompactionStrategy,
        *,
        max_events: int | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> None:
        if not isinstance(strategy, CompactionStrategy):
            raise ConfigError(
                f"Compaction takes a strategy (TailWindow(...), LLMSummary(...)), got {strategy!r}"
            )
        if max_events is None and max_tokens is None:
            raise ConfigError(
                "Compaction needs a threshold: max_events=..., max_tokens=... or both"
            )
        for name, value in (("max_events", max_events), ("max_tokens", max_tokens)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if max_events is not None and strategy.keep_events + 2 > max_events:
            raise ConfigError(
                f"max_events={max_events} leaves no room after compacting: the view holds the "
                f"summary, maybe the current request, and keep_events={strategy.keep_events} "
                "messages; make keep_events at most max_events - 2"
            )
        self.strategy = strategy
        self.max_events = max_events
        self.max_tokens = max_tokens
        self._tokens = max_tokens is not None
        self._model = model

    def _exceeded(self, view: _View) -> bool:
        index = view.index
        n = index.count
        summary = view.summary
        covers = view.covers if summary is not None else 0
        pinned = view.pinned if summary is not None else -1
        if self.max_events is not None:
            head = (summary is not None) + (pinned >= 0)
            if index.counts[n] - index.counts[covers] + head > self.max_events:
                return True
        if self.max_tokens is not None:
            tokens = index.tokens
            assert tokens is not None
            total = tokens[n] - tokens[covers]
            if summary is not None:
                if view.summary_tokens < 0:
                    view.summary_tokens = event_tokens(summary, self._model)
                total += view.summary_tokens
            if pinned >= 0:
                total += tokens[pinned + 1] - tokens[pinned]
            if total > self.max_tokens:
                return True
        return False

    def _cut(self, view: _View) -> int:
        """Where the kept tail starts (-1: nothing can be compacted yet)."""
        index = view.index
        n = index.count
        done = view.covers if view.summary is not None else 0
        earliest = max(
            bisect_left(index.counts, index.counts[n] - self.strategy.keep_events), done + 1
        )
        j = bisect_left(index.starts, earliest)
        if j < len(index.starts):
            return index.starts[j]
        return n if n > done and not index.pending else -1

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        view = self._view(call, context)
        if self._exceeded(view):
            cut = self._cut(view)
            if cut > 0:
                done = view.covers if view.summary is not None else 0
                covered = [
                    e
                    for e in itertools.islice(tail(call.messages, done), cut - done)
                    if sent_to_model(e) and not isinstance(e, CompactionSummary)
                ]
                text = await self.strategy.summarize(view.summary, covered, context)
                await context.emit(CompactionSummary(text, cut, self.strategy.name))
                self._refresh(view, context.events)
        return self._compacted(call, view)

    def __repr__(self) -> str:
        return (
            f"Compaction({self.strategy!r}, max_events={self.max_events}, "
            f"max_tokens={self.max_tokens})"
        )
