"""`baton chat` against a provider's wire format: streaming through the real SDK."""

import json
import sys
from pathlib import Path

import pytest
from terminal import Terminal
from test_openai_chat import chunk, usage_chunk
from wire import WireServer

typer_testing = pytest.importorskip("typer.testing")

from baton.cli import _build_app  # noqa: E402


def test_chat_streams_from_an_openai_endpoint(wire: WireServer, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    done = chunk({}, finish="stop")
    wire.reply_sse(
        [chunk({"content": "Hi "}), chunk({"content": "there"}), done, usage_chunk(3, 2)]
    )
    wire.reply_sse([chunk({"content": "Again"}), done, usage_chunk(9, 1)])
    result = typer_testing.CliRunner().invoke(
        _build_app(),
        ["chat", "--config", "openai:gpt-test", "--base-url", f"{wire.url}/v1", "-p", "Be nice."],
        input="hello\nmore\n/exit\n",
    )
    assert result.exit_code == 0, result.output
    assert "Hi there" in result.output and "Again" in result.output
    second = wire.requests[1].json["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "Hi there"


KEEP_ALIVE = b": keep-alive\n\n"  # an SSE comment: the answer goes on, saying nothing new


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_while_streaming_stops_the_answer_not_the_session(wire: WireServer) -> None:
    # An answer that starts and never ends, then an ordinary one.
    wire.reply_forever(KEEP_ALIVE, first=[_sse(chunk({"content": "Once upon"}))])
    wire.reply_sse([chunk({"content": "Again"}), chunk({}, finish="stop"), usage_chunk(9, 1)])
    chat = Terminal(
        "chat", "--config", "openai:gpt-test", "--base-url", f"{wire.url}/v1",
        env={"OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    try:
        chat.expect("you> ")
        chat.send("tell me a story\r")
        chat.expect("Once upon")
        chat.send("\x03")  # Ctrl-C while the answer streams
        chat.expect("answer stopped")
        chat.expect("you> ")  # the same session goes on
        chat.send("more\r")
        chat.expect("Again")
        chat.expect("you> ")
        chat.send("/exit\r")
        assert chat.wait() == 0
    finally:
        chat.close()
    assert len(wire.requests) == 2
    # The stopped ask stayed in the conversation: the next call still sees its question.
    second = wire.requests[1].json["messages"]
    assert [(m["role"], m["content"]) for m in second] == [
        ("user", "tell me a story"),
        ("user", "more"),
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_during_a_tool_call_closes_the_run_as_cancelled(
    wire: WireServer, tmp_path: Path
) -> None:
    (tmp_path / "slow_tools.py").write_text(
        "import asyncio\nfrom baton import tool\n\n"
        "@tool\nasync def wait_for_ever(topic: str) -> str:\n"
        '    """Look a topic up (never finishes)."""\n'
        "    await asyncio.Event().wait()\n    return topic\n"
    )
    call = {"index": 0, "id": "call_1", "type": "function"}
    call["function"] = {"name": "wait_for_ever", "arguments": '{"topic": "owls"}'}
    wire.reply_sse([chunk({"tool_calls": [call]}), chunk({}, finish="tool_calls")])
    wire.reply_sse([chunk({"content": "Fine"}), chunk({}, finish="stop"), usage_chunk(9, 1)])
    chat = Terminal(
        "chat", "--config", "openai:gpt-test", "--base-url", f"{wire.url}/v1",
        "--tools", "slow_tools", cwd=tmp_path, env={"OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    try:
        chat.expect("tools: wait_for_ever")
        chat.expect("you> ")
        chat.send("owls?\r")
        chat.expect("→ wait_for_ever")
        chat.send("\x03")
        chat.expect("answer stopped")
        chat.expect("you> ")
        chat.send("never mind\r")
        chat.expect("Fine")
        chat.expect("you> ")
        assert chat.interrupt() == 0  # and Ctrl-C at the prompt leaves
    finally:
        chat.close()
    # The stopped run was closed as a cancelled ask is: its open call answered once, as
    # cancelled (not repaired later as "interrupted"), and the conversation went on.
    second = wire.requests[1].json["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "user"]
    assert second[1]["tool_calls"][0]["id"] == "call_1"
    assert second[2]["tool_call_id"] == "call_1"
    assert "cancelled before it finished" in second[2]["content"]
    assert second[3]["content"] == "never mind"
