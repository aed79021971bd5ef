"""The `baton` command: the demo and the chat, run as a user would through the CLI."""

from pathlib import Path

import pytest

typer_testing = pytest.importorskip("typer.testing")

from baton.cli import _build_app  # noqa: E402


@pytest.fixture
def runner() -> "typer_testing.CliRunner":
    return typer_testing.CliRunner()


def test_demo_runs_offline_and_says_so(runner, monkeypatch) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    result = runner.invoke(_build_app(), ["demo"])
    assert result.exit_code == 0, result.output
    assert "SCRIPTED model" in result.output
    assert 'config="openai:gpt-5"' in result.output
    # both tools ran, the structured answer was validated and shown, usage printed
    assert "→ get_weather" in result.output and "← to_fahrenheit" in result.output
    assert "Best city: Lisbon" in result.output
    assert "3 model calls, 4 tool calls" in result.output


def test_chat_scripted_echo_with_commands(runner) -> None:
    result = runner.invoke(_build_app(), ["chat"], input="hello\n/usage\n/new\nagain\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "You said: hello" in result.output
    assert "session: 1 model call" in result.output
    assert "new conversation" in result.output
    assert "You said: again" in result.output


def test_chat_loads_tools_from_a_module(runner, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_chat_tools.py").write_text(
        "from baton import tool\n\n@tool\ndef shout(text: str) -> str:\n"
        '    """Upper-case text."""\n    return text.upper()\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(_build_app(), ["chat", "--tools", "my_chat_tools"], input="/exit\n")
    assert result.exit_code == 0, result.output
    assert "tools: shout" in result.output


def test_chat_reports_a_bad_tools_module(runner) -> None:
    result = runner.invoke(_build_app(), ["chat", "--tools", "no_such_module_xyz"], input="")
    assert result.exit_code == 2
    assert "cannot import tools module 'no_such_module_xyz'" in result.output


def test_chat_reports_an_unknown_provider(runner) -> None:
    result = runner.invoke(_build_app(), ["chat", "--config", "nope:model"], input="")
    assert result.exit_code == 2
    assert "unknown model provider 'nope'" in result.output
