"""The event vocabulary: serialization through the registry, immutability, media and usage."""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest

from baton.errors import EventDecodeError
from baton.events import (
    Audio,
    Data,
    Document,
    Event,
    Image,
    ModelRequest,
    ModelResponse,
    Text,
    TextChunk,
    ToolCall,
    Usage,
    Video,
    event_types,
    from_dict,
    register,
    to_dict,
)
from tests.event_samples import (
    HOSTILE_VALUES,
    LOOKS_LIKE_EVENT,
    MP4,
    PDF,
    PNG,
    SAMPLES,
    WAV,
)

BUILTIN_TYPES = {
    name: cls for name, cls in event_types().items() if cls.__module__ == "baton.events"
}


def test_every_builtin_registered_type_has_a_sample():
    assert set(SAMPLES) == set(BUILTIN_TYPES)
    for name, sample in SAMPLES.items():
        assert type(sample) is BUILTIN_TYPES[name]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_through_dicts(name):
    record = SAMPLES[name]
    encoded = to_dict(record)
    assert encoded["type"] == name
    decoded = from_dict(encoded)
    assert type(decoded) is type(record)
    assert decoded == record


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_through_json_text(name):
    record = SAMPLES[name]
    text = json.dumps(to_dict(record))  # no `default=`: the dict must be plain JSON
    decoded = from_dict(json.loads(text))
    assert type(decoded) is type(record)
    assert decoded == record


def test_to_dict_lists_every_field():
    encoded = to_dict(SAMPLES["HumanMessage"])
    assert encoded == {
        "type": "HumanMessage",
        "text": "yes",
        "request_id": "req_2",
        "approved": True,
        "always": False,
    }


def test_nested_tool_calls_and_usage_decode_to_records():
    response = SAMPLES["ModelResponse"]
    encoded = json.loads(json.dumps(to_dict(response)))
    assert encoded["tool_calls"][0] == {
        "type": "ToolCall",
        "id": "call_1",
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
    }
    assert encoded["usage"]["type"] == "Usage"
    decoded = from_dict(encoded)
    assert isinstance(decoded.tool_calls, tuple)
    assert all(type(c) is ToolCall for c in decoded.tool_calls)
    assert [c.id for c in decoded.tool_calls] == ["call_1", "call_2"]
    assert type(decoded.usage) is Usage
    assert decoded.usage.total_tokens == 42


def test_approval_request_decodes_its_tool_call():
    decoded = from_dict(json.loads(json.dumps(to_dict(SAMPLES["ApprovalRequest"]))))
    assert type(decoded.call) is ToolCall
    assert decoded.call.name == "lookup"


def test_model_request_parts_decode_to_part_records():
    decoded = from_dict(json.loads(json.dumps(to_dict(SAMPLES["ModelRequest"]))))
    assert isinstance(decoded.parts, tuple)
    assert [type(p) for p in decoded.parts] == [Text, Image, Document, Data, Video]
    assert decoded.parts[2].data == PDF
    assert decoded.text == "what is this?"


@pytest.mark.parametrize(
    ("record", "raw"),
    [(Image(data=PNG), PNG), (Audio(data=WAV), WAV), (Document(data=PDF), PDF)],
)
def test_media_bytes_are_base64_in_json(record, raw):
    encoded = to_dict(record)
    assert encoded["data"] == {"$bytes": base64.b64encode(raw).decode("ascii")}
    assert encoded["url"] is None
    decoded = from_dict(json.loads(json.dumps(encoded)))
    assert decoded.data == raw
    assert isinstance(decoded.data, bytes)
    assert decoded.media_type == record.media_type


