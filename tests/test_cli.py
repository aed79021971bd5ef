"""The `baton` command: the demo and the chat, run as a user would through the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from terminal import HANG_GUARD, Terminal

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


@pytest.mark.parametrize(
    ("model", "said"),
    [("nonsense", "must look like 'provider:model'"), ("nosuch:model", "nosuch")],
)
def test_demo_refuses_a_named_model_it_cannot_run(runner, model: str, said: str) -> None:
    # A model the user names is never replaced by the scripted one: the demo would answer
    # with canned text and exit 0 as if the named model had run.
    result = runner.invoke(_build_app(), ["demo", "--model", model])
    assert result.exit_code == 2, result.output
    assert f"baton demo: can't run the demo on {model}:" in result.output
    assert said in result.output
    assert "SCRIPTED" not in result.output


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


# -- on a terminal: keys, Ctrl-C, line editing (a real process on a pseudo-terminal) ----------

pty_only = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


@pty_only
def test_chat_ctrl_c_at_the_prompt_exits_at_once() -> None:
    chat = Terminal("chat")
    try:
        chat.expect("you> ")
        # Ctrl-C, delivered by the terminal as SIGINT; no Enter follows
        assert chat.interrupt() == 0
        assert "Traceback" not in chat.output
    finally:
        chat.close()


@pty_only
def test_chat_prompt_has_line_editing_and_history() -> None:
    chat = Terminal("chat")
    try:
        chat.expect("you> ")
        chat.send("helo\x1b[Dl\r")  # a typo fixed with the left arrow: "hel" + "l" + "o"
        chat.expect("You said: hello")
        chat.expect("you> ")
        chat.send("\x1b[A!\r")  # the up arrow brings back "hello"; "!" is added to it
        chat.expect("You said: hello!")
        chat.expect("you> ")
        chat.send("\x04")  # Ctrl-D ends the session
        assert chat.wait() == 0
    finally:
        chat.close()


# -- commands -------------------------------------------------------------------------------


def test_chat_help_lists_the_commands(runner) -> None:
    result = runner.invoke(_build_app(), ["chat"], input="/help\n/usage\n")
    assert result.exit_code == 0, result.output
    for command in ("/new", "/usage", "/help", "/exit"):
        assert f"  {command}" in result.output
    assert "session: 0 model calls" in result.output  # /help asked the model nothing


def test_chat_refuses_an_unknown_command_and_sends_it_nowhere(runner) -> None:
    result = runner.invoke(
        _build_app(), ["chat"], input="/summarize this\n//etc is a folder\n/usage\n"
    )
    assert result.exit_code == 0, result.output
    assert "unknown command /summarize (not sent to the model)" in result.output
    assert "You said: /summarize" not in result.output
    # "//" sends a message that starts with "/"; only that one reached the model
    assert "You said: /etc is a folder" in result.output
    assert "session: 1 model call" in result.output


# -- what is checked before the first message ------------------------------------------------


def test_chat_reports_a_missing_api_key_at_start(runner, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(_build_app(), ["chat", "--config", "openai:gpt-5"], input="hello\n")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    # one line, before any prompt, naming the fix
    assert lines == [
        "baton chat: no API key for openai: set OPENAI_API_KEY in the environment "
        "(e.g. export OPENAI_API_KEY=...), or try offline with --config scripted"
    ]


def test_chat_reports_a_missing_sdk_at_start(tmp_path: Path) -> None:
    # A real process in which the anthropic SDK can't be imported (a package that refuses to
    # load shadows it), as on an install without the extra.
    (tmp_path / "anthropic").mkdir()
    (tmp_path / "anthropic" / "__init__.py").write_text(
        "raise ImportError('No module named anthropic')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "ANTHROPIC_API_KEY": "sk-test"}
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", "chat", "--config", "anthropic:claude-x"],
        input="hello\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "you>" not in done.stdout  # refused before the prompt
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'baton-agents[anthropic]'" in lines[0]
    assert "Traceback" not in done.stderr


# -- tools ----------------------------------------------------------------------------------


def test_chat_offers_a_tool_exported_twice_once(runner, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "twice_tools.py").write_text(
        "from baton import Toolkit, tool\n\n"
        "@tool\ndef shout(text: str) -> str:\n"
        '    """Upper-case text."""\n    return text.upper()\n\n'
        "@tool\ndef whisper(text: str) -> str:\n"
        '    """Lower-case text."""\n    return text.lower()\n\n'
        "voice = Toolkit(shout, whisper, name='voice')\n"
        "loud = shout  # the same tool under a second name\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(
        _build_app(), ["chat", "--tools", "twice_tools", "--tools", "twice_tools:shout"], input=""
    )
    assert result.exit_code == 0, result.output
    assert "tools: shout, whisper." in result.output
