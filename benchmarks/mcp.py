"""A tool call through Baton's MCP client next to the same call on a bare ``mcp`` session.

    python -m benchmarks.mcp                   # about three minutes
    python -m benchmarks.mcp --quick           # a smoke run
    python -m benchmarks.mcp --profile         # cProfile of Baton's side (in-process server)

Two servers, each called the same way by every variant:

- ``stdio``: ``mcp-server-time`` from PyPI (``python -m mcp_server_time``) as a subprocess,
  tool ``get_current_time`` with ``{"timezone": "UTC"}``;
- ``in-process``: an ``mcp.server.mcpserver.MCPServer`` (the SDK's server) with one trivial
  tool, ``echo(text)``, connected in the same process over memory streams (the classic JSON-RPC
  session, which Baton's ``MCPServer.in_process(server)`` asks for so the server can ask back;
  the bare session is opened the same way). The tool is ``async`` because the SDK runs a sync
  tool in a worker thread.

The variants, per server:

- ``bare`` (the floor): ``mcp.Client(...)`` entered once, ``client.call_tool(name, args)``;
- ``call_tool``: Baton's ``MCPServer.call_tool(name, args)`` on its one supervised session;
- ``agent tool``: the server's tool as an agent runs it. One ``Agent`` with a ``ScriptedModel``
  asks for the calls (``k`` calls per model response, up to 10 such responses per ask, then a
  text answer); the same agent with a local no-op ``async`` tool of the same name and schema runs
  the same script, and the difference, per call, is what the MCP tool costs inside the agent:
  argument validation against the server's JSON schema, the call through the session, and the
  MCP result turned into a tool result. The agent loop's own work is not in it.

``k`` calls are in flight at once (1, 10, 100): the direct variants await ``k`` calls together
(``asyncio.gather``) and repeat; the agent gets ``k`` tool calls in one model response (its
``tool_concurrency`` is raised to ``k``). Each figure is µs per call, the median over the
repetitions (~``--calls`` calls per variant each) with the min–max spread; within a repetition
the variants take turns in ``--slices`` short slices, the order rotating, so that a change in the
machine's load falls on all of them alike. Baton's overhead is the paired difference to the bare
session's figure of the same repetition, in µs per call and in % of the bare call. Target (issue
12): at most 10 % over the bare session, and every call of a server on ONE session
(``sessions_opened == 1``, asserted).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import baton
from baton import Agent, tool
from baton.events import ToolCallError, ToolCallResult
from baton.mcp import MCPServer
from baton.testing import ScriptedModel, call

from .core import Stats, fmt, metadata, sym

if TYPE_CHECKING:
    from mcp import Client
    from mcp.server.mcpserver import MCPServer as SDKServer

TARGET_PCT = 10.0
ROUNDS_PER_ASK = 10  # at most; fewer when k calls per round would overshoot a turn's share
TIME_ARGS: dict[str, Any] = {"timezone": "UTC"}
ECHO_ARGS: dict[str, Any] = {"text": "hi"}

Call = Callable[[], Awaitable[Any]]


# -- the servers ------------------------------------------------------------------------------


def sdk_server() -> SDKServer:
    """The in-process server: the SDK's own server class with one trivial tool."""
    from mcp.server.mcpserver import MCPServer as SDKServer

    server: SDKServer = SDKServer("bench")

    @server.tool()
    async def echo(text: str) -> str:  # async: the SDK runs a sync tool in a worker thread
        """Return the text as it is."""
        return text

    return server


def time_params() -> Any:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_server_time"])


@tool
async def get_current_time(timezone: str) -> str:
    """The no-op twin of mcp-server-time's tool: what the agent loop costs without MCP."""
    return '{"timezone": "UTC", "datetime": "2026-01-01T00:00:00+00:00", "is_dst": false}'


@tool
async def echo(text: str) -> str:
    """The no-op twin of the in-process server's tool."""
    return text


@dataclass
class Target:
    """One server, with everything the variants need to call it."""

    name: str
    tool: str
    arguments: dict[str, Any]
    noop: Any  # the local no-op tool of the same name and schema
    bare: Client
    baton: MCPServer
    note: str = ""
    agent: Agent[Any] | None = None
    noop_agent: Agent[Any] | None = None
    rounds: int = ROUNDS_PER_ASK  # model responses with tool calls per ask
    results: dict[str, Any] = field(default_factory=dict)


def baton_in_process(server: SDKServer) -> tuple[MCPServer, str]:
    """Baton's client on an in-process SDK server (no note to print)."""
    return MCPServer.in_process(server), ""