def test_any_fields_are_never_decoded_through_the_registry():
    data = from_dict(json.loads(json.dumps(to_dict(SAMPLES["Data"]))))
    assert type(data.value["nested"]) is dict
    assert data.value["nested"] == LOOKS_LIKE_EVENT
    assert all(type(item) is dict for item in data.value["items"])
    assert data.value["items"][1] == {"type": "os.system"}

    part = from_dict(to_dict(SAMPLES["ModelRequest"])).parts[3]
    assert type(part) is Data
    assert part.value == {"type": "Text", "text": "not a part"}

    response = from_dict(to_dict(SAMPLES["ModelResponse"]))
    assert type(response.provider_data["blocks"][0]) is dict
    assert response.provider_data["blocks"][0] == LOOKS_LIKE_EVENT

    result = from_dict(to_dict(SAMPLES["ToolCallResult"]))
    assert result.value == {"type": "RunFinished", "total": 5}
    assert type(result.value) is dict

    finished = from_dict(to_dict(SAMPLES["RunFinished"]))
    assert finished.output == {"type": "Text", "text": "5"}
    assert type(finished.output) is dict


def test_data_whose_value_is_a_type_named_dict_stays_plain():
    record = Data({"type": "Usage", "requests": 1})
    decoded = from_dict(json.loads(json.dumps(to_dict(record))))
    assert decoded.value == {"type": "Usage", "requests": 1}
    assert type(decoded.value) is dict


# -- decoding refuses anything that is not a registered type -----------------------------------


class Sentinel:
    """Would record its construction if any decoder ever built it by name."""

    made: list[Sentinel] = []  # noqa: RUF012

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Sentinel.made.append(self)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "NoSuchEvent"},
        {"type": "os.system", "command": "echo pwned"},
        {"type": "system"},
        {"type": "Path", "args": ["/etc/passwd"]},
        {"type": "pathlib.Path"},
        {"type": "object"},
        {"type": "builtins.eval"},
        {"type": "Sentinel"},
        {"type": "tests.test_events.Sentinel"},
        {"type": "Event"},
        {"type": "Record"},
        {"type": "Media", "url": "https://example.com"},
        {"type": "text"},
        {"type": ""},
    ],
)
def test_unknown_or_arbitrary_type_names_are_refused(payload):
    Sentinel.made.clear()
    with pytest.raises(EventDecodeError):
        from_dict(payload)
    assert Sentinel.made == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"text": "hi"},
        {"type": None, "text": "hi"},
        {"type": 1},
        {"type": ["Text"], "text": "hi"},
        {"type": {"name": "Text"}},
    ],
)
def test_missing_or_non_string_type_is_refused(payload):
    with pytest.raises(EventDecodeError):
        from_dict(payload)


@pytest.mark.parametrize("payload", [None, "Text", 42, ["Text", "hi"], ("type", "Text"), b"{}"])
def test_non_mapping_payload_is_refused(payload):
    with pytest.raises(EventDecodeError):
        from_dict(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "ModelRequest", "parts": [{"type": "Text", "text": "a"}, {"type": "os.system"}]},
        {"type": "ModelRequest", "parts": [{"type": "Sentinel"}]},
        {"type": "ModelResponse", "usage": {"type": "Path"}},
        {"type": "ModelResponse", "tool_calls": [{"type": "object"}]},
        {"type": "ApprovalRequest", "request_id": "r", "call": {"type": "builtins.eval"}},
        {"type": "UsageReport", "usage": {"requests": 1}},
        {"type": "ModelResponse", "tool_calls": ["not a dict"]},
    ],
)
def test_nested_records_go_through_the_registry_too(payload):
    Sentinel.made.clear()
    with pytest.raises(EventDecodeError):
        from_dict(payload)
    assert Sentinel.made == []


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "ModelResponse", "usage": {"type": "TextChunk", "text": "x"}},
        {"type": "ModelResponse", "tool_calls": [{"type": "Text", "text": "x"}]},
        {
            "type": "ModelRequest",
            "parts": [{"type": "RunFailed", "run_id": "r", "error_type": "E", "message": "m"}],
        },
        {"type": "ApprovalRequest", "request_id": "r", "call": {"type": "Usage"}},
        {"type": "UsageReport", "usage": {"type": "UsageReport", "usage": {"type": "Usage"}}},
    ],
)
def test_nested_records_must_match_the_field_type(payload):
    # A field annotated `Usage` (or `tuple[Part, ...]`) must not be filled with some other
    # registered record just because the payload names it.
    with pytest.raises(EventDecodeError):
        from_dict(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "RunStarted", "run_id": "r"},  # missing required fields
        {"type": "TextChunk"},  # missing its text
        {"type": "ToolCall", "id": "c"},
        {"type": "ModelRequest", "parts": "not a list"},
        {"type": "Image", "data": "raw string, not base64 wrapper"},
        {"type": "Image", "data": {"$bytes": 12}},
        {"type": "Image", "data": {"$bytes": "***not base64***"}},
    ],
)
def test_malformed_payloads_of_registered_types_raise_decode_error(payload):
    with pytest.raises(EventDecodeError):
        from_dict(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "Image"},  # neither data nor url
        {"type": "Audio", "data": {"$bytes": "AAE="}, "url": "https://example.com/a.wav"},  # both
        {"type": "Document", "data": None, "url": None},
    ],
)
def test_invalid_media_payload_raises_decode_error(payload):
    # Any payload that cannot be decoded must surface as EventDecodeError, not as whatever the
    # constructor happened to raise.
    with pytest.raises(EventDecodeError):
        from_dict(payload)


