"""Who speaks next: ``RoundRobin`` (fixed order, cycling) and ``Selector`` (a model picks).

crew = RoundRobin([writer, critic], termination=TextMention("APPROVED"))
reply = await crew.ask("Write a haiku about tea.")

panel = Selector([planner, coder, tester], model="openai:gpt-5-mini")
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, Field, ValidationError
from pydantic_core import from_json

from ..errors import ConfigError
from ..events import Event, HumanMessage, ModelRequest, ModelResponse, Text
from ..history import HistoryView
from ..models.base import ModelCall, ModelConfig, ModelSettings, valid_response
from ..models.registry import resolve_config
from ..options import check_one_argument
from ..output import build_output_spec
from .state import TeamState
from .team import Team
from .views import Member, said

__all__ = ["RoundRobin", "Selector", "SpeakerChoice"]


class RoundRobin(Team):
    """Members speak in the order given, cycling; a continued conversation (``reply.ask``)
    goes on with the member after the last one who spoke."""

    def __init__(self, members: Sequence[Any], *, name: str = "round_robin", **options: Any):
        super().__init__(name, members, **options)
        self._following = {  # each member's name -> the member after it, cycling
            m.name: self.members[(i + 1) % len(self.members)] for i, m in enumerate(self.members)
        }

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        previous = state.previous_speaker
        member = None if previous is None else self._following.get(previous)
        if member is None:
            return self.members[0], "first in order"
        return member, f"next in order after {previous}"


def _after(
    members: Sequence[Member], previous: str | None, allowed: Callable[[Member], bool]
) -> Member:
    """The first allowed member after ``previous`` in the members' order, cycling."""
    names = [m.name for m in members]
    start = names.index(previous) + 1 if previous in names else 0
    for offset in range(len(members)):
        member = members[(start + offset) % len(members)]
        if allowed(member):
            return member
    raise ConfigError("no member is allowed to speak")  # callers guarantee one is


class SpeakerChoice(BaseModel):
    """What a selector model answers: the next speaker's name and a short reason."""

    speaker: str = Field(description="The name of the member who should speak next.")
    reason: str = Field(default="", description="Why that member, in a few words.")


class _Choice(NamedTuple):
    """Who may speak next: the members, their names as a set and as the prompt lists them."""

    members: list[Member]
    allowed: frozenset[str]
    names: str


Candidates = Callable[[TeamState], Sequence[str] | Awaitable[Sequence[str]]]

_SELECTOR_PROMPT = (
    "You choose who speaks next in a team conversation. Read the members' roles and the "
    "conversation, then pick the one member, among the candidates, whose turn it should be."
)


