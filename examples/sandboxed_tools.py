"""Built-in tools: code the model writes, run in a sandbox, and files kept under one root.

What it shows: ``code_execution()`` (each program runs in ``Bubblewrap``: no network, an empty
environment, a private scratch directory, CPU/memory/time ``Limits``; ``session=True`` keeps
one workspace per conversation), the result the model reads (exit status, output, files
written), and ``files(root)`` (read, list, search, write, patch, never outside ``root``).

Needs: Linux with bubblewrap (``apt-get install bubblewrap``). Without it, making the tool is a
``MissingDependency`` naming the package: nothing silently runs on the host.

Run it:

    python examples/sandboxed_tools.py

Offline on Baton's scripted model as written (the sandbox is real). For a real model, change
the ``MODEL`` line.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from baton import Agent, ModelConfig, ToolCallError, ToolCallResult
from baton.testing import ScriptedModel, call
from baton.tools.builtins import Limits, code_execution, files

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "anthropic:claude-haiku-4-5"

PROGRAM = """\
import os, socket
fib = [0, 1]
while len(fib) < 31:
    fib.append(fib[-1] + fib[-2])
print("fib(30) =", fib[30])
print("secrets in my environment:", [k for k in os.environ if "KEY" in k or "TOKEN" in k])
try:
    socket.create_connection(("pypi.org", 443), timeout=2)
    print("network: reachable")
except OSError:
    print("network: unreachable")
open("fib.txt", "w").write(str(fib[30]))
"""


async def ask(root: str) -> None:
    agent = Agent(
        "analyst",
        "You compute with run_code and keep notes with the files tools.",
        config=model(),
        tools=[code_execution(limits=Limits(wall_seconds=20), session=True), files(root)],
    )
    try:
        reply = await agent.ask("Compute the 30th Fibonacci number and note it down.")
    finally:
        await agent.aclose()  # removes the conversation's sandbox workspace
    for event in reply.events:
        if isinstance(event, ToolCallResult):
            print(f"--- {event.name} ---\n{event.content.strip()}")
        elif isinstance(event, ToolCallError):
            print(f"--- {event.name} failed: {event.message}")
    print(f"agent: {reply.text}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="baton-example-") as root:
        notes = Path(root, "notes.md")
        notes.write_text("# Notes\n\nThe answer goes here: TODO\n")
        asyncio.run(ask(root))
        print(f"--- notes.md now ---\n{notes.read_text().strip()}")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below."""
    if MODEL != "scripted":
        return MODEL
    return ScriptedModel(
        call("run_code", code=PROGRAM),
        call("files_patch", path="notes.md", old="TODO", new="fib(30) = 832040"),
        call("files_read", path="../outside.txt"),  # refused: outside the root
        "fib(30) is 832040; it's in notes.md.",
    )


if __name__ == "__main__":
    main()
