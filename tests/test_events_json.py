"""``events_from_json``: a stored history decoded in one pass (issue 19, point 5).

Its contract: for any JSON array it either returns exactly what ``from_dict`` builds from each
item (same classes, same values, same value types) or ``None``, and the loads then decode item
by item with ``from_dict``, which names what is wrong. It never builds a class the registry
does not hold, nor a record a field does not name."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic_core import from_json

from baton import codec_rows
from baton.codec_rows import events_from_payloads, events_from_rows
from baton.errors import EventDecodeError
from baton.events import (
    Event,
    Image,
    ModelRequest,
    ModelResponse,
    Text,
    ToolCall,
    Usage,
    event_types,
    events_from_json,
    from_dict,
    register,
    to_dict,
)
from tests.event_samples import HOSTILE_VALUES, SAMPLES


def _same_as_from_dict(items: list[Any]) -> list[Event] | None:
    """``events_from_json`` of the items, checked against ``from_dict`` of each when it
    decoded them (the repr shows each value's type: ``1`` is not ``1.0``, a list no tuple)."""
    decoded = events_from_json(json.dumps(items))
    if decoded is not None:
        expected = [from_dict(item) for item in items]
        assert decoded == expected
        assert repr(decoded) == repr(expected)
        assert [type(e) for e in decoded] == [type(e) for e in expected]
    return decoded


EVENT_SAMPLES = sorted(name for name, record in SAMPLES.items() if isinstance(record, Event))


@pytest.mark.parametrize("name", EVENT_SAMPLES)
def test_every_event_type_decodes_in_one_pass(name: str) -> None:
    assert _same_as_from_dict([to_dict(SAMPLES[name])]) == [SAMPLES[name]]


def test_a_whole_history_decodes_in_one_pass_in_order() -> None:
    history = [SAMPLES[name] for name in EVENT_SAMPLES] * 3
    assert _same_as_from_dict([to_dict(e) for e in history]) == history
    assert events_from_json("[]") == []


def test_values_keep_the_types_from_dict_gives_them() -> None:
    # A float field keeps an integer as stored; ``Any`` fields stay plain JSON (lists, dicts
    # that name a registered type); omitted fields take their defaults.
    items = [
        {"type": "ModelResponse", "usage": {"type": "Usage", "cost": 2}},
        {"type": "ModelResponse", "provider_data": [{"type": "ToolCall", "id": "x"}, 1.5]},
        {"type": "ToolCall", "id": "c", "name": "n", "__class__": "os.system"},
        {"type": "ModelResponse", "usage": None},
    ]
    decoded = _same_as_from_dict(items)
    assert decoded is not None
    assert type(decoded[0].usage.cost) is int  # type: ignore[attr-defined]
    assert decoded[1].provider_data == [{"type": "ToolCall", "id": "x"}, 1.5]  # type: ignore[attr-defined]
    assert decoded[2] == ToolCall("c", "n")


def hostile_payloads(name: str) -> Iterator[tuple[dict[str, Any], bool]]:
    """The payload of ``SAMPLES[name]`` with each field in turn holding each of the
    ``HOSTILE_VALUES``, and whether ``from_dict`` refuses it."""
    full = to_dict(SAMPLES[name])
    for field_name in full:
        if field_name == "type":
            continue
        for value in HOSTILE_VALUES:
            hostile = {**full, field_name: value}
            try:
                from_dict(hostile)
            except EventDecodeError:
                yield hostile, True
            else:
                yield hostile, False


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_wrong_value_in_any_field_is_refused_or_decoded_as_from_dict_does(name: str) -> None:
    for hostile, refused in hostile_payloads(name):
        if refused:
            assert events_from_json(json.dumps([hostile])) is None
        elif isinstance(SAMPLES[name], Event):
            _same_as_from_dict([hostile])


@pytest.mark.parametrize(
    "item",
    [
        {"type": "NoSuchEvent"},
        {"type": "Sentinel"},
        {"type": "Event"},
        {"type": 1},
        {"text": "hi"},
        "TextChunk",
        None,
        {"type": "Usage"},  # a registered record that is not an event
        {"type": "Text", "text": "a part, not an event"},
        {"type": "RunStarted", "run_id": "r"},  # fields missing
        {"type": "ModelRequest", "parts": [{"type": "os.system"}]},
        {"type": "ModelRequest", "parts": [{"type": "Image"}]},  # refused by __post_init__
        {
            "type": "ModelRequest",
            "parts": [{"type": "Image", "data": {"$bytes": "***not base64***"}}],
        },
        {"type": "ModelResponse", "usage": {"type": "TextChunk", "text": "x"}},
        {"type": "ModelResponse", "tool_calls": [{"type": "Text", "text": "x"}]},
        {"type": "ModelResponse", "tool_calls": [None]},
        {"type": "ModelResponse", "usage": {"type": "Usage", "cost": "NaN"}},
        {"type": "ModelResponse", "usage": {"type": "Usage", "requests": True}},
        {"type": "ModelResponse", "usage": {"type": "Usage", "requests": 1.0}},
    ],
)
def test_what_it_does_not_build_exactly_as_from_dict_it_refuses(item: Any) -> None:
    assert events_from_json(json.dumps([to_dict(SAMPLES["RunStarted"]), item])) is None


@pytest.mark.parametrize("text", ["", "[", "{}", '{"type": "TextChunk", "text": "x"}', "[1,]"])
def test_what_is_not_a_json_array_is_refused(text: str) -> None:
    assert events_from_json(text) is None


def test_media_bytes_decode_from_base64() -> None:
    request = ModelRequest((Text("see"), Image(data=b"\x89PNG\x00\xff")))
    assert _same_as_from_dict([to_dict(request)]) == [request]


def test_an_event_registered_after_a_load_decodes_in_the_next() -> None:
    assert events_from_json(json.dumps([to_dict(ModelResponse("hi"))])) == [ModelResponse("hi")]

    @register
    @dataclass(frozen=True, slots=True)
    class LateEvent(Event):
        note: str
        usage: Usage | None = None

    late = LateEvent("later", Usage(requests=1))
    assert _same_as_from_dict([to_dict(late), to_dict(ModelResponse("hi"))]) == [
        late,
        ModelResponse("hi"),
    ]


def test_an_event_class_that_is_not_slotted_decodes_through_its_from_dict() -> None:
    @register
    @dataclass(frozen=True)
    class PlainEvent(Event):
        note: str
        count: int = 0

    plain = PlainEvent("hi", 2)
    assert _same_as_from_dict([to_dict(plain)]) == [plain]
    assert events_from_json(json.dumps([{"type": "PlainEvent", "note": 1}])) is None


def test_a_class_whose_annotation_names_nothing_yet_leaves_the_others_in_one_pass() -> None:
    @register
    @dataclass(frozen=True, slots=True)
    class Dangling(Event):
        later: NotDefinedYet  # type: ignore[name-defined]  # noqa: F821

    decoded = events_from_json(json.dumps([to_dict(ModelResponse("hi"))]))
    assert decoded == [ModelResponse("hi")]
    assert events_from_json(json.dumps([{"type": "Dangling", "later": 1}])) is None


def collector_probe(name: str, seen: list[bool]) -> Any:
    """A registered event class ``name`` noting in ``seen``, as each one is built, whether the
    cyclic collector runs (and refusing to be built with ``fail=True``)."""

    @dataclass(frozen=True, slots=True)
    class Probe(Event):
        fail: bool = False

        def __post_init__(self) -> None:
            seen.append(gc.isenabled())
            if self.fail:
                raise ValueError("refused")

    Probe.__name__ = Probe.__qualname__ = name
    return register(Probe)


def test_the_collector_is_paused_for_the_decode_and_left_as_it_was() -> None:
    # The decode builds a whole history in one call with the cyclic collector paused (see
    # ``events_from_json``); afterwards it is as it was, whether the call succeeded or not,
    # and a collector that was off stays off. Thresholds are never touched.
    seen: list[bool] = []
    CollectorProbe = collector_probe("CollectorProbe", seen)
    thresholds = gc.get_threshold()
    expected = CollectorProbe()
    probe, failing = to_dict(expected), {"type": "CollectorProbe", "fail": True}
    seen.clear()
    assert gc.isenabled()
    assert events_from_json(json.dumps([probe])) == [expected]
    assert events_from_json(json.dumps([probe, failing])) is None
    assert seen == [False, False, False]  # both decodes ran paused
    assert gc.isenabled()
    gc.disable()
    try:
        assert events_from_json(json.dumps([probe])) == [expected]
        assert not gc.isenabled()  # not switched on by a load
    finally:
        gc.enable()
    assert gc.get_threshold() == thresholds


def _other_modules_samples() -> dict[str, Event]:
    """One rich instance of every event registered by Baton's modules besides
    ``baton.events`` (whose samples are ``SAMPLES``)."""
    from baton.a2a.events import RemoteStatus, RemoteText
    from baton.mcp.events import MCPLog, MCPProgress
    from baton.team_events import (
        Handoff,
        MemberUsage,
        SpeakerSelected,
        TeamFailed,
        TeamFinished,
        TeamStarted,
    )

    usage = Usage(1, 10, 5, cost=0.25)
    return {
        "RemoteStatus": RemoteStatus("t1", "remote", "rt1", "working", "on it"),
        "RemoteText": RemoteText("t1", "remote", "partial text"),
        "MCPLog": MCPLog("files", "info", {"path": "/tmp", "items": [1, 2.5, None]}, "fs"),
        "MCPProgress": MCPProgress("c1", "files", 0.5, 2.0, "half way"),
        "TeamStarted": TeamStarted("tm1", "crew", "round_robin", "conv", "plan a trip"),
        "SpeakerSelected": SpeakerSelected("tm1", "crew", "writer", "their turn", 2),
        "Handoff": Handoff("tm1", "crew", "writer", "editor", "review"),
        "TeamFinished": TeamFinished(
            "tm1", "crew", "MaxTurns(2)", "done", 2, usage, (MemberUsage("writer", usage),)
        ),
        "TeamFailed": TeamFailed("tm1", "crew", "RuntimeError", "boom"),
    }


def test_every_event_baton_registers_decodes_in_one_pass_as_stored() -> None:
    # Every event class Baton's own modules register (tests register others) has a sample
    # here, and each decodes in one pass to an event equal to the one stored, alone, in a
    # history with the others, and in pieces, as the loads give it.
    others = _other_modules_samples()
    samples: dict[str, Event] = {
        **{name: record for name, record in SAMPLES.items() if isinstance(record, Event)},
        **others,
    }
    registered = {
        name
        for name, cls in event_types().items()
        if issubclass(cls, Event) and cls.__module__.startswith("baton.")
    }
    assert registered == set(samples)
    for name, event in samples.items():
        assert _same_as_from_dict([to_dict(event)]) == [event], name
    history = [samples[name] for name in sorted(samples)] * 3
    payloads = [json.dumps(to_dict(e)) for e in history]
    assert _same_as_from_dict([to_dict(e) for e in history]) == history
    pieces = ["[" + ",".join(payloads[i : i + 5]) + "]" for i in range(0, len(payloads), 5)]
    assert events_from_json(pieces) == history
    assert events_from_json([p.encode() for p in pieces]) == history


def test_a_history_in_pieces_decodes_as_one_and_a_bad_piece_refuses_it_all() -> None:
    history = [ModelResponse(str(i), usage=Usage(1, i, 2)) for i in range(12)]
    payloads = [json.dumps(to_dict(e)) for e in history]
    pieces = ["[" + ",".join(payloads[i : i + 5]) + "]" for i in range(0, 12, 5)]
    assert events_from_json(pieces) == history == events_from_json("[" + ",".join(payloads) + "]")
    assert events_from_json([]) == [] and events_from_json(["[]", "[]"]) == []
    assert events_from_json([*pieces, '[{"type": "NoSuchEvent"}]']) is None
    assert events_from_json([pieces[0], "[", pieces[1]]) is None
    assert gc.isenabled()


# -- events_from_rows: each row's payload decoded as its row's class (msgspec when installed) --


def _rows_same_as_from_dict(items: list[Any], names: list[str] | None = None) -> list[Event] | None:
    """``events_from_rows`` of the items as rows (their ``"type"`` the row's type unless
    ``names`` says otherwise), as text and as bytes, checked against ``from_dict`` of each when
    it decoded them (values' types included, as ``_same_as_from_dict``)."""
    if names is None:
        names = [i.get("type") if isinstance(i, dict) else "?" for i in items]
    payloads = [json.dumps(item) for item in items]
    decoded = events_from_rows(names, payloads)
    assert repr(events_from_rows(names, [p.encode() for p in payloads])) == repr(decoded)
    # without the names (Redis): the same, or the one-pass decode's answer for the same items
    untyped = events_from_payloads([p.encode() for p in payloads])
    assert repr(untyped) in (repr(decoded), repr(events_from_json(json.dumps(items))))
    if untyped is not None:
        assert repr(untyped) == repr([from_dict(item) for item in items])
    if decoded is not None:
        expected = [from_dict(item) for item in items]
        assert decoded == expected
        assert repr(decoded) == repr(expected)
        assert [type(e) for e in decoded] == [type(e) for e in expected]
        assert [type(e).__name__ for e in decoded] == names
    return decoded


@pytest.mark.parametrize("name", EVENT_SAMPLES)
def test_every_event_type_decodes_as_its_row(name: str) -> None:
    assert _rows_same_as_from_dict([to_dict(SAMPLES[name])]) == [SAMPLES[name]]


def test_every_event_baton_registers_decodes_as_its_row_and_with_msgspec_fast() -> None:
    samples = {
        **{name: record for name, record in SAMPLES.items() if isinstance(record, Event)},
        **_other_modules_samples(),
    }
    history = [samples[name] for name in sorted(samples)] * 3
    assert _rows_same_as_from_dict([to_dict(e) for e in history]) == history
    assert events_from_rows([], []) == []
    if codec_rows.fast():  # every class Baton registers takes the fast path
        assert set(samples) <= set(codec_rows._table() or ())


@pytest.mark.parametrize("name", EVENT_SAMPLES)
def test_a_wrong_value_in_any_field_of_a_row_is_refused_or_decoded_as_from_dict_does(
    name: str,
) -> None:
    for hostile, refused in hostile_payloads(name):
        if refused:
            assert events_from_rows([name], [json.dumps(hostile)]) is None
        else:
            _rows_same_as_from_dict([hostile])


@pytest.mark.parametrize(
    ("names", "payloads"),
    [
        (["RunStarted"], ['{"run_id": "r", "agent": "a", "conversation_id": "c"}']),
        (["RunStarted"], ['{"type": "RunFinished", "run_id": "r", "text": "t"}']),
        (["RunFinished"], ['{"type": "RunFinished", "run_id": "r", "text": "t", "type": "X"}']),
        (["RunFinished"], ['{"type": "RunFinished", "run_id": "r", "text": "t"} x']),
        (["NoSuchEvent"], ['{"type": "NoSuchEvent"}']),
        (["Usage"], ['{"type": "Usage"}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "usage": {"requests": 1}}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "usage": {"type": "Text", "text": "x"}}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "tool_calls": [{"id": "c", "name": 1}]}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "tool_calls": [{"id": "c", "name": ""}]}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "usage": {"type": "Usage", "cost": "1"}}']),
        (["ModelResponse"], ['{"type": "ModelResponse", "text": "\\ud800"}']),
        (
            ["ModelRequest"],
            ['{"type": "ModelRequest", "parts": [{"type": "Image", "data": "AA"}]}'],
        ),
        (["RunStarted", "RunStarted"], ['{"type": "RunStarted"}']),
        # not JSON (a raw tab in a string, text after the value), not UTF-8, or what only the
        # row-by-row fallback (json.loads) reads: a lone surrogate
        (["RunFinished"], ['{"type": "RunFinished", "run_id": "r", "text": "a\tb"}']),
        (["RunFinished"], ['{"type": "RunFinished", "run_id": "r", "text": "t"}, {}']),
        (["RunFinished"], [b'{"type": "RunFinished", "run_id": "r", "text": "\xff"}']),
        (["RunFinished"], [b'{"type": "RunFinished", "run_id": "r", "text": "\xed\xa0\x80"}']),
    ],
)
def test_what_a_row_does_not_build_exactly_as_from_dict_it_refuses(
    names: list[str], payloads: list[str] | list[bytes]
) -> None:
    assert events_from_rows(names, payloads) is None


def test_rows_keep_the_values_from_dict_gives_them() -> None:
    # An integer in a float field stays an integer (or the row takes the slow path); big
    # integers, duplicate keys (the last wins), keys in any order, spaces, extra keys, nulls
    # in Any fields and defaults read as ``from_dict`` reads them.
    items: list[Any] = [
        {"type": "ModelResponse", "usage": {"type": "Usage", "cost": 2}},
        {"type": "ModelResponse", "usage": {"cost": 0.5, "type": "Usage"}, "text": "t"},
        {"type": "ToolCallResult", "call_id": "c", "name": "n", "content": "x", "value": 2**80},
        {"text": "late type", "type": "ModelResponse", "extra": [1, 2], "provider_data": None},
        {"type": "ModelResponse", "usage": None},
        {"type": "ModelResponse", "tool_calls": [None]},
        {"type": "ToolCallResult", "call_id": "c", "name": "n", "content": "x", "value": 1e300},
    ]
    for item in items:
        _rows_same_as_from_dict([item])
    for text in [
        '{"type": "RunFinished", "run_id": "a", "run_id": "b", "text": "t"}',
        '{"type": "ModelResponse", "usage": {"type": "Usage", "cost": 1e400}}',
        '{"type": "ModelResponse", "usage": {"type": "Usage", "cost": NaN}}',
        '{"type": "ToolCallResult", "call_id": "c", "name": "n", "content": "", "value": -0.0}',
    ]:
        decoded = events_from_rows([json.loads(text)["type"]], [text])
        assert decoded is None or repr(decoded) == repr([from_dict(from_json(text))])
    if codec_rows.fast():
        assert _rows_same_as_from_dict([items[1], items[2], items[3]]) is not None


def test_a_row_of_a_class_registered_later_or_not_slotted_decodes_as_from_dict() -> None:
    @register
    @dataclass(frozen=True, slots=True)
    class RowLateEvent(Event):
        note: str
        usage: Usage | None = None
        ratio: float = 0.5

    @register
    @dataclass(frozen=True)
    class RowPlainEvent(Event):
        note: str

    late = RowLateEvent("later", Usage(requests=1), 1.5)
    assert _rows_same_as_from_dict([to_dict(late), to_dict(ModelResponse("hi"))]) == [
        late,
        ModelResponse("hi"),
    ]
    assert _rows_same_as_from_dict([{"type": "RowLateEvent", "note": "n", "ratio": 2}]) in (
        None,
        [RowLateEvent("n", None, 2)],
    )
    # not read the same by msgspec: never on its fast path, so the history goes to the
    # one-pass decode, as without msgspec
    plain = [to_dict(RowPlainEvent("x")), to_dict(late)]
    assert _rows_same_as_from_dict(plain) == [RowPlainEvent("x"), late]
    if codec_rows.fast():
        assert "RowPlainEvent" not in (codec_rows._table() or {})


def test_rows_decode_with_the_collector_paused_and_leave_it_as_it_was() -> None:
    seen: list[bool] = []
    RowCollectorProbe = collector_probe("RowCollectorProbe", seen)
    probe = json.dumps(to_dict(RowCollectorProbe()))
    failing = json.dumps({"type": "RowCollectorProbe", "fail": True})
    names, expected = ["RowCollectorProbe"], [RowCollectorProbe()]
    seen.clear()
    decoded = events_from_rows(names, [probe])
    assert events_from_rows(names * 2, [probe, failing]) is None
    assert decoded == expected
    assert gc.isenabled()
    if codec_rows.fast():
        assert seen and not any(seen)  # both decodes ran paused


def test_payloads_without_names_decode_as_from_dict_or_are_refused() -> None:
    history = [SAMPLES[name] for name in EVENT_SAMPLES] * 2
    payloads = [json.dumps(to_dict(e)).encode() for e in history]
    assert events_from_payloads(payloads) == history
    assert events_from_payloads([]) == []
    for bad in (b'{"type": "Usage"}', b'{"run_id": "r"}', b"[]", b'{"type": "NoSuchEvent"}'):
        assert events_from_payloads([*payloads, bad]) is None
    if codec_rows.fast():  # an integer in a float field: the one-pass decode keeps it an int
        odd = b'{"type": "ModelResponse", "usage": {"type": "Usage", "cost": 2}}'
        decoded = events_from_payloads([odd])
        assert decoded is not None and type(decoded[0].usage.cost) is int  # type: ignore[attr-defined]
