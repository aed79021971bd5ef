"""Tools: typed functions the model can call, toolkits, and how calls are run."""

from .execution import execute_tool_call, execute_tool_calls
from .source import ToolSource
from .threads import ToolThreads, default_tool_threads
from .tool import Tool, ToolResult, ToolSpec, tool
from .toolkit import Toolkit

__all__ = [
    "Tool",
    "ToolResult",
    "ToolSource",
    "ToolSpec",
    "ToolThreads",
    "Toolkit",
    "default_tool_threads",
    "execute_tool_call",
    "execute_tool_calls",
    "tool",
]
