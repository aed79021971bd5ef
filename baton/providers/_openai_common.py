"""What the OpenAI-SDK-based adapters share: the client, error mapping and strict schemas."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

from ..errors import (
    BatonError,
    ConfigError,
    ConnectionLost,
    ContentFiltered,
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
)
from ..redaction import redact_text
from ._config import ProviderConfig, missing_extra
from ._errors import connection_dropped, error_for_status, is_transport_error, malformed

__all__ = [
    "ServiceTier",
    "add_cache_and_tier",
    "check_cache_and_tier",
    "make_openai_client",
    "mapped_errors",
    "response_error",
    "stream_error",
    "strict_schema",
]

ServiceTier = Literal["auto", "default", "flex", "scale", "priority"]
"""OpenAI's service tiers (``service_tier``); a newer tier's name may be given as a string."""

# Error codes and types sent inside an answer (no HTTP status) -> the status they stand for.
_RATE_LIMITED = ("rate_limit_exceeded", "rate_limit_error", "too_many_requests")
_UNAVAILABLE = (
    "server_error",
    "internal_error",
    "api_error",
    "vector_store_timeout",
    "overloaded",
    "overloaded_error",
    "service_unavailable",
)

T = TypeVar("T")


def make_openai_client(config: ProviderConfig) -> Any:
    """An ``openai.AsyncOpenAI`` for a config (one per config: one connection pool)."""
    try:
        import msgspec  # noqa: F401  (streamed chunks are decoded with it: see _wire_chunks)
        import openai
    except ImportError as exc:
        raise missing_extra(config.provider_name, config.extra_name or "openai", exc) from None
    return openai.AsyncOpenAI(
        api_key=config.resolved_api_key(),
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
        default_headers=dict(config.headers) if config.headers else None,
    )


def check_cache_and_tier(config: Any) -> None:
    """Refuse a ``prompt_cache_key`` or ``service_tier`` that is not a non-empty string."""
    for name in ("prompt_cache_key", "service_tier"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"{type(config).__name__}({name}=...) must be a non-empty string or None, got "
                f"{value!r}"
            )


def add_cache_and_tier(request: dict[str, Any], config: Any) -> None:
    """Put the config's ``prompt_cache_key`` and ``service_tier`` in a request, when set."""
    for name in ("prompt_cache_key", "service_tier"):
        value = getattr(config, name)
        if value is not None:
            request[name] = value


@asynccontextmanager
async def mapped_errors(provider: str) -> AsyncIterator[None]:
    """Translate the OpenAI SDK's (and its HTTP layer's) exceptions into Baton's."""
    import openai

    try:
        yield
    except BatonError:
        raise
    except openai.APITimeoutError as exc:
        raise ModelTimeout(f"{provider} did not answer in time ({exc})", provider=provider) from exc
    except openai.APIStatusError as exc:
        raise error_for_status(
            provider, exc.status_code, exc.message, exc.response.headers, exc.body
        ) from exc
    except openai.APIConnectionError as exc:
        raise ConnectionLost(f"connection to {provider} failed: {exc}", provider=provider) from exc
    except openai.APIError as exc:
        # An error inside an answer (no HTTP status): mapped like the status it stands for.
        raise _coded_error(provider, exc.code, exc.type, exc.message) from exc
    except json.JSONDecodeError as exc:  # a body or a stream line that is not JSON
        raise malformed(provider, exc) from exc
    except Exception as exc:
        if is_transport_error(exc):
            raise connection_dropped(provider, exc) from exc
        raise


def stream_error(provider: str, error: Any) -> ModelError:
    """The Baton error for the ``error`` object of an error payload inside a stream (an
    ``{"error": ...}`` payload in place of a chunk or event), as the SDK's own stream raises
    ``APIError`` for it."""
    if not isinstance(error, dict):
        return _coded_error(provider, None, None, None)
    message = error.get("message")
    return _coded_error(
        provider,
        error.get("code"),
        error.get("type"),
        message if isinstance(message, str) else None,
    )


def _coded_error(provider: str, code: Any, kind: Any, message: str | None) -> ModelError:
    # The error's code, or its type when only the type says what happened ("server_error").
    known = _UNAVAILABLE + _RATE_LIMITED
    chosen = kind if kind in known and code not in known else code or kind
    return response_error(
        provider,
        None if chosen is None else str(chosen),
        message or "An error occurred during streaming",
    )


async def call_mapped(provider: str, fn: Callable[[], Awaitable[T]]) -> T:
    async with mapped_errors(provider):
        return await fn()


def response_error(provider: str, code: str | None, message: str | None) -> ModelError:
    """The Baton error for a failure reported inside an answer (an ``error`` event in a Chat
    Completions stream, ``response.failed``, a Responses ``error`` event, or a non-streamed
    response whose status is ``failed``), mapped like the HTTP status it stands for."""
    text = redact_text(f"{provider} reported an error: {message or 'no details given'}")
    text += f" ({code})" if code else ""
    lowered = f"{code or ''} {message or ''}".lower()
    kwargs: dict[str, Any] = {"provider": provider}
    if code in _RATE_LIMITED:
        return RateLimited(text, **kwargs)
    if code in _UNAVAILABLE:
        return ProviderUnavailable(text, **kwargs)
    if "context_length" in lowered or "context window" in lowered:
        return ContextLengthExceeded(text, **kwargs)
    if "policy" in lowered or "content_filter" in lowered:
        return ContentFiltered(text, **kwargs)
    if code and (code.startswith(("invalid", "image", "unsupported", "empty", "failed_to"))):
        return InvalidRequest(text, **kwargs)
    return ModelError(text, **kwargs)


def strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A copy of ``schema`` prepared for OpenAI's strict mode, and whether strict mode can be
    used: every object closed (``additionalProperties: false``) with all properties required.
    Schemas with optional fields are sent non-strict rather than changed in meaning."""
    result = copy.deepcopy(schema)
    compatible = True

    def visit(node: Any) -> None:
        # Walks schema positions only, so a property named "title" or "default" is left alone.
        nonlocal compatible
        if not isinstance(node, dict):
            return
        node.pop("title", None)
        if "default" in node:
            compatible = False
        properties = node.get("properties")
        if node.get("type") == "object" or isinstance(properties, dict):
            properties = properties or {}
            if node.get("additionalProperties") not in (None, False):
                compatible = False  # e.g. dict[str, int]: keep its meaning, send it non-strict
            else:
                node["additionalProperties"] = False
            if set(node.get("required", [])) != set(properties):
                compatible = False
            for child in properties.values():
                visit(child)
        for key in ("items", "not"):
            visit(node.get(key))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for child in node.get(key) or ():
                visit(child)
        for child in (node.get("$defs") or {}).values():
            visit(child)

    visit(result)
    return result, compatible
