"""Media returned by tools (issue 11, point 5), through each provider's official SDK.

Providers whose tool results take media get real parts there (OpenAI Responses, Anthropic,
Gemini); the others (OpenAI Chat, DashScope, Ollama) get a text tool message and the media in a
user message after the turn's tool messages, or a placeholder where they take no such media.
Never a Python repr: the bytes travel once, as the provider's base64.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from wire import WireServer, closing

from baton import Agent, Audio, Document, Image, ToolResult, tool
from baton.events import ToolCallResult

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # ~100 KB
PNG_B64 = base64.b64encode(PNG).decode()
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF"
PDF_B64 = base64.b64encode(PDF).decode()
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32)
WAV_B64 = base64.b64encode(WAV).decode()


@tool
async def chart() -> Image:
    """Draw the chart."""
    return Image(data=PNG)


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def report() -> ToolResult:
    """The quarterly report, read aloud too."""
    return ToolResult(content=["Two pages:", Document(data=PDF), Audio(data=WAV)])


def no_repr(body: Any) -> str:
    """The request body as text, checked to hold the image's bytes at most once and no repr."""
    text = json.dumps(body)
    assert "Image(" not in text and "b'\\\\x89PNG" not in text
    assert text.count(PNG_B64) <= 1
    assert len(text) < len(PNG_B64) + 20_000
    return text


def results(events: tuple[Any, ...]) -> dict[str, ToolCallResult]:
    return {e.name: e for e in events if isinstance(e, ToolCallResult)}


# -- OpenAI Chat Completions -------------------------------------------------------------------


def chat_config(wire: WireServer, cls: Any = None) -> Any:
    pytest.importorskip("openai")
    from baton.providers.openai import OpenAIConfig

    cls = cls or OpenAIConfig
    return closing(
        cls("gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False)
    )


def chat_calls(*calls: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    from test_openai_chat import completion, fn_call

    return completion(None, tool_calls=[fn_call(*c) for c in calls], finish="tool_calls")


async def test_chat_sends_a_tools_image_in_a_user_message_after_the_tool_messages(
    wire: WireServer,
) -> None:
    from test_openai_chat import completion

    wire.reply_json(chat_calls(("c1", "chart", {}), ("c2", "add", {"a": 2, "b": 3})))
    wire.reply_json(completion("A rising line."))
    agent = Agent("a", config=chat_config(wire), tools=[chart, add])
    reply = await agent.ask("Show me.")
    assert reply.text == "A rising line."
    result = results(reply.events)["chart"]
    assert result.parts == (Image(data=PNG),) and result.value is None
    assert result.content == "[image: image/png, 100 KB]"
    body = wire.last.json
    no_repr(body)
    sent = body["messages"][2:]
    assert [m["role"] for m in sent] == ["tool", "tool", "user"]
    tools = {m["tool_call_id"]: m["content"] for m in sent[:2]}
    assert tools == {
        "c1": "[image: image/png, 100 KB]\n(The media follows in the next message.)",
        "c2": "5",
    }
    assert sent[2]["content"] == [
        {"type": "text", "text": "The media returned by tool chart (call c1):"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ]


async def test_chat_sends_documents_and_audio_from_a_mixed_tool_result(wire: WireServer) -> None:
    from test_openai_chat import completion

    @tool
    async def fetch() -> ToolResult:
        """Fetch the files."""
        return ToolResult(
            "kept",
            content=["Here:", Audio(data=WAV), Document.from_url("https://example.com/a.pdf")],
        )

    wire.reply_json(chat_calls(("c1", "fetch", {})))
    wire.reply_json(completion("Done."))
    reply = await Agent("a", config=chat_config(wire), tools=[fetch]).ask("Go.")
    assert results(reply.events)["fetch"].value == "kept"
    tool_message, media = wire.last.json["messages"][2:]
    assert tool_message["content"] == (
        "Here:\n[audio: audio/wav, 48 bytes]\n[document: https://example.com/a.pdf]\n"
        "[document: https://example.com/a.pdf] (not shown: openai does not accept this media "
        "here)\n(The media follows in the next message.)"
    )
    assert media["content"][1:] == [
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}
    ]


async def test_chat_result_with_no_media_it_takes_sends_no_user_message(wire: WireServer) -> None:
    from test_openai_chat import completion

    @tool
    async def link() -> Audio:
        """An audio file by URL."""
        return Audio.from_url("https://example.com/a.mp3")

    wire.reply_json(chat_calls(("c1", "link", {})))
    wire.reply_json(completion("Done."))
    await Agent("a", config=chat_config(wire), tools=[link]).ask("Go.")
    sent = wire.last.json["messages"][2:]
    assert sent == [
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": "[audio: https://example.com/a.mp3]\n[audio: https://example.com/a.mp3] "
            "(not shown: openai does not accept this media here)",
        }
    ]


async def test_dashscope_gets_the_media_in_a_user_message_too(wire: WireServer) -> None:
    from test_openai_chat import completion

    from baton.providers.dashscope import DashScopeConfig

    wire.reply_json(chat_calls(("c1", "chart", {})))
    wire.reply_json(completion("Seen."))
    await Agent("a", config=chat_config(wire, DashScopeConfig), tools=[chart]).ask("Show me.")
    body = wire.last.json
    no_repr(body)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "user"]
    image = body["messages"][-1]["content"][1]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}


# -- OpenAI Responses --------------------------------------------------------------------------


def responses_config(wire: WireServer) -> Any:
    pytest.importorskip("openai")
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return closing(
        OpenAIResponsesConfig(
            "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
        )
    )


