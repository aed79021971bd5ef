"""``shell()``: a tool that runs shell commands in the sandbox, under a ``ShellPolicy``.

    from baton.tools.builtins import ShellPolicy, shell

    agent = Agent("ops", tools=[shell(policy=ShellPolicy(allow=["ls", "cat"], deny=["rm"]))])

Allowed commands run at once, denied ones are refused without asking, anything else waits for a
human's approval through Baton's human-in-the-loop (``Agent(hitl=...)``, the stream, or a paused
ask: see ``baton.hitl``). Every command runs in the sandbox (default ``Bubblewrap()``), by default
in one workspace per conversation so files persist between commands (each command starts a new
shell: ``cd`` and variables do not carry over).
"""

from __future__ import annotations

from ...context import Context
from ...errors import ConfigError
from ..tool import Tool, ToolResult
from .code_execution import SessionWorkspaces, default_sandbox, run_in
from .limits import Limits
from .sandbox import Execution, Sandbox, check_setup
from .shell_policy import ShellPolicy

__all__ = ["Shell", "shell"]


class CommandRefused(PermissionError):
    """A command the shell policy (or the human asked) refused; the model reads why."""


class Shell:
    """The ``shell`` tool as a tool source; ``aclose()`` closes its workspaces."""

    def __init__(
        self,
        policy: ShellPolicy,
        sandbox: Sandbox,
        limits: Limits,
        *,
        session: bool,
        name: str,
        max_sessions: int,
        approval_timeout: float | None,
    ) -> None:
        if not isinstance(policy, ShellPolicy):
            raise ConfigError(f"shell(policy=...) takes a ShellPolicy, got {policy!r}")
        check_setup("shell", sandbox, limits)
        sandbox.check()
        self.policy, self.sandbox, self.limits = policy, sandbox, limits
        self.sessions = SessionWorkspaces(sandbox, limits, max_sessions) if session else None
        self.approval_timeout = approval_timeout
        self.tool = self._make_tool(name)
        self._tools = (self.tool,)

    async def run(self, command: str, *, key: str | None = None) -> Execution:
        """Run ``command`` with ``/bin/sh -c``, without consulting the policy."""
        argv = ["/bin/sh", "-c", command]
        return await run_in(self.sandbox, self.limits, self.sessions, key, lambda w: w.run(argv))

    async def list_tools(self, context: Context) -> tuple[Tool, ...]:
        return self._tools

    async def aclose(self) -> None:
        if self.sessions is not None:
            await self.sessions.close()

    def __repr__(self) -> str:
        return f"shell({self.policy!r}, {self.sandbox!r})"

    def _make_tool(self, name: str) -> Tool:
        owner = self

        async def run_command(command: str, context: Context) -> ToolResult:
            """Run a shell command.

            Args:
                command: The command line, run with /bin/sh -c.
            """
            verdict = owner.policy.decide(command)
            if verdict.action == "deny":
                raise CommandRefused(f"Refused: {verdict.reason}.")
            if verdict.action == "ask":
                approved = await context.approve(
                    f"Run this shell command? {command}", timeout=owner.approval_timeout
                )
                if not approved:
                    raise CommandRefused("Refused: the user did not approve this command.")
            key = context.conversation_id if owner.sessions is not None else None
            execution = await owner.run(command, key=key)
            return ToolResult(execution.summary(), content=execution.report())

        kept = (
            "Files in the working directory persist between commands of this conversation; "
            "each command starts a new shell."
            if self.sessions is not None
            else "Each command starts in an empty working directory."
        )
        rules = []
        if self.policy.allow:
            rules.append(f"Allowed without approval: {', '.join(self.policy.allow)}.")
        if self.policy.deny:
            rules.append(f"Always refused: {', '.join(self.policy.deny)}.")
        if self.policy.ask:
            rules.append("Other commands wait for a human's approval.")
        description = " ".join(
            [
                "Run a shell command in a sandbox without network access and get its exit "
                "status, stdout, stderr and the files it wrote.",
                kept,
                *rules,
                f"Limits per command: {self.limits.describe()}.",
            ]
        )
        return Tool(run_command, name=name, description=description)


def shell(
    policy: ShellPolicy | None = None,
    *,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    session: bool = True,
    name: str = "shell",
    max_sessions: int = 32,
    approval_timeout: float | None = None,
) -> Shell:
    """A tool that runs shell commands in ``sandbox`` (default ``default_sandbox()``) under
    ``policy`` (default: ask about every command) and ``limits``.

    ``session``: one workspace per conversation (default) or a fresh one per command;
    ``approval_timeout``: seconds to wait for a human before the call fails.
    """
    return Shell(
        policy if policy is not None else ShellPolicy(),
        sandbox if sandbox is not None else default_sandbox(),
        limits if limits is not None else Limits(),
        session=session,
        name=name,
        max_sessions=max_sessions,
        approval_timeout=approval_timeout,
    )
