"""Reading the Responses API's answers into a ``ModelResponse``: a finished response (the SDK's
object, or the plain JSON a stream's last event carries) and the stream's events as they come,
with the hosted tools' output items. The request side is ``openai_responses.py``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..events import (
    Event,
    HostedToolCall,
    ModelResponse,
    ReasoningChunk,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from ._errors import malformed, unexpected_event
from ._hosted import hosted_call, search_results
from ._openai_common import response_error, stream_error
from ._sse import field

__all__ = ["REASONING_KEY", "StreamedResponse", "response_from", "responses_usage"]

Item = dict[str, Any]

# Where a ModelResponse keeps the raw reasoning items to replay (in ``provider_data``).
REASONING_KEY = "openai_reasoning_items"


def responses_usage(usage: Any) -> Usage:
    """Baton's usage from a response's ``usage`` (an SDK object or plain JSON)."""
    if usage is None:
        return Usage(requests=1)
    input_details = field(usage, "input_tokens_details")
    output_details = field(usage, "output_tokens_details")
    return Usage(
        requests=1,
        input_tokens=field(usage, "input_tokens") or 0,
        output_tokens=field(usage, "output_tokens") or 0,
        cache_read_tokens=field(input_details, "cached_tokens") or 0,
        cache_write_tokens=field(input_details, "cache_write_tokens") or 0,
        reasoning_tokens=field(output_details, "reasoning_tokens") or 0,
    )


def _raw(item: Any) -> Item:
    """An item (plain JSON or an SDK object) as the plain dict sent back verbatim (absent and
    null fields left out)."""
    if isinstance(item, dict):
        return _without_nulls(item)  # type: ignore[no-any-return]
    raw: Item = item.to_dict(mode="json", exclude_none=True)
    return raw


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class StreamedResponse:
    """A response assembled from its stream's events, as ``read_events`` hands them over (each
    event's JSON decoded into the fields read, see ``_wire_chunks``): ``take`` reads one and
    returns the pieces to stream; ``final`` is the finished response its last event carries,
    and the rest what the stream delivered piece by piece, for when that response omits it."""

    __slots__ = ("calls", "done", "final", "provider", "read", "text", "thoughts")

    def __init__(self, provider: str) -> None:
        from ._wire_chunks import RESPONSES, reader  # (msgspec: imported once a stream is read)

        self.provider = provider
        self.read = reader(RESPONSES, provider)
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # output_index -> [call_id, name, argument pieces]
        self.done: dict[int, Any] = {}  # output_index -> item from response.output_item.done
        self.final: Item | None = None  # the response of response.completed / .incomplete

    def call(self, index: int) -> list[Any]:
        return self.calls.setdefault(index, [None, None, []])

    def take(self, name: bytes | None, data: bytes) -> Sequence[Event] | None:
        """Read one event's data; None at ``[DONE]``, the end of the answer."""
        if data[:6] == b"[DONE]":
            return None
        provider = self.provider
        event = self.read(data)
        if event.error:  # an error payload in place of an event
            raise stream_error(provider, event.error)
        kind = event.type
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            delta = event.delta
            if delta.__class__ is not str:  # (the hot path: one check, no call)
                delta = _piece(provider, delta, data)
            if delta:
                self.text.append(delta)
                return (TextChunk(delta),)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = _piece(provider, event.delta, data)
            if delta:
                self.thoughts.append(delta)
                return (ReasoningChunk(delta),)
        elif kind == "response.output_item.added":
            item = event.item
            if isinstance(item, dict) and item.get("type") == "function_call":
                index = _index(provider, event.output_index, data)
                slot = self.call(index)
                slot[0], slot[1] = item.get("call_id"), item.get("name")
                arguments = item.get("arguments")
                if arguments and isinstance(arguments, str):
                    slot[2] = [arguments]
                    return (_delta(slot, index, arguments),)
        elif kind == "response.function_call_arguments.delta":
            index = _index(provider, event.output_index, data)
            slot = self.call(index)
            delta = _piece(provider, event.delta, data)
            if delta:
                slot[2].append(delta)
                return (_delta(slot, index, delta),)
        elif kind == "response.function_call_arguments.done":
            index = _index(provider, event.output_index, data)
            slot = self.call(index)
            final_arguments = event.arguments or ""
            if not isinstance(final_arguments, str):
                raise unexpected_event(provider, data)
            sent = "".join(slot[2])
            slot[2] = [final_arguments]
            if final_arguments.startswith(sent) and len(final_arguments) > len(sent):
                # Arguments the deltas left out: the pieces still add up to the call.
                return (_delta(slot, index, final_arguments[len(sent) :]),)
        elif kind == "response.output_item.done":
            self.done[_index(provider, event.output_index, data)] = event.item
        elif kind in ("response.completed", "response.incomplete"):
            final = event.response
            if not isinstance(final, dict):
                raise unexpected_event(provider, data)
            self.final = final
        elif kind == "response.failed":
            error = field(event.response, "error")
            raise response_error(provider, field(error, "code"), field(error, "message"))
        elif kind == "error":
            raise response_error(provider, event.code, event.message)
        return ()


