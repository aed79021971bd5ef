"""MCP content as Baton values: tool results, resource contents and prompt messages.

MCP sends text, images, audio, embedded resources and resource links; the model reads text as
text and binary content as media parts (``Image``, ``Audio``, ``Video``, ``Document``), and
anything else as its JSON.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import RemoteToolError
from ..events import Audio, Document, Image, Media, Part, Video
from ..tools.tool import ToolResult, to_content

if TYPE_CHECKING:
    from mcp.types import (
        BlobResourceContents,
        CallToolResult,
        GetPromptResult,
        TextResourceContents,
    )

__all__ = ["PromptMessage", "blob_part", "content_parts", "prompt_messages", "resource_parts"]


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One message of an MCP prompt: who says it, and what (text and media parts)."""

    role: Literal["user", "assistant"]
    content: tuple[str | Part, ...]

    @property
    def text(self) -> str:
        """The message's text parts, joined."""
        return "\n".join(p for p in self.content if isinstance(p, str))


def blob_part(data: str, media_type: str | None) -> Part:
    """Base64 ``data`` as the media part its type names (a ``Document`` when it names none of
    image, audio or video). Data that is not base64 is a ``RemoteToolError``."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteToolError("the MCP server sent binary content that is not base64") from None
    kind = (media_type or "").partition("/")[0]
    cls: type[Media] = {"image": Image, "audio": Audio, "video": Video}.get(kind, Document)
    return cls(data=raw, media_type=media_type or cls.default_media_type)  # type: ignore[call-arg]


def content_parts(blocks: Iterable[Any]) -> list[str | Part]:
    """MCP content blocks (of a tool result or a prompt message) as text and media parts."""
    from mcp.types import (
        AudioContent,
        BlobResourceContents,
        EmbeddedResource,
        ImageContent,
        TextContent,
        TextResourceContents,
    )

    parts: list[str | Part] = []
    for block in blocks:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, ImageContent | AudioContent):
            parts.append(blob_part(block.data, block.mime_type))
        elif isinstance(block, EmbeddedResource) and isinstance(
            block.resource, TextResourceContents | BlobResourceContents
        ):
            parts.extend(resource_parts([block.resource]))
        else:  # resource links and kinds this version does not know: their JSON
            parts.append(to_content(block.model_dump(mode="json", exclude_none=True)))
    return parts


def resource_parts(
    contents: Iterable[TextResourceContents | BlobResourceContents],
) -> list[str | Part]:
    """A resource's contents as text (text contents) and media parts (blobs)."""
    from mcp.types import TextResourceContents

    return [
        c.text if isinstance(c, TextResourceContents) else blob_part(c.blob, c.mime_type)
        for c in contents
    ]


def tool_result(result: CallToolResult) -> ToolResult:
    """An MCP tool result as what the model reads: text as text, images and audio as media,
    structured content kept as the result's value; ``isError`` raises ``RemoteToolError``."""
    parts = content_parts(result.content)
    texts = [p for p in parts if isinstance(p, str)]
    text = "\n".join(texts)
    if result.is_error:
        raise RemoteToolError(text or "the tool reported an error without a message")
    content: str | list[str | Part] = text if len(texts) == len(parts) else parts
    value = result.structured_content if result.structured_content is not None else text
    return ToolResult(value, content=content)


def prompt_messages(result: GetPromptResult) -> list[PromptMessage]:
    """A prompt's messages as ``PromptMessage``s."""
    return [
        PromptMessage(message.role, tuple(content_parts([message.content])))
        for message in result.messages
    ]
