"""``RecordingModel``: wraps any model config and records each call passed through it (what
was sent, what came back or was raised, the chunks streamed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..events import Event, ModelResponse
from ..models.base import EmitChunk, ModelCall, ModelClient, ModelConfig
from ..models.registry import resolve_config

__all__ = ["RecordedCall", "RecordingModel"]


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
