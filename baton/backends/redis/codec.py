"""Events to and from the bytes kept in Redis: JSON made by ``events.to_dict``, read back only
through ``events.from_dict`` (so a payload can only ever build a registered event class)."""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import from_json, to_json

from ...codec_rows import events_from_payloads
from ...errors import EventDecodeError
from ...events import Event, from_dict, to_dict

__all__ = ["decode_event", "decode_events", "encode_event", "id_key"]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_event(event: Event) -> bytes:
    """The event as compact UTF-8 JSON (``TypeError`` for an unregistered class).

    ``to_dict`` leaves only JSON's own types, which pydantic-core writes (in Rust) as ``json``
    would, five times faster: every stored event goes through here. Data it refuses (a lone
    surrogate, nesting past its depth limit) goes through ``json``, which writes it or raises
    as it always did."""
    data = to_dict(event)
    try:
        return to_json(data)
    except ValueError:
        return _dumps(data).encode()


def decode_event(payload: bytes | str | None, where: str = "") -> Event:
    """Decode one stored event; ``EventDecodeError`` (nothing constructed) if the payload is not
    JSON, names an unknown type, or is a registered record that is not an event."""
    suffix = f" ({where})" if where else ""
    if payload is None:
        raise EventDecodeError(f"a stored entry has no event payload{suffix}")
    try:
        data: Any = json.loads(payload)
    except ValueError as exc:
        raise EventDecodeError(f"a stored event is not valid JSON{suffix}: {exc}") from None
    try:
        record = from_dict(data)
    except EventDecodeError as exc:
        raise EventDecodeError(f"{exc}{suffix}") from None
    if not isinstance(record, Event):
        raise EventDecodeError(f"expected an event, got a {type(record).__name__}{suffix}")
    return record


def decode_events(payloads: list[bytes] | list[bytes | str], where: str = "") -> list[Event]:
    """Decode many stored events at once: each built straight into its class by msgspec
    (``codec_rows.events_from_payloads``) or, without it, parsed and built in one pass by
    ``events.events_from_json`` when they are well formed; else one parse of them all and
    ``from_dict`` each, or entry by entry with ``json``, so the error names the bad one and
    anything ``json`` reads still loads."""
    try:  # each straight into its class (msgspec), or in one pass in pieces (pydantic-core)
        events = events_from_payloads(payloads)  # type: ignore[arg-type]
    except TypeError:  # a str among them (Redis hands back bytes)
        payloads = [_as_bytes(p) for p in payloads]
        events = events_from_payloads(payloads)
    if events is not None and len(events) == len(payloads):
        return events
    joined = b"[" + b",".join(payloads) + b"]"  # type: ignore[arg-type]
    try:  # a payload the one-pass decoder refused is decoded, or named, here
        items: Any = from_json(joined)
    except ValueError:
        items = None
    if items is None or len(items) != len(payloads):  # a bad entry, or one that holds two
        return [decode_event(p, f"{where}[{i}]") for i, p in enumerate(payloads)]
    out: list[Event] = []
    for i, data in enumerate(items):
        try:
            record = from_dict(data)
        except EventDecodeError as exc:
            raise EventDecodeError(f"{exc} ({where}[{i}])") from None
        if not isinstance(record, Event):
            raise EventDecodeError(
                f"expected an event, got a {type(record).__name__} ({where}[{i}])"
            )
        out.append(record)
    return out


def _as_bytes(payload: bytes | str) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()


def id_key(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id (``b"1700000000000-3"``) as a comparable pair."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
