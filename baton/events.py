"""The event vocabulary: everything an agent does is one of these.

Events are frozen, slotted dataclasses. They serialize to plain JSON-able dicts (``to_dict``)
and back (``from_dict``; both in ``baton.codec``, re-exported here) through an explicit
registry: a payload can only ever build one of the classes registered there, never an
arbitrary class named in the data.

Events whose class sets ``transient = True`` (text and reasoning chunks, pieces of a tool call's
arguments, the per-call ``ToolCall`` notice) are delivered live on the stream but are not part of
a conversation's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .codec import (
    JSON_PIECE,
    Event,
    Part,
    Record,
    event_types,
    events_from_json,
    from_dict,
    json_pieces,
    register,
    to_dict,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "JSON_PIECE",
    "ApprovalRequest",
    "Audio",
    "CompactionSummary",
    "Data",
    "Document",
    "Event",
    "FileUrl",
    "HostedToolCall",
    "HumanInputRequest",
    "HumanMessage",
    "Image",
    "Media",
    "ModelCallRetry",
    "ModelRequest",
    "ModelResponse",
    "ObserverAlert",
    "OutputRejected",
    "Part",
    "RateLimitWait",
    "ReasoningChunk",
    "Record",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "SubscriberFailed",
    "TaskCompleted",
    "TaskFailed",
    "TaskProgress",
    "TaskStarted",
    "Text",
    "TextChunk",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallError",
    "ToolCallResult",
    "ToolThreadAbandoned",
    "UnattendedRequest",
    "Usage",
    "UsageLine",
    "UsageReport",
    "Video",
    "event_types",
    "events_from_json",
    "from_dict",
    "json_pieces",
    "register",
    "to_dict",
]


# ---------------------------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class Usage(Record):
    """Token and request counts, and their cost in USD when the model has a price. Add two
    with ``+``. ``input_tokens`` includes cached ones; ``output_tokens`` includes reasoning."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.tool_calls + other.tool_calls,
            self.cost + other.cost,
        )


# ---------------------------------------------------------------------------------------------
# Input parts
# ---------------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class Text(Part):
    """Plain text input."""

    text: str


@register
@dataclass(frozen=True, slots=True)
class Data(Part):
    """JSON-able structured data given to the model as input."""

    value: Any


class Media(Part):
    """Binary media given inline (``data``) or by reference (``url``); exactly one of them."""

    __slots__ = ()
    default_media_type: ClassVar[str] = "application/octet-stream"
    data: bytes | None
    url: str | None
    media_type: str | None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError(f"{type(self).__name__} needs exactly one of data= or url=")

    @classmethod
    def from_path(cls, path: str | Path, media_type: str | None = None) -> Any:
        """Read a file into an inline part, guessing its media type from the file name."""
        import mimetypes  # (with its URL parsing) only for media made from files and URLs
        from pathlib import Path

        p = Path(path)
        guessed = media_type or mimetypes.guess_type(p.name)[0] or cls.default_media_type
        return cls(data=p.read_bytes(), media_type=guessed)  # type: ignore[call-arg]

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None) -> Any:
        """Reference media by URL; the provider fetches it (or Baton does, if it must)."""
        import mimetypes

        return cls(url=url, media_type=media_type or mimetypes.guess_type(url)[0])  # type: ignore[call-arg]


@register
@dataclass(frozen=True, slots=True)
class Image(Media):
    """An image input (PNG, JPEG, WebP, GIF)."""

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = "image/png"
    default_media_type: ClassVar[str] = "image/png"


@register
@dataclass(frozen=True, slots=True)
class Audio(Media):
    """An audio input (WAV, MP3, ...)."""

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = "audio/wav"
    default_media_type: ClassVar[str] = "audio/wav"


@register
@dataclass(frozen=True, slots=True)
class Document(Media):
    """A document input, typically a PDF."""

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = "application/pdf"
    default_media_type: ClassVar[str] = "application/pdf"


@register
@dataclass(frozen=True, slots=True)
class Video(Media):
    """A video input (MP4, WebM, MOV, ...). Gemini and Vertex AI take it, inline or by URL (a
    ``gs://`` URI, an uploaded file's URI or, on the Gemini API, a YouTube link); every other
    provider refuses it with an ``InvalidRequest`` naming the provider."""

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = "video/mp4"
    default_media_type: ClassVar[str] = "video/mp4"


@register
@dataclass(frozen=True, slots=True)
class FileUrl(Part):
    """A file the provider fetches by URL, of any media type."""

    url: str
    media_type: str | None = None


