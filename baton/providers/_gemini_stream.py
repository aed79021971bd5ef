"""Reading a streamed Gemini answer off the HTTP body while google-genai still sends the request.

google-genai parses each streamed chunk into its typed response objects (about 145 µs of CPU per
chunk); it also takes a caller's HTTP client (``HttpOptions(httpx_async_client=...)``, public)
and sends every request through that client's ``send``. ``BodyTakingClient`` keeps a successful
streamed response for the caller waiting for it (``taking_body``) and gives the SDK an empty body
instead, so the SDK still does everything before the body (URL, API key or Vertex AI token,
headers, timeout, retries, a non-2xx status raised as its ``APIError``) and Baton reads the
server-sent events itself (``_sse``). Any other response passes through untouched.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import ssl
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["body_taking_client", "taking_body"]

# The list a ``BodyTakingClient`` appends the response it keeps to (set by ``taking_body``).
_TAKEN: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "baton_gemini_taken", default=None
)


def _library() -> Any:
    """The HTTP library google-genai sends with by default: ``httpx2`` when installed, else
    ``httpx``."""
    try:
        import httpx2
    except ImportError:
        import httpx

        return httpx
    return httpx2


def _verify(library: Any) -> Any:
    """The TLS settings google-genai gives its own client: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
    when set (httpx reads neither itself), else the library's default context."""
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    create = getattr(library, "create_ssl_context", None)
    return create() if create is not None else True


def body_taking_client() -> Any:
    """An ``AsyncClient`` (of the library google-genai would use) for ``httpx_async_client``.

    Connections belong to the event loop that opened them, so it keeps one pool per running
    loop, as the SDK's own client does; its settings are the SDK's defaults (no client-wide
    timeout, the SDK gives each request its own; redirects followed; the same TLS context)."""
    library = _library()
    verify = _verify(library)

    class BodyTakingClient(library.AsyncClient):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__(timeout=None, follow_redirects=True, verify=verify)
            self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
                weakref.WeakKeyDictionary()
            )

        def _pool(self) -> Any:
            loop = asyncio.get_running_loop()
            pool = self._pools.get(loop)
            if pool is None:
                pool = self._pools[loop] = library.AsyncClient(
                    timeout=None, follow_redirects=True, verify=verify
                )
            return pool

        async def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
            response = await self._pool().send(request, stream=stream, **kwargs)
            taken = _TAKEN.get()
            if stream and taken is not None and response.is_success:
                taken.append(response)
                return library.Response(response.status_code, content=b"", request=request)
            return response

        async def aclose(self) -> None:
            pool = self._pools.pop(asyncio.get_running_loop(), None)
            if pool is not None:
                await pool.aclose()
            await super().aclose()

    return BodyTakingClient()


@asynccontextmanager
async def taking_body() -> AsyncIterator[list[Any]]:
    """Within the block, the successful streamed response a ``body_taking_client`` receives is
    appended to the list given (and the SDK sees an empty body); the caller reads and closes
    it."""
    taken: list[Any] = []
    token = _TAKEN.set(taken)
    try:
        yield taken
    except BaseException:
        for response in taken:
            await response.aclose()
        raise
    finally:
        _TAKEN.reset(token)
