"""Sandboxed code execution: what one run costs next to a bare subprocess doing the same work.

    .venv/bin/python -m benchmarks.builtins            # about a minute
    .venv/bin/python -m benchmarks.builtins --quick    # a smoke run

Every variant runs the same program with the system's ``python3`` (or ``/bin/sh``), output
captured, and waits for it to end:

- ``subprocess`` (the floor): ``asyncio.create_subprocess_exec`` of the program, nothing else;
- ``bwrap, bare``: the exact ``prlimit`` + ``bwrap`` command line Baton builds, spawned the same
  bare way (what the kernel and bubblewrap cost, without Baton's supervision);
- ``Bubblewrap, new workspace``: ``open()`` + ``run_code()`` + ``close()`` through Baton (a
  fresh uid and scratch directory, the run, the sweep, the removal): one non-session call;
- ``Bubblewrap, session``: ``run_code()`` in a workspace kept open: one session-mode call;
- ``UnsafeSubprocess, new workspace``: the limits-only backend, same steps.

The curve: the program prints 0 B, 64 KB and 1 MB (Baton keeps ``output_kb``, reads and drops
the rest), and a session call with 0, 100 and 1,000 files already in the scratch directory (the
files-written listing walks it before and after). Cells are ms per run: median (min-max) over
repetitions, each repetition the variants in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from baton.tools.builtins import Bubblewrap, Limits, UnsafeSubprocess, Workspace

PYTHON = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"
LIMITS = Limits(wall_seconds=60, output_kb=64)
PROGRAMS = {
    "python, prints 0 B": ("python", "pass"),
    "python, prints 64 KB": ("python", "import sys; sys.stdout.write('x' * 65536)"),
    "python, prints 1 MB": ("python", "import sys; sys.stdout.write('x' * 1048576)"),
    "sh, true": ("shell", ":"),
}


async def bare(argv: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await process.communicate()


def interpreter(language: str) -> list[str]:
    return [PYTHON, "-u"] if language == "python" else ["/bin/sh"]


async def measure(run: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    await run()  # warm up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def cell(times: list[float]) -> str:
    return f"{statistics.median(times):7.1f} ({min(times):.1f}-{max(times):.1f})"


async def program_rows(repeats: int, has_bwrap: bool) -> dict[str, dict[str, list[float]]]:
    rows: dict[str, dict[str, list[float]]] = {}
    sandbox = Bubblewrap(python=PYTHON)
    unsafe = UnsafeSubprocess(python=PYTHON)
    session = await sandbox.open(LIMITS) if has_bwrap else None
    try:
        for label, (language, code) in PROGRAMS.items():
            floor_dir = await unsafe.open(LIMITS)  # a place for the floor's program file
            filename = "main.py" if language == "python" else "main.sh"
            floor_program = floor_dir.base / "program" / filename
            floor_program.write_text(code)
            variants: dict[str, Callable[[], Awaitable[Any]]] = {
                "subprocess": lambda p=floor_program, lang=language: bare(  # type: ignore[misc]
                    [*interpreter(lang), str(p)]
                ),
            }
            if session is not None:
                (session.base / "program" / filename).write_text(code)
                (session.base / "program" / filename).chmod(0o644)
                inside = sandbox.program_path(session, filename)
                argv = [*interpreter(language), inside]

                async def bwrap_bare(argv: list[str] = argv) -> None:
                    # Built per call: the process limit counts what the uid already has.
                    command, _ = sandbox.command(session, argv)  # type: ignore[arg-type]
                    uid = session.uid  # type: ignore[union-attr]
                    process = await asyncio.create_subprocess_exec(
                        *command,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.PIPE,
                        cwd=str(session.base),  # type: ignore[union-attr]
                        **({"user": uid, "group": uid, "extra_groups": []} if uid else {}),
                    )
                    sandbox.spawned(session)  # type: ignore[arg-type]
                    await process.communicate()
                    await sandbox.after_run(session)  # type: ignore[arg-type]

                async def new_workspace(lang: str = language, code: str = code) -> None:
                    async with await sandbox.open(LIMITS) as workspace:
                        await workspace.run_code(code, lang)

                variants["bwrap, bare"] = bwrap_bare
                variants["Bubblewrap, new workspace"] = new_workspace
                variants["Bubblewrap, session"] = (
                    lambda lang=language, code=code: session.run_code(code, lang)  # type: ignore[misc]
                )

            async def unsafe_run(lang: str = language, code: str = code) -> None:
                async with await unsafe.open(LIMITS) as workspace:
                    await workspace.run_code(code, lang)

            variants["UnsafeSubprocess, new workspace"] = unsafe_run
            results: dict[str, list[float]] = {name: [] for name in variants}
            for run in variants.values():
                await run()  # warm up
            for _ in range(repeats):
                for name, run in variants.items():
                    started = time.perf_counter()
                    await run()
                    results[name].append((time.perf_counter() - started) * 1000)
            rows[label] = results
            await floor_dir.close()
    finally:
        if session is not None:
            await session.close()
    return rows


async def file_rows(repeats: int) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    sandbox = Bubblewrap(python=PYTHON)
    for count in (0, 100, 1000):
        async with await sandbox.open(LIMITS) as workspace:
            await fill(workspace, count)
            rows[f"{count} files in scratch"] = await measure(
                lambda w=workspace: w.run_code("pass"), repeats
            )
    return rows


async def fill(workspace: Workspace, count: int) -> None:
    if count:
        await workspace.run_code(
            f"import os\nos.makedirs('d', exist_ok=True)\n"
            f"for i in range({count}):\n    open(f'd/{{i}}.txt', 'w').write('x')\n"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions, a smoke run")
    parser.add_argument("--json", help="write the raw figures (ms) to this file")
    args = parser.parse_args()
    repeats = 3 if args.quick else 25
    has_bwrap = shutil.which("bwrap") is not None
    if not has_bwrap:
        print("bubblewrap is not installed (apt-get install -y bubblewrap): its rows are skipped")
    print(f"python: {PYTHON}; {os.cpu_count()} cores; {repeats} repetitions; ms per run\n")
    programs = await program_rows(repeats, has_bwrap)
    names = list(next(iter(programs.values())))
    print(f"{'program':<22}" + "".join(f"{n:>32}" for n in names))
    for label, results in programs.items():
        print(f"{label:<22}" + "".join(f"{cell(results[n]):>32}" for n in names))
    files: dict[str, list[float]] = {}
    if has_bwrap:
        files = await file_rows(repeats)
        print("\nBubblewrap, session call of `pass`:")
        for label, times in files.items():
            print(f"  {label:<24}{cell(times):>32}")
    if args.json:
        figures = json.dumps({"programs": programs, "files": files}, indent=1)
        await asyncio.to_thread(Path(args.json).write_text, figures, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
