"""Media returned by tools (issue 11, point 5): what the result event holds, its storage, and
how it is counted. The provider wire formats are tested in tests/providers/test_tool_media.py."""

from __future__ import annotations

import json

from baton import Agent, Audio, Document, FileUrl, Image, ToolResult, tool
from baton.events import Data, Text, ToolCallResult, from_dict, to_dict
from baton.harness.tokens import MEDIA_TOKENS, MESSAGE_OVERHEAD, event_tokens
from baton.testing import ScriptedModel, call
from baton.tools.tool import to_content
from baton.transcript import part_text

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # ~100 KB


@tool
def chart() -> Image:
    """Draw the chart."""
    return Image(data=PNG)


def result_of(reply: object) -> ToolCallResult:
    (result,) = [e for e in reply.events if isinstance(e, ToolCallResult)]  # type: ignore[attr-defined]
    return result


async def test_a_returned_image_is_a_part_never_its_repr() -> None:
    model = ScriptedModel(call("chart"), "A rising line.")
    reply = await Agent("a", config=model, tools=[chart]).ask("Show me.")
    result = result_of(reply)
    assert result.parts == (Image(data=PNG),)
    assert result.content == "[image: image/png, 100 KB]"
    assert result.value is None  # the bytes are kept once, in parts
    seen = [e for e in model.requests[1].messages if isinstance(e, ToolCallResult)]
    assert seen == [result]


async def test_a_tool_result_mixes_text_and_media_and_keeps_its_value() -> None:
    @tool
    def report() -> ToolResult:
        """The report."""
        return ToolResult(
            {"pages": 2},
            content=["Two pages:", Document(data=b"%PDF-1.4"), Data({"n": 1}), Audio(data=b"x")],
        )

    reply = await Agent("a", config=ScriptedModel(call("report"), "ok"), tools=[report]).ask("?")
    result = result_of(reply)
    assert result.value == {"pages": 2}
    assert result.parts == (
        Text("Two pages:"),
        Document(data=b"%PDF-1.4"),
        Text('{"n":1}'),
        Audio(data=b"x"),
    )
    assert result.content == (
        'Two pages:\n[document: application/pdf, 8 bytes]\n{"n":1}\n[audio: audio/wav, 1 bytes]'
    )


async def test_a_list_with_media_is_parts_and_a_list_without_is_json_as_before() -> None:
    @tool
    def both() -> list[object]:
        """Text and a file."""
        return ["See:", FileUrl("https://example.com/a.csv", media_type="text/csv")]

    @tool
    def words() -> list[str]:
        """Words."""
        return ["a", "b"]

    @tool
    def text_only() -> ToolResult:
        """Text parts only."""
        return ToolResult(1, content=["one", Text("two")])

    model = ScriptedModel(call("both"), call("words"), call("text_only"), "ok")
    reply = await Agent("a", config=model, tools=[both, words, text_only]).ask("?")
    results = {e.name: e for e in reply.events if isinstance(e, ToolCallResult)}
    assert results["both"].parts == (
        Text("See:"),
        FileUrl("https://example.com/a.csv", media_type="text/csv"),
    )
    assert results["both"].content == "See:\n[file: https://example.com/a.csv]"
    assert results["words"].parts == () and results["words"].content == '["a","b"]'
    assert results["text_only"].parts == () and results["text_only"].content == "one\ntwo"


def test_a_media_result_round_trips_through_the_codec_as_json() -> None:
    result = ToolCallResult(
        "c1",
        "chart",
        "see\n[image: image/png, 100 KB]",
        {"k": 1},
        False,
        (Text("see"), Image(data=PNG), Image.from_url("https://example.com/a.png")),
    )
    stored = json.loads(json.dumps(to_dict(result)))
    assert from_dict(stored) == result


def test_media_is_counted_as_media_not_as_base64_text() -> None:
    result = ToolCallResult(
        "c1", "chart", "[image: image/png, 100 KB]", None, False, (Text("hi"), Image(data=PNG))
    )
    tokens = event_tokens(result)
    assert MESSAGE_OVERHEAD + MEDIA_TOKENS < tokens <= MESSAGE_OVERHEAD + MEDIA_TOKENS + 5


async def test_the_scripted_models_usage_does_not_count_the_bytes() -> None:
    model = ScriptedModel(call("chart"), "ok")
    reply = await Agent("a", config=model, tools=[chart]).ask("Show me.")
    assert reply.usage.input_tokens < 1000  # the base64 of the image alone is ~34,000


def test_text_of_media_is_a_placeholder() -> None:
    assert to_content(Image(data=PNG)) == "[image: image/png, 100 KB]"
    assert part_text(Audio.from_url("https://example.com/a.mp3")) == (
        "[audio: https://example.com/a.mp3]"
    )
    assert part_text(Document(data=b"x" * (3 * 1024 * 1024))) == (
        "[document: application/pdf, 3.0 MB]"
    )
