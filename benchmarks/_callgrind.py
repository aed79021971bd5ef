"""Counting a child run's CPU instructions with callgrind, for the benchmarks' ``--instructions``
modes: counts do not depend on what else the machine runs, so they compare across runs and days
where wall-clock figures can't."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

__all__ = ["instructions_of"]


def instructions_of(module: str, args: list[str], out: Path) -> int:
    """The instructions ``python -m module --child *args`` runs under ``valgrind
    --tool=callgrind`` (its profile written to ``out``)."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            module,
            "--child",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))
