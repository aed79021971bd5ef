"""A travel-agency MCP server written with the official SDK's server class, with a tool of
each kind the client tests need. The tests run it in their own process (``make_server()``,
connected in memory on the 2025 protocol) and as a subprocess over stdio (this file as a script,
on the 2026 protocol).
"""

from __future__ import annotations

import asyncio
import base64
import warnings
from typing import Annotated, Any, ClassVar

from mcp.server.mcpserver import (
    AcceptedElicitation,
    Elicit,
    ElicitationResult,
    Resolve,
    Sample,
)
from mcp.server.mcpserver import Context as ServerContext
from mcp.server.mcpserver import Image as ServerImage
from mcp.server.mcpserver import MCPServer as SDKServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class City(BaseModel):
    city: str


class Booking(BaseModel):
    city: str
    nights: int


def ask_city() -> Elicit[City]:
    return Elicit("Which city?", City)


def ask_booking() -> Elicit[Booking]:
    return Elicit("Where, and how long?", Booking)


def ask_poem(topic: str) -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=topic))
    return Sample([message], max_tokens=50, system_prompt="You write short poems.")


class Meeting:
    """Two calls that wait for each other on the server (reset by ``make_server``)."""

    arrived: ClassVar[asyncio.Event] = asyncio.Event()
    waiting: ClassVar[set[str]] = set()


async def arrive_together(name: str) -> Elicit[City]:
    """Waits until another call is also on the server, then asks."""
    Meeting.waiting.add(name)
    if len(Meeting.waiting) == 2:
        Meeting.arrived.set()
    await Meeting.arrived.wait()
    return Elicit(f"Which city, {name}?", City)


def make_server() -> Any:
    """A server with a tool of each kind these tests need (a fresh one per test)."""
    server = SDKServer("travel")
    Meeting.arrived, Meeting.waiting = asyncio.Event(), set()

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool(name="files.read")
    def read_file(path: str) -> str:
        """A tool whose name has a dot, which MCP allows and model providers do not."""
        return f"contents of {path}"

    @server.tool()
    def secret() -> str:
        """A tool the tests filter out."""
        return "hidden"

    @server.tool()
    def picture() -> ServerImage:
        """A tiny picture."""
        return ServerImage(data=PNG, format="png")

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise ToolError("the flux capacitor is empty")

    @server.tool()
    async def work(steps: int, ctx: ServerContext) -> str:
        """Reports progress at each step, and logs once."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        with warnings.catch_warnings():  # logging is deprecated in the newest protocol
            warnings.simplefilter("ignore")
            await ctx.info("half way")
        return "worked"

    @server.tool()
    async def where(
        answer: Annotated[ElicitationResult[City], Resolve(ask_city)],
    ) -> str:
        """Asks the user for a city."""
        if isinstance(answer, AcceptedElicitation):
            return f"accept:{answer.data.city}"
        return answer.action

    @server.tool()
    async def book(
        answer: Annotated[ElicitationResult[Booking], Resolve(ask_booking)],
    ) -> str:
        """Asks the user for a city and a number of nights."""
        if not isinstance(answer, AcceptedElicitation):
            return answer.action
        return f"{answer.data.nights} nights in {answer.data.city}"

    @server.tool()
    async def where_together(
        name: str, answer: Annotated[ElicitationResult[City], Resolve(arrive_together)]
    ) -> str:
        """Asks the user, once another call is also waiting on the server."""
        return answer.action

    @server.tool()
    async def poem(topic: str, answer: Annotated[CreateMessageResult, Resolve(ask_poem)]) -> str:
        """Asks the client's model for a poem."""
        assert isinstance(answer.content, TextContent)
        return f"{answer.model}: {answer.content.text}"

    @server.tool()
    async def learn(ctx: ServerContext) -> str:
        """Adds a tool, and tells the client its list changed."""
        server.add_tool(lambda: "new trick", name="trick", description="A new trick.")
        await ctx.notify_tools_changed()  # to clients on the 2026 protocol
        await ctx.session.send_tool_list_changed()  # to the others
        return "learned"

    @server.resource("notes://today", mime_type="text/plain")
    def today() -> str:
        """Today's notes."""
        return "buy milk"

    @server.resource("notes://logo", mime_type="image/png")
    def logo() -> bytes:
        """The logo."""
        return PNG

    @server.resource("notes://report", mime_type="application/pdf")
    def report() -> bytes:
        """A report."""
        return b"%PDF-1.4 tiny"

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Say hello to {name}."

    return server


if __name__ == "__main__":
    make_server().run()
