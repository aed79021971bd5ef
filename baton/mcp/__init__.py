"""MCP (the Model Context Protocol): any MCP server's tools in an agent, and any agent served
over MCP (``MCPApp``, ``baton mcp serve module:agent``).

    from baton.mcp import MCPServer

    time = MCPServer.stdio("uvx", ["mcp-server-time"])
    agent = Agent("clock", config=..., tools=[time])
    ...
    await time.aclose()            # or `async with time:`, or `await agent.aclose()`

Needs the official MCP SDK: ``pip install 'baton-agents[mcp]'``. Importing ``baton`` (or this
package) does not import it; describing a server without it is a ``ConfigError``.
"""

from .client import MCPServer
from .content import PromptMessage
from .options import ServerOptions
from .server import MCPApp, ToolsMode

__all__ = ["MCPApp", "MCPServer", "PromptMessage", "ServerOptions", "ToolsMode"]
