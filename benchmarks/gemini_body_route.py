"""Can Baton read Gemini's streamed body itself while google-genai still sends the request?
The feasibility measurement for issue 19, point 2, taken while Gemini and Vertex AI still
streamed through the SDK's own parser (about 145 µs of CPU per chunk); ``GeminiConfig`` now
reads its streams this way (``baton/providers/_gemini_stream.py``).

google-genai 3.x takes a caller's ``httpx.AsyncClient`` (``HttpOptions(httpx_async_client=...)``,
public) and sends every request through its ``send``. A subclass whose ``send`` keeps a 2xx
streamed response for the caller (handed over in a context variable) and gives the SDK an
empty body leaves the SDK doing what it does before the body: the URL from the base URL and
model, the API key header or Vertex AI's bearer token, per-request headers and timeout, retries,
and a non-2xx status raised as its ``APIError`` (its ``send`` returns those untouched). Baton
then reads the server-sent events with its own reader (``baton/providers/_sse.py``) into dicts.

Variants, against the loopback server of ``provider_streams`` (a separate process):

- ``sdk``: ``client.aio.models.generate_content_stream`` iterated to the end (the floor that
  an application calling the SDK pays, and what ``GeminiConfig`` paid before);
- ``route``: the same call through the body-taking client, its body read by ``read_events`` and
  ``pydantic_core.from_json``, each chunk's first text part taken from the dict.

It reports client CPU time (``time.process_time``) per chunk, median of the repetitions. The
``route`` reader takes only the text; turning the wire dicts into a ``ModelResponse`` (what
``GeminiAnswer`` does from the SDK's typed objects) is the work this measures the room for.

    python -m benchmarks.gemini_body_route [--variants sdk,route] [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic_core import from_json

from baton.events import Event
from baton.providers._sse import read_events

from .loopback_streams import ServerProcess

# The responses a ``BodyTakingClient`` kept for the caller that set this (a list to append to).
_TAKEN: contextvars.ContextVar[list[httpx.Response] | None] = contextvars.ContextVar(
    "gemini_body_route_taken", default=None
)


class BodyTakingClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that hands a successful streamed response to the caller that
    asked for it (``_TAKEN`` set) and gives the SDK an empty body in its place; every other
    response (non-2xx ones included, for the SDK to raise as its errors) passes unchanged."""

    async def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> Any:
        response = await super().send(request, stream=stream, **kwargs)
        taken = _TAKEN.get()
        if stream and taken is not None and response.is_success:
            taken.append(response)
            return httpx.Response(
                response.status_code, headers=response.headers, content=b"", request=request
            )
        return response


Ask = Callable[[int], Awaitable[int]]


def _clients(url: str) -> tuple[dict[str, Ask], list[Any]]:
    from google import genai
    from google.genai import types

    plain = genai.Client(api_key="bench-key", http_options=types.HttpOptions(base_url=url))
    taking = genai.Client(
        api_key="bench-key",
        http_options=types.HttpOptions(base_url=url, httpx_async_client=BodyTakingClient()),
    )

    async def sdk(n: int) -> int:
        seen = 0
        stream = await plain.aio.models.generate_content_stream(model=f"bench-{n}", contents="hi")
        async for chunk in stream:
            if chunk.text:
                seen += 1
        return seen

    async def route(n: int) -> int:
        taken: list[httpx.Response] = []
        token = _TAKEN.set(taken)
        try:
            stream = await taking.aio.models.generate_content_stream(
                model=f"bench-{n}", contents="hi"
            )
            async for _ in stream:  # nothing: the body was taken
                pass
        finally:
            _TAKEN.reset(token)
        response = taken[0]
        seen = 0

        def take(name: bytes | None, data: bytes) -> tuple[()]:
            nonlocal seen
            chunk = from_json(data)
            parts = chunk["candidates"][0]["content"]["parts"]
            if parts and parts[0].get("text"):
                seen += 1
            return ()

        async def emit(event: Event) -> None:
            return None

        try:
            await read_events(response, "gemini", take, emit)
        finally:
            await response.aclose()
        return seen

    return {"sdk": sdk, "route": route}, [plain, taking]


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="sdk,route")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with ServerProcess() as server:
        asks, clients = _clients(server.url)
        try:
            for variant in args.variants.split(","):
                ask = asks[variant]
                for n in (int(s) for s in args.sizes.split(",")):
                    assert await ask(n) == n  # warm, and every chunk's text seen
                    figures = []
                    for _ in range(args.reps):
                        start = time.process_time()
                        await ask(n)
                        figures.append((time.process_time() - start) / n * 1e6)
                    print(
                        f"{variant:<6} {n:>6} chunks: {statistics.median(figures):7.2f} us/chunk "
                        f"({min(figures):.2f}-{max(figures):.2f})",
                        flush=True,
                    )
        finally:
            for client in clients:
                await client.aio.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
