"""`baton chat` against a provider's wire format: streaming through the real SDK."""

import pytest
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
