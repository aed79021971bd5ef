"""Decoding stored events: ``events.from_dict`` per event, and the JSON parse before it.

    python -m benchmarks.event_decode            # 1,000 and 10,000 events
    python -m benchmarks.event_decode --quick    # a smoke run

Target (issue 19, point 5): loading a stored conversation costs <= 3 us per event. The mix is
the SQL benchmark's realistic conversation (requests, responses with tool calls and usage, tool
results, usage reports, run start and end). Each figure is the median of several rounds, per
event: ``from_dict`` alone (dicts already parsed), the JSON parse alone (``json.loads`` and
``pydantic_core.from_json`` of the payloads joined into one array, as the Redis codec does), and
the floor: building the same events by calling their classes directly.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from pydantic_core import from_json, to_json

from baton.events import from_dict, to_dict

from .sql_backends import conversation


def per_event_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n * 1e6


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    print(f"Python {sys.version.split()[0]}; target: <= 3 us per event loaded")
    for n in (1_000,) if quick else (1_000, 10_000):
        events = conversation(n)
        dicts = [to_dict(e) for e in events]
        joined = b"[" + b",".join(to_json(d) for d in dicts) + b"]"
        rounds = 5 if quick else 30
        assert [from_dict(d) for d in dicts] == events

        def decode(dicts: list[dict[str, Any]] = dicts) -> object:
            return [from_dict(d) for d in dicts]

        def rebuild(events: list[Any] = events) -> object:
            return [_rebuild(e) for e in events]

        rows = [
            ("from_dict", per_event_us(decode, n, rounds)),
            ("json.loads (joined)", per_event_us(lambda j=joined: json.loads(j), n, rounds)),
            ("pydantic_core.from_json", per_event_us(lambda j=joined: from_json(j), n, rounds)),
            ("floor: construct directly", per_event_us(rebuild, n, rounds)),
        ]
        for label, us in rows:
            print(f"{n:>6} events  {label:<26} {us:6.2f} us/event  ({us * n / 1000:7.2f} ms)")
    return 0


def _rebuild(event: Any) -> Any:
    """The event built again from its fields (nested records rebuilt too): the floor."""
    cls = type(event)
    values = []
    for field in fields(event):
        value = getattr(event, field.name)
        if hasattr(value, "__dataclass_fields__"):
            value = _rebuild(value)
        elif type(value) is tuple:
            value = tuple(_rebuild(v) if hasattr(v, "__dataclass_fields__") else v for v in value)
        values.append(value)
    return cls(*values)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
