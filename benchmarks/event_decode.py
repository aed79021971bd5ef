"""Decoding stored events: ``events.events_from_json`` (the one-pass decoder the loads use),
``events.from_dict`` per event, and the JSON parse they start from.

    python -m benchmarks.event_decode            # 1,000 and 10,000 events
    python -m benchmarks.event_decode --quick    # a smoke run

Target (issue 19, point 5): loading a stored conversation costs <= 3 us per event. The mix is
the SQL benchmark's realistic conversation (requests, responses with tool calls and usage, tool
results, usage reports, run start and end). Each figure is the median CPU time
(``process_time``: steadier than the wall clock on a shared machine) of several rounds, per
event: ``events_from_json`` of the payloads joined into one array and in pieces of
``JSON_PIECE`` events (parse and build; a load decodes in pieces), ``events_from_rows`` of the
payloads one by one with their type names (what SQL loads use; with msgspec installed, each
decoded straight into its class, else joined and given to ``events_from_json``),
``from_dict`` alone (dicts
already parsed: the fallback of a load, and what loads did before), the JSON parse alone
(``json.loads`` and ``pydantic_core.from_json`` of the same array: the floor of a load), and
calling the same classes with the values taken out beforehand
(nested records too: what building the events through their ``__init__`` costs alone).
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

from baton.codec_rows import events_from_rows, fast
from baton.events import JSON_PIECE, events_from_json, from_dict, to_dict

from .sql_backends import conversation


def per_event_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
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

        assert events_from_json(joined) == events
        payloads = [to_json(d) for d in dicts]
        pieces = [
            b"[" + b",".join(payloads[i : i + JSON_PIECE]) + b"]" for i in range(0, n, JSON_PIECE)
        ]
        assert events_from_json(pieces) == events
        names = [type(e).__name__ for e in events]
        assert events_from_rows(names, payloads) == events
        by_rows = "events_from_rows (msgspec)" if fast() else "events_from_rows (no msgspec)"
        rows = [
            ("events_from_json", per_event_us(lambda j=joined: events_from_json(j), n, rounds)),
            ("  in pieces (loads)", per_event_us(lambda p=pieces: events_from_json(p), n, rounds)),
            (by_rows, per_event_us(lambda t=names, p=payloads: events_from_rows(t, p), n, rounds)),
            ("from_dict", per_event_us(decode, n, rounds)),
            ("json.loads (joined)", per_event_us(lambda j=joined: json.loads(j), n, rounds)),
            ("pydantic_core.from_json", per_event_us(lambda j=joined: from_json(j), n, rounds)),
            ("class calls alone", per_event_us(rebuild, n, rounds)),
        ]
        for label, us in rows:
            print(f"{n:>6} events  {label:<29} {us:6.2f} us/event  ({us * n / 1000:7.2f} ms)")
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