def test_unknown_extra_keys_are_ignored():
    decoded = from_dict({"type": "TextChunk", "text": "hi", "__class__": "os.system"})
    assert decoded == TextChunk("hi")


def test_omitted_optional_fields_take_their_defaults():
    assert from_dict({"type": "ToolCall", "id": "c", "name": "n"}) == ToolCall("c", "n", "{}")
    assert from_dict({"type": "ModelResponse"}) == ModelResponse()


def test_model_response_files_decode_to_media_and_older_events_load():
    decoded = from_dict(json.loads(json.dumps(to_dict(SAMPLES["ModelResponse"]))))
    assert [type(f) for f in decoded.files] == [Image, Video, Document]
    assert decoded.files[0].data == PNG and decoded.files[1].url == "gs://out/clip.mp4"
    # An event stored before ModelResponse had files: no "files" key at all.
    older = to_dict(ModelResponse("hi", model="m"))
    del older["files"]
    assert from_dict(older) == ModelResponse("hi", model="m") and from_dict(older).files == ()
    # Only media can be a produced file.
    with pytest.raises(EventDecodeError):
        from_dict({"type": "ModelResponse", "files": [{"type": "Text", "text": "x"}]})


def test_to_dict_refuses_unregistered_classes():
    @dataclass(frozen=True, slots=True)
    class Unlisted(Event):
        x: int = 1

    with pytest.raises(TypeError):
        to_dict(Unlisted())


# -- custom events -----------------------------------------------------------------------------


@register
@dataclass(frozen=True, slots=True)
class CustomPing(Event):
    """A user-defined event, registered the documented way."""

    message: str
    call: ToolCall | None = None
    payload: bytes | None = None


def test_custom_registered_event_round_trips():
    ping = CustomPing("hi", ToolCall("c", "n"), b"\x00\x01")
    assert event_types()["CustomPing"] is CustomPing
    decoded = from_dict(json.loads(json.dumps(to_dict(ping))))
    assert decoded == ping
    assert type(decoded.call) is ToolCall


def test_registering_another_class_under_a_taken_name_fails():
    @dataclass(frozen=True, slots=True)
    class Text(Event):  # same name as the built-in part
        text: str

    with pytest.raises(ValueError):
        register(Text)
    assert event_types()["Text"] is not Text
    assert type(from_dict({"type": "Text", "text": "a"})) is not Text


def test_registering_the_same_class_twice_is_harmless():
    assert register(CustomPing) is CustomPing
    assert event_types()["CustomPing"] is CustomPing


def test_event_types_is_read_only():
    with pytest.raises(TypeError):
        event_types()["os.system"] = Text  # type: ignore[index]
    assert "os.system" not in event_types()