async def open_targets(stack: AsyncExitStack, names: Sequence[str]) -> list[Target]:
    from mcp import Client

    targets = []
    if "stdio" in names:
        bare = await stack.enter_async_context(Client(time_params()))
        server = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"], name="time")
        stack.push_async_callback(server.aclose)
        targets.append(
            Target("stdio", "get_current_time", TIME_ARGS, get_current_time, bare, server)
        )
    if "in-process" in names:
        baton, note = baton_in_process(sdk_server())
        stack.push_async_callback(baton.aclose)
        # Like for like: the bare session speaks the SDK protocol path Baton's client picks
        # (the SDK's default for a server object is its direct dispatcher, "auto"; Baton's
        # in_process may ask for the classic JSON-RPC session, "legacy").
        mode = getattr(baton, "_mode", "auto")
        bare = await stack.enter_async_context(Client(sdk_server(), mode=mode))
        note = "; ".join(filter(None, [note, f"both sessions in mcp.Client mode={mode!r}"]))
        targets.append(Target("in-process", "echo", ECHO_ARGS, echo, bare, baton, note))
    return targets


# -- the variants -----------------------------------------------------------------------------


def in_flight(one: Call, k: int) -> Call:
    """``k`` calls of ``one`` awaited together (just the call when ``k`` is 1)."""
    if k == 1:
        return one

    async def together() -> Any:
        return await asyncio.gather(*[one() for _ in range(k)])

    return together


def script(target: Target, k: int) -> list[Any]:
    turn = [call(target.tool, **target.arguments) for _ in range(k)]
    return [turn] * target.rounds + ["done"]


def make_agents(target: Target, k: int, rounds: int) -> None:
    target.rounds = rounds
    options: dict[str, Any] = {"tool_concurrency": k, "max_turns": rounds + 2}
    target.agent = Agent("bench", tools=[target.baton], **options)
    target.noop_agent = Agent("bench", tools=[target.noop], **options)


async def run_asks(agent: Agent[Any], target: Target, k: int, asks: int) -> float:
    """Seconds for ``asks`` asks of ``target.rounds`` rounds of ``k`` calls."""
    models = [ScriptedModel(*script(target, k), record=False) for _ in range(asks)]
    start = time.perf_counter()
    for model in models:
        await agent.ask("go", config=model)
    return time.perf_counter() - start


async def run_calls(fn: Call, batches: int) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        await fn()
    return time.perf_counter() - start


async def check(target: Target, k: int) -> None:
    """Every variant does the work it is timed on, before it is timed."""
    bare = await target.bare.call_tool(target.tool, target.arguments)
    assert not bare.is_error and bare.content, bare
    mine = await target.baton.call_tool(target.tool, target.arguments)
    assert not mine.is_error and type(mine.content[0]) is type(bare.content[0]), mine
    assert target.agent is not None and target.noop_agent is not None
    for agent in (target.agent, target.noop_agent):
        reply = await agent.ask("go", config=ScriptedModel(*script(target, k)))
        outcomes = [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]
        assert reply.text == "done", reply.text
        assert len(outcomes) == k * target.rounds, len(outcomes)
        errors = [o for o in outcomes if isinstance(o, ToolCallError)]
        assert not errors, errors[0]


