"""What the built-in middleware costs when enabled but idle: scenario B of the core benchmarks
(one ask with one tool round, then text) with and without all of them.

    python -m benchmarks.middleware            # about half a minute
    python -m benchmarks.middleware --quick    # a smoke run

"Idle" means enabled with nothing to do: usage limits far above what the ask uses, a retry
policy with no failures, a rate limiter with huge budgets (it still estimates every call's
tokens), history limits far above the conversation's size (they still count its events and
tokens), and logging to a logger disabled for its level. Target (the issue): B with all of them
costs at most 1.5 x B without them. Extra rows show each built-in alone, and all of them with the
model behind a ``FallbackModel`` whose primary never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baton import Agent
from baton.middleware import (
    HistoryLimit,
    LoggingMiddleware,
    Middleware,
    RateLimiter,
    RetryMiddleware,
    UsageLimits,
)
from baton.models.fallback import FallbackModel
from baton.testing import ScriptedModel, call

from .core import (
    Config,
    Stats,
    Variant,
    add,
    asks,
    expect,
    forget,
    measure,
    metadata,
    ratios,
    results_of,
    scripted,
    sym,
)

TARGET = 1.5
HUGE = 10**12


def idle_middleware() -> dict[str, Middleware]:
    """Each built-in, configured so that it never acts on scenario B."""
    quiet = logging.getLogger("baton.bench.middleware")
    quiet.setLevel(logging.ERROR)  # LoggingMiddleware logs at INFO (failures at WARNING)
    return {  # in the order middleware/__init__.py recommends, outermost first
        "usage limits": UsageLimits(
            requests=HUGE,
            tool_calls=HUGE,
            input_tokens=HUGE,
            output_tokens=HUGE,
            total_tokens=HUGE,
            cost=float(HUGE),
        ),
        "retry": RetryMiddleware(),
        "logging": LoggingMiddleware(quiet),
        "history limit": HistoryLimit(max_events=HUGE, max_tokens=HUGE),
        "rate limiter": RateLimiter(requests_per_minute=HUGE, tokens_per_minute=HUGE),
    }


def b_agent(middleware: Sequence[Middleware], fallback: bool = False) -> tuple[Agent, Any]:
    model = scripted(call("add", a=1, b=2), "3")
    config: Any = model
    if fallback:
        config = FallbackModel(model, ScriptedModel("unused", repeat=True, record=False))
    return Agent("bench", config=config, tools=[add], middleware=list(middleware)), model


async def check(agent: Agent) -> None:
    reply = await agent.ask("hi")
    results = results_of(reply)
    expect(
        reply.text == "3" and len(results) == 1 and results[0].content == "3",
        f"B: expected one add() round then '3', got {reply!r} with results {results!r}",
    )


async def run(cfg: Config) -> dict[str, Stats]:
    builtins = idle_middleware()
    variants: list[Variant] = []
    setups: list[tuple[str, Sequence[Middleware], bool]] = [
        ("B", (), False),
        ("B + all built-ins", tuple(builtins.values()), False),
        *((f"B + {name}", (mw,), False) for name, mw in builtins.items()),
        ("B + all + FallbackModel", tuple(builtins.values()), True),
    ]
    for name, middleware, fallback in setups:
        agent, model = b_agent(middleware, fallback)
        await check(agent)
        variants.append(Variant(name, asks(agent), 1, forget(model)))
    samples = await measure(variants, cfg)
    stats = {name: Stats.of(values) for name, values in samples.items()}
    stats["ratio"] = ratios(samples["B + all built-ins"], samples["B"])
    return stats


def report(stats: dict[str, Stats], cfg: Config) -> bool:
    meta = metadata()
    print(
        sym(
            f"Baton middleware benchmark: scenario B, built-ins enabled but idle\n"
            f"Python {meta['python']} ({meta['platform']}), git {meta['git']}; {cfg.reps} "
            f"repetitions of ~{cfg.rep_time:g} s per variant, interleaved; median (min–max)"
        )
    )
    base = stats["B"].median
    width = max(len(name) for name in stats)
    for name, s in stats.items():
        if name == "ratio":
            continue
        print(
            sym(
                f"  {name:<{width}}  {s.median:8.1f} µs/ask  ({s.low:.1f}–{s.high:.1f})  "
                f"×{s.median / base:.2f} of B"
            )
        )
    ratio = stats["ratio"]
    met = ratio.median <= TARGET
    print(
        sym(
            f"  all built-ins / none (per-repetition ratio): {ratio.median:.2f} "
            f"({ratio.low:.2f}–{ratio.high:.2f}); target ≤ {TARGET}: "
            f"{'pass' if met else 'FAIL'}"
        )
    )
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.middleware",
        description="Scenario B with and without every built-in middleware enabled but idle.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: few, short reps")
    parser.add_argument("--reps", type=int, help="repetitions per variant (default 7, quick 3)")
    parser.add_argument("--rep-time", type=float, metavar="S", help="seconds per repetition")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    cfg = Config(
        reps=max(1, args.reps or (3 if args.quick else 7)),
        rep_time=args.rep_time or (0.03 if args.quick else 0.3),
        mem_reps=0,
    )
    gc.collect()
    stats = asyncio.run(run(cfg))
    met = report(stats, cfg)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "meta": metadata(),
            "config": vars(cfg),
            "target": TARGET,
            "rows": {
                name: {"median": s.median, "min": s.low, "max": s.high, "samples": s.samples}
                for name, s in stats.items()
            },
        }
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"results written to {args.json}", file=sys.stderr)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
