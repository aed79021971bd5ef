"""Baton's exceptions. Every message names the problem and, where there is one, the fix."""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BatonError",
    "ConfigError",
    "ConnectionLost",
    "ContentFiltered",
    "ContextLengthExceeded",
    "ConversationBusy",
    "EmptyResponseError",
    "EventDecodeError",
    "InvalidRequest",
    "MaxTurnsExceeded",
    "MissingDependency",
    "ModelError",
    "ModelTimeout",
    "ObserverHalt",
    "OutputValidationError",
    "ProviderUnavailable",
    "RateLimited",
    "Retry",
    "ScriptExhausted",
    "StreamClosed",
    "StreamOverflow",
    "ToolConflictError",
    "ToolDefinitionError",
]


class BatonError(Exception):
    """Base class of Baton's errors."""


class ConfigError(BatonError, ValueError):
    """An agent, tool or model was configured in a way that cannot work."""


class ToolDefinitionError(ConfigError):
    """A function cannot be made into a tool (e.g. a parameter type without a JSON schema)."""


class ToolConflictError(ConfigError):
    """Two tools offered to one agent share a name."""


class MissingDependency(ConfigError):
    """A tool, prompt or output function needs an injected value that was not provided."""


class EventDecodeError(BatonError, ValueError):
    """A payload could not be decoded into a registered event."""


class MaxTurnsExceeded(BatonError):
    """An ask used all its model calls without reaching a final answer."""


class OutputValidationError(BatonError):
    """The model's final answer kept failing structured-output validation."""

    def __init__(self, message: str, *, text: str = "", errors: str = "") -> None:
        super().__init__(message)
        self.text = text
        self.errors = errors


class EmptyResponseError(BatonError):
    """The model kept answering with neither text nor tool calls."""


class ObserverHalt(BatonError):
    """A fatal observer alert stopped the ask."""

    def __init__(self, message: str, *, observer: str = "") -> None:
        super().__init__(message)
        self.observer = observer


class ConversationBusy(BatonError):
    """A second ask was started on a conversation whose previous ask has not finished."""


class ScriptExhausted(BatonError):
    """A ScriptedModel was called more times than it has turns."""


class StreamOverflow(BatonError):
    """A stream watcher fell too far behind and was detached (see MemoryStream's policy)."""


class StreamClosed(BatonError):
    """The stream was closed while waiting for an event."""


class Retry(Exception):
    """Raise in a tool or output function to send ``message`` back to the model to try again."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelError(BatonError):
    """A model provider call failed. ``retryable`` says whether trying again may succeed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class RateLimited(ModelError):
    """The provider rejected the call for rate limits (HTTP 429)."""

    retryable = True


class ProviderUnavailable(ModelError):
    """The provider is overloaded or unavailable (HTTP 5xx, 529)."""

    retryable = True


class ModelTimeout(ModelError):
    """The provider did not answer in time."""

    retryable = True


class ConnectionLost(ModelError):
    """The connection dropped, possibly in the middle of a streamed answer."""

    retryable = True


class AuthenticationFailed(ModelError):
    """The API key is missing, wrong or not allowed to use this model."""


class InvalidRequest(ModelError):
    """The provider rejected the request as malformed."""


class ContextLengthExceeded(InvalidRequest):
    """The conversation is longer than the model's context window."""


class ContentFiltered(ModelError):
    """The provider refused the content under its safety policy."""
