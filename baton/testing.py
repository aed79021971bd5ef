"""Test agents with no network: a model that follows a script, and helpers to write one.

    model = ScriptedModel(call("add", a=2, b=3), "5")
    agent = Agent("calc", config=model, tools=[add])
    reply = await agent.ask("2 + 3?")
    assert reply.text == "5"
    assert model.requests[1].messages[-1].content == "5"   # the tool result the model saw

A turn is one model answer:

- ``"text"``: a final text answer;
- ``call(name, **arguments)``: one tool call; a list of calls (and text) answers several at once;
- ``chunks("He", "llo", call(...))``: a streamed answer, emitted piece by piece (each call as
  one ``ToolCallDelta`` holding its whole arguments, as a provider streams a call forming; calls
  in other turns emit no deltas);
- an exception (instance or class): the model call raises it;
- a ``ModelResponse``: returned as is;
- a function of the ``ModelCall`` (sync or async) returning any of the above.

Each ScriptedModel is its own script, so every agent (a sub-agent too) can have its own. By
default the script is one tape shared by all asks; ``per_conversation=True`` replays it for each
conversation, ``repeat=True`` starts over when it runs out.

``RecordingModel(config)`` wraps any model config (a provider's or a ScriptedModel) and records
each call it passes on: the ``ModelCall`` sent, the ``ModelResponse`` (or the error) received
and the chunks streamed. Tool execution is replaced with ``agent.override(tools=...)``, and
``Agent(..., raise_tool_errors=True)`` makes a tool's exception fail the test.
"""

from __future__ import annotations

import inspect
import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from pydantic_core import to_json

from .errors import ScriptExhausted
from .events import (
    CompactionSummary,
    Data,
    Event,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    ReasoningChunk,
    RunStarted,
    Text,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
    Usage,
)
from .history import HistoryView
from .models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from .models.registry import resolve_config
from .team_events import TeamStarted
from .transcript import ALWAYS_SHOWN, TranscriptState, role_of, sent_to_model, shown

__all__ = [
    "RecordedCall",
    "RecordingModel",
    "ScriptedCall",
    "ScriptedModel",
    "Seen",
    "call",
    "chunks",
    "reasoning",
    "seen_by",
]


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """A tool call in a script; it gets a fresh call id each time it is played."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reasoning:
    text: str


@dataclass(frozen=True, slots=True)
class Chunks:
    pieces: tuple[Any, ...]


def call(name: str, /, arguments: str | None = None, **kwargs: Any) -> ScriptedCall:
    """A scripted tool call. ``arguments`` gives raw JSON text (even malformed, for tests)."""
    if arguments is not None:
        return ScriptedCall(name, arguments)
    return ScriptedCall(name, to_json(kwargs).decode())


def reasoning(text: str) -> Reasoning:
    """A piece of scripted reasoning, for ``chunks(...)``."""
    return Reasoning(text)


def chunks(*pieces: str | ScriptedCall | Reasoning) -> Chunks:
    """A streamed turn: text pieces, reasoning pieces and tool calls, emitted one by one (a
    tool call as a ``ToolCallDelta`` with its whole arguments, as a provider streams one)."""
    return Chunks(pieces)


def estimate_tokens(text: str) -> int:
    """A rough, deterministic token count (about four characters a token)."""
    return (len(text) + 3) // 4


# Counting is per event class: a class is counted (its counter) or not (None: the classes no
# model is shown, most of a team's events: runs', usage and team bookkeeping), so a member
# reading the dozen events of the others' turns pays next to nothing for them.
_Counter = Callable[[Any], int]


def _request_tokens(event: ModelRequest) -> int:
    tokens = 0
    for p in event.parts:  # a loop, not sum(...): most requests have one part
        if isinstance(p, Text):
            tokens += (len(p.text) + 3) // 4  # estimate_tokens, inlined
        elif isinstance(p, Data):
            tokens += estimate_tokens(str(p.value))
        else:
            tokens += 256
    return tokens


def _response_tokens(event: ModelResponse) -> int:
    tokens = (len(event.text) + 3) // 4  # estimate_tokens, inlined: the commonest kind
    for c in event.tool_calls:
        tokens += (len(c.arguments) + 3) // 4 + 4
    return tokens


def _result_tokens(event: ToolCallResult) -> int:
    if event.parts:  # media: a flat charge each, as for a request's media
        return 4 + sum(estimate_tokens(p.text) if isinstance(p, Text) else 256 for p in event.parts)
    return estimate_tokens(event.content) + 4


def _message_tokens(event: ToolCallError | CompactionSummary) -> int:
    return estimate_tokens(event.message) + 4


# The classes counted, in the order a subclass is matched (the first base that fits).
_KINDS: tuple[tuple[type, _Counter], ...] = (
    (ModelRequest, _request_tokens),
    (ModelResponse, _response_tokens),
    (ToolCallResult, _result_tokens),
    (ToolCallError, _message_tokens),
    (CompactionSummary, _message_tokens),
)
_UNRESOLVED: Any = object()
_COUNTERS: dict[type, _Counter | None] = {}  # each class met: its counter, or None


def _counter_for(event: Event) -> _Counter | None:
    """How events of ``event``'s class are counted, found once per class."""
    cls = type(event)
    counter = next((count for kind, count in _KINDS if issubclass(cls, kind)), None)
    # A counted class is shown or not by its class alone (only a human's message depends on its
    # fields, and it is not counted), so one event decides for its class.
    if counter is not None and cls not in ALWAYS_SHOWN and not sent_to_model(event):
        counter = None  # what the model reads is the transcript's to say
    _COUNTERS[cls] = counter
    return counter