# ---------------------------------------------------------------------------------------------
# The loop's events
# ---------------------------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """An ask began on a conversation."""

    run_id: str
    agent: str
    conversation_id: str


@register
@dataclass(frozen=True, slots=True)
class ModelRequest(Event):
    """The user's input for one ask."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, Text))


@register
@dataclass(frozen=True, slots=True)
class HostedToolCall(Event):
    """A tool the model's provider ran itself while answering (``baton.models.hosted``): a
    hosted web search, a code run, a file search. ``kind`` is Baton's name for it
    (``"web_search"``, ``"code_interpreter"``, ``"file_search"``), ``name`` the provider's;
    ``input`` is what the model asked for (a query, code) and ``output`` what came back (result
    titles and addresses, printed output), as text. Kept in ``ModelResponse.hosted_calls`` and
    announced on the stream, transiently, as the answer arrives."""

    id: str
    kind: str
    name: str = ""
    input: str = ""
    output: str = ""
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ToolCall(Event):
    """A call the model asked for. ``arguments`` is the raw JSON text the model produced.

    Tool calls live inside ``ModelResponse.tool_calls``; each is also announced on the stream,
    transiently, when it starts running.
    """

    id: str
    name: str
    arguments: str = "{}"
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ToolCallDelta(Event):
    """A piece of a tool call's arguments as the model streams the call (live only).

    ``call_id`` and ``name`` are those of the ``ToolCall`` the pieces build; ``delta`` is the
    new piece of its raw JSON ``arguments``. A UI joins the pieces of one ``call_id`` to show the
    call forming; the complete ``ToolCall`` still arrives in the ``ModelResponse``. Emitted by
    the providers that stream arguments (OpenAI Chat and Responses, Anthropic) and by a
    ``ScriptedModel`` playing ``chunks(..., call(...))``.
    """

    call_id: str
    name: str
    delta: str
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ModelResponse(Event):
    """One complete answer of the model: text and/or tool calls, with usage and metadata.
    ``agent`` names the agent that was called (set by the loop): another agent reading the
    conversation sees this as that agent's turn (``baton.transcript``). ``files`` holds the media
    the model produced (``Image``, ...; ``reply.files`` of the final answer): Gemini and Vertex AI
    fill it from the inline-data and file-data parts of their answers; the other providers'
    adapters return text and tool calls only, so theirs stay empty."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    reasoning: str = ""
    # Opaque provider data that must be replayed verbatim (e.g. signed reasoning blocks).
    provider_data: Any = None
    agent: str | None = None
    # The provider's id for this answer (e.g. ``chatcmpl-...``, ``msg_...``), when it sends one.
    response_id: str | None = None
    # Files the model produced in this answer (e.g. images from Gemini), in the order given.
    files: tuple[Media, ...] = ()
    # Tools the provider ran itself while answering (a hosted web search, code run): see
    # ``HostedToolCall``; each is also announced on the stream before this response.
    hosted_calls: tuple[HostedToolCall, ...] = ()


@register
@dataclass(frozen=True, slots=True)
class TextChunk(Event):
    """A piece of model text as it streams."""

    text: str
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ReasoningChunk(Event):
    """A piece of model reasoning as it streams."""

    text: str
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ToolCallResult(Event):
    """A tool finished. ``content`` is what the model sees; ``value`` what the function returned.

    A result with media (a tool returned an ``Image``, ``Audio``, ``Document`` or ``FileUrl``,
    or a ``ToolResult`` mixing text and media) has them in ``parts``, in order (text as
    ``Text``): providers send those. ``content`` is then the same result as text, each media
    part a short placeholder (``[image: image/png, 100 KB]``), for whoever reads text only
    (token counts, compaction, telemetry, another agent's transcript). A tool that returned
    media itself (not through a ``ToolResult``) has ``value=None``: the bytes are kept once.
    """

    call_id: str
    name: str
    content: str
    value: Any = None
    final: bool = False
    parts: tuple[Part, ...] = ()


@register
@dataclass(frozen=True, slots=True)
class ToolCallError(Event):
    """A tool call failed; ``message`` is the short, model-readable explanation sent back."""

    call_id: str
    name: str
    message: str
    error_type: str = "ToolError"


@register
@dataclass(frozen=True, slots=True)
class OutputRejected(Event):
    """A final answer failed structured-output validation and was sent back to be corrected."""

    message: str
    text: str = ""


@register
@dataclass(frozen=True, slots=True)
class HumanInputRequest(Event):
    """The agent asks a human for input (``call_id``: the tool call asking; ``task_id``: the
    sub-task whose agent asked, when a sub-agent's request reached its parent)."""

    request_id: str
    prompt: str
    call_id: str | None = None
    task_id: str | None = None


