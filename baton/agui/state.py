"""The conversation's variables as AG-UI state: a ``STATE_SNAPSHOT`` when a run first sees
them, then a ``STATE_DELTA`` (an RFC 6902 JSON Patch over the top-level keys) whenever they
changed since the last one the client got."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ag_ui.core import BaseEvent, StateDeltaEvent, StateSnapshotEvent
from pydantic_core import to_jsonable_python

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
    """Follows one conversation's ``variables`` (the dict itself, read live) for one run."""

    __slots__ = ("_sent", "_text", "variables")

    def __init__(self) -> None:
        self.variables: dict[str, Any] | None = None  # set by the run's first hook
        self._sent: dict[str, Any] | None = None  # the state the client has
        self._text = ""  # ... as JSON text: comparing strings is the cheap check

    def _jsonable(self) -> dict[str, Any] | None:
        try:
            value = to_jsonable_python(self.variables)
        except Exception:  # a variable that is not JSON-able: the state is not sent
            log.warning("conversation variables are not JSON-able; AG-UI state not sent")
            return None
        return value if isinstance(value, dict) else None

    def events(self) -> Iterator[BaseEvent]:
        """A snapshot the first time, then a delta when the variables changed."""
        if self.variables is None:
            return
        current = self._jsonable()
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