class Seen(NamedTuple):
    """One message a model was shown: its role on the wire (``user``, ``assistant``,
    ``tool``), who wrote it (``"user"`` for the request, ``"human"`` for a remark, an agent's
    name for its turns, ``"baton"`` for what the loop says) and its text."""

    role: str
    author: str
    text: str


def seen_by(call: ModelCall) -> list[Seen]:
    """The messages ``call`` showed its model, with their authors (see ``Seen``)."""
    state = TranscriptState()
    authors: dict[str, str] = {}  # tool call id -> the agent that made it
    out: list[Seen] = []
    for event in call.messages:
        visible = shown(event, call.agent, state)
        if visible is None:
            continue
        role = role_of(visible) or "user"
        if isinstance(event, ModelResponse):
            author = event.agent or call.agent
            for c in event.tool_calls:
                authors[c.id] = author
            text = visible.text if isinstance(visible, ModelResponse | HumanMessage) else ""
            if isinstance(visible, ModelResponse) and visible.tool_calls:
                calls = ", ".join(f"{c.name}({c.arguments})" for c in visible.tool_calls)
                text = f"{text}\n[calls {calls}]" if text else f"[calls {calls}]"
        elif isinstance(event, ModelRequest):
            author, text = "user", event.text
        elif isinstance(event, HumanMessage):
            author, text = "human", event.text
        elif isinstance(event, ToolCallResult | ToolCallError):
            author = authors.get(event.call_id, call.agent)
            text = (
                visible.text
                if isinstance(visible, HumanMessage)
                else (event.content if isinstance(event, ToolCallResult) else event.message)
            )
        elif isinstance(event, CompactionSummary):
            author, text = "baton", event.message
        else:
            author, text = "baton", getattr(event, "message", "")
        out.append(Seen(role, author, text))
    return out


# The events a conversation starts with, naming it (a fork's first is its origin's).
_OPENINGS = frozenset({RunStarted, TeamStarted})

# Calls of at most this many events (a one-message call, such as a team's selection) are
# counted afresh: cheaper than looking for, and keeping, a tally a fork could start from.
_SHORT = 8


def _tokens(events: Sequence[Event]) -> int:
    """The input tokens of ``events``, each counted by its class's counter: one dict lookup per
    event (most of a team's events are shown to no model: runs', usage and team bookkeeping;
    passed over by their class). A plain loop: cheaper, at every length measured (15 to 1,500
    events), than sorting the events by class in C first."""
    tokens = 0
    counters = _COUNTERS
    for event in events:
        counter = counters.get(type(event), _UNRESOLVED)
        if counter is None:
            continue  # never shown to a model
        if counter is _UNRESOLVED:
            counter = _counter_for(event)
            if counter is None:
                continue
        tokens += counter(event)
    return tokens