@register
@dataclass(frozen=True, slots=True)
class ApprovalRequest(Event):
    """A tool call waits for a human's approval before it runs (``task_id``: the sub-task
    whose agent made the call, when a sub-agent's request reached its parent)."""

    request_id: str
    call: ToolCall
    reason: str = ""
    task_id: str | None = None


@register
@dataclass(frozen=True, slots=True)
class UnattendedRequest(Event):
    """An ask waits for a human nobody can answer yet: no ``hitl`` handler, no parent ask to
    relay to, nobody watching the conversation's stream in this process. Recorded (and logged
    as a warning) at once, so a hang is visible; an answer sent later still counts."""

    request_id: str
    message: str


@register
@dataclass(frozen=True, slots=True)
class HumanMessage(Event):
    """A human's message: an answer to a request (``request_id``), an approval, or a remark.
    ``always`` with ``approved=True``: approve the same tool for the rest of the conversation
    (``ApprovalPolicy`` asks no more for it)."""

    text: str = ""
    request_id: str | None = None
    approved: bool | None = None
    always: bool = False


@register
@dataclass(frozen=True, slots=True)
class UsageLine(Record):
    """Usage of one kind of work (``model``, ``subtask``, ``compaction``, ...) on one model."""

    kind: str
    provider: str
    model: str
    usage: Usage


@register
@dataclass(frozen=True, slots=True)
class UsageReport(Event):
    """The usage of one whole ask, emitted just before it finishes: the total, and the same
    broken down by kind of work, provider and model."""

    usage: Usage
    breakdown: tuple[UsageLine, ...] = ()


@register
@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """An ask ended with a final answer."""

    run_id: str
    text: str
    output: Any = None


@register
@dataclass(frozen=True, slots=True)
class RunFailed(Event):
    """An ask ended with an error (or was cancelled)."""

    run_id: str
    error_type: str
    message: str


@register
@dataclass(frozen=True, slots=True)
class ObserverAlert(Event):
    """An observer noticed something; a ``fatal`` alert halts the ask."""

    observer: str
    message: str
    severity: str = "warning"
    fatal: bool = False


@register
@dataclass(frozen=True, slots=True)
class ModelCallRetry(Event):
    """A model call failed with a retryable error and will be tried again after ``delay``
    seconds. Text streamed by the failed attempt should be discarded by UIs."""

    attempt: int
    delay: float
    error_type: str
    message: str


@register
@dataclass(frozen=True, slots=True)
class RateLimitWait(Event):
    """A rate limiter holds a model call back for ``seconds`` (its budget of requests or
    tokens is spent for now); ``limiter`` names it. Live only (not kept in the history)."""

    seconds: float
    limiter: str
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class CompactionSummary(Event):
    """A summary standing in for the ``covers`` events before it when the model is called
    (the events themselves stay in history)."""

    summary: str
    covers: int
    strategy: str = "summary"

    @property
    def message(self) -> str:
        """The text providers send in place of the covered events (as a user message)."""
        return f"Summary of the earlier conversation: {self.summary}"


@register
@dataclass(frozen=True, slots=True)
class TaskStarted(Event):
    """A sub-task began in a child agent."""

    task_id: str
    agent: str
    task: str


@register
@dataclass(frozen=True, slots=True)
class TaskProgress(Event):
    """Something happened inside a running sub-task (a tool call, a piece of text...)."""

    task_id: str
    kind: str
    detail: str = ""
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class TaskCompleted(Event):
    """A sub-task finished."""

    task_id: str
    text: str
    usage: Usage = Usage()


@register
@dataclass(frozen=True, slots=True)
class TaskFailed(Event):
    """A sub-task failed or was cancelled; ``usage`` is what it spent before that."""

    task_id: str
    error_type: str
    message: str
    usage: Usage = Usage()


@register
@dataclass(frozen=True, slots=True)
class SubscriberFailed(Event):
    """A stream subscriber raised; it was isolated and the loop went on."""

    subscriber: str
    event_type: str
    error_type: str
    message: str
    transient: ClassVar[bool] = True


@register
@dataclass(frozen=True, slots=True)
class ToolThreadAbandoned(Event):
    """A sync tool outlived its timeout (the model got a ``ToolTimeout`` error) and its thread
    is left running: Python cannot kill a thread, so the function runs on until it returns by
    itself. ``abandoned`` counts the threads of that pool left running so; they no longer count
    against its size (see ``baton.tools.threads``)."""

    call_id: str
    name: str
    timeout: float
    abandoned: int
    transient: ClassVar[bool] = True
