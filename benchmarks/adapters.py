"""The provider adapters' own work per model call, without the SDK's HTTP or the network.

For each adapter: build the request for a conversation of N events (the conversion cache warm
from the previous call, one new tool round added: the steady state of a real conversation) and
parse a streamed answer of 20 text chunks from SDK objects made beforehand. Reported per call, at
N = 20 and N = 200: the target is ≤ 150 µs at 20 events and a flat cost as N grows (O(new events),
not O(all events)).

    python3 -m benchmarks.adapters [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from baton.events import Event, ModelRequest, ModelResponse, Text, ToolCall, ToolCallResult
from baton.history import HistoryView
from baton.models.base import ModelCall, ModelSettings
from baton.tools.tool import tool


@tool
async def lookup(city: str, days: int = 1) -> str:
    """Look up the weather.

    Args:
        city: The city.
        days: How many days ahead.
    """
    return city


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
        (lookup.spec,),
        None,
        ModelSettings(),
    )


def measure(fn: Callable[[], Any], seconds: float) -> float:
    """Median µs per call over 5 repetitions."""
    fn()
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 10:
        fn()
        count += 1
    reps = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(count):
            fn()
        reps.append((time.perf_counter_ns() - start) / count / 1000)
    return statistics.median(reps)


def bench_build(make_client: Callable[[], Any], events: int, seconds: float) -> float:
    """Steady state: each call sees the previous call's events plus one new round."""
    history = conversation(events + 2000)
    client = make_client()
    position = [events]

    def step() -> None:
        length = position[0]
        if length + 2 > len(history):
            client._cache.clear()
            length = events
        client.build_request(model_call(history, length))
        position[0] = length + 2

    return measure(step, seconds)


def openai_client() -> Any:
    from baton.providers.openai import OpenAIConfig

    return OpenAIConfig("gpt-bench", api_key="sk-bench", base_url="http://127.0.0.1:9/v1").client()


def openai_stream_parse(seconds: float) -> float:
    from openai.types.chat import ChatCompletionChunk

    client = openai_client()
    chunks = [
        ChatCompletionChunk.model_validate(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}],
            }
        )
        for i in range(20)
    ]

    async def stream() -> AsyncIterator[Any]:
        for item in chunks:
            yield item

    async def emit(event: Event) -> None:
        return None

    loop = asyncio.new_event_loop()
    try:
        return measure(
            lambda: loop.run_until_complete(client._from_stream(stream(), emit)), seconds
        )
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 0.3 if args.quick else 2.0
    rows = []
    build20 = bench_build(openai_client, 20, seconds)
    build200 = bench_build(openai_client, 200, seconds)
    parse = openai_stream_parse(seconds)
    rows.append(("openai chat", build20, build200, parse))
    print(
        f"{'adapter':<14}{'build @20':>12}{'build @200':>12}{'parse 20 chunks':>17}"
        f"{'total @20':>12}  target ≤ 150 µs, flat in N"
    )
    for name, b20, b200, p in rows:
        total = b20 + p
        verdict = "pass" if total <= 150 and b200 <= 1.5 * b20 else "FAIL"
        print(f"{name:<14}{b20:>10.1f}µs{b200:>10.1f}µs{p:>15.1f}µs{total:>10.1f}µs  {verdict}")


if __name__ == "__main__":
    main()
