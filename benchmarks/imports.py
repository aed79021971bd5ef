"""What ``import baton`` costs a fresh process (the ``baton`` command pays it on every run), next
to the floor: the standard library and pydantic-core modules the core is written on
(``asyncio``, ``dataclasses``, ``json``, ``logging``, ``pydantic_core``...), imported alone.

    python -m benchmarks.imports            # 15 fresh interpreters per variant
    python -m benchmarks.imports --quick    # 5 each

Each sample is one new interpreter (bytecode caches written by a first, untimed run) timing its
own import with ``perf_counter``; the variants alternate, so drift on a shared machine hits them
alike. The table shows the best and the median of the samples (the best is the least disturbed
by other processes), and how many modules each import leaves in ``sys.modules``. The last line
lists the slowest of Baton's own modules (self time, from ``-X importtime``, best of 5 runs).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

FLOOR = (
    "import asyncio, contextvars, dataclasses, json, logging, queue, threading, "
    "typing_extensions, pydantic_core"
)
VARIANTS = {"import baton": "import baton", "floor (stdlib + pydantic_core)": FLOOR}
PROGRAM = (
    "import sys, time\n"
    "start = time.perf_counter()\n"
    "{statement}\n"
    "print((time.perf_counter() - start) * 1000, len(sys.modules))\n"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time the import as installed: from bytecode
    return env


def sample(statement: str) -> tuple[float, int]:
    """One fresh interpreter's import of ``statement``: milliseconds and modules loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    ms, modules = done.stdout.split()
    return float(ms), int(modules)


def slowest_modules(count: int = 5, runs: int = 5) -> list[tuple[str, float]]:
    """Baton's modules with the largest self time under ``-X importtime`` (best of ``runs``)."""
    best: dict[str, float] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import baton"],
            capture_output=True,
            text=True,
            check=True,
            env=_env(),
        )
        for line in done.stderr.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(baton\S*)", line)
            if found:
                ms = int(found[1]) / 1000
                best[found[2]] = min(ms, best.get(found[2], ms))
    return sorted(best.items(), key=lambda item: -item[1])[:count]


def main(argv: list[str]) -> int:
    samples = 5 if "--quick" in argv else 15
    for statement in VARIANTS.values():
        sample(statement)  # writes the bytecode caches; not timed
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    modules: dict[str, int] = {}
    for _ in range(samples):
        for name, statement in VARIANTS.items():
            ms, modules[name] = sample(statement)
            times[name].append(ms)
    print(f"Python {sys.version.split()[0]}; {samples} fresh interpreters per variant")
    print(f"{'':32} {'best ms':>8} {'median ms':>10} {'modules':>8}")
    for name in VARIANTS:
        best, median = min(times[name]), statistics.median(times[name])
        print(f"{name:32} {best:8.1f} {median:10.1f} {modules[name]:8d}")
    slowest = ", ".join(f"{name} {ms:.1f}" for name, ms in slowest_modules())
    print(f"slowest of Baton's own modules (self ms): {slowest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
