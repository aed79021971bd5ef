"""``ScriptedModel``: a model config whose answers come from a script (the turn kinds are in
``baton.testing``), counting its input tokens incrementally per conversation, as a provider
adapter does: O(new events) a call, a fork starting from the count of its prefix."""

from __future__ import annotations

import inspect
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

from ..errors import ConfigError, ScriptExhausted
from ..events import (
    Event,
    ModelResponse,
    ReasoningChunk,
    RunStarted,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ..history import HistoryView
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from ..team_events import TeamStarted
from .seen import Seen, seen_by
from .tokens import count_tokens
from .turns import Chunks, Reasoning, ScriptedCall

__all__ = ["ScriptedModel"]


# The events a conversation starts with, naming it (a fork's first is its origin's).
_OPENINGS = frozenset({RunStarted, TeamStarted})

# Calls of at most this many events (a one-message call, such as a team's selection) are
# counted afresh: cheaper than looking for, and keeping, a tally a fork could start from.
_SHORT = 8


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


def _check_turn(turn: Any, index: int) -> None:
    """A ``ConfigError`` when the script is made for a turn it could not play (rather than a
    ``TypeError`` when the ask reaches it)."""
    if isinstance(turn, list | tuple):
        playable = all(isinstance(item, str | ScriptedCall) for item in turn)
    else:  # (an exception class is callable)
        playable = isinstance(
            turn, str | ScriptedCall | Chunks | ModelResponse | BaseException
        ) or callable(turn)
    if playable:
        return
    raise ConfigError(
        f"ScriptedModel turn {index + 1} is {turn!r}, which it can't play: a turn is text, "
        "call(...), chunks(...), a list of text and call(...), a ModelResponse, an exception "
        "(class or instance) to raise, or a function of the ModelCall returning a turn"
    )


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
        for index, turn in enumerate(turns):
            _check_turn(turn, index)
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

    def __repr__(self) -> str:
        return f"ScriptedModel({self._model!r}, {len(self.turns)} turns)"

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
                count_tokens(messages)
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
                count_tokens(messages)
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
            count_tokens(messages)
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
                calls = state.cursor + 1
                raise ScriptExhausted(
                    f"ScriptedModel({self._model!r}) was called {calls} "
                    f"time{'' if calls == 1 else 's'} but its script has {len(self.turns)} "
                    f"turn{'' if len(self.turns) == 1 else 's'}; add turns or pass repeat=True"
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
        tokens += count_tokens(new)
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