def _string(value: Any) -> str:
    """A text field of a finished response: a string, or empty when the field is missing or of
    another type."""
    return value if isinstance(value, str) else ""


def _piece(provider: str, delta: Any, data: bytes) -> str:
    """A delta event's text piece (empty when absent)."""
    if delta is None or isinstance(delta, str):
        return delta or ""
    raise unexpected_event(provider, data)


def _index(provider: str, index: Any, data: bytes) -> int:
    """The ``output_index`` of an event about one output item."""
    if isinstance(index, int):
        return index
    raise unexpected_event(provider, data)


def _delta(slot: list[Any], index: int, piece: str) -> ToolCallDelta:
    """The streamed piece ``piece`` of the call in ``slot`` (at ``output_index`` ``index``)."""
    return ToolCallDelta(slot[0] or f"call_{index}", slot[1] or "", piece)


def _finish_reason(response: Any, has_calls: bool, refused: bool) -> str:
    if field(response, "status") == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return {"max_output_tokens": "length"}.get(reason or "", reason or "incomplete")
    if refused:
        return "refusal"
    return "tool_calls" if has_calls else "stop"


_HOSTED_ITEMS = {
    "web_search_call": "web_search",
    "code_interpreter_call": "code_interpreter",
    "file_search_call": "file_search",
}


def _hosted_call(item: Any, kind: str) -> HostedToolCall:
    """A hosted tool's output item (plain JSON from a stream, or the SDK's object) as a
    ``HostedToolCall``; fields of another type than expected are read as absent."""
    if kind == "web_search_call":
        action = field(item, "action")
        given = field(action, "query") or field(action, "url")
        output = search_results(("", _string(field(s, "url"))) for s in _items(action, "sources"))
    elif kind == "code_interpreter_call":
        given = field(item, "code")
        output = "\n".join(
            _string(field(o, "logs")) or _string(field(o, "url")) for o in _items(item, "outputs")
        )
    else:
        given = _items(item, "queries")
        output = search_results(
            (_string(field(r, "filename")), _string(field(r, "file_id")))
            for r in _items(item, "results")
        )
    return hosted_call(_string(field(item, "id")), _HOSTED_ITEMS[kind], kind, given, output)


def _items(value: Any, name: str) -> list[Any]:
    """A list field of a hosted tool's item (empty when absent or of another type)."""
    found = field(value, name)
    return found if isinstance(found, list) else []


def response_from(
    response: Any,
    streamed: StreamedResponse | None,
    provider: str,
    priced: Callable[[Usage], Usage],
) -> ModelResponse:
    """A ModelResponse from a finished response (an SDK object, or the plain JSON of a
    stream's last event). Its ``output`` is authoritative; what a stream delivered fills in
    whatever it left out. ``priced`` sets the usage's cost (the config's prices)."""
    if field(response, "status") == "failed":
        error = field(response, "error")
        raise response_error(provider, field(error, "code"), field(error, "message"))
    if streamed is None and not isinstance(field(response, "output"), list):
        raise malformed(provider, f"a response without output: {response.to_json(indent=None)}")
    output = field(response, "output")
    output = list(output) if isinstance(output, list) else []
    if not output and streamed is not None:
        output = [streamed.done[index] for index in sorted(streamed.done)]
    text: list[str] = []
    summaries: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[Item] = []
    hosted: list[HostedToolCall] = []
    has_message = refused = False
    for item in output:
        kind = field(item, "type")
        if kind == "message":
            has_message = True
            for part in field(item, "content") or ():
                part_type = field(part, "type")
                if part_type == "output_text":
                    text.append(_string(field(part, "text")))
                elif part_type == "refusal":
                    text.append(_string(field(part, "refusal")))
                    refused = True
        elif kind == "reasoning":
            reasoning.append(_raw(item))
            summaries.extend(_string(field(s, "text")) for s in field(item, "summary") or ())
            summaries.extend(_string(field(c, "text")) for c in field(item, "content") or ())
        elif kind == "function_call":
            calls.append(
                ToolCall(
                    _string(field(item, "call_id")),
                    _string(field(item, "name")),
                    _string(field(item, "arguments")) or "{}",
                )
            )
        elif isinstance(kind, str) and kind in _HOSTED_ITEMS:
            hosted.append(_hosted_call(item, kind))
    if streamed is not None:
        if not has_message:
            text = streamed.text
        if not calls:
            calls = [
                ToolCall(slot[0] or f"call_{index}", slot[1] or "", "".join(slot[2]) or "{}")
                for index, slot in sorted(streamed.calls.items())
            ]
        if not summaries and streamed.thoughts:
            summaries = ["".join(streamed.thoughts)]
    return ModelResponse(
        text="".join(text),
        tool_calls=tuple(calls),
        usage=priced(responses_usage(field(response, "usage"))),
        finish_reason=_finish_reason(response, bool(calls), refused),
        model=field(response, "model"),
        provider=provider,
        reasoning="\n\n".join(summaries),
        provider_data={REASONING_KEY: reasoning} if reasoning else None,
        response_id=field(response, "id") or None,
        hosted_calls=tuple(hosted),
    )
