"""Sending Baton's prepared request bodies through the official SDKs (openai, anthropic)."""

from __future__ import annotations

import sys
from typing import Any

from ..models.base import RETRIED_BY_BATON
from ._errors import malformed

__all__ = ["post_prepared", "post_streamed"]

_RESPONSE_TYPES: dict[type, type] = {}  # SDK client class -> its HTTP library's Response


async def post_prepared(
    sdk: Any,
    path: str,
    request: dict[str, Any],
    *,
    cast_to: Any,
    provider: str,
) -> Any:
    """Send a request body Baton already built in wire format through the SDK's ``post`` and
    return the answer parsed into ``cast_to`` (a whole answer; see ``post_streamed`` for a
    stream).

    The SDK's typed methods first walk the whole body to rewrite it (``maybe_transform``), a
    cost that grows with the conversation (about 3.6 ms at 20 messages and 34 ms at 200 with
    openai 3.x, blocking the event loop); Baton's body needs none of it. ``post`` still gives
    the SDK's connection pool, headers, retries (none inside ``RetryMiddleware``), timeouts,
    error types and response parsing.
    A body that is not JSON (the SDK then returns its text) is a ``MalformedResponse``.
    """
    body, options = _prepared(request)
    answer = await sdk.post(path, cast_to=cast_to, body=body, options=options)
    if isinstance(answer, str):
        raise malformed(provider, f"a body that is not JSON: {answer!r}")
    return answer


async def post_streamed(sdk: Any, path: str, request: dict[str, Any]) -> Any:
    """Send a streaming request Baton already built through the SDK's ``post`` and return the
    HTTP response, its body not yet read (see ``_sse``), for Baton to read the events itself.

    The SDK does everything up to the body: connection pool, auth and headers, retries of a
    failed request (none inside ``RetryMiddleware``), timeouts, and a non-2xx status raised as
    its error (read whole, for the message). Given its HTTP library's ``Response`` as
    ``cast_to``, ``post`` returns the response as it is, which the caller must close.
    """
    body, options = _prepared(request)
    return await sdk.post(
        path,
        cast_to=_response_type(sdk),
        body=body,
        options=options,
        stream=True,
        stream_cls=None,
    )


def _prepared(request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body to send (``extra_body`` merged in) and the SDK's request options: its headers
    from ``extra_headers`` (e.g. a beta a hosted tool needs), which is not part of the body."""
    body = dict(request)
    extra = body.pop("extra_body", None)
    if extra:
        body.update(extra)
    headers = body.pop("extra_headers", None)
    # Inside RetryMiddleware the SDK makes one request: Baton's layer does the retrying.
    options: dict[str, Any] = {"max_retries": 0} if RETRIED_BY_BATON.get() else {}
    if headers:
        options["headers"] = headers
    return body, options


def _response_type(sdk: Any) -> type:
    """The ``Response`` class of the HTTP library an SDK client sends with (``httpx``, or
    ``httpx2`` in newer openai and anthropic releases), found from the SDK's public
    ``DefaultAsyncHttpxClient``, a subclass of that library's ``AsyncClient``."""
    kind = type(sdk)
    found = _RESPONSE_TYPES.get(kind)
    if found is None:
        package = sys.modules[kind.__module__.split(".")[0]]
        for base in package.DefaultAsyncHttpxClient.__mro__:
            library = sys.modules.get(base.__module__.split(".")[0])
            response = getattr(library, "Response", None)
            if base.__name__ == "AsyncClient" and isinstance(response, type):
                found = _RESPONSE_TYPES[kind] = response
                break
        else:
            raise TypeError(f"cannot tell which HTTP library {kind.__name__} sends with")
    return found
