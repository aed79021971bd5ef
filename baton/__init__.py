"""Baton: an async-first framework for LLM agents and multi-agent systems.

    from baton import Agent, tool
    from baton.testing import ScriptedModel, call

Importing ``baton`` loads only the core (pydantic and the standard library); provider SDKs,
backends and protocol packages load when the feature that needs them is used.
"""

from .agent import Agent, AskOptions
from .context import Context, Depends, Inject, Variable
from .conversation import Conversation
from .errors import (
    BatonError,
    ConfigError,
    MaxTurnsExceeded,
    ModelError,
    OutputValidationError,
    Retry,
)
from .events import (
    Audio,
    Data,
    Document,
    Event,
    FileUrl,
    Image,
    ModelRequest,
    ModelResponse,
    Text,
    TextChunk,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
    Video,
)
from .history import History, HistoryView, MemoryHistory, MemoryStorage, Storage
from .models.base import ModelConfig, ModelSettings
from .output import Prompted
from .reply import Reply, Run
from .stream import MemoryStream, Stream
from .tools.tool import Tool, ToolResult, tool
from .tools.toolkit import Toolkit

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AskOptions",
    "Audio",
    "BatonError",
    "ConfigError",
    "Context",
    "Conversation",
    "Data",
    "Depends",
    "Document",
    "Event",
    "FileUrl",
    "History",
    "HistoryView",
    "Image",
    "Inject",
    "MaxTurnsExceeded",
    "MemoryHistory",
    "MemoryStorage",
    "MemoryStream",
    "ModelConfig",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "OutputValidationError",
    "Prompted",
    "Reply",
    "Retry",
    "Run",
    "Storage",
    "Stream",
    "Text",
    "TextChunk",
    "Tool",
    "ToolCall",
    "ToolCallError",
    "ToolCallResult",
    "ToolResult",
    "Toolkit",
    "Usage",
    "Variable",
    "Video",
    "__version__",
    "tool",
]
