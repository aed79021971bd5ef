"""Baton next to AG2, pydantic-ai, the OpenAI Agents SDK and LangGraph, on the same scenarios.

    benchmarks/peers/setup.sh                                  # once: benchmarks/peers/.venv
    python3 -m benchmarks.peers.run                            # full run (about 10 minutes)
    python3 -m benchmarks.peers.run --quick                    # smoke run -> results/quick.*
    python3 -m benchmarks.peers.run --frameworks baton,langgraph --keys B,C100

Every framework (Baton and the hand-written floor too) runs in its own subprocess of the peers'
virtualenv, one subprocess per repetition; the frameworks take turns within each repetition (the
order rotates), so drift hits them alike. A subprocess warms each scenario up, calibrates it to
about ``--rep-time`` seconds and times one run. D's heap per conversation is measured in separate
subprocesses under tracemalloc. Medians and min–max over the repetitions go to
``results/latest.json``, ``results/latest.md`` (the table) and ``results/latest.png`` (the chart),
and the table into ``benchmarks/README.md`` between its markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV_PYTHON = HERE / ".venv" / "bin" / "python"
RESULTS = HERE / "results"
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"

FRAMEWORKS = ("baton", "floor", "ag2", "pydantic-ai", "openai-agents", "langgraph")
PEERS = ("ag2", "pydantic-ai", "openai-agents", "langgraph")
KEYS = ("A", "B", "C10", "C100", "D", "E", "T200")
LABELS = {
    "baton": "Baton",
    "floor": "floor (F)",
    "ag2": "AG2",
    "pydantic-ai": "pydantic-ai",
    "openai-agents": "OpenAI Agents",
    "langgraph": "LangGraph",
}


@dataclass(frozen=True)
class RowSpec:
    key: str  # row id
    title: str
    unit: str
    kind: str  # "cost" (lower is better), "rate" (higher is better), "ratio" (per framework)
    target: str = ""  # the issue's target for Baton, in words
    want: float | None = None  # Baton's required advantage over the fastest peer (x)
    flat: float | None = None  # for ratio rows: Baton's ratio at most this


ROWS = (
    RowSpec("A", "A  single turn", "µs/ask", "cost", "≥ 10× fastest peer", want=10),
    RowSpec("B", "B  one tool round", "µs/ask", "cost", "≥ 10× fastest peer", want=10),
    RowSpec("C10", "C10  10 tool rounds", "µs/round", "cost"),
    RowSpec("C100", "C100  100 tool rounds", "µs/round", "cost", "≥ 10× fastest peer", want=10),
    RowSpec("C100/C10", "C100/C10  cost per round", "ratio", "ratio", "flat (≤ 1.2)", flat=1.2),
    RowSpec("D", "D  1,000 concurrent asks", "asks/s", "rate", "≥ 10× fastest peer", want=10),
    RowSpec("Dmem", "D  heap per conversation", "KB/conv", "cost", "lowest of all", want=1),
    RowSpec("E", "E  1,000-chunk stream", "µs/chunk", "cost", "≥ 2× fastest peer", want=2),
    RowSpec("T200", "T200  B with 200 tools", "µs/ask", "cost"),
    RowSpec("T200/B", "T200/B  200 tools vs 1", "ratio", "ratio"),
)


# --------------------------------------------------------------------------- running


def worker(framework: str, *args: str, timeout: float = 900) -> dict[str, Any]:
    cmd = [str(VENV_PYTHON), "-m", "benchmarks.peers.worker", framework, *args]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-5:]
        return {"framework": framework, "crashed": " | ".join(tail) or f"exit {proc.returncode}"}
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def collect(args: argparse.Namespace) -> dict[str, Any]:
    frameworks: list[str] = args.frameworks
    runs: dict[str, list[dict[str, Any]]] = {f: [] for f in frameworks}
    memory: dict[str, list[dict[str, float]]] = {f: [] for f in frameworks}
    info: dict[str, dict[str, Any]] = {}
    issues: dict[str, dict[str, str]] = {f: {} for f in frameworks}
    started = time.perf_counter()
    for rep in range(args.reps):
        shift = rep % len(frameworks)
        for name in frameworks[shift:] + frameworks[:shift]:
            t0 = time.perf_counter()
            out = worker(name, "--keys", ",".join(args.keys), "--rep-time", str(args.rep_time))
            took = time.perf_counter() - t0
            if "crashed" in out:
                issues[name]["crashed"] = out["crashed"]
                print(f"[rep {rep + 1}/{args.reps}] {name}: CRASHED {out['crashed']}", flush=True)
                continue
            info.setdefault(name, {"versions": out["versions"], "notes": out["notes"]})
            runs[name].append(out)
            for key, reason in out.get("na", {}).items():
                issues[name][key] = f"n/a: {reason}"
            for key, error in out.get("errors", {}).items():
                issues[name][key] = f"error: {error}"
            print(
                f"[rep {rep + 1}/{args.reps}] {name:<14} {took:5.1f} s  "
                + "  ".join(f"{k}={v:.3g}" for k, v in out.get("values", {}).items()),
                flush=True,
            )
    if "D" in args.keys:
        for rep in range(args.mem_reps):
            for name in frameworks:
                out = worker(name, "--memory")
                if "crashed" in out:
                    issues[name]["Dmem"] = f"error: {out['crashed']}"
                    continue
                memory[name].append(out["memory"])
                print(
                    f"[memory {rep + 1}/{args.mem_reps}] {name:<14} "
                    f"{out['memory']['retained']:.2f} KB/conversation retained",
                    flush=True,
                )
    return {
        "runs": runs,
        "memory": memory,
        "info": info,
        "issues": issues,
        "seconds": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------- statistics


def stats(samples: Sequence[float]) -> dict[str, Any] | None:
    if not samples:
        return None
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": list(samples),
    }


def samples_for(raw: dict[str, Any], framework: str, row: str) -> list[float]:
    runs = raw["runs"][framework]

    def values(key: str) -> list[float | None]:
        return [r["values"].get(key) for r in runs]

    if row == "D":
        return [1e6 / v for v in values("D") if v]  # µs per ask in flight -> asks/s
    if row == "Dmem":
        return [m["retained"] for m in raw["memory"][framework]]
    if row in ("C100/C10", "T200/B"):
        top, bottom = row.split("/")
        pairs = zip(values(top), values(bottom), strict=True)
        return [a / b for a, b in pairs if a and b]
    return [v for v in values(row) if v is not None]


def summarize(raw: dict[str, Any], frameworks: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for spec in ROWS:
        cells = {f: stats(samples_for(raw, f, spec.key)) for f in frameworks}
        row: dict[str, Any] = {
            "key": spec.key,
            "title": spec.title,
            "unit": spec.unit,
            "kind": spec.kind,
            "target": spec.target,
            "cells": cells,
            "fastest_peer": None,
            "vs_fastest_peer": None,  # how many times better Baton is than the best peer
            "vs_floor": None,  # Baton's cost over the floor's (rates: floor's over Baton's)
            "met": None,
        }
        baton, floor = cells.get("baton"), cells.get("floor")
        peers = {p: c for p in PEERS if (c := cells.get(p)) is not None}
        if spec.kind != "ratio" and baton is not None:
            if peers:
                if spec.kind == "rate":
                    best = max(peers, key=lambda p: peers[p]["median"])
                    row["vs_fastest_peer"] = baton["median"] / peers[best]["median"]
                else:
                    best = min(peers, key=lambda p: peers[p]["median"])
                    row["vs_fastest_peer"] = peers[best]["median"] / baton["median"]
                row["fastest_peer"] = best
            if floor is not None:
                b, f = baton["median"], floor["median"]
                row["vs_floor"] = f / b if spec.kind == "rate" else b / f
            if spec.want is not None and row["vs_fastest_peer"] is not None:
                if spec.key == "Dmem":  # the lowest of all: below every peer
                    row["met"] = row["vs_fastest_peer"] > 1
                else:
                    row["met"] = row["vs_fastest_peer"] >= spec.want
        if spec.flat is not None and baton is not None:
            row["met"] = baton["median"] <= spec.flat
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- output


def fmt(x: float) -> str:
    a = abs(x)
    if a >= 10000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(row: dict[str, Any], framework: str, issues: dict[str, dict[str, str]]) -> str:
    c = row["cells"].get(framework)
    if c is None:
        key = {"Dmem": "D", "C100/C10": "C100", "T200/B": "T200"}.get(row["key"], row["key"])
        problem = issues.get(framework, {}).get(key) or issues.get(framework, {}).get("crashed")
        if problem is not None and problem.startswith("n/a"):
            return "n/a"
        return "error" if problem is not None else "–"
    spread = f"{fmt(c['min'])}–{fmt(c['max'])}"
    return f"**{fmt(c['median'])}** <sub>{spread}</sub>"


def markdown(data: dict[str, Any]) -> str:
    meta, frameworks = data["meta"], data["frameworks"]
    cfg = data["config"]
    lines = [
        f"Run {meta['time']} on Python {meta['python']} ({meta['platform']}, "
        f"{meta['cpus']} CPUs), Baton git {meta['git']}; {cfg['reps']} repetitions per "
        f"framework (each its own subprocess, frameworks interleaved), ~{cfg['rep_time']:g} s "
        f"per scenario and repetition; D's heap: {cfg['mem_reps']} tracemalloc pass(es). Cells: "
        "**median** and min–max over the repetitions. *vs fastest peer*: how many times better "
        "Baton is than the best of the four peers on that row; *× floor*: Baton's cost over the "
        "hand-written floor's (for asks/s: the floor's rate over Baton's).",
        "",
        "Versions: "
        + "; ".join(
            ", ".join(f"{d} {v}" for d, v in data["versions"][f].items())
            for f in frameworks
            if data["versions"].get(f)
        )
        + f"; Python {meta['python']}.",
        "",
    ]
    header = [
        "scenario",
        "unit",
        *(LABELS[f] for f in frameworks),
        "vs fastest peer",
        "× floor",
        "target",
        "met",
    ]
    lines.append("| " + " | ".join(header) + " |")
    lines.append(
        "|" + "|".join(["---", "---"] + ["--:"] * (len(header) - 4) + ["---", "---"]) + "|"
    )
    for row in data["rows"]:
        vs = row["vs_fastest_peer"]
        peer = LABELS.get(row["fastest_peer"] or "", "")
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(
            "| "
            + " | ".join(
                [
                    row["title"],
                    row["unit"],
                    *(cell(row, f, data["issues"]) for f in frameworks),
                    f"{vs:.1f}× ({peer})" if vs is not None else "",
                    f"{row['vs_floor']:.1f}×" if row["vs_floor"] is not None else "",
                    row["target"],
                    met,
                ]
            )
            + " |"
        )
    problems = [
        f"- {LABELS[f]} {key}: {text}"
        for f in frameworks
        for key, text in sorted(data["issues"].get(f, {}).items())
    ]
    if problems:
        lines += ["", "Not measured:", "", *problems]
    lines += ["", "How each framework is set up:", ""]
    lines += [f"- **{LABELS[f]}**: {' '.join(data['notes'].get(f, []))}" for f in frameworks]
    return "\n".join(lines) + "\n"


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frameworks = data["frameworks"]
    rows = [r for r in data["rows"] if r["kind"] != "ratio"]
    colors = {
        "baton": "#d62728",
        "floor": "#7f7f7f",
        "ag2": "#1f77b4",
        "pydantic-ai": "#e377c2",
        "openai-agents": "#2ca02c",
        "langgraph": "#9467bd",
    }
    cols = 4
    fig, axes = plt.subplots(2, cols, figsize=(4.2 * cols, 8.2))
    for ax, row in zip(axes.flat, rows, strict=False):
        names = [f for f in frameworks if row["cells"].get(f)]
        meds = [row["cells"][f]["median"] for f in names]
        lows = [m - row["cells"][f]["min"] for f, m in zip(names, meds, strict=True)]
        highs = [row["cells"][f]["max"] - m for f, m in zip(names, meds, strict=True)]
        ax.bar(
            range(len(names)),
            meds,
            yerr=[lows, highs],
            color=[colors[f] for f in names],
            capsize=3,
        )
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([LABELS[f] for f in names], rotation=35, ha="right", fontsize=8)
        better = "higher is better" if row["kind"] == "rate" else "lower is better"
        ax.set_title(f"{row['title']}\n{row['unit']}, log scale, {better}", fontsize=9)
        for i, m in enumerate(meds):
            ax.annotate(fmt(m), (i, m), ha="center", va="bottom", fontsize=7)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    meta = data["meta"]
    fig.suptitle(
        f"Baton vs peers (medians, min–max bars; {data['config']['reps']} reps; Python "
        f"{meta['python']}, {meta['cpus']} CPUs, {meta['time'][:10]})",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(table: str) -> bool:
    if not README.exists():
        return False
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")
    return True


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "baton"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------- CLI


def parse_list(choices: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        wanted = [t.strip() for t in text.split(",") if t.strip()]
        bad = [w for w in wanted if w not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(choices)}")
        return [c for c in choices if c in wanted]

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 short repetition -> quick.*")
    parser.add_argument("--reps", type=int, help="repetitions per framework (default 5)")
    parser.add_argument("--rep-time", type=float, help="seconds per scenario (default 0.3)")
    parser.add_argument("--mem-reps", type=int, help="tracemalloc passes for D (default 1)")
    parser.add_argument("--frameworks", type=parse_list(FRAMEWORKS), default=list(FRAMEWORKS))
    parser.add_argument("--keys", type=parse_list(KEYS), default=list(KEYS))
    parser.add_argument("--name", help="results/<name>.{json,md,png} (default latest/quick)")
    parser.add_argument("--no-readme", action="store_true", help="leave benchmarks/README.md")
    args = parser.parse_args(argv)
    if not VENV_PYTHON.exists():
        print("no peers virtualenv: run benchmarks/peers/setup.sh first", file=sys.stderr)
        return 2
    if Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        # matplotlib (and the same interpreter as the workers) live in the peers' venv
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), "-m", "benchmarks.peers.run", *sys.argv[1:]])
    args.reps = max(1, args.reps or (1 if args.quick else 5))
    args.rep_time = args.rep_time or (0.05 if args.quick else 0.3)
    args.mem_reps = args.mem_reps or 1
    name = args.name or ("quick" if args.quick else "latest")

    raw = collect(args)
    frameworks = [f for f in args.frameworks if raw["runs"][f] or raw["memory"][f]]
    data: dict[str, Any] = {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": platform.python_version(),
            "platform": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count(),
            "git": git_revision(),
            "seconds": raw["seconds"],
        },
        "config": {
            "reps": args.reps,
            "rep_time": args.rep_time,
            "mem_reps": args.mem_reps,
            "keys": args.keys,
        },
        "frameworks": frameworks,
        "versions": {f: raw["info"].get(f, {}).get("versions", {}) for f in frameworks},
        "notes": {f: raw["info"].get(f, {}).get("notes", []) for f in frameworks},
        "issues": raw["issues"],
        "rows": summarize(raw, frameworks),
        "memory": raw["memory"],
        "runs": raw["runs"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    table = markdown(data)
    (RESULTS / f"{name}.md").write_text(table, encoding="utf-8")
    chart(data, RESULTS / f"{name}.png")
    print()
    print(table)
    print(f"results: {RESULTS / name}.{{json,md,png}} ({raw['seconds']:.0f} s)")
    if name == "latest" and not args.no_readme and update_readme(table):
        print(f"table copied into {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
