"""A model call as the page shows it: what the model was given (instructions, the transcript's
messages, tools, output schema, settings) and, when the provider's client can build it, the
body Baton sent on the provider's wire.

A call the dev server made itself was kept as it was made (``Recorder.calls``); for one read
from a stored conversation the messages are rebuilt from the events before its response (the
transcript is the one definition of what a model sees, so they are what it saw), and the tools
and settings, which are not stored, are the agent's as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic_core import to_jsonable_python

from ..codec import to_dict
from ..events import Event
from ..models.base import ModelCall, ModelConfig
from ..redaction import logger
from ..transcript import transcript

__all__ = ["made_call", "rebuilt_call"]

log = logger("baton.devui")


def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value, fallback=repr, bytes_mode="base64")


def _messages(events: Sequence[Event], agent: str | None) -> list[dict[str, Any]]:
    return [{"role": role, "event": to_dict(event)} for role, event in transcript(events, agent)]


def _wire(call: ModelCall, config: ModelConfig | None) -> Any:
    """The provider's request body for ``call``, when its client builds one (None else)."""
    if config is None:
        return None
    try:
        build = getattr(config.client(), "build_request", None)
        return None if build is None else _jsonable(build(call))
    except Exception as exc:  # shown as missing, never failing the page
        log.info("could not build the provider request to show it (%s)", type(exc).__name__)
        return None


def made_call(call: ModelCall, config: ModelConfig | None, duration: float) -> dict[str, Any]:
    """A model call the dev server saw being made."""
    return {
        "exact": True,
        "agent": call.agent,
        "provider": call.provider,
        "model": call.model,
        "instructions": call.instructions,
        "messages": _messages(call.messages, call.agent),
        "tools": [_jsonable(asdict(spec)) for spec in call.tools],
        "output": None if call.output is None else _jsonable(call.output.json_schema),
        "settings": _jsonable(asdict(call.settings)),
        "wire": _wire(call, config),
        "duration": duration,
    }


def rebuilt_call(events: Sequence[Event], index: int, agent: Any) -> dict[str, Any]:
    """The model call answered by the response at ``index`` of a stored conversation."""
    response = events[index]
    author = getattr(response, "agent", None) or getattr(agent, "name", None)
    tools = getattr(agent, "tools", {})
    return {
        "exact": False,
        "agent": author,
        "provider": getattr(response, "provider", None),
        "model": getattr(response, "model", None),
        "instructions": None,
        "messages": _messages(events[:index], author),
        "tools": [_jsonable(asdict(t.spec)) for t in tools.values()],
        "output": None,
        "settings": None,
        "wire": None,
        "duration": None,
    }
