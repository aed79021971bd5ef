"""Media inputs encoded the ways providers want them."""

from __future__ import annotations

import base64
import mimetypes

from ..errors import InvalidRequest
from ..events import Audio, Document, FileUrl, Image, Media, Part, ToolCallResult, Video
from ..transcript import part_text

__all__ = [
    "b64",
    "data_url",
    "document_name",
    "media_note",
    "produced_media",
    "tool_media_intro",
    "unsupported",
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(part: Media) -> str:
    """A ``data:`` URL for inline media, or the part's own URL."""
    if part.url is not None:
        return part.url
    assert part.data is not None
    return f"data:{part.media_type or part.default_media_type};base64,{b64(part.data)}"


# Media types whose extension ``mimetypes`` does not know everywhere.
_EXTENSIONS = {"application/pdf": ".pdf", "text/markdown": ".md", "text/csv": ".csv"}


def document_name(media_type: str | None) -> str:
    """A file name for an inline document, with the extension of its media type (a CSV is
    ``document.csv``, not ``document.pdf``); a PDF when the type is not given."""
    media_type = (media_type or "application/pdf").split(";", 1)[0].strip().lower()
    extension = _EXTENSIONS.get(media_type) or mimetypes.guess_extension(media_type)
    return f"document{extension or ''}"


def produced_media(
    media_type: str | None, data: bytes | None = None, url: str | None = None
) -> Media:
    """A file the model produced, as the media part its type names (``image/*`` an ``Image``,
    ``audio/*`` an ``Audio``, ``video/*`` a ``Video``, anything else a ``Document``)."""
    top = (media_type or "").split("/", 1)[0].lower()
    kind: type[Media] = {"image": Image, "audio": Audio, "video": Video}.get(top, Document)
    return kind(data=data, url=url, media_type=media_type or kind.default_media_type)  # type: ignore[call-arg]


def unsupported(provider: str, part: Part, hint: str = "") -> InvalidRequest:
    kind = {
        Image: "images",
        Audio: "audio",
        Video: "video",
        Document: "documents",
        FileUrl: "files by URL",
    }.get(type(part), type(part).__name__)
    how = "from a URL" if isinstance(part, Media) and part.url is not None else "this way"
    if isinstance(part, Video) and not hint:
        hint = "only Gemini and Vertex AI take video input"
    return InvalidRequest(
        f"{provider} does not accept {kind} {how}" + (f": {hint}" if hint else ""),
        provider=provider,
    )


def media_note(provider: str, part: Part) -> str:
    """The text sent instead of media a provider cannot take in that place."""
    return f"{part_text(part)} (not shown: {provider} does not accept this media here)"


def tool_media_intro(result: ToolCallResult) -> str:
    """The text opening the user message that carries a tool result's media, where a
    provider's tool messages take text only."""
    return f"The media returned by tool {result.name} (call {result.call_id}):"
