"""The provider adapters' own work per model call, without the SDK's HTTP or the network.

For each adapter: ``build_request`` for a conversation of N events (the conversion cache warm
from the previous call, one new tool round added: the steady state of a real conversation;
each timed call is at exactly N + 2 events, the cache reset and refilled untimed before it),
and the reading of a streamed answer of 20 text chunks, with the framing events the API sends
around them (start, finish, usage): each event's JSON text, made beforehand, handed to the
adapter's stream reader (``take``: the JSON decoded into plain objects and read, as Baton reads
the body of every provider's stream, see ``baton/providers/_sse.py``), the pieces it returns
emitted, timed inside the event loop. Reported per call, at
N = 20 and N = 200: the target is ≤ 150 µs at 20 events (build + parse) and a flat cost as N
grows (build @200 ≤ 1.5 x build @20: O(new events), not O(all events)). What the SDKs then do
with the request (their own transformation and serialisation of the whole conversation, HTTP)
is not measured.

Clients are made offline (fake keys, ``base_url`` on 127.0.0.1:9, Vertex with a ready OAuth
token) and the socket layer refuses any connection or name lookup while the benchmark runs.
Adapters over target are profiled with cProfile (``--profile`` profiles all of them).

    python3 -m benchmarks.adapters [--quick] [--profile] [--only gemini,vertex]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import socket
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from pydantic_core import to_json

from baton.events import (
    Event,
    ModelRequest,
    ModelResponse,
    Text,
    TextChunk,
    ToolCall,
    ToolCallResult,
)
from baton.history import HistoryView
from baton.models.base import EmitChunk, ModelCall, ModelSettings
from baton.providers._sse import Take
from baton.tools.tool import tool

OFFLINE_URL = "http://127.0.0.1:9"
PIECES = [f"tok{i} " for i in range(20)]
TARGET_TOTAL_US = 150.0
TARGET_GROWTH = 1.5


@tool
async def lookup(city: str, days: int = 1) -> str:
    """Look up the weather.

    Args:
        city: The city.
        days: How many days ahead.
    """
    return city


# One tuple and one settings object for every call, as an agent passes them (adapters may cache
# what they derive from the tools by identity).
TOOLS = (lookup.spec,)
SETTINGS = ModelSettings()


def conversation(events: int) -> list[Event]:
    history: list[Event] = [ModelRequest((Text("What's the weather like in Lisbon and Oslo?"),))]
    n = 0
    while len(history) < events:
        n += 1
        call = ToolCall(f"call_{n}", "lookup", '{"city": "Lisbon", "days": 2}')
        history.append(ModelResponse("Checking.", (call,)))
        history.append(ToolCallResult(call.id, "lookup", "sunny, 21 degrees, light wind" * 3))
    return history[:events]


def model_call(history: list[Event], length: int) -> ModelCall:
    return ModelCall(
        "bench",
        "conversation-1",
        "run-1",
        "You are a weather assistant.",
        HistoryView(history, length),
        TOOLS,
        None,
        SETTINGS,
    )


# ---------------------------------------------------------------------------------------------
# Clients, made offline
# ---------------------------------------------------------------------------------------------


def openai_chat_client() -> Any:
    from baton.providers.openai import OpenAIConfig

    return OpenAIConfig("gpt-bench", api_key="sk-bench", base_url=f"{OFFLINE_URL}/v1").client()


def openai_responses_client() -> Any:
    from baton.providers.openai_responses import OpenAIResponsesConfig

    config = OpenAIResponsesConfig("gpt-bench", api_key="sk-bench", base_url=f"{OFFLINE_URL}/v1")
    return config.client()


def anthropic_client() -> Any:
    from baton.providers.anthropic import AnthropicConfig

    return AnthropicConfig("claude-bench", api_key="sk-ant-bench", base_url=OFFLINE_URL).client()


def gemini_client() -> Any:
    from baton.providers.gemini import GeminiConfig

    return GeminiConfig("gemini-bench", api_key="bench-key", base_url=OFFLINE_URL).client()


def vertex_client() -> Any:
    from google.oauth2.credentials import Credentials

    from baton.providers.vertex import VertexConfig

    # As in tests/providers/test_vertex.py: a token already held, so nothing is fetched.
    return VertexConfig(
        "gemini-bench",
        base_url=OFFLINE_URL,
        project="proj-bench",
        location="europe-west4",
        credentials=Credentials(token="bench-token"),
    ).client()


def ollama_client() -> Any:
    from baton.providers.ollama import OllamaConfig

    return OllamaConfig("llama-bench", base_url=OFFLINE_URL).client()


def dashscope_client() -> Any:
    from baton.providers.dashscope import DashScopeConfig

    return DashScopeConfig("qwen-bench", api_key="sk-bench", base_url=OFFLINE_URL).client()


# ---------------------------------------------------------------------------------------------
# Streamed answers: what each adapter parses for 20 text pieces: the wire JSON as the APIs send
# it, decoded into plain objects (OpenAI, Anthropic, Ollama: Baton reads their streams itself,
# see baton/providers/_sse.py) or turned into the SDK's types the way the SDK does (Gemini)
# ---------------------------------------------------------------------------------------------


def openai_chat_stream() -> list[Any]:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        head = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-bench"}
        return {**head, "choices": choices, **extra}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "finish_reason": finish}

    usage = {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}
    wire = [
        *(chunk([choice({"content": p})]) for p in PIECES),
        chunk([choice({}, "stop")]),
        chunk([], usage=usage),  # stream_options={"include_usage": True}
    ]
    return wire


def openai_responses_stream() -> list[Any]:
    def response(status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        usage = {
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 140,
        }
        return {
            "id": "resp_1",
            "object": "response",
            "created_at": 0,
            "model": "gpt-bench",
            "status": status,
            "output": output,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "top_p": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage if status == "completed" else None,
        }

    def message(text: str, state: str) -> dict[str, Any]:
        content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
        status = "completed" if state == "done" else "in_progress"
        return {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": status,
            "content": content,
        }

    text = "".join(PIECES)
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    wire: list[dict[str, Any]] = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.in_progress", "response": response("in_progress", [])},
        {"type": "response.output_item.added", "output_index": 0, "item": message("", "")},
        {"type": "response.content_part.added", **where, "part": part},
        *(
            {"type": "response.output_text.delta", **where, "delta": p, "logprobs": []}
            for p in PIECES
        ),
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": message(text, "done")},
        {"type": "response.completed", "response": response("completed", [message(text, "done")])},
    ]
    return [{**e, "sequence_number": n} for n, e in enumerate(wire)]


def anthropic_stream() -> list[Any]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 1},
    }
    wire: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in PIECES
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 20},
        },
        {"type": "message_stop"},
    ]
    return wire


def gemini_stream() -> list[Any]:
    def chunk(text: str, last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
        if last:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 120, "candidatesTokenCount": 20, "totalTokenCount": 140}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-bench"}

    return [chunk(p, i == len(PIECES) - 1) for i, p in enumerate(PIECES)]


def ollama_stream() -> list[Any]:
    # The adapter reads /api/chat's newline-delimited JSON as plain dicts.
    head = {"model": "llama-bench", "created_at": "2025-01-01T00:00:00Z"}
    return [
        *({**head, "message": {"role": "assistant", "content": p}, "done": False} for p in PIECES),
        {
            **head,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 120,
            "eval_count": 20,
        },
    ]


# ---------------------------------------------------------------------------------------------
# How an adapter's stream parsing is driven
# ---------------------------------------------------------------------------------------------

# Given the client: a new stream reader's ``take`` and what makes the answer once it has read all.
Reader = Callable[[Any], tuple[Take, Callable[[], ModelResponse]]]
# Given the client and the prepared stream items: something that parses them once.
Parse = Callable[[Any, list[Any]], Callable[[EmitChunk], Awaitable[ModelResponse]]]


def chat_reader(client: Any) -> tuple[Take, Callable[[], ModelResponse]]:
    from baton.providers.openai import ChatStream

    stream = ChatStream(client.config.provider_name)
    return stream.take, lambda: stream.response(client.config)


def responses_reader(client: Any) -> tuple[Take, Callable[[], ModelResponse]]:
    from baton.providers._responses_answers import StreamedResponse, response_from

    config = client.config
    stream = StreamedResponse(config.provider_name)
    return stream.take, lambda: response_from(
        stream.final, stream, config.provider_name, config.priced
    )


def anthropic_reader(client: Any) -> tuple[Take, Callable[[], ModelResponse]]:
    from baton.providers._anthropic_answers import AnthropicStream

    stream = AnthropicStream(client.config.provider_name)
    return stream.take, lambda: stream.response(client.config)


def gemini_reader(client: Any) -> tuple[Take, Callable[[], ModelResponse]]:
    from baton.providers._gemini_answers import GeminiAnswer

    answer = GeminiAnswer("call_1_", client.config.provider_name)
    return answer.take, lambda: answer.response(client.config)


def ollama_reader(client: Any) -> tuple[Take, Callable[[], ModelResponse]]:
    from baton.providers.ollama import _OllamaStream

    stream = _OllamaStream(client.config.provider_name, client._tool_call)
    return stream.take, lambda: client._response(
        "".join(stream.text), "".join(stream.thoughts), stream.calls, stream.final
    )


def via_reader(reader: Reader, named: bool = False) -> Parse:
    """Each item's JSON text (an SSE event named by its ``type`` with ``named``) handed to a new
    reader's ``take``, what it returns emitted: what ``read_events`` does per event."""

    def parse(client: Any, items: list[Any]) -> Callable[[EmitChunk], Awaitable[ModelResponse]]:
        frames = [(item["type"].encode() if named else None, to_json(item)) for item in items]

        async def run(emit: EmitChunk) -> ModelResponse:
            take, finish = reader(client)
            for name, data in frames:
                for piece in take(name, data) or ():
                    await emit(piece)
            return finish()

        return run

    return parse


