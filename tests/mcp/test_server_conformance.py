"""The official MCP conformance suite (``@modelcontextprotocol/conformance``, run with node 22)
against Baton's streamable-HTTP server, serving ``mcp_support.conformance_agent``: an agent whose
own tools are the ones the suite's scenarios call (``tools="both"``).

Every active server scenario runs. The ones that don't apply to an agent server are the
suite's expected failures (a baseline file): the suite exits non-zero if one of them starts
passing (then move it to PASSING) or any other scenario fails.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import mcp_support
from node_peers import NodePeers
from serving import uvicorn_serving

from baton.mcp import MCPApp

PASSING = {
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-elicitation",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
}
# Why each of these does not apply (README, "Serving an agent over MCP"):
NOT_APPLICABLE = {
    # Baton's server exposes tools only: no resources, prompts or completions.
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "completion-complete",
    # Logging (deprecated in 2026-07-28) and sampling (the agent has its own model): not offered.
    "logging-set-level",
    "tools-call-with-logging",
    "tools-call-sampling",
    # Tool results carry no embedded resources (Baton's results are text, images, audio).
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    # Baton asks humans free text or an approval, not these fixed form schemas.
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
}


async def test_the_conformance_suite_passes_the_scenarios_that_apply(
    node_peers: NodePeers, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.yml"
    baseline.write_text("server:\n" + "".join(f"  - {name}\n" for name in sorted(NOT_APPLICABLE)))
    results = tmp_path / "results"
    # The suite cannot send a token: serve loopback clients only, without one.
    app = MCPApp(mcp_support.conformance_agent, tools="both")
    async with uvicorn_serving(app.http_app(no_token=True)) as base:
        suite = await asyncio.create_subprocess_exec(
            str(node_peers.node),
            str(node_peers.bin("conformance")),
            "server",
            "--url",
            f"{base}/mcp",
            "--expected-failures",
            str(baseline),
            "-o",
            str(results),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(suite.communicate(), 300)
    summary = output.decode(errors="replace")
    assert suite.returncode == 0, summary[-4000:]

    passed, failed = set(), set()
    for checks in results.glob("server-*/checks.json"):
        # the folder is server-<scenario>-<timestamp>
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name.removeprefix("server-"))
        statuses = {c["status"] for c in json.loads(checks.read_text())}
        (failed if "FAILURE" in statuses else passed).add(scenario)
    assert passed == PASSING, summary[-4000:]
    assert failed == NOT_APPLICABLE
