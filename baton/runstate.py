"""``RunState``: where one ask stands, as a plain record the agent's ``Storage`` keeps while
the run is paused (see ``baton.run`` for the run it describes).

It encodes through the event registry (``events.to_dict``/``from_dict``, no arbitrary
classes). ``agent.resume`` loads it, checks it against the history (the store is the truth:
which calls finished is the history's to say, ``stored_outcomes``) and continues the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .events import (
    ApprovalRequest,
    Event,
    HumanInputRequest,
    ModelRequest,
    ModelResponse,
    Record,
    ToolCallError,
    ToolCallResult,
    UsageLine,
    from_dict,
    register,
)
from .history import Storage

__all__ = [
    "RunState",
    "delete_run_state",
    "load_run_state",
    "run_state_key",
    "stored_outcomes",
]

_STATE_PREFIX = "baton:run:"


@register
@dataclass(slots=True)
class RunState(Record):
    """Where one ask stands (see the module docs). ``status`` is ``"running"`` or
    ``"paused"``; ``response`` is the model response whose tool calls were running, and
    ``finished`` the outcomes of those that finished (the others run on resume). A plain
    record: the live run makes a new one whenever it saves itself (not frozen only because
    every ask makes one, and a frozen dataclass costs several times more to build)."""

    conversation_id: str
    run_id: str
    agent: str
    request: ModelRequest
    turn: int = 0
    status: str = "running"
    response: ModelResponse | None = None
    finished: tuple[ToolCallResult | ToolCallError, ...] = ()
    usage: tuple[UsageLine, ...] = ()
    tool_calls: int = 0
    requests: tuple[ApprovalRequest | HumanInputRequest, ...] = ()
    asked_in: tuple[str, ...] = ()  # the tool call each request was made in ("" outside)
    variables: Any = None

    @property
    def pending(self) -> tuple[str, ...]:
        """The ids of the response's tool calls that had not finished."""
        if self.response is None:
            return ()
        done = {o.call_id for o in self.finished}
        return tuple(c.id for c in self.response.tool_calls if c.id not in done)


def run_state_key(conversation_id: str) -> str:
    """The storage key of a conversation's paused run."""
    return _STATE_PREFIX + conversation_id


async def load_run_state(storage: Storage, conversation_id: str) -> RunState | None:
    """The paused run of a conversation, if it has one."""
    data = await storage.get(run_state_key(conversation_id))
    if data is None:
        return None
    state = from_dict(data)
    if not isinstance(state, RunState):
        raise ConfigError(f"storage key {run_state_key(conversation_id)!r} holds no RunState")
    return state


async def delete_run_state(storage: Storage, conversation_id: str) -> bool:
    """Forget a conversation's paused run; ``True`` if this call removed it (so, of two
    processes resuming it at once, exactly one gets ``True``)."""
    return await storage.delete(run_state_key(conversation_id))


def stored_outcomes(
    events: Sequence[Event], start: int, state: RunState
) -> tuple[ToolCallResult | ToolCallError, ...]:
    """The outcomes the history holds of the calls of the response ``state`` paused in (in
    call order), looked up after that response (in the run that began at ``start``)."""
    if state.response is None:
        return ()
    at = next((i for i in range(len(events) - 1, start, -1) if events[i] == state.response), None)
    if at is None:
        return state.finished  # the response is not where it was: keep what the run saved
    found = {
        e.call_id: e for e in events[at + 1 :] if isinstance(e, ToolCallResult | ToolCallError)
    }
    return tuple(found[c.id] for c in state.response.tool_calls if c.id in found)