class Selector(Team):
    """A model picks the next speaker, as structured output (``SpeakerChoice``), from the
    members' names and descriptions and the last ``window`` messages of the conversation.

    ``allow_repeat=False`` (the default) excludes the previous speaker; ``candidates`` (a
    function of the ``TeamState``, sync or async, returning member names) narrows the choice
    (one candidate is chosen without asking the model). An answer naming no candidate is asked
    again, up to ``max_selection_attempts`` times; then the next candidate in round-robin
    order after the previous speaker speaks (never an excluded one, so a team can't livelock
    on a speaker it just excluded)."""

    def __init__(
        self,
        members: Sequence[Any],
        model: ModelConfig | str,
        *,
        name: str = "selector",
        allow_repeat: bool = False,
        candidates: Candidates | None = None,
        max_selection_attempts: int = 3,
        prompt: str | None = None,
        window: int = 20,
        **options: Any,
    ) -> None:
        super().__init__(name, members, **options)
        if not isinstance(max_selection_attempts, int) or max_selection_attempts < 1:
            raise ConfigError(
                f"max_selection_attempts must be at least 1, got {max_selection_attempts!r}"
            )
        if candidates is not None:
            check_one_argument(
                candidates,
                f"Selector {name!r}: candidates= takes a function of the TeamState (one "
                "argument) returning member names (e.g. lambda state: ['coder', 'tester'])",
            )
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise ConfigError(
                f"Selector {name!r}: window= takes the number of recent messages the selector "
                f"reads (0 or more), got {window!r}"
            )
        if not allow_repeat and len(self.members) < 2 and candidates is None:
            raise ConfigError(
                f"Selector {name!r} has one member and allow_repeat=False: nobody could speak "
                "after the first turn; add members or pass allow_repeat=True"
            )
        self.allow_repeat = allow_repeat
        self.candidates = candidates
        self.max_selection_attempts = max_selection_attempts
        self.window = window
        # A selection is one structured model call, made directly (not an agent's ask: no run,
        # no conversation of its own), so a turn costs about one member turn plus that call.
        self.selector_name = f"{name}-selector"
        self.model = resolve_config(model)
        self._output = build_output_spec(SpeakerChoice)
        assert self._output is not None
        extra = self._output.instructions  # the schema, for models without native support
        base = prompt or _SELECTOR_PROMPT
        self._instructions = base if extra is None else f"{base}\n\n{extra}"
        self._settings = self.model.settings.merge(ModelSettings(stream=False))
        self._roles = "Members:\n" + "\n".join(
            f"- {m.name}: {m.description or 'a team member'}" for m in self.members
        )
        # Without a candidate function the choice depends on the previous speaker alone: per
        # previous speaker, the candidates, as a set and as the prompt lists them, made once
        # per team instead of on every turn.
        self._choices: dict[str | None, _Choice] = {}
        self._provider = self.model.provider
        self._model_name = self.model.model_name

    def _fixed_choice(self, previous: str | None) -> _Choice:
        """The choice without a candidate function: every member but the previous speaker."""
        key = previous if not self.allow_repeat and previous in self.by_name else None
        choice = self._choices.get(key)
        if choice is None:
            choice = self._choices[key] = self._choice(self.members, previous)
        return choice

    async def _candidates(self, state: TeamState) -> _Choice:
        """The choice the candidate function narrows (checked on every turn: it may change)."""
        assert self.candidates is not None
        found = self.candidates(state)
        if inspect.isawaitable(found):
            found = await found
        # One name alone is a list of one (not its letters); anything else but names, none.
        names = [found] if isinstance(found, str) else list(found) if _names(found) else []
        unknown = [n for n in names if n not in self.by_name]
        if unknown or not names:
            # What it returned, as names when it gave names (a generator's repr says nothing).
            shown = f"{names!r:.200}" if names else f"{found!r:.80}"
            which = f" ({', '.join(map(repr, unknown[:5]))} no member)" if unknown else ""
            raise ConfigError(
                f"Selector {self.name!r}: the candidate function returned {shown}{which}; it "
                f"must return a list of member names among {list(self.by_name)}"
            )
        return self._choice([self.by_name[n] for n in dict.fromkeys(names)], state.previous_speaker)

    def _choice(self, chosen: Sequence[Member], previous: str | None) -> _Choice:
        chosen = list(chosen)
        if not self.allow_repeat and previous is not None:
            others = [m for m in chosen if m.name != previous]
            if others:  # a candidate list of the previous speaker alone is taken as given
                chosen = others
        names = ", ".join(m.name for m in chosen)
        return _Choice(chosen, frozenset(m.name for m in chosen), names)

    async def choose(self, state: TeamState) -> tuple[Member, str]:
        if self.candidates is None:
            choice = self._fixed_choice(state.previous_speaker)
        else:
            choice = await self._candidates(state)
        candidates = choice.members
        if len(candidates) == 1:
            return candidates[0], "the only candidate"
        allowed = choice.allowed
        prompt = self._prompt(state, choice)
        problems: list[str] = []
        key = self.selector_name
        for attempt in range(1, self.max_selection_attempts + 1):
            asked = (
                prompt if not problems else f"{prompt}\n\nEarlier answers: {'; '.join(problems)}"
            )
            # A selection is no run, but a call carries a run id: the ask's own (random, made
            # per ask), the turn and the attempt, unique without a system call per call.
            run_id = f"{state.team_id}-select-{state.next_turn}-{attempt}"
            call = self._call(asked, state.conversation_id, run_id)
            # A provider that fails (auth, rate limits, down) fails the ask, as a member's
            # model would; a malformed answer is asked again.
            response = valid_response(await self.model.client().respond(call, _ignore_chunk))
            state.charge(key, response.usage)
            try:
                speaker, reason = _read_choice(response.text)
            except ValidationError:
                problems.append("no valid choice (an answer that is not the JSON asked for)")
                continue
            if speaker in allowed:
                return self.by_name[speaker], reason or "chosen by the selector"
            problems.append(f"{speaker!r} is not one of the candidates")
        member = _after(self.members, state.previous_speaker, lambda m: m.name in allowed)
        return member, (
            f"fallback after {self.max_selection_attempts} failed selections "
            f"({'; '.join(problems)}): next in order"
        )

    def _call(self, prompt: str, conversation_id: str, run_id: str) -> ModelCall:
        """One selection's model call: everything but the prompt was made with the team."""
        return ModelCall(
            self.selector_name,
            conversation_id,
            run_id,
            self._instructions,
            HistoryView([ModelRequest((Text(prompt),))]),
            (),
            self._output,
            self._settings,
            self._provider,
            self._model_name,
        )

    def _recent_lines(self, state: TeamState) -> deque[str]:
        """The last ``window`` messages as lines: read from the end once per ask, then only
        the events added since (the cost per turn does not grow with the conversation)."""
        events = state.events
        kept = state.scratch.get("selector")
        if kept is None:
            lines: deque[str] = deque(_recent(events, self.window), maxlen=self.window)
            state.scratch["selector"] = (lines, [len(events)])
            return lines
        lines, seen = kept
        start = seen[0]
        seen[0] = len(events)
        # Most events of a turn are no message (run and team bookkeeping): passed over by
        # their class, one lookup each; only the messages are read.
        is_message = _IS_MESSAGE
        for event in events[start:]:
            kind = type(event)
            message = is_message.get(kind)
            if message is None:
                message = is_message[kind] = issubclass(kind, _MESSAGE_KINDS)
            if message:
                line = _line(event)
                if line is not None:
                    lines.append(line)
        return lines

    def _prompt(self, state: TeamState, choice: _Choice) -> str:
        lines = "\n".join(self._recent_lines(state))
        if not state.turns and state.task:
            # The ask's task is recorded in its first member's run, after this choice: shown
            # here, or the first speaker would be picked without it.
            task = f"[user] {state.task}"
            lines = f"{lines}\n{task}" if lines else task
        return (
            f"{self._roles}\n\nConversation (latest last):\n{lines or '(empty)'}\n\n"
            f"Candidates: {choice.names}\nWho speaks next?"
        )