@dataclass(frozen=True)
class Adapter:
    name: str
    client: Callable[[], Any]
    stream: Callable[[], list[Any]]
    parse: Parse
    note: str = ""


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("openai chat", openai_chat_client, openai_chat_stream, via_reader(chat_reader)),
    Adapter(
        "openai responses",
        openai_responses_client,
        openai_responses_stream,
        via_reader(responses_reader, named=True),
    ),
    Adapter("anthropic", anthropic_client, anthropic_stream, via_reader(anthropic_reader, True)),
    Adapter("gemini", gemini_client, gemini_stream, via_reader(gemini_reader)),
    Adapter("vertex", vertex_client, gemini_stream, via_reader(gemini_reader)),
    Adapter("ollama", ollama_client, ollama_stream, via_reader(ollama_reader)),
    Adapter(
        "dashscope",
        dashscope_client,
        openai_chat_stream,
        via_reader(chat_reader),
        "parse: OpenAI chat's",
    ),
)


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------


@contextmanager
def offline() -> Iterator[None]:
    """Any attempt to connect or resolve a name fails loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the adapter benchmark tried to use the network")

    with (
        mock.patch.object(socket.socket, "connect", refuse),
        mock.patch.object(socket.socket, "connect_ex", refuse),
        mock.patch.object(socket, "getaddrinfo", refuse),
        mock.patch.object(socket, "create_connection", refuse),
    ):
        yield


class Clock:
    """Times the measured part of a sample (``with clock: ...``), less the clock's own cost;
    with a profiler, profiles that part only."""

    def __init__(self, profiler: cProfile.Profile | None = None) -> None:
        self.profiler: cProfile.Profile | None = None
        self.start = self.elapsed = self.overhead = 0
        empty = []
        for _ in range(1000):
            with self:
                pass
            empty.append(self.elapsed)
        self.overhead = statistics.median_low(empty)
        self.profiler = profiler

    def __enter__(self) -> None:
        if self.profiler is not None:
            self.profiler.enable()
        self.start = time.perf_counter_ns()

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter_ns() - self.start - self.overhead
        if self.profiler is not None:
            self.profiler.disable()


# One call of the measured work, after whatever untimed setup it needs: its ns.
Sample = Callable[[], int]


def build_sample(client: Any, events: int, clock: Clock) -> Sample:
    """Steady state at N events: the cache holds the conversation's first N events (converted
    by the previous call, untimed), and the timed call adds one tool round (2 events). The
    cache is emptied before each sample, so every timed call is at exactly N + 2 events and
    only one conversation is ever held."""
    history = conversation(events + 2)
    previous = model_call(history, events)
    call = model_call(history, events + 2)

    def sample() -> int:
        client._cache.clear()
        client.build_request(previous)
        with clock:
            client.build_request(call)
        return clock.elapsed

    return sample


def parse_sample(
    adapter: Adapter, client: Any, loop: asyncio.AbstractEventLoop, clock: Clock
) -> Sample:
    """Parse the prepared answer, timed inside the event loop (the loop's own cost of starting
    a run is not the adapter's), after checking once that it comes out right."""
    parse = adapter.parse(client, adapter.stream())
    chunks: list[Event] = []

    async def collect(event: Event) -> None:
        chunks.append(event)

    async def ignore(event: Event) -> None:
        return None

    response = loop.run_until_complete(parse(collect))
    expected = "".join(PIECES)
    streamed = "".join(c.text for c in chunks if isinstance(c, TextChunk))
    if response.text != expected or streamed != expected or len(chunks) != len(PIECES):
        raise AssertionError(f"{adapter.name}: parsed {response.text!r} from {len(chunks)} chunks")

    async def timed() -> int:
        with clock:
            await parse(ignore)
        return clock.elapsed

    return lambda: loop.run_until_complete(timed())


def measure(sample: Sample, seconds: float) -> float:
    """µs per call: the mean of the samples taken in about ``seconds / 5`` of wall time (their
    untimed setup counts toward it; at least 20 samples), the lowest of 5 such repetitions: the
    one least disturbed by other processes (a time slice lost inside a timed call of a few µs
    would otherwise dominate the mean)."""
    for _ in range(20):
        sample()  # warm-up: lazy imports, first-use caches
    reps = []
    for _ in range(5):
        total = count = 0
        end = time.perf_counter() + seconds / 5
        while count < 20 or time.perf_counter() < end:
            total += sample()
            count += 1
        reps.append(total / count / 1000)
    return min(reps)


@contextmanager
def new_client(adapter: Adapter, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    client = adapter.client()
    try:
        yield client
    finally:
        loop.run_until_complete(client.aclose())


@dataclass
class Row:
    adapter: Adapter
    items: int
    build20: float
    build200: float
    parse: float

    @property
    def total(self) -> float:
        return self.build20 + self.parse

    @property
    def growth(self) -> float:
        return self.build200 / self.build20

    @property
    def passed(self) -> bool:
        return self.total <= TARGET_TOTAL_US and self.growth <= TARGET_GROWTH


def bench(adapter: Adapter, loop: asyncio.AbstractEventLoop, seconds: float) -> Row:
    clock = Clock()
    with new_client(adapter, loop) as client:
        build20 = measure(build_sample(client, 20, clock), seconds)
    with new_client(adapter, loop) as client:
        build200 = measure(build_sample(client, 200, clock), seconds)
    with new_client(adapter, loop) as client:
        parse = measure(parse_sample(adapter, client, loop, clock), seconds)
    return Row(adapter, len(adapter.stream()), build20, build200, parse)


def profile(adapter: Adapter, loop: asyncio.AbstractEventLoop, top: int) -> None:
    """cProfile of the timed part of build @20 and of parse: the top functions by own time."""
    work: tuple[tuple[str, int, Callable[[Any, Clock], Sample]], ...] = (
        ("build @20", 5000, lambda client, clock: build_sample(client, 20, clock)),
        ("parse", 2000, lambda client, clock: parse_sample(adapter, client, loop, clock)),
    )
    for what, samples, make_sample in work:
        profiler = cProfile.Profile()
        with new_client(adapter, loop) as client:
            sample = make_sample(client, Clock(profiler))
            for _ in range(samples):
                sample()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        body = out.getvalue()
        body = body[body.find("   ncalls") :] if "   ncalls" in body else body
        print(f"\n--- cProfile {adapter.name}, {what}: {samples} calls, top {top} by own time")
        print(body.rstrip())


def print_table(rows: list[Row]) -> None:
    print(
        f"{'adapter':<18}{'build @20':>11}{'build @200':>12}{'x':>6}{'parse 20 chunks':>17}"
        f"{'total @20':>11}  {'verdict':<8}notes"
    )
    for r in rows:
        verdict = "pass" if r.passed else "FAIL"
        parse = f"{r.parse:.1f}µs ({r.items})"
        print(
            f"{r.adapter.name:<18}{r.build20:>9.1f}µs{r.build200:>10.1f}µs{r.growth:>6.2f}"
            f"{parse:>17}{r.total:>9.1f}µs  {verdict:<8}{r.adapter.note}"
        )
    print(
        f"target: total @20 ≤ {TARGET_TOTAL_US:.0f} µs and build @200 ≤ {TARGET_GROWTH} x "
        "build @20 (column x); (n) = stream items parsed: 20 text + the API's framing"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a few seconds)")
    parser.add_argument("--profile", action="store_true", help="profile every adapter")
    parser.add_argument("--only", help="comma-separated adapter names")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else 2.0
    adapters = ADAPTERS
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {a.name for a in ADAPTERS}
        if unknown:
            parser.error(f"unknown adapter(s): {', '.join(sorted(unknown))}")
        adapters = tuple(a for a in ADAPTERS if a.name in wanted)
    loop = asyncio.new_event_loop()
    try:
        with offline():
            rows = [bench(adapter, loop, seconds) for adapter in adapters]
            print_table(rows)
            for row in rows:
                if args.profile or not row.passed:
                    profile(row.adapter, loop, top=15)
    finally:
        loop.close()


if __name__ == "__main__":
    main()
