"""Provider failures mapped onto Baton's exceptions, with ``retryable`` and ``retry_after``."""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from ..errors import (
    AuthenticationFailed,
    ConnectionLost,
    ContentFiltered,
    ContextLengthExceeded,
    InvalidRequest,
    MalformedResponse,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from ..redaction import redact_text

__all__ = [
    "connection_dropped",
    "error_for_status",
    "is_caller_failure",
    "is_transport_error",
    "malformed",
    "raised_by_caller",
    "retry_after_seconds",
    "transport_failure",
    "unexpected_event",
]

_CONTEXT_MARKERS = (
    "context_length",
    "context length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "exceeds the context",
)
_FILTER_MARKERS = ("content_filter", "content filter", "content_policy", "safety")


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            except (TypeError, ValueError):  # neither seconds nor a date: ignore the header
                parsed = None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    return None


def error_for_status(
    provider: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> ModelError:
    """The Baton error for an HTTP error answer from a provider (secrets an error body echoes,
    such as "Incorrect API key provided: sk-...", are redacted)."""
    text = redact_text(f"{provider} answered HTTP {status}: {message}")
    retry_after = retry_after_seconds(headers)
    lowered = f"{message} {body!r}".lower()
    kwargs: dict[str, Any] = {"provider": provider, "status": status, "retry_after": retry_after}
    if status in (401, 403):
        return AuthenticationFailed(
            f"{text} (check the API key and its access to this model)", **kwargs
        )
    if status == 429:
        return RateLimited(text, **kwargs)
    if status in (408, 409) or status >= 500:
        return ProviderUnavailable(text, **kwargs)
    if any(marker in lowered for marker in _CONTEXT_MARKERS):
        return ContextLengthExceeded(
            f"{text} (shorten the conversation: a history limit or compaction helps)", **kwargs
        )
    if any(marker in lowered for marker in _FILTER_MARKERS):
        return ContentFiltered(text, **kwargs)
    return InvalidRequest(text, **kwargs)


_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "h11", "anyio", "aiohttp")


# The attribute that marks an exception raised by the caller's code (see ``raised_by_caller``).
_BY_CALLER = "_baton_raised_by_caller"


def raised_by_caller(exc: BaseException) -> None:
    """Mark ``exc`` as raised by the caller's code while an answer streamed in (the ``emit``
    that takes each chunk), so that a provider's error mapping passes it unchanged: a sink's
    reset socket or failed HTTP call is not the provider's connection dropping, and must not
    become a retryable ``ConnectionLost`` (a retry would stream the answer's chunks again)."""
    with contextlib.suppress(AttributeError, TypeError):  # (an exception without a __dict__)
        setattr(exc, _BY_CALLER, True)


def is_caller_failure(exc: BaseException) -> bool:
    """Whether ``exc`` was marked by ``raised_by_caller``."""
    return getattr(exc, _BY_CALLER, False) is True


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the HTTP layer under an SDK (a dropped or refused
    connection), which SDKs sometimes let through unwrapped, e.g. mid-stream; never one that
    the caller's own code raised (``raised_by_caller``)."""
    if is_caller_failure(exc):
        return False
    module = type(exc).__module__.split(".")[0]
    return module in _TRANSPORT_MODULES or isinstance(exc, ConnectionError)


def connection_dropped(provider: str, exc: BaseException) -> ConnectionLost:
    return ConnectionLost(
        redact_text(
            f"the connection to {provider} dropped mid-answer ({type(exc).__name__}: {exc})"
        ),
        provider=provider,
    )


def transport_failure(provider: str, exc: BaseException) -> ModelError:
    """The Baton error for a failure of the HTTP layer while an answer streams in: a read that
    timed out is a ``ModelTimeout``, any other (a dropped or reset connection) a
    ``ConnectionLost``."""
    if any(cls.__name__ in ("TimeoutException", "ServerTimeoutError") for cls in type(exc).__mro__):
        return ModelTimeout(
            redact_text(f"{provider} did not answer in time ({type(exc).__name__}: {exc})"),
            provider=provider,
        )
    return connection_dropped(provider, exc)


def malformed(provider: str, problem: str | BaseException) -> MalformedResponse:
    """The error for an answer that cannot be read (not JSON, or JSON of an unexpected shape);
    ``problem`` is what was wrong (an exception, e.g. the ``JSONDecodeError``, or a sentence)."""
    if isinstance(problem, json.JSONDecodeError):
        start = max(0, problem.pos - 60)  # around where it broke, not the body's start
        problem = f"not JSON: {problem.msg} near {problem.doc[start : problem.pos + 20]!r}"
    elif isinstance(problem, BaseException):
        problem = f"{type(problem).__name__}: {problem}"
    if len(problem) > 300:  # an HTML error page, say: its start is enough to recognise it
        problem = problem[:300] + "..."
    return MalformedResponse(
        redact_text(
            f"{provider} sent an answer Baton cannot read ({problem}). This is usually a "
            "server or proxy failing mid-answer and is retryable (RetryMiddleware tries again); "
            f"if it persists, check that base_url points at a {provider} API endpoint"
        ),
        provider=provider,
    )


def unexpected_event(provider: str, data: bytes, problem: object = None) -> MalformedResponse:
    """The error for a streamed event whose JSON is not of the shape its wire sends: what is
    wrong with it (``problem``, e.g. the field of another type), then the event itself."""
    why = f" ({problem})" if problem else ""
    shown = data.decode("utf-8", "replace")
    return malformed(provider, f"a stream event of an unexpected shape{why}: {shown}")