def _names(found: object) -> bool:
    """Whether a candidate function's result is a list (or other collection) of names."""
    return isinstance(found, Iterable) and not isinstance(found, Mapping | bytes)


# The model's own validator, called directly (``model_validate_json`` wraps it per call).
_validate_choice: Callable[[str], SpeakerChoice] = (
    SpeakerChoice.__pydantic_validator__.validate_json
)


def _read_choice(text: str) -> tuple[str, str]:
    """The speaker and reason of a selector's answer (without the Markdown fence some models
    put around it). The usual answer, a JSON object whose ``speaker`` (and ``reason``, if
    given) are strings, is read as parsed JSON: what ``SpeakerChoice`` makes of it (other keys
    ignored, as the model ignores them), at a third of a model validation's cost, on every
    turn. Anything else goes through ``SpeakerChoice``'s validator, which accepts it or raises
    its ``ValidationError``."""
    try:
        data = from_json(text)  # JSON allows the whitespace around it that _unfenced strips
    except ValueError:
        text = _unfenced(text)
        try:
            data = from_json(text)
        except ValueError:
            data = None  # not JSON: the validator says so, in its own words
    if type(data) is dict:
        speaker = data.get("speaker")
        reason = data.get("reason", "")
        if type(speaker) is str and type(reason) is str:
            return speaker, reason
    choice = _validate_choice(text)
    return choice.speaker, choice.reason


# The kinds of event ``said`` can read a message from, and per class met so far, whether it is
# such a kind.
_MESSAGE_KINDS = (ModelResponse, ModelRequest, HumanMessage)
_IS_MESSAGE: dict[type, bool] = {}


async def _ignore_chunk(event: Event) -> None:
    return None


def _unfenced(text: str) -> str:
    """The JSON of an answer, without the Markdown fence some models put around it."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text.strip()


def _line(event: Event) -> str | None:
    """A message as an ``[author] text`` line (``None``: not a message)."""
    message = said(event)
    return None if message is None else f"[{message[0]}] {message[1]}"


def _recent(events: Sequence[Event], limit: int) -> list[str]:
    """The last ``limit`` messages as lines, read from the end."""
    lines: list[str] = []
    for i in range(len(events) - 1, -1, -1):
        if len(lines) >= limit:
            break
        line = _line(events[i])
        if line is not None:
            lines.append(line)
    lines.reverse()
    return lines
