"""The event vocabulary: everything an agent does is one of these.

Events are frozen, slotted dataclasses. They serialize to plain JSON-able dicts (``to_dict``) and
back (``from_dict``) through an explicit registry: a payload can only ever build one of the classes
registered here, never an arbitrary class named in the data.

Events whose class sets ``transient = True`` (text and reasoning chunks, pieces of a tool call's
arguments, the per-call ``ToolCall`` notice) are delivered live on the stream but are not part of
a conversation's history.
"""

from __future__ import annotations

import base64
import math
import mimetypes
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic_core import to_jsonable_python

from .errors import EventDecodeError

__all__ = [
    "ApprovalRequest",
    "Audio",
    "CompactionSummary",
    "Data",
    "Document",
    "Event",
    "FileUrl",
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
    "from_dict",
    "register",
    "to_dict",
]


class Record:
    """Base of every serializable value in the vocabulary (events, message parts, usage)."""

    __slots__ = ()


class Event(Record):
    """Base class of all events. ``transient`` events are streamed live but not kept in history."""

    __slots__ = ()
    transient: ClassVar[bool] = False


class Part(Record):
    """One piece of a user's input: text, data, or media."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------------
# Registry and JSON codec
# ---------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Record]] = {}
# Per class: (field name, decoder) pairs, computed once at registration.
_DECODERS: dict[type[Record], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}
_FIELD_NAMES: dict[type[Record], tuple[str, ...]] = {}

R = TypeVar("R", bound=type[Record])


def register(cls: R) -> R:
    """Add a record class to the registry that ``from_dict`` is allowed to construct."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"Event type name {name!r} is already registered by another class")
    _REGISTRY[name] = cls
    _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    _DECODERS.pop(cls, None)
    return cls


def event_types() -> Mapping[str, type[Record]]:
    """The registered record classes by type name (read-only view)."""
    return types.MappingProxyType(_REGISTRY)


# JSON has no NaN or infinities: they are stored as these strings (every backend takes them, and
# no provider chokes on them). A float field reads them back as floats; in data (``Any`` fields,
# such as a tool result's ``value``) they stay the strings.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _non_finite(value: float) -> str:
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, Record):
        return to_dict(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    plain = to_jsonable_python(value, fallback=repr)
    return plain if isinstance(plain, str | int | bool | type(None)) else _encode(plain)


def to_dict(record: Record) -> dict[str, Any]:
    """Encode a registered record as a JSON-able dict with a ``"type"`` key."""
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        raise TypeError(f"{cls.__name__} is not a registered event type")
    out: dict[str, Any] = {"type": cls.__name__}
    for name in names:
        out[name] = _encode(getattr(record, name))
    return out


def from_dict(data: Mapping[str, Any]) -> Any:
    """Decode a dict made by ``to_dict``. Only registered classes can be built."""
    if not isinstance(data, Mapping):
        raise EventDecodeError(f"expected an object with a 'type' key, got {type(data).__name__}")
    type_name = data.get("type")
    cls = _REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise EventDecodeError(
            f"unknown event type {type_name!r}: only registered event types can be decoded "
            "(register custom events with baton.events.register)"
        )
    decoders = _DECODERS.get(cls)
    if decoders is None:
        decoders = _DECODERS[cls] = _decoders_of(cls)
    kwargs: dict[str, Any] = {}
    for name, decode in decoders:
        if name in data:
            try:
                kwargs[name] = decode(data[name])
            except EventDecodeError as exc:
                raise EventDecodeError(f"{type_name}.{name}: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise EventDecodeError(f"{type_name}.{name}: {exc}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise EventDecodeError(f"{type_name}: {exc}") from None


def _plain(value: Any) -> Any:
    return value


def _record_decoder(allowed: tuple[type, ...]) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if value is None:
            return None
        record = from_dict(value)
        if not isinstance(record, allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise EventDecodeError(f"expected {names}, got {type(record).__name__}")
        return record

    return decode


def _record_tuple_decoder(allowed: tuple[type, ...]) -> Callable[[Any], Any]:
    decode_one = _record_decoder(allowed)

    def decode(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise EventDecodeError("expected a list")
        return tuple(decode_one(v) for v in value)

    return decode


def _decode_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("$bytes"), str):
        return base64.b64decode(value["$bytes"])
    raise EventDecodeError("expected {'$bytes': <base64>}")


def _decode_tuple(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise EventDecodeError("expected a list")
    return tuple(value)


def _record_types(tp: Any) -> tuple[type, ...]:
    candidates = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    return tuple(c for c in candidates if isinstance(c, type) and issubclass(c, Record))


def _decoder_for(tp: Any) -> Callable[[Any], Any]:
    """Pick a decoder from a field's annotation. ``Any`` fields stay plain JSON on purpose;
    record fields accept only the record classes the annotation names."""
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        allowed = _record_types(args[0]) if args else ()
        return _record_tuple_decoder(allowed) if allowed else _decode_tuple
    allowed = _record_types(tp)
    if allowed:
        return _record_decoder(allowed)
    if tp is bytes or (origin in (Union, types.UnionType) and bytes in get_args(tp)):
        return _decode_bytes
    return _scalar_decoder(tp)


# The JSON types a scalar annotation accepts (a float field takes an integer; bool is no integer).
_SCALARS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (float, int),
    bool: (bool,),
}


def _scalar_decoder(tp: Any) -> Callable[[Any], Any]:
    """A type check for ``str``/``int``/``float``/``bool`` fields (and ``X | None``), so a
    stored event with the wrong type in a field is an ``EventDecodeError`` when loaded, not a
    ``TypeError`` in a later ask. Other annotations stay plain JSON. Exact type checks: this
    runs for every field of every event a history loads."""
    args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    kinds = [a for a in args if a is not type(None)]
    if len(kinds) != 1 or kinds[0] not in _SCALARS:
        return _plain
    accepted = frozenset(_SCALARS[kinds[0]])
    if type(None) in args:
        accepted = accepted | {type(None)}
    name = kinds[0].__name__

    def decode(value: Any) -> Any:
        if type(value) in accepted:
            return value
        if name == "float" and isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        raise EventDecodeError(f"expected {name}, got {type(value).__name__}")

    return decode


def _decoders_of(cls: type[Record]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    # Resolved lazily, on first decode, so that annotations may name classes defined later.
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _decoder_for(hints[f.name])) for f in fields(cls))  # type: ignore[arg-type]


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
        p = Path(path)
        guessed = media_type or mimetypes.guess_type(p.name)[0] or cls.default_media_type
        return cls(data=p.read_bytes(), media_type=guessed)  # type: ignore[call-arg]

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None) -> Any:
        """Reference media by URL; the provider fetches it (or Baton does, if it must)."""
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
