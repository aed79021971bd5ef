"""The MCP client against ``mcp-server-git`` from PyPI over stdio, on a repository the test
makes: the tools an agent gets with a filter, and their answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp_support import child_processes

from baton import Agent
from baton.events import ToolCallError, ToolCallResult
from baton.mcp import MCPServer
from baton.testing import ScriptedModel, call

pytest.importorskip("mcp_server_git")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "notes.txt").write_text("first\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "Add the notes")
    (repo / "notes.txt").write_text("first\nsecond\n")
    return repo


def results(events: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in events if isinstance(e, ToolCallResult | ToolCallError)]


async def test_an_agent_reads_a_repository_through_mcp_server_git(repo: Path) -> None:
    server = MCPServer.stdio(
        sys.executable,
        ["-m", "mcp_server_git", "--repository", str(repo)],
        name="git",
        include=["git_status", "git_log", "git_diff_unstaged"],
    )
    model = ScriptedModel(
        [
            call("git_status", repo_path=str(repo)),
            call("git_log", repo_path=str(repo), max_count=5),
            call("git_diff_unstaged", repo_path=str(repo)),
        ],
        call("git_status", repo_path="/not/a/repository"),
        "one change",
    )
    agent = Agent("reviewer", config=model, tools=[server])
    try:
        reply = await agent.ask("what changed?")
    finally:
        await server.aclose()

    offered = sorted(t.name for t in model.requests[0].tools)
    assert offered == ["git_diff_unstaged", "git_log", "git_status"]  # the rest filtered out
    # The three calls of the first answer run together: their results come as they finish.
    *first, outside = results(reply.events)
    by_name = {r.name: r for r in first}
    status, log, diff = (by_name[n] for n in ("git_status", "git_log", "git_diff_unstaged"))
    assert isinstance(status, ToolCallResult) and "notes.txt" in status.content
    assert isinstance(log, ToolCallResult) and "Add the notes" in log.content
    assert isinstance(diff, ToolCallResult) and "+second" in diff.content
    assert isinstance(outside, ToolCallError)  # the server refuses a path outside its repo
    assert child_processes(b"mcp_server_git") == []
