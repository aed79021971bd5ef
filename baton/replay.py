"""Record a model's exchange once, replay it in tests: no network, no key, the same answers.

    model = Cassette("tests/cassettes/weather.json", config="openai:gpt-5")
    agent = Agent("a", config=model, tools=[get_weather])
    reply = await agent.ask("Weather in Oslo?")

The first run (the file does not exist) calls the real model through ``config`` and writes
every call to the file: what was sent (the agent, the instructions, what the model saw of the
conversation, the tools' names, the output schema) and what came back (the streamed chunks and
the response, or the error). Later runs read the file and answer from it, in order, streaming
the same chunks, without ``config`` (a test needs neither network nor key). A request that
differs from the recorded one is a ``ReplayMismatch`` naming the call and the first field that
differs, so a changed prompt or tool can't pass unnoticed; delete the file to record it again.

Everything is stored through the event codec (``baton.events.to_dict``): only registered
classes come back. Ids that change on every run (human requests, runs, conversations) are left
out of the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from . import errors
from .errors import BatonError, ConfigError, ModelError
from .events import Event, ModelResponse, from_dict, to_dict
from .models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from .models.registry import resolve_config
from .transcript import sent_to_model

__all__ = ["Cassette", "ReplayMismatch"]

Mode = Literal["auto", "record", "replay"]
_VOLATILE = frozenset({"request_id", "run_id", "conversation_id"})


class ReplayMismatch(BatonError, AssertionError):
    """A replayed call asked the model something else than the recorded one did (or more
    calls were made than were recorded)."""


class Cassette(ModelConfig, ModelClient):
    """A model config that records to ``path`` (when the file is missing, through ``config``)
    or replays from it (see the module docs). ``mode``: ``"auto"`` (replay if the file exists,
    else record), ``"record"`` (always call ``config`` and overwrite) or ``"replay"``."""

    def __init__(
        self, path: str | Path, config: ModelConfig | str | None = None, *, mode: Mode = "auto"
    ) -> None:
        self.path = Path(path)
        if mode not in ("auto", "record", "replay"):
            raise ConfigError(f"Cassette(mode=...) is 'auto', 'record' or 'replay', got {mode!r}")
        recording = mode == "record" or (mode == "auto" and not self.path.exists())
        if recording and config is None:
            raise ConfigError(
                f"the cassette {self.path} has not been recorded yet: give it the model to "
                "record from, Cassette(path, config='openai:gpt-5') (that run needs its key)"
            )
        self.config: ModelConfig | None = resolve_config(config) if recording and config else None
        self.entries: list[dict[str, Any]] = [] if recording else _read(self.path)
        self._next = 0
        self._provider = self.config.provider if self.config else _meta(self.entries, "provider")
        self._model = self.config.model_name if self.config else _meta(self.entries, "model")
        if self.config is not None:
            self.settings = self.config.settings

    @property
    def recording(self) -> bool:
        """Whether this cassette calls the model (and writes the file) rather than replays."""
        return self.config is not None

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, {'recording' if self.recording else 'replaying'})"

    # -- ModelConfig ------------------------------------------------------------------------

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model_name(self) -> str:
        return self._model

    def create_client(self) -> ModelClient:
        return self

    def client(self) -> ModelClient:
        return self

    async def aclose(self) -> None:
        if self.config is not None:
            await self.config.aclose()

    # -- ModelClient -------------------------------------------------------------------------

    async def respond(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        if self.config is not None:
            return await self._record(call, emit)
        return await self._replay(call, emit)

    async def _record(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        assert self.config is not None
        entry: dict[str, Any] = {
            "provider": self._provider,
            "model": self._model,
            "request": _request(call),
            "chunks": [],
        }

        async def recording(event: Event) -> None:
            entry["chunks"].append(to_dict(event))
            await emit(event)

        # Kept only once the call is over: a cancelled or timed-out one leaves no entry.
        try:
            response = await self.config.client().respond(call, recording)
        except ModelError as error:
            entry["error"] = {"type": type(error).__name__, "message": str(error)}
            self.entries.append(entry)
            self._write()
            raise
        entry["response"] = to_dict(response)
        self.entries.append(entry)
        self._write()
        return response

    async def _replay(self, call: ModelCall, emit: EmitChunk) -> ModelResponse:
        index = self._next
        if index >= len(self.entries):
            raise ReplayMismatch(
                f"{self.path}: call {index + 1} was not recorded (the cassette holds "
                f"{len(self.entries)}); the agent now makes more model calls: record again by "
                "deleting the file"
            )
        self._next += 1
        entry = self.entries[index]
        difference = _first_difference(entry["request"], _request(call))
        if difference is not None:
            raise ReplayMismatch(
                f"{self.path}: call {index + 1} differs from the recording at {difference}; "
                "the prompt, tools or conversation changed: record again by deleting the file"
            )
        for chunk in entry.get("chunks", ()):
            await emit(_event(chunk, self.path))
        error = entry.get("error")
        if error is not None:
            raise _replayed_error(error["type"], error["message"])
        response = _event(entry["response"], self.path)
        if not isinstance(response, ModelResponse):
            raise ConfigError(f"{self.path}: call {index + 1} holds no ModelResponse")
        return response

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.entries, ensure_ascii=False, indent=1)
        self.path.write_text(text + "\n", encoding="utf-8")


def _request(call: ModelCall) -> dict[str, Any]:
    """What a call asks, in a form that compares across runs."""
    return {
        "agent": call.agent,
        "instructions": call.instructions,
        "messages": [_stable(to_dict(e)) for e in call.messages if sent_to_model(e)],
        "tools": [t.name for t in call.tools],
        "output": call.output.json_schema if call.output is not None else None,
    }


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _first_difference(recorded: Any, now: Any, where: str = "") -> str | None:
    """A path to the first place ``now`` differs from ``recorded`` (``None``: they match)."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in [*recorded, *(k for k in now if k not in recorded)]:
            found = _first_difference(recorded.get(key), now.get(key), f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(now, list):
        if len(recorded) != len(now):
            return f"{where or 'the request'} ({len(recorded)} items recorded, {len(now)} now)"
        for i, (a, b) in enumerate(zip(recorded, now, strict=True)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if recorded != now:
        shown = repr(now)
        return f"{where or 'the request'} (recorded {recorded!r}, now {shown[:200]})"
    return None


def _replayed_error(name: str, message: str) -> ModelError:
    """The recorded error as its own class (``RateLimited``, ...), so retries and fallbacks
    act as they did; a plain ``ModelError`` for a class Baton doesn't define."""
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, ModelError):
        try:
            return cls(f"(replayed) {message}")
        except TypeError:
            pass
    return ModelError(f"(replayed) {name}: {message}")


def _event(data: Any, path: Path) -> Event:
    event = from_dict(data)
    if not isinstance(event, Event):
        raise ConfigError(f"{path} holds {type(event).__name__} where an event belongs")
    return event


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise ConfigError(
            f"the cassette {path} does not exist: record it first with "
            "Cassette(path, config=...) (mode='replay' never calls a model)"
        )
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(
            f"the cassette {path} is not JSON ({exc}); delete it to record again"
        ) from None
    if not isinstance(entries, list):
        raise ConfigError(f"the cassette {path} holds no list of calls; delete it to record again")
    return entries


def _meta(entries: Sequence[dict[str, Any]], key: str) -> str:
    return str(entries[0].get(key, "replay")) if entries else "replay"
