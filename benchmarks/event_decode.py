"""Decoding stored events: ``events.from_dict`` per event, and the JSON parse before it.

    python -m benchmarks.event_decode            # 1,000 and 10,000 events
    python -m benchmarks.event_decode --quick    # a smoke run

Target (issue 19, point 5): loading a stored conversation costs <= 3 us per event. The mix is
the SQL benchmark's realistic conversation (requests, responses with tool calls and usage, tool
results, usage reports, run start and end). Each figure is the median of several rounds, per
event: ``from_dict`` alone (dicts already parsed), the JSON parse alone (``json.loads`` and
``pydantic_core.from_json`` of the payloads joined into one array, as the Redis codec does), and
the floor: calling the same classes with the values taken out beforehand (nested records too).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass
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

        plans = [_plan(e) for e in events]
        assert [p() for p in plans] == events

        def rebuild(plans: list[Callable[[], Any]] = plans) -> object:
            return [p() for p in plans]

        rows = [
            ("from_dict", per_event_us(decode, n, rounds)),
            ("json.loads (joined)", per_event_us(lambda j=joined: json.loads(j), n, rounds)),
            ("pydantic_core.from_json", per_event_us(lambda j=joined: from_json(j), n, rounds)),
            ("floor: class calls alone", per_event_us(rebuild, n, rounds)),
        ]
        for label, us in rows:
            print(f"{n:>6} events  {label:<26} {us:6.2f} us/event  ({us * n / 1000:7.2f} ms)")
    return 0


def _plan(record: Any) -> Callable[[], Any]:
    """A function that calls the record's class with its values (nested records' classes
    called first), the values taken out beforehand: what building the events costs alone."""
    cls = type(record)
    parts: list[tuple[bool, Any]] = []
    for field in fields(record):
        value = getattr(record, field.name)
        if is_dataclass(value):
            parts.append((True, _plan(value)))
        elif type(value) is tuple and value and is_dataclass(value[0]):
            plans = [_plan(v) for v in value]
            parts.append((True, lambda plans=plans: tuple([p() for p in plans])))
        else:
            parts.append((False, value))
    if not any(nested for nested, _ in parts):
        values = [v for _, v in parts]
        return lambda: cls(*values)
    return lambda: cls(*[v() if nested else v for nested, v in parts])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