async def test_responses_puts_media_in_the_function_call_output(wire: WireServer) -> None:
    from test_openai_responses import fn_call, message, response

    wire.reply_json(response([fn_call("c1", "chart", {}), fn_call("c2", "report", {})]))
    wire.reply_json(response([message("Seen.")]))
    agent = Agent("a", config=responses_config(wire), tools=[chart, report])
    await agent.ask("Show me.")
    body = wire.last.json
    no_repr(body)
    outputs = {
        item["call_id"]: item["output"]
        for item in body["input"]
        if item.get("type") == "function_call_output"
    }
    assert outputs["c1"] == [
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}", "detail": "auto"}
    ]
    assert outputs["c2"] == [
        {"type": "input_text", "text": "Two pages:"},
        {
            "type": "input_file",
            "filename": "document.pdf",
            "file_data": f"data:application/pdf;base64,{PDF_B64}",
        },
        {
            "type": "input_text",
            "text": "[audio: audio/wav, 48 bytes] (not shown: openai does not accept this "
            "media here)",
        },
    ]


# -- Anthropic ---------------------------------------------------------------------------------


def anthropic_config(wire: WireServer) -> Any:
    pytest.importorskip("anthropic")
    from baton.providers.anthropic import AnthropicConfig

    return closing(
        AnthropicConfig(
            "claude-test", api_key="sk-ant-test", base_url=wire.url, max_retries=0, stream=False
        )
    )


async def test_anthropic_puts_media_in_the_tool_result(wire: WireServer) -> None:
    from test_anthropic import message, text, tool_use

    wire.reply_json(
        message(tool_use("t1", "chart", {}), tool_use("t2", "report", {}), stop="tool_use")
    )
    wire.reply_json(message(text("Seen.")))
    await Agent("a", config=anthropic_config(wire), tools=[chart, report]).ask("Show me.")
    body = wire.last.json
    no_repr(body)
    (last,) = [m for m in body["messages"][2:]]
    blocks = {b["tool_use_id"]: b["content"] for b in last["content"]}
    assert blocks["t1"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
    ]
    assert blocks["t2"] == [
        {"type": "text", "text": "Two pages:"},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
        },
        {
            "type": "text",
            "text": "[audio: audio/wav, 48 bytes] (not shown: anthropic does not accept this "
            "media here)",
        },
    ]


# -- Gemini ------------------------------------------------------------------------------------


def gemini_config(wire: WireServer) -> Any:
    pytest.importorskip("google.genai")
    from baton.providers.gemini import GeminiConfig

    return GeminiConfig(
        "gemini-test", api_key="g-test", base_url=wire.url, max_retries=0, stream=False
    )


async def test_gemini_puts_images_and_pdfs_in_the_function_response(wire: WireServer) -> None:
    from test_gemini import answer, fn, text

    wire.reply_json(answer(fn("chart", {}), fn("report", {})))
    wire.reply_json(answer(text("Seen.")))
    config = gemini_config(wire)
    await Agent("a", config=config, tools=[chart, report]).ask("Show me.")
    body = wire.last.json
    no_repr(body)
    turn = body["contents"][-1]
    assert turn["role"] == "user"
    first, second, audio = turn["parts"]
    chart_response = first["functionResponse"]
    assert chart_response["name"] == "chart"
    assert chart_response["response"] == {"result": "[image: image/png, 100 KB]"}
    assert inline(chart_response["parts"]) == [("image/png", PNG)]
    report_response = second["functionResponse"]
    assert report_response["response"] == {
        "result": "Two pages:\n[document: application/pdf, 47 bytes]\n[audio: audio/wav, 48 bytes]"
    }
    assert inline(report_response["parts"]) == [("application/pdf", PDF)]
    # Audio has no place in a function response: it follows the responses, as a part of its own.
    assert audio == {"inlineData": {"data": WAV_B64, "mime_type": "audio/wav"}}


def inline(parts: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """(media type, bytes) of inline parts as the SDK sent them (its function response parts
    use snake_case keys and URL-safe base64, which the API's JSON reader accepts)."""
    out = []
    for part in parts:
        blob = part.get("inlineData") or part["inline_data"]
        mime_type = blob.get("mimeType") or blob["mime_type"]
        out.append((mime_type, base64.urlsafe_b64decode(blob["data"])))
    return out


# -- Ollama ------------------------------------------------------------------------------------


async def test_ollama_sends_images_in_a_user_message_and_notes_for_the_rest(
    wire: WireServer,
) -> None:
    pytest.importorskip("ollama")
    from test_ollama import answer, fn_call

    from baton.providers.ollama import OllamaConfig

    wire.reply_json(answer("", tool_calls=[fn_call("chart", {}), fn_call("report", {})]))
    wire.reply_json(answer("Seen."))
    config = OllamaConfig("llama-test", base_url=wire.url, max_retries=0, stream=False)
    await Agent("a", config=config, tools=[chart, report]).ask("Show me.")
    body = wire.last.json
    no_repr(body)
    sent = body["messages"][2:]
    assert [m["role"] for m in sent] == ["tool", "tool", "user"]
    assert sent[0] == {
        "role": "tool",
        "content": "[image: image/png, 100 KB]\n(The images follow in the next message.)",
        "tool_name": "chart",
    }
    assert sent[1]["tool_name"] == "report"
    assert sent[1]["content"] == (
        "Two pages:\n[document: application/pdf, 47 bytes]\n[audio: audio/wav, 48 bytes]\n"
        "[document: application/pdf, 47 bytes] (not shown: ollama does not accept this media "
        "here)\n[audio: audio/wav, 48 bytes] (not shown: ollama does not accept this media here)"
    )
    assert sent[2]["images"] == [PNG_B64]
    assert sent[2]["content"].startswith("The media returned by tool chart")
