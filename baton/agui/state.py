"""The conversation's variables as AG-UI state: a ``STATE_SNAPSHOT`` when a run first sees
them, then a ``STATE_DELTA`` (an RFC 6902 JSON Patch over the top-level keys) whenever they
changed since the last one the client got."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from ag_ui.core import BaseEvent, StateDeltaEvent, StateSnapshotEvent
from pydantic_core import to_jsonable_python

from ..events import Event, ModelResponse, ToolCallError, ToolCallResult
from ..redaction import logger

__all__ = ["StateTracker", "json_patch"]

log = logger("baton.agui")


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch that turns ``before`` into ``after`` (both JSON-able; top-level keys)."""
    patch: list[dict[str, Any]] = []
    for key in before:
        if key not in after:
            patch.append({"op": "remove", "path": _pointer(key)})
    for key, value in after.items():
        if key not in before:
            patch.append({"op": "add", "path": _pointer(key), "value": value})
        elif before[key] != value:
            patch.append({"op": "replace", "path": _pointer(key), "value": value})
    return patch


class StateTracker:
    """Follows one conversation's ``variables`` (the dict itself) for one run.

    The run goes on while the client is still being sent earlier events, so the variables as
    they are when an event is sent may already hold a later tool's change. ``StateCapture``
    (the app's middleware) therefore records them in the run's own task, as they are when
    each model call and each tool call returns; ``events(at=...)`` diffs against the state
    recorded for that event, and reads the live variables only for an event nothing recorded.
    """

    __slots__ = ("_after_calls", "_after_models", "_sent", "_text", "variables")

    def __init__(self) -> None:
        self.variables: dict[str, Any] | None = None  # set by the run's first hook
        self._sent: dict[str, Any] | None = None  # the state the client has
        self._text = ""  # ... as JSON text: comparing strings is the cheap check
        self._after_models: deque[dict[str, Any] | None] = deque()
        self._after_calls: dict[str, dict[str, Any] | None] = {}

    def _jsonable(self) -> dict[str, Any] | None:
        try:
            value = to_jsonable_python(self.variables)
        except Exception:  # a variable that is not JSON-able: the state is not sent
            log.warning("conversation variables are not JSON-able; AG-UI state not sent")
            return None
        return value if isinstance(value, dict) else None

    def record_model(self) -> None:
        """A model call returned: the variables as they are now go with its response."""
        if self.variables is not None:
            self._after_models.append(self._jsonable())

    def record_call(self, call_id: str) -> None:
        """Tool call ``call_id`` returned: the variables as they are now go with its result."""
        if self.variables is not None:
            self._after_calls[call_id] = self._jsonable()

    def _state_at(self, at: Event | None) -> dict[str, Any] | None:
        if isinstance(at, ModelResponse) and self._after_models:
            return self._after_models.popleft()
        if isinstance(at, ToolCallResult | ToolCallError) and at.call_id in self._after_calls:
            return self._after_calls.pop(at.call_id)
        return self._jsonable()

    def events(self, at: Event | None = None) -> Iterator[BaseEvent]:
        """A snapshot the first time, then a delta when the variables changed: as they were
        when ``at`` happened (or as they are now)."""
        if self.variables is None:
            return
        current = self._state_at(at)
        if current is None:
            return
        text = json.dumps(current, sort_keys=True, default=str)
        if self._sent is None:
            self._sent, self._text = current, text
            yield StateSnapshotEvent(snapshot=current)
        elif text != self._text:
            patch = json_patch(self._sent, current)
            self._sent, self._text = current, text
            if patch:
                yield StateDeltaEvent.model_validate({"delta": patch})
