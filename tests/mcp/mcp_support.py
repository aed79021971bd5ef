"""Helpers the MCP tests share: counting the server processes a test started (children of this
process, found through ``/proc``), free ports, and the agents the server tests serve
(``baton mcp serve mcp_support:<name>``) with the ways to reach them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from baton import Agent, Context, tool
from baton.events import (
    Event,
    ModelRequest,
    ObserverAlert,
    RunFailed,
    RunFinished,
    ToolCallError,
    ToolCallResult,
)
from baton.hooks import Observer
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call


def child_processes(marker: bytes, parent: int | None = None) -> list[int]:
    """The pids of ``parent``'s (default: this process's) live children whose command line
    holds ``marker``."""
    found = []
    me = str(parent if parent is not None else os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if ppid == me and state != "Z" and any(marker in part for part in cmdline):
            found.append(int(entry.name))
    return found


# -- agents the MCP server tests serve (``baton mcp serve mcp_support:<name>``) -----------------

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool
async def ask_user(question: str, context: Context) -> str:
    """Ask the user a question and return the answer."""
    return "the user said: " + await context.input(question)


@tool(requires_approval=True)
def deploy(env: str) -> str:
    """Deploy to an environment (needs a human's approval)."""
    return f"deployed to {env}"


@tool
async def wait_forever() -> str:
    """Block until cancelled (a call a client walks away from)."""
    await asyncio.Event().wait()
    return "never"


@tool
def explode() -> str:
    """Fail with an internal error."""
    raise RuntimeError("secret-internal-detail")


def brain(request: ModelCall) -> Any:
    """A scripted model steered by the user's words: ``add 2 3``, ``ask <question>``,
    ``deploy <env>``, ``wait``, ``explode``, ``crash`` (the model call fails); anything else
    is answered with every user message of the conversation so far (``heard: a | b``), which
    shows what the conversation remembers. After a tool result it answers ``result: ...``."""
    events = list(request.messages)
    last = events[-1]
    if isinstance(last, ToolCallResult):
        return f"result: {last.content}"
    if isinstance(last, ToolCallError):
        return f"tool failed: {last.message}"
    said = [e.text for e in events if isinstance(e, ModelRequest)]
    words = said[-1].split()
    if words[:1] == ["add"]:
        return call("add", a=int(words[1]), b=int(words[2]))
    if words[:1] == ["ask"]:
        return call("ask_user", question=" ".join(words[1:]))
    if words[:1] == ["deploy"]:
        return call("deploy", env=words[1])
    if words[:1] == ["wait"]:
        return call("wait_forever")
    if words[:1] == ["explode"]:
        return call("explode")
    if words[:1] == ["crash"]:
        return RuntimeError("model-secret-detail")
    return "heard: " + " | ".join(said)


def make_agent(**options: Any) -> Agent[Any]:
    """The agent the server tests serve (extra ``Agent`` options pass through)."""
    return Agent(
        "helper",
        description="A test agent that adds numbers and asks its user.",
        config=ScriptedModel(brain, repeat=True),
        tools=[add, ask_user, deploy, wait_forever, explode],
        **options,
    )


agent = make_agent()


def sqlite_agent() -> Agent[Any]:
    """``make_agent`` on the SQLite database named by ``BATON_TEST_DB`` (history and
    storage), for the tests that restart the server."""
    from baton.backends.sql import SQLHistory, SQLStorage

    url = f"sqlite:///{os.environ['BATON_TEST_DB']}"
    return make_agent(history=SQLHistory(url), storage=SQLStorage(url))


def server_env(**extra: str) -> dict[str, str]:
    """The environment a ``baton mcp serve`` subprocess needs (the SDK's stdio client starts
    servers with a minimal one): this checkout and the test helpers on the path."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def serve_command(target: str, *args: str) -> list[str]:
    """The command that serves ``target`` (``mcp_support:agent``) with this interpreter."""
    return [sys.executable, "-m", "baton.cli", "mcp", "serve", target, *args]


class RunEnds(Observer):
    """Sets ``ended`` when an ask's run is closed (observers see events once recorded);
    ``closing`` holds the closing events."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.closing: list[Event] = []

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        if isinstance(event, RunFailed | RunFinished):
            self.closing.append(event)
            self.ended.set()
        return None


def start_serving(target: str, *args: str, **env: str) -> subprocess.Popen[str]:
    """``baton mcp serve target args...`` as a subprocess of the test's (stderr piped, text).
    Ctrl-C (SIGINT) stops it as in a terminal, even when the tests run as a background job,
    which starts processes with SIGINT ignored."""
    return subprocess.Popen(
        serve_command(target, *args),
        env={**os.environ, **server_env(**env)},
        cwd=str(HERE),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def stop_serving(process: subprocess.Popen[str]) -> None:
    """Stop a server started by ``start_serving`` with Ctrl-C; killed if that does not end it
    (and then the test fails: Ctrl-C should)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the server did not stop on Ctrl-C") from None


def stdio_server(target: str = "mcp_support:agent", *args: str, **env: str) -> Any:
    """``StdioServerParameters`` that start ``baton mcp serve target`` (from this checkout)."""
    from mcp import StdioServerParameters

    command = serve_command(target, *args)
    return StdioServerParameters(
        command=command[0], args=command[1:], env=server_env(**env), cwd=str(HERE)
    )


def http_client_for(url: str, token: str | None = None, **headers: str) -> Any:
    """An MCP ``Client`` of the streamable-HTTP server at ``url``, sending ``token``."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(url, http_client=http))


class Elicitations:
    """An elicitation callback for ``mcp.Client`` that answers from a list and records what
    it was asked (``asked``: (message, requested schema) pairs)."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, context: Any, params: Any) -> Any:
        import mcp_types

        self.asked.append((params.message, dict(params.requested_schema)))
        content = self.answers.pop(0)
        if content.get("action") in ("decline", "cancel"):
            return mcp_types.ElicitResult(action=content["action"])
        return mcp_types.ElicitResult(action="accept", content=content)


# -- the agent the conformance suite calls (its server scenarios name these tools) ---------------


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def tiny_wav() -> bytes:
    """A valid WAV of one silent sample."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00")
    return buffer.getvalue()


@tool
def test_simple_text() -> str:
    """Return a simple text."""
    return "This is a simple text response for testing."


@tool
def test_image_content() -> Any:
    """Return an image."""
    from baton.events import Image

    return Image(data=tiny_png(), media_type="image/png")


@tool
def test_audio_content() -> Any:
    """Return a sound."""
    from baton.events import Audio

    return Audio(data=tiny_wav(), media_type="audio/wav")


@tool
def test_error_handling() -> str:
    """Always fail."""
    raise RuntimeError("This tool intentionally returns an error for testing")


@tool
def test_tool_with_progress() -> str:
    """Finish (the server reports the call's steps as progress)."""
    return "progress reported"


@tool
async def test_elicitation(message: str, context: Context) -> str:
    """Ask the user.

    Args:
        message: What to ask.
    """
    return "User response: " + await context.input(message)


conformance_agent = Agent(
    "conformance",
    config=ScriptedModel(brain, repeat=True),
    tools=[
        test_simple_text,
        test_image_content,
        test_audio_content,
        test_error_handling,
        test_tool_with_progress,
        test_elicitation,
    ],
)


def agent_app() -> Any:
    """An ``MCPApp`` factory (``baton mcp serve mcp_support:agent_app``)."""
    from baton.mcp import MCPApp

    return MCPApp(make_agent(), name="helper-app", tools="agent-tools")
