"""Video inputs and the files a model produces (issue 11, points 6 and 7), through the official
SDKs against the loopback wire server.

Gemini and Vertex AI take a ``Video`` inline or by file URI; every other provider refuses it
before any request is sent. Gemini's answers may hold files (inline data, file data): they are
``reply.files``, kept in the stored ``ModelResponse`` and given back to Gemini in later turns.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from test_gemini import answer, fn, text, usage
from wire import WireServer, closing

from baton import Agent, Audio, Document, Image, Video, tool
from baton.errors import InvalidRequest
from baton.events import ModelResponse, from_dict, to_dict

pytest.importorskip("google.genai")

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
MP4_B64 = base64.b64encode(MP4).decode()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"
PNG_B64 = base64.b64encode(PNG).decode()
VERTEX_PATH = "/projects/proj-1/locations/europe-west4/publishers/google/models/gemini-test"


def gemini(wire: WireServer, **kwargs: Any) -> Any:
    from baton.providers.gemini import GeminiConfig

    return closing(
        GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, max_retries=0, **kwargs)
    )


def vertex(wire: WireServer, **kwargs: Any) -> Any:
    from google.oauth2.credentials import Credentials

    from baton.providers.vertex import VertexConfig

    return closing(
        VertexConfig(
            "gemini-test",
            base_url=wire.url,
            max_retries=0,
            project="proj-1",
            location="europe-west4",
            credentials=Credentials(token="test-token"),
            **kwargs,
        )
    )


def inline(data: str, mime_type: str, **extra: Any) -> dict[str, Any]:
    """An inline-data part of a Gemini answer (camelCase, as the API sends it)."""
    return {"inlineData": {"mimeType": mime_type, "data": data}, **extra}


# -- Video inputs ------------------------------------------------------------------------------


def test_video_defaults_and_from_path(tmp_path: Path) -> None:
    assert Video(data=MP4).media_type == "video/mp4"
    clip = tmp_path / "clip.webm"
    clip.write_bytes(MP4)
    video = Video.from_path(clip)
    assert (type(video), video.data, video.media_type) == (Video, MP4, "video/webm")
    unknown = tmp_path / "clip.nosuchextension"
    unknown.write_bytes(MP4)
    assert Video.from_path(unknown).media_type == "video/mp4"
    assert Video.from_url("gs://bucket/talk.mov").media_type == "video/quicktime"
    with pytest.raises(ValueError):
        Video()


async def test_gemini_sends_video_inline_and_by_uri(wire: WireServer, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(MP4)
    wire.reply_json(answer(text("a cat jumps"), meta=usage()))
    agent = Agent("a", config=gemini(wire, stream=False))
    reply = await agent.ask(
        [
            "What happens?",
            Video.from_path(clip),
            Video.from_url("gs://bucket/talk.webm"),
            Video(url="https://www.youtube.com/watch?v=abc"),
        ]
    )
    assert reply.text == "a cat jumps"
    assert wire.last.json["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What happens?"},
                {"inlineData": {"data": MP4_B64, "mime_type": "video/mp4"}},
                {"fileData": {"file_uri": "gs://bucket/talk.webm", "mime_type": "video/webm"}},
                {
                    "fileData": {
                        "file_uri": "https://www.youtube.com/watch?v=abc",
                        "mime_type": "video/mp4",
                    }
                },
            ],
        }
    ]


async def test_vertex_sends_video_inline_and_from_cloud_storage(wire: WireServer) -> None:
    wire.reply_json(answer(text("two people talk"), meta=usage()))
    agent = Agent("a", config=vertex(wire, stream=False))
    reply = await agent.ask(
        [
            Video(data=MP4, media_type="video/quicktime"),
            Video.from_url("gs://bucket/talk.mp4"),
            "Summarize.",
        ]
    )
    assert reply.text == "two people talk"
    assert wire.last.path.endswith(f"{VERTEX_PATH}:generateContent")
    assert wire.last.json["contents"][0]["parts"] == [
        {"inlineData": {"data": MP4_B64, "mime_type": "video/quicktime"}},
        {"fileData": {"file_uri": "gs://bucket/talk.mp4", "mime_type": "video/mp4"}},
        {"text": "Summarize."},
    ]


def _chat(wire: WireServer, **kwargs: Any) -> Any:
    pytest.importorskip("openai")
    from baton.providers.openai import OpenAIConfig

    return OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, **kwargs
    )


def _responses(wire: WireServer) -> Any:
    pytest.importorskip("openai")
    from baton.providers.openai_responses import OpenAIResponsesConfig

    return OpenAIResponsesConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0
    )


def _anthropic(wire: WireServer) -> Any:
    pytest.importorskip("anthropic")
    from baton.providers.anthropic import AnthropicConfig

    return AnthropicConfig("claude-test", api_key="sk-ant", base_url=wire.url, max_retries=0)


def _ollama(wire: WireServer) -> Any:
    pytest.importorskip("ollama")
    from baton.providers.ollama import OllamaConfig

    return OllamaConfig("llama-test", base_url=wire.url, max_retries=0)


def _dashscope(wire: WireServer) -> Any:
    pytest.importorskip("openai")
    from baton.providers.dashscope import DashScopeConfig

    return DashScopeConfig(
        "qwen-test", api_key="sk-ds", base_url=f"{wire.url}/compatible-mode/v1", max_retries=0
    )


@pytest.mark.parametrize(
    ("make", "provider"),
    [
        (_chat, "openai"),
        (_responses, "openai"),
        (_anthropic, "anthropic"),
        (_ollama, "ollama"),
        (_dashscope, "dashscope"),
    ],
)
@pytest.mark.parametrize(
    "video", [Video(data=MP4), Video(url="https://example.com/clip.mp4")], ids=["inline", "url"]
)
async def test_other_providers_refuse_video_before_sending(
    wire: WireServer, make: Any, provider: str, video: Video
) -> None:
    cfg = closing(make(wire))
    how = "this way" if video.data is not None else "from a URL"
    with pytest.raises(InvalidRequest) as caught:
        await Agent("a", config=cfg).ask(["What happens?", video])
    assert str(caught.value) == (
        f"{cfg.provider_name} does not accept video {how}: "
        "only Gemini and Vertex AI take video input"
    )
    assert caught.value.provider == cfg.provider_name
    assert cfg.provider_name.startswith(provider)
    assert wire.requests == []


# -- Files the model produced ------------------------------------------------------------------


async def test_gemini_reply_carries_the_images_it_produced(wire: WireServer) -> None:
    wire.reply_json(
        answer(
            text("Here is your cat."),
            inline(PNG_B64, "image/png", thoughtSignature="c2lnLTE="),
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://out/cat-2.jpg"}},
            meta=usage(),
        )
    )
    wire.reply_json(answer(text("Done."), meta=usage()))
    agent = Agent("a", config=gemini(wire, stream=False))
    reply = await agent.ask("Draw a cat.")
    assert reply.text == "Here is your cat."
    assert reply.files == (
        Image(data=PNG, media_type="image/png"),
        Image(url="gs://out/cat-2.jpg", media_type="image/jpeg"),
    )
    assert all(type(f) is Image for f in reply.files)
    assert reply.response.files == reply.files
    stored = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert from_dict(to_dict(stored)) == stored  # the files survive storage
    # The next turn gives the model its own answer back, images (and signature) included.
    second = await reply.ask("Make it orange.")
    assert second.files == ()
    assert wire.last.json["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Here is your cat."},
            {
                "inlineData": {"data": PNG_B64, "mime_type": "image/png"},
                "thoughtSignature": "c2lnLTE=",
            },
            {"fileData": {"file_uri": "gs://out/cat-2.jpg", "mime_type": "image/jpeg"}},
        ],
    }


async def test_streamed_files_keep_their_kind_and_skip_thought_drafts(wire: WireServer) -> None:
    wire.reply_sse(
        [
            answer(inline(PNG_B64, "image/png", thought=True), finish=None),  # a draft
            answer(text("A picture and a tune:"), finish=None),
            answer(inline(PNG_B64, "image/webp"), finish=None),
            answer(inline(base64.b64encode(b"RIFF").decode(), "audio/wav"), finish=None),
            answer(inline(MP4_B64, "video/mp4"), finish=None),
            answer(inline(base64.b64encode(b"a,b").decode(), "text/csv"), meta=usage()),
        ],
        done=False,
    )
    reply = await Agent("a", config=gemini(wire)).ask("Surprise me.")
    assert reply.text == "A picture and a tune:"
    assert reply.files == (
        Image(data=PNG, media_type="image/webp"),
        Audio(data=b"RIFF", media_type="audio/wav"),
        Video(data=MP4, media_type="video/mp4"),
        Document(data=b"a,b", media_type="text/csv"),
    )
    assert [type(f) for f in reply.files] == [Image, Audio, Video, Document]


async def test_reply_files_are_those_of_the_final_answer(wire: WireServer) -> None:
    @tool
    async def frame(n: int) -> str:
        """Pick a frame."""
        return f"frame {n} picked"

    wire.reply_json(answer(inline(PNG_B64, "image/png"), fn("frame", {"n": 2}), meta=usage()))
    wire.reply_json(answer(text("Frame 2 it is."), meta=usage()))
    reply = await Agent("a", config=gemini(wire, stream=False), tools=[frame]).ask("Pick one.")
    responses = [e for e in reply.events if isinstance(e, ModelResponse)]
    assert [len(r.files) for r in responses] == [1, 0]
    assert reply.files == ()
    # The first answer's image is replayed before its call, as Gemini gave the parts.
    assert wire.last.json["contents"][1]["parts"] == [
        {"inlineData": {"data": PNG_B64, "mime_type": "image/png"}},
        {"functionCall": {"name": "frame", "args": {"n": 2}}},
    ]


async def test_vertex_reply_carries_files(wire: WireServer) -> None:
    wire.reply_json(answer(text("Drawn."), inline(PNG_B64, "image/png"), meta=usage()))
    reply = await Agent("a", config=vertex(wire, stream=False)).ask("Draw a dot.")
    assert wire.last.path.endswith(f"{VERTEX_PATH}:generateContent")
    assert reply.files == (Image(data=PNG),)


async def test_other_providers_leave_files_empty(wire: WireServer) -> None:
    from test_openai_chat import completion

    wire.reply_json(completion("Hi there"))
    cfg = closing(_chat(wire, stream=False))
    reply = await Agent("a", config=cfg).ask("Hi")
    assert reply.text == "Hi there" and reply.files == ()
