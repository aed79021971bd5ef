"""Baton's exceptions. Every message names the problem and, where there is one, the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import ApprovalRequest, HumanInputRequest

__all__ = [
    "AskSuspended",
    "AuthenticationFailed",
    "BackendUnavailable",
    "BatonError",
    "ClaimLost",
    "ConfigError",
    "ConnectionLost",
    "ContentFiltered",
    "ContextLengthExceeded",
    "ConversationBusy",
    "EmptyResponseError",
    "EventDecodeError",
    "HumanInputTimeout",
    "InvalidRequest",
    "MalformedResponse",
    "MaxTurnsExceeded",
    "MissingDependency",
    "ModelError",
    "ModelTimeout",
    "NotSuspended",
    "ObserverHalt",
    "OutputValidationError",
    "ProviderUnavailable",
    "RateLimited",
    "RemoteAgentError",
    "RemoteToolError",
    "Retry",
    "ScriptExhausted",
    "StreamClosed",
    "StreamOverflow",
    "SubscriberTimeout",
    "ToolConflictError",
    "ToolDefinitionError",
    "ToolSourceUnavailable",
    "UsageLimitExceeded",
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


class ToolSourceUnavailable(BatonError):
    """A tool source (an MCP server) could not be started, reached or spoken to."""


class RemoteToolError(BatonError):
    """A remote tool source (an MCP server) answered a request with an error: a tool call's
    (the model reads it), or a resource's or prompt's."""


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


class SubscriberTimeout(BatonError):
    """An async stream subscriber did not return within the stream's ``delivery_timeout``;
    it was detached (and reported as a ``SubscriberFailed`` event)."""


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


class MalformedResponse(ModelError):
    """The provider's answer could not be read: a body or a stream line that is not JSON, or
    JSON of a shape the provider's API never sends. Usually a proxy or server failing mid-way,
    so it is retryable; if it persists, check that ``base_url`` points at that provider's API."""

    retryable = True


class AuthenticationFailed(ModelError):
    """The API key is missing, wrong or not allowed to use this model."""


class InvalidRequest(ModelError):
    """The provider rejected the request as malformed."""


class ContextLengthExceeded(InvalidRequest):
    """The conversation is longer than the model's context window."""


class ContentFiltered(ModelError):
    """The provider refused the content under its safety policy."""


class UsageLimitExceeded(BatonError):
    """An ask reached one of its ``UsageLimits``; it stops, keeping what was done so far.

    ``limit`` names the limit (``"requests"``, ``"tool_calls"``, ``"input_tokens"``,
    ``"output_tokens"``, ``"total_tokens"`` or ``"cost"``), ``value`` is what the ask reached and
    ``maximum`` the limit's setting.
    """

    def __init__(self, message: str, *, limit: str, value: float, maximum: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.maximum = maximum


class HumanInputTimeout(BatonError, TimeoutError):
    """Nobody answered a request for human input or approval within its ``timeout``."""

    def __init__(self, message: str, *, request_id: str, timeout: float) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.timeout = timeout


class AskSuspended(BatonError):
    """An ask paused to wait for a human (an approval with ``ApprovalPolicy(suspend=True)``, or
    ``context.input`` with ``suspend_on_human=True``). Its ``RunState`` is saved in the agent's
    storage; answer ``requests`` with ``agent.resume(conversation_id, HumanMessage(...))``."""

    def __init__(
        self,
        message: str,
        *,
        conversation_id: str,
        run_id: str,
        requests: tuple[ApprovalRequest | HumanInputRequest, ...],
        asked_in: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.conversation_id = conversation_id
        self.run_id = run_id
        self.requests = requests
        self.request_ids = tuple(r.request_id for r in requests)
        # The tool call each request was made in ("" outside a tool call): on resume, a
        # request asked again in the same call gets the same id, and so its answer.
        self.asked_in = asked_in or ("",) * len(requests)

    @property
    def request_id(self) -> str:
        """The first (usually the only) request waiting for an answer."""
        return self.request_ids[0]


class BackendUnavailable(BatonError):
    """A history or storage backend could not take a write (or a read) an ask needed.

    The conversation is left exactly as the store holds it: memory never keeps an event the
    store did not accept, and the next ask reloads it. ``retryable`` is true unless the store
    refused the data itself (then retrying the same data fails again)."""

    retryable: bool = True

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotSuspended(BatonError):
    """``agent.resume`` found no suspended ask to continue on the conversation."""


class ClaimLost(BackendUnavailable):
    """This process no longer holds its claim on a conversation (the lease ran out, e.g. the
    process stalled longer than the lease), so it stopped writing: another process may be
    answering the conversation. Ask again; the conversation is reloaded from the store."""


class RemoteAgentError(BatonError):
    """A remote agent (``baton.a2a.RemoteAgent``) could not be reached, refused the request,
    or ended its task failed, rejected or cancelled; the message says which, briefly (a
    calling model reads it as a tool error)."""
