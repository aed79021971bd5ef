"""The node packages the protocol tests run as peers (``tests/node/package.json``).

They are installed with ``npm ci`` into ``tests/node/node_modules`` the first time a test asks
for them, and again only when ``package-lock.json`` changes. Node 22 (which the MCP conformance
suite needs) comes in as the npm package ``node``, so the machine's own node may be older.
Without npm, or when the install fails, the tests that need a peer skip (fail under
``CI=true``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FOLDER = Path(__file__).resolve().parent / "node"
LOCK = FOLDER / "package-lock.json"
MARKER = FOLDER / "node_modules" / ".baton-installed"


@dataclass(frozen=True)
class NodePeers:
    """Where the installed peers are: ``bin(name)`` is a package's command, ``node`` is node 22,
    ``modules`` the folder node resolves imports from."""

    folder: Path

    @property
    def modules(self) -> Path:
        return self.folder / "node_modules"

    @property
    def node(self) -> Path:
        return self.bin("node")

    def bin(self, name: str) -> Path:
        return self.modules / ".bin" / name

    async def run_script(
        self, script: Path, *, prelude: Path | None = None, **env: str
    ) -> dict[str, Any]:
        """Run the ES module ``script`` under node 22 with ``env`` added to the environment;
        its report, the JSON on the last line it prints. The script is fed to node on stdin
        with this folder as the working directory, so its imports resolve in the installed
        peers; ``prelude``, a module several scripts start with (their imports and set-up),
        is fed first. Async: the server under test usually runs in the caller's event loop."""
        source = await asyncio.to_thread(script.read_bytes)
        if prelude is not None:
            source = await asyncio.to_thread(prelude.read_bytes) + b"\n" + source
        process = await asyncio.create_subprocess_exec(
            str(self.node),
            "--input-type=module",
            "-",
            cwd=str(self.folder),
            env={**os.environ, **env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:  # a guard against a hang, not a measure
            out, err = await asyncio.wait_for(process.communicate(source), 120)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, err.decode()[-3000:]
        report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return report


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def install() -> str | None:
    """Install the peers if they are missing or stale; return a problem, or None."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (the protocol peers are node packages)"
    digest = _lock_digest()
    if MARKER.is_file() and MARKER.read_text() == digest:
        return None
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=FOLDER,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"npm ci in {FOLDER} failed: {done.stderr.strip()[-2000:]}"
    MARKER.write_text(digest)
    return None


@pytest.fixture(scope="session")
def node_peers() -> NodePeers:
    """The installed node peers (installing them on first use)."""
    problem = install()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs the node peers: {problem}", pytrace=False)
        pytest.skip(problem)
    return NodePeers(FOLDER)