# -- immutability ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_records_are_frozen(name):
    record = SAMPLES[name]
    first = dataclasses.fields(record)[0].name
    before = getattr(record, first)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, first, "changed")
    assert getattr(record, first) == before


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_records_are_slotted(name):
    record = SAMPLES[name]
    assert not hasattr(record, "__dict__")
    with pytest.raises((AttributeError, TypeError)):
        record.extra_attribute = 1  # type: ignore[attr-defined]
    assert not hasattr(record, "extra_attribute")


TRANSIENT = {
    "TextChunk",
    "ReasoningChunk",
    "ToolCall",
    "ToolCallDelta",
    "HostedToolCall",
    "SubscriberFailed",
    "TaskProgress",
    "ToolThreadAbandoned",
    "RateLimitWait",
}


@pytest.mark.parametrize(
    "name", sorted(n for n, c in BUILTIN_TYPES.items() if issubclass(c, Event))
)
def test_only_live_notices_are_transient(name):
    cls = BUILTIN_TYPES[name]
    assert cls.transient is (name in TRANSIENT)
    assert SAMPLES[name].transient is (name in TRANSIENT)


def test_transient_set_is_exactly_the_expected_one():
    transient = {n for n, c in BUILTIN_TYPES.items() if issubclass(c, Event) and c.transient}
    assert transient == TRANSIENT


# -- media -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Image, Audio, Document, Video])
def test_media_needs_exactly_one_of_data_or_url(cls):
    with pytest.raises(ValueError):
        cls()
    with pytest.raises(ValueError):
        cls(data=b"x", url="https://example.com/x")
    assert cls(data=b"x").data == b"x"
    assert cls(url="https://example.com/x").url == "https://example.com/x"


def test_media_default_types():
    assert Image(data=b"x").media_type == "image/png"
    assert Audio(data=b"x").media_type == "audio/wav"
    assert Document(data=b"x").media_type == "application/pdf"
    assert Video(data=b"x").media_type == "video/mp4"


def test_image_from_path_reads_bytes_and_guesses_type(tmp_path):
    jpg = tmp_path / "photo.jpg"
    jpg.write_bytes(b"\xff\xd8\xff\xe0jpeg-bytes")
    image = Image.from_path(jpg)
    assert type(image) is Image
    assert image.data == b"\xff\xd8\xff\xe0jpeg-bytes"
    assert image.url is None
    assert image.media_type == "image/jpeg"

    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a")
    assert Image.from_path(str(gif)).media_type == "image/gif"


def test_from_path_falls_back_to_the_class_default_and_honours_explicit_type(tmp_path):
    blob = tmp_path / "blob.nosuchextension"
    blob.write_bytes(b"\x00\x01")
    assert Image.from_path(blob).media_type == "image/png"
    assert Document.from_path(blob).media_type == "application/pdf"
    assert Audio.from_path(blob, media_type="audio/ogg").media_type == "audio/ogg"


