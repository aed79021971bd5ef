"""What a streamed chunk costs through each provider config, next to the provider's own SDK
streaming the same answer from the same loopback server (issue 19, point 2).

A server in a separate process (``benchmarks/loopback_streams.py``) speaks each wire format
(OpenAI Chat Completions and Responses, Anthropic Messages and Gemini as server-sent events,
Ollama as newline-delimited JSON) and answers every request with a text answer of N chunks (N
is read from the model name, ``bench-N``), each chunk its own HTTP chunk, with the framing
events each API sends around them. The client process runs, per wire format:

- ``sdk``: the official SDK's own streaming call, iterated to the end (the floor Baton is
  measured against: what an application calling the SDK directly pays);
- ``baton``: the Baton config's ``respond()`` (what an agent's model call runs), every chunk
  handed to a no-op ``emit``;
- ``http``: the HTTP library alone (``httpx2``, as under the openai, anthropic and google-genai
  SDKs) reading the same body with ``aiter_raw()`` and nothing else;
- ``raw``: the same, reading ``response.stream`` (the response's byte stream, the layer
  Baton's readers take the body from): no reader of the response can go below it.

Wall mode (default) reports the client's CPU time (``time.process_time``; the server's is not
counted) per chunk, median and spread over repetitions, at 100, 1,000 and 10,000 chunks: the
curve includes each request's fixed cost spread over its chunks, which it also prints apart
(the fixed µs of a request, and the marginal µs of one more chunk). ``--instructions`` counts CPU
instructions with callgrind instead (valgrind needed): each variant runs with ``--small`` and
``--large`` chunks, and the difference divided by the extra chunks is the cost of one chunk,
free of start-up, import and per-request costs; a third run asks twice for ``--small`` chunks,
which gives one request's fixed cost.

    python -m benchmarks.provider_streams [--quick] [--only openai,anthropic]
    python -m benchmarks.provider_streams --instructions [--small 500 --large 2500]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ._callgrind import instructions_of
from .loopback_streams import ServerProcess

SIZES = (100, 1_000, 10_000)
FORMATS = ("openai", "responses", "anthropic", "gemini", "ollama")
VARIANTS = ("http", "raw", "sdk", "baton")
TARGET_US = 10.0


# ---------------------------------------------------------------------------------------------
# The clients
# ---------------------------------------------------------------------------------------------

Ask = Callable[[int], Awaitable[int]]  # n chunks -> the number of text pieces seen


def _model_call() -> Any:
    from baton.events import ModelRequest, Text
    from baton.history import HistoryView
    from baton.models.base import ModelCall, ModelSettings

    history = [ModelRequest((Text("Write something long."),))]
    return ModelCall(
        "bench", "conv-1", "run-1", "", HistoryView(history, 1), (), None, ModelSettings()
    )


def _config(wire: str, url: str, n: int) -> Any:
    model = f"bench-{n}"
    if wire == "openai":
        from baton.providers.openai import OpenAIConfig

        return OpenAIConfig(model, api_key="sk-bench", base_url=f"{url}/v1")
    if wire == "responses":
        from baton.providers.openai_responses import OpenAIResponsesConfig

        return OpenAIResponsesConfig(model, api_key="sk-bench", base_url=f"{url}/v1")
    if wire == "anthropic":
        from baton.providers.anthropic import AnthropicConfig

        return AnthropicConfig(model, api_key="sk-ant-bench", base_url=url)
    if wire == "gemini":
        from baton.providers.gemini import GeminiConfig

        return GeminiConfig(model, api_key="bench-key", base_url=url)
    from baton.providers.ollama import OllamaConfig

    return OllamaConfig(model, base_url=url)


async def _baton(wire: str, url: str) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    from baton.events import Event

    clients: dict[int, Any] = {}
    call = _model_call()
    pieces = 0

    async def emit(event: Event) -> None:
        nonlocal pieces
        pieces += 1

    async def ask(n: int) -> int:
        nonlocal pieces
        if n not in clients:
            clients[n] = _config(wire, url, n).create_client()
        pieces = 0
        await clients[n].respond(call, emit)
        return pieces

    async def close() -> None:
        for client in clients.values():
            await client.aclose()

    return ask, close


async def _sdk(wire: str, url: str) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    messages = [{"role": "user", "content": "Write something long."}]
    if wire in ("openai", "responses"):
        import openai

        oai = openai.AsyncOpenAI(api_key="sk-bench", base_url=f"{url}/v1")

        async def ask(n: int) -> int:
            seen = 0
            if wire == "openai":
                stream = await oai.chat.completions.create(
                    model=f"bench-{n}", messages=messages, stream=True
                )  # type: ignore[call-overload]
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        seen += 1
            else:
                events = await oai.responses.create(model=f"bench-{n}", input="Hi", stream=True)
                async for event in events:
                    if event.type == "response.output_text.delta":
                        seen += 1
            return seen

        return ask, oai.close
    if wire == "anthropic":
        import anthropic

        claude = anthropic.AsyncAnthropic(api_key="sk-ant-bench", base_url=url)

        async def ask(n: int) -> int:
            seen = 0
            stream = await claude.messages.create(
                model=f"bench-{n}", max_tokens=4096, messages=messages, stream=True
            )  # type: ignore[call-overload]
            async for event in stream:
                if event.type == "content_block_delta":
                    seen += 1
            return seen

        return ask, claude.close
    if wire == "gemini":
        from google import genai
        from google.genai import types

        google = genai.Client(api_key="bench-key", http_options=types.HttpOptions(base_url=url))

        async def ask(n: int) -> int:
            seen = 0
            stream = await google.aio.models.generate_content_stream(
                model=f"bench-{n}", contents="Write something long."
            )
            async for chunk in stream:
                if chunk.text:
                    seen += 1
            return seen

        async def close() -> None:
            await google.aio.aclose()

        return ask, close
    import ollama

    local = ollama.AsyncClient(host=url)

    async def ask(n: int) -> int:
        seen = 0
        async for part in await local.chat(model=f"bench-{n}", messages=messages, stream=True):
            if part.message.content:
                seen += 1
        return seen

    async def close() -> None:
        await local._client.aclose()

    return ask, close


async def _http(
    wire: str, url: str, *, raw: bool = False
) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    import httpx2

    client = httpx2.AsyncClient(base_url=url)
    path = {
        "openai": "/v1/chat/completions",
        "responses": "/v1/responses",
        "anthropic": "/v1/messages",
        "ollama": "/api/chat",
    }

    async def ask(n: int) -> int:
        where = path.get(wire) or f"/v1beta/models/bench-{n}:streamGenerateContent?alt=sse"
        async with client.stream("POST", where, json={"model": f"bench-{n}"}) as response:
            if raw:
                async for _ in response.aiter_raw():
                    pass
            else:  # the layer Baton's readers take the body from (``_sse._body``)
                async for _ in response.stream:
                    pass
        return n

    return ask, client.aclose


async def _raw(wire: str, url: str) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    return await _http(wire, url, raw=True)


async def _client(variant: str, wire: str, url: str) -> tuple[Ask, Callable[[], Awaitable[None]]]:
    return await {"baton": _baton, "sdk": _sdk, "http": _http, "raw": _raw}[variant](wire, url)


# ---------------------------------------------------------------------------------------------
# Wall mode: client CPU time per chunk
# ---------------------------------------------------------------------------------------------


async def _cpu_per_request(ask: Ask, n: int, repeats: int) -> list[float]:
    """µs of client CPU per request of ``n`` chunks, one figure per repetition (each
    repetition asks enough times to stream about 10,000 chunks; 500 times for one chunk)."""
    asks = 500 if n == 1 else max(1, 10_000 // n)
    assert await ask(n) == n, "the client saw a different number of chunks"  # warm-up
    figures = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(asks):
            await ask(n)
        figures.append((time.process_time() - start) / asks * 1e6)
    return figures


def _cell(figures: list[float], scale: float = 1.0) -> str:
    low, mid, high = min(figures) / scale, statistics.median(figures) / scale, max(figures) / scale
    return f"{mid:.1f} [{low:.1f}-{high:.1f}]"


async def _wall(
    url: str, formats: tuple[str, ...], variants: tuple[str, ...], repeats: int
) -> None:
    """Per wire and client: µs of client CPU per chunk at each size (the request's fixed cost
    spread over its chunks), then the two parts of that figure: the fixed cost of one request
    (a one-chunk request less one marginal chunk) and the marginal cost of one more chunk
    (between 1,000 and 10,000 chunks, where the fixed cost cancels)."""
    print(
        f"client CPU µs per streamed chunk, median [min-max] of {repeats}; target ≤ {TARGET_US}"
        "\nfixed = µs per request (setup, request, headers, end); marginal = µs per extra chunk"
    )
    print(
        f"{'wire':<11}{'client':<7}"
        + "".join(f"{n:>19,}" for n in SIZES)
        + f"{'fixed':>25}{'marginal':>19}"
    )
    for wire in formats:
        for variant in variants:
            ask, close = await _client(variant, wire, url)
            per_request = {n: await _cpu_per_request(ask, n, repeats) for n in (1, *SIZES)}
            await close()
            low, high = SIZES[-2], SIZES[-1]
            marginal = [
                (b - a) / (high - low)
                for a, b in zip(per_request[low], per_request[high], strict=True)
            ]
            fixed = [one - statistics.median(marginal) for one in per_request[1]]
            cells = [_cell(per_request[n], n) for n in SIZES] + [_cell(fixed), _cell(marginal)]
            print(f"{wire:<11}{variant:<7}" + "".join(f"{cell:>19}" for cell in cells[:-2])
                  + f"{cells[-2]:>25}{cells[-1]:>19}", flush=True)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Instructions mode (callgrind)
# ---------------------------------------------------------------------------------------------


async def _child(variant: str, wire: str, url: str, n: int, asks: int) -> None:
    ask, close = await _client(variant, wire, url)
    await ask(10)  # imports and first-request work, the same in every run
    for _ in range(asks):
        seen = await ask(n)
        assert seen == n, f"saw {seen} chunks, expected {n}"
    await close()


def _instructions(variant: str, wire: str, url: str, n: int, asks: int, folder: Path) -> int:
    out = folder / f"{variant}.{wire}.{n}.{asks}.out"
    args = [variant, wire, url, str(n), str(asks)]
    return instructions_of("benchmarks.provider_streams", args, out)


def _callgrind(
    url: str, formats: tuple[str, ...], variants: tuple[str, ...], small: int, large: int
) -> None:
    """Per wire and client, three runs: one request of ``small`` chunks, one of ``large``, two
    of ``small``. The first two give the marginal chunk, the first and third one whole
    request, which less its chunks is the fixed cost of a request."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions counts instructions with valgrind: install it first")
    print(
        f"instructions per streamed chunk (callgrind, ({large:,} - {small:,} chunks) / diff) "
        f"and per request (fixed: a request of {small:,} chunks less its chunks)"
    )
    print(
        f"{'wire':<11}"
        + "".join(f"{variant + ' chunk':>16}{variant + ' fixed':>16}" for variant in variants)
    )
    with tempfile.TemporaryDirectory() as folder:
        for wire in formats:
            cells = ""
            for variant in variants:
                low = _instructions(variant, wire, url, small, 1, Path(folder))
                high = _instructions(variant, wire, url, large, 1, Path(folder))
                twice = _instructions(variant, wire, url, small, 2, Path(folder))
                per_chunk = (high - low) / (large - small)
                fixed = twice - low - small * per_chunk
                cells += f"{per_chunk:>16,.0f}{fixed:>16,.0f}"
            print(f"{wire:<11}{cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", help="comma-separated wire formats: " + ",".join(FORMATS))
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument(
        "--variants",
        help="clients: http,raw,sdk,baton (all in wall mode, sdk,baton with --instructions)",
    )
    parser.add_argument("--small", type=int, default=500, help="chunks in the short run")
    parser.add_argument("--large", type=int, default=2500, help="chunks in the long run")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, wire, url, n, asks = args.child
        asyncio.run(_child(variant, wire, url, int(n), int(asks)))
        return
    formats = FORMATS
    if args.only:
        formats = tuple(name.strip() for name in args.only.split(","))
        unknown = set(formats) - set(FORMATS)
        if unknown:
            parser.error(f"unknown wire format(s): {', '.join(sorted(unknown))}")
    if args.variants and not set(args.variants.split(",")) <= set(VARIANTS):
        parser.error(f"--variants takes {', '.join(VARIANTS)}")
    with ServerProcess() as server:
        if args.instructions:
            variants = tuple(name.strip() for name in (args.variants or "sdk,baton").split(","))
            _callgrind(server.url, formats, variants, args.small, args.large)
        else:
            variants = tuple(
                name.strip() for name in (args.variants or ",".join(VARIANTS)).split(",")
            )
            asyncio.run(_wall(server.url, formats, variants, 3 if args.quick else 7))


if __name__ == "__main__":
    main()
