"""The ``shell`` tool: the policy's verdicts, approval through human-in-the-loop, commands in
the sandbox, refusals reaching the model as short tool errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sandbox_support import TIGHT, needs_bwrap

from baton import Agent, Context, ToolCallError, ToolCallResult
from baton.errors import ConfigError
from baton.events import ApprovalRequest
from baton.testing import ScriptedModel, call
from baton.tools.builtins import ShellPolicy, UnsafeSubprocess, shell
from baton.tools.builtins.shell import Shell

POLICY = ShellPolicy(allow=["ls", "cat", "echo", "git status"], deny=["rm", "git push"])


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("ls -la", "allow"),
        ("/bin/ls", "allow"),
        ("git status --short", "allow"),
        ("LANG=C ls", "allow"),
        ("ls > listing.txt 2>&1", "allow"),
        ("cat a | echo b && ls; echo c", "allow"),
        ("git", "ask"),
        ("git diff", "ask"),
        ("python3 -c 'print(1)'", "ask"),
        ("rm -rf /", "deny"),
        ("/usr/bin/rm x", "deny"),
        ("ls && rm x", "deny"),
        ("ls\nrm x", "deny"),
        ("ls | (cd / ; rm x)", "deny"),
        ("git push origin main", "deny"),
        ("echo $(rm x)", "deny"),  # rm inside a substitution is still rm
        ("echo $(id)", "ask"),
        ("echo `id`", "ask"),
        ("$CMD", "ask"),
        ("echo 'unterminated", "ask"),
        ("", "deny"),
        ("   ", "deny"),
        # Work hidden where the shell still runs it is never allowed without asking:
        ("cat <(id)", "ask"),  # process substitution: a command of its own
        ("cat <(rm -rf x)", "deny"),
        ("ls >(rm -rf x)", "deny"),
        ('cat f > "$(rm -rf x)"', "ask"),  # a computed redirection target
        ('cat <<< "$(rm x)"', "ask"),
        ("echo hi > `id`", "ask"),
        ('X="$(rm x)" ls', "ask"),  # a computed assignment
        ("X=`id` ls", "ask"),
        ("ls a#;rm -rf x", "deny"),  # '#' inside a word starts no comment in sh
        ("ls # ; id", "ask"),  # read conservatively: the words after '#' are checked too
        # Which program runs must not be the model's to choose for an allowed name:
        ("./ls", "ask"),  # a file of the workspace named like an allowed command
        ("/workspace/ls -la", "ask"),
        ("PATH=/workspace ls", "ask"),
        ("LD_PRELOAD=/workspace/x.so ls", "ask"),
        ("./rm x", "deny"),  # deny still matches whatever the path
    ],
)
def test_the_policy_verdicts(command: str, action: str) -> None:
    verdict = POLICY.decide(command)
    assert verdict.action == action, verdict


def test_without_asking_everything_unlisted_is_refused() -> None:
    strict = ShellPolicy(allow=["ls"], ask=False)
    assert strict.decide("ls").action == "allow"
    refused = strict.decide("whoami")
    assert refused.action == "deny"
    assert "runs only allowed commands" in refused.reason


def test_bad_policies_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="lists of commands"):
        ShellPolicy(allow="ls")
    with pytest.raises(ConfigError, match="empty entry"):
        ShellPolicy(deny=[""])
    with pytest.raises(ConfigError, match="ShellPolicy"):
        shell(policy="ls", sandbox=UnsafeSubprocess())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"shell\(limits=...\) takes Limits"):
        shell(sandbox=UnsafeSubprocess(), limits=10)  # type: ignore[arg-type]


ShellAgent = Callable[[ScriptedModel, list[bool], list[str]], Agent]


@pytest.fixture
async def shell_agent() -> AsyncIterator[ShellAgent]:
    """An agent with the shell tool, its approvals answered by ``answers`` and noted in
    ``asked``; the tool's workspaces are closed after the test (they hold scratch folders)."""
    shells: list[Shell] = []

    def make(model: ScriptedModel, answers: list[bool], asked: list[str]) -> Agent:
        def hook(request: Any, context: Context) -> bool:
            assert isinstance(request, ApprovalRequest)
            asked.append(request.reason)
            return answers.pop(0)

        tool = shell(POLICY, limits=TIGHT)
        shells.append(tool)
        return Agent("ops", config=model, tools=[tool], hitl=hook)

    yield make
    for tool in shells:
        await tool.aclose()


async def test_allowed_commands_run_in_the_sandbox_without_asking(shell_agent: ShellAgent) -> None:
    needs_bwrap()
    asked: list[str] = []
    model = ScriptedModel(
        call("shell", command="echo hello > note.txt"),
        call("shell", command="cat note.txt; ls"),
        "done",
    )
    reply = await shell_agent(model, [], asked).ask("go")
    results = [e for e in reply.events if isinstance(e, ToolCallResult)]
    assert asked == []
    assert results[0].content == "exit status 0\n--- files written: note.txt (6 bytes)"
    assert "hello\nnote.txt" in results[1].content  # the same workspace for the conversation


async def test_denied_commands_are_refused_without_asking(shell_agent: ShellAgent) -> None:
    needs_bwrap()
    asked: list[str] = []
    model = ScriptedModel(call("shell", command="ls && rm -rf /workspace"), "ok")
    reply = await shell_agent(model, [], asked).ask("go")
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert asked == []
    assert error.message == (
        "Tool 'shell' failed: CommandRefused: Refused: 'rm' is denied by the shell policy."
    )


async def test_other_commands_run_only_when_a_human_approves(shell_agent: ShellAgent) -> None:
    needs_bwrap()
    asked: list[str] = []
    model = ScriptedModel(
        call("shell", command="id -u"),
        call("shell", command="id -g"),
        "done",
    )
    reply = await shell_agent(model, [True, False], asked).ask("go")
    assert asked == ["Run this shell command? id -u", "Run this shell command? id -g"]
    outcomes = [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]
    assert isinstance(outcomes[0], ToolCallResult) and outcomes[0].content.startswith(
        "exit status 0"
    )
    assert isinstance(outcomes[1], ToolCallError)
    assert "the user did not approve this command" in outcomes[1].message


async def test_the_description_tells_the_model_the_rules() -> None:
    needs_bwrap()
    tool = shell(POLICY).tool
    assert "Allowed without approval: ls, cat, echo, git status." in tool.description
    assert "Always refused: rm, git push." in tool.description
    assert "wait for a human's approval" in tool.description
