"""How the google-genai SDK's failures (and its HTTP and auth layers') become Baton's errors;
used by the Gemini and Vertex AI adapters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..errors import (
    AuthenticationFailed,
    BatonError,
    ConnectionLost,
    ContextLengthExceeded,
    ModelError,
    ModelTimeout,
)
from ._errors import error_for_status, is_caller_failure, is_transport_error, malformed

if TYPE_CHECKING:
    from google.genai.errors import APIError

__all__ = ["mapped_errors", "raise_stream_error"]


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return is_transport_error(exc) and any(
        cls.__name__ in ("TimeoutException", "ServerTimeoutError") for cls in type(exc).__mro__
    )


def _retry_delay(details: Any) -> str | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "7s"``), as text."""
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    for item in items if isinstance(items, list) else ():
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return str(float(delay[:-1]))
            except ValueError:
                return None
    return None


def _api_error(provider: str, exc: APIError) -> ModelError:
    status = exc.code if isinstance(exc.code, int) else None
    message = exc.message or str(exc)
    if status is None or status < 400:
        return ModelError(f"{provider} reported an error: {message}", provider=provider)
    raw_headers = getattr(exc.response, "headers", None)
    headers = dict(raw_headers.items()) if isinstance(raw_headers, Mapping) else {}
    delay = _retry_delay(exc.details)
    if delay is not None and not {"retry-after", "retry-after-ms"} & {k.lower() for k in headers}:
        headers["retry-after"] = delay
    body = repr(exc.details)
    if status == 400 and ("API_KEY_INVALID" in body or "API key not valid" in message):
        return AuthenticationFailed(
            f"{provider} answered HTTP 400: {message} (check the API key)",
            provider=provider,
            status=status,
        )
    if status == 400 and "input token count" in message.lower():
        return ContextLengthExceeded(
            f"{provider} answered HTTP 400: {message} (shorten the conversation: a history "
            "limit or compaction helps)",
            provider=provider,
            status=status,
        )
    return error_for_status(provider, status, message, headers, exc.details)


def raise_stream_error(chunk: dict[str, Any]) -> None:
    """Raise a stream's ``{"error": {...}}`` chunk as the SDK's ``APIError`` (what its own
    reader does), for ``mapped_errors`` to translate like any other."""
    from google.genai.errors import APIError

    error = chunk.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int):
        APIError.raise_error(code, chunk, None)
    raise APIError(0, chunk, None)  # no status: a ModelError


@asynccontextmanager
async def mapped_errors(provider: str) -> AsyncIterator[None]:
    """Translate the google-genai SDK's (and its HTTP and auth layers') exceptions."""
    from google.auth import exceptions as auth_errors
    from google.genai import errors as genai_errors

    try:
        yield
    except BatonError:
        raise
    except genai_errors.APIError as exc:
        raise _api_error(provider, exc) from exc
    except (genai_errors.UnknownApiResponseError, json.JSONDecodeError) as exc:
        raise malformed(provider, exc) from exc  # a body or a stream line that is not JSON
    except (auth_errors.DefaultCredentialsError, auth_errors.RefreshError) as exc:
        raise AuthenticationFailed(
            f"no usable Google credentials for {provider} ({exc}): run `gcloud auth "
            "application-default login`, or pass credentials=...",
            provider=provider,
        ) from exc
    except Exception as exc:
        if is_caller_failure(exc):  # the caller's emit failed, not the connection
            raise
        if _is_timeout(exc):
            raise ModelTimeout(
                f"{provider} did not answer in time ({type(exc).__name__}: {exc})",
                provider=provider,
            ) from exc
        if is_transport_error(exc) or isinstance(exc, auth_errors.TransportError):
            raise ConnectionLost(
                f"the connection to {provider} failed or dropped mid-answer "
                f"({type(exc).__name__}: {exc})",
                provider=provider,
            ) from exc
        raise
