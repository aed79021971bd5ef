"""One repetition of every scenario for one framework, in this process; JSON on stdout.

    python -m benchmarks.peers.worker baton --rep-time 0.3
    python -m benchmarks.peers.worker langgraph --memory     # D's heap per conversation instead
    python -m benchmarks.peers.worker ag2 --check            # only check the scenarios, untimed

``benchmarks.peers.run`` starts one of these per framework and repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
import warnings
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from benchmarks.peers._harness import SCENARIOS, Framework, memory, prepare, time_all

FRAMEWORKS = {
    "baton": "benchmarks.peers.baton_impl",
    "floor": "benchmarks.peers.floor_impl",
    "ag2": "benchmarks.peers.ag2_impl",
    "pydantic-ai": "benchmarks.peers.pydantic_ai_impl",
    "openai-agents": "benchmarks.peers.openai_agents_impl",
    "langgraph": "benchmarks.peers.langgraph_impl",
}


def load(name: str) -> Framework:
    framework: Framework = importlib.import_module(FRAMEWORKS[name]).FRAMEWORK
    return framework


def versions(framework: Framework) -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in framework.distributions:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


async def check(framework: Framework, keys: Sequence[str]) -> dict[str, str]:
    from benchmarks.peers._harness import NotApplicable

    verdicts: dict[str, str] = {}
    for key in keys:
        try:
            await prepare(framework, key)
            verdicts[key] = "ok"
        except NotApplicable as exc:
            verdicts[key] = f"n/a: {exc}"
        except Exception as exc:
            verdicts[key] = f"FAILED: {type(exc).__name__}: {exc}"
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.worker")
    parser.add_argument("framework", choices=sorted(FRAMEWORKS))
    parser.add_argument("--keys", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument("--rep-time", type=float, default=0.3, metavar="S")
    parser.add_argument("--memory", action="store_true", help="measure D's heap instead")
    parser.add_argument("--check", action="store_true", help="only check each scenario")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # deprecation notices of the peers' own APIs
    keys = [k for k in args.keys.split(",") if k]
    start = time.perf_counter()
    framework = load(args.framework)
    out: dict[str, Any] = {
        "framework": framework.name,
        "versions": versions(framework),
        "notes": list(framework.notes),
    }
    if args.check:
        out["check"] = asyncio.run(check(framework, keys))
    elif args.memory:
        out["memory"] = asyncio.run(memory(framework))
    else:
        measured = asyncio.run(time_all(framework, keys, args.rep_time))
        out.update(vars(measured))
    out["seconds"] = time.perf_counter() - start
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