def test_document_and_audio_from_path(tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(PDF)
    doc = Document.from_path(pdf)
    assert (type(doc), doc.data, doc.media_type) == (Document, PDF, "application/pdf")
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3")
    audio = Audio.from_path(mp3)
    assert (type(audio), audio.data, audio.media_type) == (Audio, b"ID3", "audio/mpeg")
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(MP4)
    video = Video.from_path(mp4)
    assert (type(video), video.data, video.media_type) == (Video, MP4, "video/mp4")


def test_from_path_round_trips_through_json(tmp_path):
    png = tmp_path / "pixel.png"
    png.write_bytes(PNG)
    image = Image.from_path(png)
    assert from_dict(json.loads(json.dumps(to_dict(image)))) == image


def test_from_url_references_media_without_data():
    image = Image.from_url("https://example.com/cat.jpeg")
    assert image.data is None
    assert image.url == "https://example.com/cat.jpeg"
    assert image.media_type == "image/jpeg"
    assert Document.from_url("https://x.test/a", media_type="text/html").media_type == "text/html"


def test_model_request_text_joins_only_text_parts():
    request = ModelRequest((Text("a"), Image(data=b"x"), Text("b"), Data({"k": 1})))
    assert request.text == "a\nb"


# -- usage -------------------------------------------------------------------------------------


def test_usage_addition_adds_every_field():
    a = Usage(1, 10, 20, 3, 4, 5, 6)
    b = Usage(2, 100, 200, 30, 40, 50, 60)
    assert a + b == Usage(3, 110, 220, 33, 44, 55, 66)
    assert a + Usage() == a
    assert sum([a, b, a], Usage()) == Usage(4, 120, 240, 36, 48, 60, 72)
    # addition makes a new value
    assert a == Usage(1, 10, 20, 3, 4, 5, 6)


def test_usage_total_tokens_is_input_plus_output():
    assert Usage(input_tokens=7, output_tokens=5, reasoning_tokens=3).total_tokens == 12
    assert Usage().total_tokens == 0
    assert (Usage(input_tokens=1) + Usage(output_tokens=2)).total_tokens == 3


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"type": "ModelResponse", "text": 12345}, "ModelResponse.text: expected str, got int"),
        ({"type": "ToolCall", "id": "c", "name": None}, "ToolCall.name: expected str"),
        ({"type": "Usage", "requests": True}, "Usage.requests: expected int, got bool"),
        ({"type": "Usage", "cost": "free"}, "Usage.cost: expected float, got str"),
        (
            {"type": "ModelResponse", "usage": {"type": "Usage", "input_tokens": "9"}},
            "ModelResponse.usage: Usage.input_tokens: expected int",
        ),
    ],
)
def test_a_stored_event_with_a_wrong_field_type_is_a_decode_error(
    data: dict[str, object], where: str
) -> None:
    """Issue 10, point 16: caught when loaded, not as a TypeError in a later ask."""
    with pytest.raises(EventDecodeError) as caught:
        from_dict(data)
    assert where in str(caught.value)


# Payloads with every field present take each class's compiled decoder (the fast path); a wrong
# value there (``HOSTILE_VALUES``) must read exactly as on the field-by-field path: an
# EventDecodeError naming the field, never a raw TypeError, KeyError or AttributeError, and
# nothing of another class built.
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_complete_payload_with_any_field_of_a_wrong_type_is_a_decode_error(name: str) -> None:
    full = to_dict(SAMPLES[name])
    for field_name in full:
        if field_name == "type":
            continue
        for value in HOSTILE_VALUES:
            Sentinel.made.clear()
            hostile = {**full, field_name: value}
            try:
                decoded = from_dict(hostile)
            except EventDecodeError as exc:
                assert f"{name}.{field_name}: " in str(exc) or str(exc).startswith(f"{name}: ")
            else:  # an ``Any`` field, or a value its type accepts: built as the class asked
                assert type(decoded) is type(SAMPLES[name])
            assert Sentinel.made == []


def test_a_complete_nested_record_with_a_wrong_type_names_the_path() -> None:
    usage = {**to_dict(Usage(1, 2, 3)), "output_tokens": "3"}
    data = {**to_dict(ModelResponse("hi", usage=Usage(1, 2, 3))), "usage": usage}
    with pytest.raises(EventDecodeError) as caught:
        from_dict(data)
    assert "ModelResponse.usage: Usage.output_tokens: expected int, got str" in str(caught.value)
    calls = [to_dict(ToolCall("c", "n")), {**to_dict(ToolCall("d", "n")), "arguments": 1}]
    with pytest.raises(EventDecodeError) as caught:
        from_dict({**to_dict(ModelResponse()), "tool_calls": calls})
    assert "ModelResponse.tool_calls: ToolCall.arguments: expected str, got int" in str(
        caught.value
    )


def test_a_complete_payload_the_class_refuses_is_a_decode_error() -> None:
    # Media checks its values in __post_init__: with every field present the compiled decoder
    # calls the class, and what it raises still comes out as an EventDecodeError.
    full = to_dict(SAMPLES["Image"])
    both = {**full, "data": {"$bytes": "AAE="}, "url": "https://example.com/a.png"}
    with pytest.raises(EventDecodeError) as caught:
        from_dict(both)
    assert str(caught.value).startswith("Image: ")
