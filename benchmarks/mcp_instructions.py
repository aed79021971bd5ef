"""What Baton's MCP client costs per tool call, counted in CPU instructions (callgrind).

    python -m benchmarks.mcp_instructions            # about three minutes; needs valgrind

Wall time on a shared two-core machine swings by more than the overhead being measured (see
``benchmarks/mcp.py``), so this counts instructions instead: each variant runs twice under
``valgrind --tool=callgrind``, with ``small`` and ``large`` calls, and the difference divided
by the extra calls is the cost of one call, free of start-up and import costs. The server is
the SDK's own (``mcp.server.mcpserver.MCPServer``, one async ``echo`` tool) in this process, on
the classic JSON-RPC session, so all of a call's work is counted.

- ``bare``: ``mcp.Client(server, mode="legacy").call_tool("echo", ...)``, the floor;
- ``call_tool``: Baton's ``MCPServer.in_process(server).call_tool(...)``;
- ``agent tool``: an agent calling the server's tool (one call per model turn), minus the same
  agent calling a local no-op tool: what the MCP tool adds inside an agent.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

from ._callgrind import instructions_of

VARIANTS = ("bare", "call_tool", "agent", "agent-noop")
CALLS_PER_ASK = 10


def _server() -> object:
    from mcp.server.mcpserver import MCPServer as SDKServer

    server = SDKServer("bench")

    @server.tool()
    async def echo(text: str) -> str:
        """Echo the text back."""
        return text

    return server


async def _run(variant: str, calls: int) -> None:
    from mcp import Client

    from baton import Agent, tool
    from baton.mcp import MCPServer
    from baton.testing import ScriptedModel, call

    sdk = _server()
    if variant == "bare":
        async with Client(sdk, mode="legacy") as client:  # type: ignore[arg-type]
            for _ in range(calls):
                await client.call_tool("echo", {"text": "hi"})
        return
    server = MCPServer.in_process(sdk)
    if variant == "call_tool":
        for _ in range(calls):
            await server.call_tool("echo", {"text": "hi"})
    else:

        @tool(name="echo")
        async def noop(text: str) -> str:
            """Echo the text back."""
            return text

        agent = Agent("bench", tools=[server] if variant == "agent" else [noop])
        turns = [call("echo", text="hi") for _ in range(CALLS_PER_ASK)]
        for _ in range(calls // CALLS_PER_ASK):
            await agent.ask("go", config=ScriptedModel(*turns, "done"))
    await server.aclose()


def _instructions(variant: str, calls: int, folder: Path) -> int:
    out = folder / f"{variant}.{calls}.out"
    return instructions_of("benchmarks.mcp_instructions", [variant, str(calls)], out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=50, help="calls in the short run")
    parser.add_argument("--large", type=int, default=300, help="calls in the long run")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_run(args.child[0], int(args.child[1])))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("this benchmark counts instructions with valgrind: install it first")
    per_call: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for variant in VARIANTS:
            small = _instructions(variant, args.small, Path(folder))
            large = _instructions(variant, args.large, Path(folder))
            per_call[variant] = (large - small) / (args.large - args.small)
    bare = per_call["bare"]
    agent = per_call["agent"] - per_call["agent-noop"]
    print("MCP tool call, in-process SDK server: instructions per call (callgrind)")
    print(f"  bare mcp session     {bare:>12,.0f}")
    for label, value in (("Baton call_tool", per_call["call_tool"]), ("agent tool", agent)):
        print(f"  {label:<20} {value:>12,.0f}   {100 * (value - bare) / bare:+.1f}% over bare")
    print(f"  (the agent's loop with a local no-op tool: {per_call['agent-noop']:,.0f} per call)")


if __name__ == "__main__":
    main()