async def measure(
    target: Target, k: int, calls: int, reps: int, slices: int
) -> dict[str, list[float]]:
    """µs per call of each variant, one sample per repetition of about ``calls`` calls."""
    server, name, args = target.baton, target.tool, target.arguments
    assert target.agent is not None and target.noop_agent is not None
    agent, noop_agent = target.agent, target.noop_agent
    bare_call = in_flight(lambda: target.bare.call_tool(name, args), k)
    baton_call = in_flight(lambda: server.call_tool(name, args), k)
    # Each variant: (seconds for ``n`` units, calls per unit).
    runs: dict[str, tuple[Callable[[int], Awaitable[float]], int]] = {
        "bare": (lambda n: run_calls(bare_call, n), k),
        "call_tool": (lambda n: run_calls(baton_call, n), k),
        "agent": (lambda n: run_asks(agent, target, k, n), k * target.rounds),
        "agent_noop": (lambda n: run_asks(noop_agent, target, k, n), k * target.rounds),
    }
    units = {v: max(1, calls // per // slices) for v, (_, per) in runs.items()}
    for v, (run, _) in runs.items():  # warm-up: the session, caches, the agents' plans
        await run(units[v])
    samples: dict[str, list[float]] = {v: [] for v in runs}
    order = list(runs)
    for _ in range(reps):
        # The variants take turns in short slices, so that a change in the machine's load
        # (other processes on its two cores) falls on all of them alike.
        seconds = dict.fromkeys(runs, 0.0)
        for turn in range(slices):
            shift = turn % len(order)
            for v in order[shift:] + order[:shift]:
                seconds[v] += await runs[v][0](units[v])
        gc.collect()
        for v, (_, per) in runs.items():
            samples[v].append(seconds[v] / (units[v] * per * slices) * 1e6)
    # The MCP tool's own cost inside the agent: the agent's per-call time minus its loop's.
    agent_samples, noop_samples = samples.pop("agent"), samples.pop("agent_noop")
    samples["agent_tool"] = [a - b for a, b in zip(agent_samples, noop_samples, strict=True)]
    samples["agent_loop"] = noop_samples
    return samples


# -- reporting --------------------------------------------------------------------------------


def overhead(samples: dict[str, list[float]], variant: str) -> tuple[Stats, Stats]:
    """(µs, %) over the bare session, paired by repetition."""
    pairs = list(zip(samples[variant], samples["bare"], strict=True))
    return Stats.of([m - b for m, b in pairs]), Stats.of([(m - b) / b * 100 for m, b in pairs])


def cell(stats: Stats, pct: bool = False) -> str:
    unit = "%" if pct else ""
    return f"{fmt(stats.median)}{unit} ({fmt(stats.low)}–{fmt(stats.high)})"


HEADERS = (
    "in flight",
    "bare µs/call",
    "call_tool µs/call",
    "overhead µs",
    "overhead %",
    "agent tool µs/call",
    "overhead µs",
    "overhead %",
    "(agent loop µs/call)",
)


def table_rows(rows: dict[int, dict[str, list[float]]]) -> list[tuple[str, ...]]:
    lines = []
    for k, samples in rows.items():
        direct_us, direct_pct = overhead(samples, "call_tool")
        agent_us, agent_pct = overhead(samples, "agent_tool")
        lines.append(
            (
                str(k),
                cell(Stats.of(samples["bare"])),
                cell(Stats.of(samples["call_tool"])),
                cell(direct_us),
                cell(direct_pct, pct=True),
                cell(Stats.of(samples["agent_tool"])),
                cell(agent_us),
                cell(agent_pct, pct=True),
                cell(Stats.of(samples["agent_loop"])),
            )
        )
    return lines


def print_table(name: str, rows: dict[int, dict[str, list[float]]]) -> None:
    lines = table_rows(rows)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(HEADERS)]
    print(sym(f"\n{name}"))
    print(sym("  ".join(h.rjust(w) for h, w in zip(HEADERS, widths, strict=True))))
    for line in lines:
        print(sym("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True))))


# -- profile ----------------------------------------------------------------------------------


async def profile(calls: int, top: int) -> None:
    """cProfile of sequential calls on the in-process server: bare, then Baton's call_tool."""
    from mcp import Client

    async with AsyncExitStack() as stack:
        server, note = baton_in_process(sdk_server())
        stack.push_async_callback(server.aclose)
        mode = getattr(server, "_mode", "auto")
        bare = await stack.enter_async_context(Client(sdk_server(), mode=mode))
        variants: list[tuple[str, Call]] = [("bare", lambda: bare.call_tool("echo", ECHO_ARGS))]
        variants.append(("call_tool", lambda: server.call_tool("echo", ECHO_ARGS)))
        print(f"(mcp.Client mode={mode!r}{'; ' + note if note else ''})")
        for label, fn in variants:
            await run_calls(fn, 50)
            profiler = cProfile.Profile()
            profiler.enable()
            await run_calls(fn, calls)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(top)
            print(f"\n=== {label}: {calls} sequential calls, by own time ===")
            print(out.getvalue())


# -- main -------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    meta = metadata()
    print(
        sym(
            f"MCP tool calls: Baton next to a bare mcp session ({args.reps} repetitions x "
            f"~{args.calls} calls per variant; µs per call, median (min–max))"
        )
    )
    print(
        f"Python {meta['python']}, {meta['platform']}, {meta['cpu_count']} CPUs, "
        f"Baton {meta['baton']} (git {meta['git']}, from {Path(baton.__file__).parent})"
    )
    report: dict[str, Any] = {"meta": meta, "targets": {}}
    async with AsyncExitStack() as stack:
        targets = await open_targets(stack, args.only)
        for target in targets:
            rows: dict[int, dict[str, list[float]]] = {}
            for k in args.in_flight:
                rounds = max(1, min(ROUNDS_PER_ASK, args.calls // (k * args.slices)))
                make_agents(target, k, rounds)
                await check(target, k)
                rows[k] = await measure(target, k, args.calls, args.reps, args.slices)
            print_table(f"{target.name}: {target.tool}({json.dumps(target.arguments)})", rows)
            if target.note:
                print(f"  ({target.note})")
            opened = target.baton.sessions_opened
            print(f"  sessions opened by Baton for every call above: {opened}")
            assert opened == 1, f"{target.name}: {opened} sessions"
            report["targets"][target.name] = {
                "tool": target.tool,
                "sessions_opened": opened,
                "note": target.note,
                "samples_us_per_call": {str(k): v for k, v in rows.items()},
            }
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 short repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--calls", type=int, default=1000, help="calls per variant and rep")
    parser.add_argument("--slices", type=int, default=10, help="turns per repetition")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument(
        "--only", nargs="+", choices=["stdio", "in-process"], default=["stdio", "in-process"]
    )
    parser.add_argument("--json", help="write the samples here")
    parser.add_argument("--profile", action="store_true", help="cProfile instead of timing")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    if options.quick:
        options.reps, options.calls, options.slices = 1, 100, 1
    if options.profile:
        asyncio.run(profile(options.calls, options.top))
        sys.exit(0)
    result = asyncio.run(main(options))
    if options.json:
        with open(options.json, "w") as file:
            json.dump(result, file, indent=2)