def _forget_oldest(tallies: dict[Any, Any], keep: int) -> None:
    """Drop the oldest entries of ``tallies`` (a dict keeps its insertion order) down to
    three quarters of ``keep``, in one pass. Dropping one entry per insertion instead costs a
    walk over every slot deleted since the dict last compacted itself (``next(iter(d))`` skips
    them one by one), which grows with the dict: slow at a hundred thousand entries."""
    for key in list(itertools.islice(tallies, len(tallies) - keep * 3 // 4)):
        del tallies[key]


# A conversation's count at the end of a call: (first event, last event, events counted,
# tokens). Made once per call and never changed, so the one kept for forks is the same tuple.
_Tally = tuple[Event, Event, int, int]


class _ConversationState:
    __slots__ = ("cursor", "tally")

    def __init__(self) -> None:
        self.cursor = 0
        self.tally: _Tally | None = None


class ScriptedModel(ModelConfig, ModelClient):
    """A model config whose answers come from a script. See the module docs for turn kinds."""

    max_tracked_conversations = 100_000

    def __init__(
        self,
        *turns: Any,
        model: str = "scripted",
        per_conversation: bool = False,
        repeat: bool = False,
        record: bool = True,
    ) -> None:
        self.turns: tuple[Any, ...] = turns
        self._model = model
        self.per_conversation = per_conversation
        self.repeat = repeat
        self.record = record
        self.requests: list[ModelCall] = []
        self._shared = _ConversationState()
        # Per conversation: script cursor (per_conversation=True) and input-token tally. Only the
        # newest `max_tracked_conversations` are kept, so a long-lived model doesn't grow without
        # bound; a forgotten tally is simply recounted.
        self._states: OrderedDict[str, _ConversationState] = OrderedDict()
        # The tally at the end of each call, by the id of the last event counted, the newest
        # `max_tracked_conversations` kept (a fork starts from the one of its prefix).
        self._tallies: dict[int, _Tally] = {}
        self._ids = itertools.count(1)

    # -- ModelConfig -------------------------------------------------------------------------

    def supports_hosted(self, kind: str) -> bool:
        """Every kind: a script plays the model, whatever it was offered."""
        return True

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def model_name(self) -> str:
        return self._model

    def create_client(self) -> ModelClient:
        return self

    def client(self) -> ModelClient:
        return self

    async def aclose(self) -> None:
        return None

    # -- inspection --------------------------------------------------------------------------

    @property
    def calls_made(self) -> int:
        return len(self.requests)

    @property
    def last_request(self) -> ModelCall:
        if not self.requests:
            raise AssertionError("the ScriptedModel has not been called (record=True is needed)")
        return self.requests[-1]

    def seen(self, index: int = -1) -> list[Seen]:
        """What the model was shown in call ``index`` (the last by default), each message
        with its author: ``[Seen("user", "user", "task"), Seen("user", "writer", "[writer]
        draft"), ...]``, so a test checks what each team member saw and who said it."""
        if not self.requests:
            raise AssertionError("the ScriptedModel has not been called (record=True is needed)")
        return seen_by(self.requests[index])

    def forget_conversations(self) -> None:
        """Drop what the model tracks per conversation (script cursors, token tallies), as if
        it had never seen one: a long benchmark's memory, reset between repetitions."""
        self._states.clear()
        self._tallies.clear()

    @property
    def remaining(self) -> int:
        """Turns left on the shared tape."""
        return max(0, len(self.turns) - self._shared.cursor)

    # -- ModelClient -------------------------------------------------------------------------

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        if self.record:
            self.requests.append(call)
        messages = call.messages
        conversation_id = call.conversation_id
        # A short call (a new conversation's first, a team's selection) is counted afresh, so
        # it needs no state of its conversation unless the script's cursor is kept there.
        short = len(messages) <= _SHORT
        state = None if short else self._state(conversation_id)
        cursor = self._shared
        if self.per_conversation:
            cursor = state or self._state(conversation_id)
        turns, at = self.turns, cursor.cursor
        if at >= len(turns) and self.repeat:
            at = 0  # the script starts over
        if at < len(turns):
            turn = turns[at]
            cursor.cursor = at + 1
        else:
            turn = self._next_turn(cursor)  # the script ran out: it says so
        if (
            short
            and self.repeat
            and cursor.cursor >= len(turns)
            and self._states.get(conversation_id) is cursor
        ):
            # Nothing worth keeping for this conversation: a short call keeps no tally, and
            # its script starts over at its next call, as a new state's would. Dropped, so
            # that a finished conversation leaves nothing here.
            del self._states[conversation_id]
        kind = type(turn)
        if kind is ScriptedCall:  # a single tool call: the other usual turn
            input_tokens = (
                _tokens(messages)
                if state is None
                else self._input_tokens(state, messages, conversation_id)
            )
            return self._response("", "", (self._tool_call(turn),), input_tokens, call.agent)
        while callable(turn) and not isinstance(turn, type):
            turn = turn(call)
            if type(turn) is not str and inspect.isawaitable(turn):  # text: the usual answer
                turn = await turn
        if type(turn) is str:  # the usual answer: text, built without the general walk below
            input_tokens = (
                _tokens(messages)
                if state is None
                else self._input_tokens(state, messages, conversation_id)
            )
            if turn and call.settings.stream:
                await emit(TextChunk(turn))
            return self._response(turn, "", (), input_tokens, call.agent)
        if isinstance(turn, type) and issubclass(turn, BaseException):
            try:
                turn = turn()
            except TypeError:  # e.g. ModelError needs a message
                turn = turn(f"{turn.__name__} raised by the ScriptedModel script")
        if isinstance(turn, BaseException):
            raise turn
        input_tokens = (
            _tokens(messages)
            if state is None
            else self._input_tokens(state, messages, conversation_id)
        )
        if isinstance(turn, ModelResponse):
            return turn
        stream = call.settings.stream
        if isinstance(turn, Chunks):
            return await self._play_chunks(turn, emit, stream, input_tokens, call.agent)
        text_parts: list[str] = []
        tool_calls: list[ToolCall] = []
        for item in turn if isinstance(turn, list | tuple) else (turn,):
            if isinstance(item, str):
                text_parts.append(item)
            elif isinstance(item, ScriptedCall):
                tool_calls.append(self._tool_call(item))
            else:
                raise TypeError(f"ScriptedModel cannot play turn item {item!r}")
        text = "".join(text_parts)
        if text and stream:
            await emit(TextChunk(text))
        return self._response(text, "", tuple(tool_calls), input_tokens, call.agent)

    def _state(self, conversation_id: str) -> _ConversationState:
        states = self._states
        state = states.get(conversation_id)
        if state is None:
            state = states[conversation_id] = _ConversationState()
            if len(states) > self.max_tracked_conversations:
                states.popitem(last=False)
        return state

    def _next_turn(self, state: _ConversationState) -> Any:
        if state.cursor >= len(self.turns):
            if not self.repeat or not self.turns:
                raise ScriptExhausted(
                    f"ScriptedModel({self._model!r}) was called {state.cursor + 1} times but its "
                    f"script has {len(self.turns)} turns; add turns or pass repeat=True"
                )
            state.cursor = 0
        turn = self.turns[state.cursor]
        state.cursor += 1
        return turn

    def _input_tokens(
        self, state: _ConversationState, messages: Sequence[Event], conversation_id: str
    ) -> int:
        # Count only what is new since the last call: O(new events), like a real adapter.
        # Called for more than _SHORT events (see respond): the tally is kept for forks.
        total = len(messages)
        first = messages[0]
        tally = state.tally
        if tally is not None:
            _, last, seen, tokens = tally
            if seen > total or first is not tally[0] or messages[seen - 1] is not last:
                seen = tokens = 0  # a window a context policy slid, an edited history
        else:
            seen = tokens = 0
        if not seen and (
            type(first) not in _OPENINGS
            or cast("RunStarted | TeamStarted", first).conversation_id != conversation_id
        ):  # not this conversation's own start (a run's, a team ask's): maybe a fork, sharing
            # a counted prefix of the conversation it came from (whose id its first event has)
            found = self._from_prefix(messages)
            if found is not None:
                _, last, seen, tokens = found
        new = messages.tail(seen) if isinstance(messages, HistoryView) else list(messages)[seen:]
        tokens += _tokens(new)
        if new:  # else the last event counted is still the last
            last = new[-1]
        state.tally = tally = (first, last, total, tokens)
        tallies = self._tallies
        tallies[id(last)] = tally
        if len(tallies) > self.max_tracked_conversations:
            _forget_oldest(tallies, self.max_tracked_conversations)
        return tokens

    def _from_prefix(self, messages: Sequence[Event]) -> _Tally | None:
        """The tally of the longest prefix of ``messages`` a call counted (a fork shares its
        events up to the old reply with the conversation it came from), looked for a few
        events back from the end; the same first and last event at the same length is the
        same prefix."""
        tallies = self._tallies
        total = len(messages)
        start = max(total - 128, 0)
        recent = messages.tail(start) if isinstance(messages, HistoryView) else messages[start:]
        first = messages[0]
        for offset in range(len(recent) - 1, -1, -1):
            event = recent[offset]
            found = tallies.get(id(event))
            if (
                found is not None
                and found[1] is event
                and found[2] == start + offset + 1
                and found[0] is first
            ):
                return found
        return None

    def _tool_call(self, scripted: ScriptedCall) -> ToolCall:
        return ToolCall(f"call_{next(self._ids)}", scripted.name, scripted.arguments)

    async def _play_chunks(
        self, turn: Chunks, emit: EmitChunk, stream: bool, input_tokens: int, agent: str
    ) -> ModelResponse:
        text: list[str] = []
        thoughts: list[str] = []
        tool_calls: list[ToolCall] = []
        for piece in turn.pieces:
            if isinstance(piece, str):
                text.append(piece)
                if stream:
                    await emit(TextChunk(piece))
            elif isinstance(piece, Reasoning):
                thoughts.append(piece.text)
                if stream:
                    await emit(ReasoningChunk(piece.text))
            elif isinstance(piece, ScriptedCall):
                tool_call = self._tool_call(piece)
                tool_calls.append(tool_call)
                if stream:
                    await emit(ToolCallDelta(tool_call.id, tool_call.name, tool_call.arguments))
            else:
                raise TypeError(f"chunks() cannot play {piece!r}")
        return self._response(
            "".join(text), "".join(thoughts), tuple(tool_calls), input_tokens, agent
        )

    def _response(
        self,
        text: str,
        thoughts: str,
        tool_calls: tuple[ToolCall, ...],
        input_tokens: int,
        agent: str,
    ) -> ModelResponse:
        # A new answer per call, as a provider adapter makes: handing back one shared answer
        # would leave out of every benchmark the answer object each real ask holds.
        reasoning_tokens = (len(thoughts) + 3) // 4  # estimate_tokens, inlined (every call)
        output_tokens = (len(text) + 3) // 4 + reasoning_tokens
        for c in tool_calls:
            output_tokens += (len(c.arguments) + 3) // 4 + 4
        return ModelResponse(
            text,
            tool_calls,
            Usage(1, input_tokens, output_tokens, reasoning_tokens=reasoning_tokens),
            "tool_calls" if tool_calls else "stop",
            self._model,
            "scripted",
            thoughts,
            agent=agent,
        )


TurnFunction = Callable[[ModelCall], Any]


@dataclass(slots=True)
class RecordedCall:
    """One model call a ``RecordingModel`` passed on. ``call.messages`` is what the model was
    shown (a view that never grows); ``response`` is ``None`` when the call failed (then
    ``error`` is the exception) or is still running; ``chunks`` are the streamed events."""

    call: ModelCall
    response: ModelResponse | None = None
    error: BaseException | None = None
    chunks: list[Event] = field(default_factory=list)


class RecordingModel(ModelConfig):
    """Wraps any model config (a real provider's, a ``ScriptedModel``, a "provider:model"
    string) and records each call made through it, in order, in ``calls``::

        model = RecordingModel(OpenAIConfig("gpt-5"))
        reply = await Agent("a", config=model, tools=[add]).ask("2 + 3?")
        assert model.calls[0].call.tool_names == ["add"]
        assert model.calls[0].response.tool_calls[0].name == "add"

    It answers exactly as the wrapped config does (same provider, model, settings and client;
    other attributes are the wrapped config's), and ``aclose()`` closes the wrapped config.
    """

    def __init__(self, config: ModelConfig | str) -> None:
        self.config: ModelConfig = resolve_config(config)
        self.settings = self.config.settings
        self.calls: list[RecordedCall] = []
        self._client = _RecordingClient(self)

    def __getattr__(self, name: str) -> Any:
        # Only for attributes this class lacks (price, base_url, ...): the wrapped config's.
        if name == "config" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.config, name)

    def __repr__(self) -> str:
        return f"RecordingModel({self.config!r})"

    def supports_hosted(self, kind: str) -> bool:
        return self.config.supports_hosted(kind)

    @property
    def provider(self) -> str:
        return self.config.provider

    @property
    def model_name(self) -> str:
        return self.config.model_name

    def create_client(self) -> ModelClient:
        return self._client

    def client(self) -> ModelClient:
        return self._client  # it holds no connection: the wrapped config's client is used

    async def aclose(self) -> None:
        await self.config.aclose()

    @property
    def requests(self) -> list[ModelCall]:
        """The calls sent, in order."""
        return [c.call for c in self.calls]

    @property
    def responses(self) -> list[ModelResponse]:
        """The responses received, in order (failed calls have none)."""
        return [c.response for c in self.calls if c.response is not None]

    @property
    def last(self) -> RecordedCall:
        """The most recent call."""
        if not self.calls:
            raise AssertionError(f"{self!r} has not been called")
        return self.calls[-1]


class _RecordingClient:
    __slots__ = ("_model",)

    def __init__(self, model: RecordingModel) -> None:
        self._model = model

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        record = RecordedCall(call)
        self._model.calls.append(record)

        async def recording(event: Event) -> None:
            record.chunks.append(event)
            await emit(event)

        try:
            response = await self._model.config.client().respond(call, recording)
        except BaseException as error:
            record.error = error
            raise
        record.response = response
        return response

    async def aclose(self) -> None:
        return None
