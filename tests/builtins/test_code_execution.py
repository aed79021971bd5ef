"""The ``code_execution`` tool: an agent runs code in a sandbox, the model reads the outcome;
session mode keeps one workspace per conversation; ``UnsafeSubprocess`` applies the limits."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import pytest
from sandbox_support import TIGHT, is_running, needs_bwrap

from baton import Agent, ToolCallError, ToolCallResult
from baton.errors import ConfigError, MissingDependency
from baton.testing import ScriptedModel, call
from baton.tools.builtins import (
    Bubblewrap,
    Docker,
    Limits,
    UnsafeSubprocess,
    Workspace,
    code_execution,
)
from baton.tools.builtins import unsafe as unsafe_module


def outcomes(reply: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]


async def test_an_agent_runs_code_and_the_model_reads_output_files_and_status() -> None:
    needs_bwrap()
    runner = code_execution(limits=TIGHT)
    program = "open('out.csv', 'w').write('a,b\\n1,2\\n')\nprint(6 * 7)\n"
    agent = Agent(
        "coder",
        config=ScriptedModel(call("run_code", code=program), "done"),
        tools=[runner],
    )
    reply = await agent.ask("compute")
    [result] = outcomes(reply)
    assert isinstance(result, ToolCallResult)
    assert result.content.startswith("exit status 0\n--- stdout\n42")
    assert "--- files written: out.csv (8 bytes)" in result.content
    assert result.value["exit_code"] == 0 and result.value["limit"] is None
    json.dumps(result.value)  # what is stored is plain data
    await agent.aclose()


async def test_a_limit_that_stops_the_program_is_what_the_model_reads() -> None:
    needs_bwrap()
    runner = code_execution(limits=TIGHT)
    agent = Agent(
        "coder",
        config=ScriptedModel(call("run_code", code="while True: pass"), "done"),
        tools=[runner],
    )
    [result] = outcomes(await agent.ask("spin"))
    assert isinstance(result, ToolCallResult)
    assert result.content == "exit status 152; killed at the CPU time limit of 1 s"


async def test_the_tool_tells_the_model_its_limits_and_languages() -> None:
    needs_bwrap()
    python_only = code_execution(limits=TIGHT)
    assert set(python_only.tool.parameters["properties"]) == {"code"}
    assert "no network" in python_only.tool.description
    assert "1s CPU, 20s wall time, 256 MB memory, 16 processes" in python_only.tool.description
    both = code_execution(languages=("python", "shell"))
    assert both.tool.parameters["properties"]["language"]["enum"] == ["python", "shell"]


async def test_a_language_that_is_not_enabled_reaches_the_model_as_a_tool_error() -> None:
    needs_bwrap()
    both = code_execution(languages=("python", "shell"), limits=TIGHT)
    agent = Agent(
        "coder",
        config=ScriptedModel(call("run_code", code="1", language="ruby"), "ok"),
        tools=[both],
    )
    [error] = outcomes(await agent.ask("x"))
    assert isinstance(error, ToolCallError)
    assert "Invalid arguments for tool 'run_code'" in error.message
    assert len(error.message) < 400


async def test_session_mode_keeps_files_per_conversation_and_forgets_others() -> None:
    needs_bwrap()
    runner = code_execution(limits=TIGHT, session=True, languages=("python", "shell"))
    model = ScriptedModel(
        call("run_code", code="open('state.txt', 'w').write('kept')", language="python"),
        "saved",
        call("run_code", code="cat state.txt", language="shell"),
        "read",
        call("run_code", code="cat state.txt", language="shell"),
        "other",
    )
    agent = Agent("coder", config=model, tools=[runner])
    first = await agent.ask("save")
    second = await first.ask("read it back")
    read = outcomes(second)[-1]
    assert isinstance(read, ToolCallResult)
    assert "--- stdout\nkept" in read.content
    other = await agent.ask("a new conversation")
    [missing] = outcomes(other)
    assert isinstance(missing, ToolCallResult)
    assert "No such file" in missing.content
    assert runner.sessions is not None and len(runner.sessions) == 2
    await agent.aclose()
    assert len(runner.sessions) == 0


async def test_session_mode_closes_the_least_recently_used_workspace() -> None:
    needs_bwrap()
    runner = code_execution(limits=TIGHT, session=True, max_sessions=2)
    await runner.run("open('f', 'w').write('a')", key="a")
    await runner.run("open('f', 'w').write('b')", key="b")
    await runner.run("print(open('f').read())", key="a")  # "a" is now the most recent
    await runner.run("open('f', 'w').write('c')", key="c")  # closes "b"
    assert (await runner.run("print(open('f').read())", key="a")).stdout == "a\n"
    gone = await runner.run("print(open('f').read())", key="b")
    assert "FileNotFoundError" in gone.stderr
    await runner.aclose()


def test_a_missing_sandbox_program_fails_when_the_tool_is_made() -> None:
    with pytest.raises(MissingDependency, match="apt-get install bubblewrap"):
        code_execution(Bubblewrap(executable="no-such-bwrap"))


async def test_a_missing_docker_names_what_to_install() -> None:
    with pytest.raises(MissingDependency, match="install Docker"):
        code_execution(Docker(executable="no-such-docker"))
    with pytest.raises(MissingDependency, match=r"docker\.io"):
        await Docker(executable="no-such-docker").open()


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="languages"):
        code_execution(UnsafeSubprocess(), languages=("cobol",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="wall_seconds"):
        Limits(wall_seconds=0)
    with pytest.raises(ConfigError, match="memory_mb"):
        Limits(memory_mb=float("nan"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"Limits\(processes=...\) is a whole number, got 0\.5"):
        Limits(processes=0.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="open_files"):
        Limits(open_files=64.5)  # type: ignore[arg-type]


def test_wrong_sandbox_limits_and_env_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"a sandbox instance: UnsafeSubprocess\(\)"):
        code_execution(UnsafeSubprocess)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"takes Bubblewrap\(\), Docker\(\) or Unsafe"):
        code_execution("bubblewrap")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"limits=...\) takes Limits"):
        code_execution(UnsafeSubprocess(), limits={"cpu_seconds": 1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"got 'python'"):
        code_execution(UnsafeSubprocess(), languages="python")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"env=...\) must map names to strings"):
        UnsafeSubprocess(env={"PORT": 8000})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"read_only=...\) takes a list of paths"):
        Bubblewrap(read_only="/opt/data")  # type: ignore[arg-type]


async def test_a_workspace_opened_with_wrong_limits_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"open\(\) takes a Limits"):
        await UnsafeSubprocess().open({"cpu_seconds": 1})  # type: ignore[arg-type]


# -- UnsafeSubprocess: the limits, without isolation ---------------------------------------------


def test_the_unsafe_backend_says_it_is_not_a_security_boundary() -> None:
    runner = code_execution(UnsafeSubprocess())
    assert UnsafeSubprocess.is_security_boundary is False
    assert "no network" not in runner.tool.description
    assert "as a local subprocess" in runner.tool.description
    assert "NOT A SECURITY BOUNDARY" in (unsafe_module.__doc__ or "")


async def test_the_unsafe_backend_applies_cpu_memory_and_file_limits(
    unsafe_workspace: Workspace,
) -> None:
    cpu = await unsafe_workspace.run_code("while True: pass")
    assert cpu.limit == "cpu_seconds" and cpu.exit_code == 128 + signal.SIGXCPU, cpu.report()
    memory = await unsafe_workspace.run_code("x = bytearray(1024 * 1024 * 1024)")
    assert memory.limit == "memory_mb", memory.report()
    big = await unsafe_workspace.run_code("open('big', 'wb').write(b'x' * 3 * 1024 * 1024)")
    assert big.limit == "file_size_mb", big.report()


async def test_the_unsafe_backend_kills_the_whole_process_group_at_the_wall_time() -> None:
    async with await UnsafeSubprocess().open(Limits(wall_seconds=1)) as workspace:
        result = await workspace.run_code("sleep 1000 & echo $! > pid; wait", "shell")
        assert result.limit == "wall_seconds"
        child = int((workspace.scratch / "pid").read_text())
    assert not is_running(child)


async def test_a_call_waiting_on_a_session_closed_meanwhile_runs_in_a_new_one() -> None:
    """Conversation "a" runs a program while a second call of "a" waits for the workspace;
    then conversation "b" pushes "a" out (max_sessions=1). The waiting call runs in a new
    workspace for "a" instead of failing on the closed one."""
    runner = code_execution(
        UnsafeSubprocess(), limits=TIGHT, session=True, languages=("shell",), max_sessions=1
    )
    assert runner.sessions is not None
    first = asyncio.create_task(
        runner.run("while [ ! -e go ]; do sleep 0.01; done; echo first", "shell", key="a")
    )
    await asyncio.sleep(0)  # the first call holds "a"'s workspace from its first step
    old = await runner.sessions.get("a")
    second = asyncio.create_task(runner.run("echo second", "shell", key="a"))
    await asyncio.sleep(0)  # the second call now waits for that workspace
    other = asyncio.create_task(runner.run("echo other", "shell", key="b"))
    for _ in range(1000):  # "b" opens, and closes "a" (waiting for its run to end)
        if old.closed:
            break
        await asyncio.sleep(0.005)
    assert old.closed
    (old.scratch / "go").touch()
    assert (await first).stdout == "first\n"
    assert (await second).stdout == "second\n"
    assert (await other).stdout == "other\n"
    await runner.aclose()
