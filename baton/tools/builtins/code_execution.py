"""``code_execution()``: a tool that runs the model's Python (and, if allowed, shell) in a sandbox.

    from baton.tools.builtins import Limits, code_execution

    agent = Agent("analyst", tools=[code_execution(limits=Limits(wall_seconds=60))])

The default sandbox is ``Bubblewrap()`` (Linux, ``apt-get install bubblewrap``); ``Docker()``
and, by name only, ``UnsafeSubprocess()`` are the others. Each call runs in a fresh workspace
unless ``session=True``: then each conversation keeps one workspace, and the files a call leaves
in its scratch directory are there for the next call of the same conversation (while this
process lives; the least recently used of more than ``max_sessions`` is closed). The model reads
the exit status, a note when a limit stopped the program, stdout, stderr and the files written.
"""

from __future__ import annotations

import asyncio
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from ...context import Context
from ...errors import ConfigError
from ..tool import Tool, ToolResult
from .limits import Limits
from .sandbox import LANGUAGES, Execution, Sandbox, Workspace, WorkspaceClosed, check_setup

__all__ = ["CodeExecution", "SessionWorkspaces", "code_execution", "default_sandbox", "run_in"]


def default_sandbox() -> Sandbox:
    """``Bubblewrap()`` on Linux; elsewhere a ``ConfigError`` naming the choices (Baton never
    falls back to running code unsandboxed by itself)."""
    if sys.platform.startswith("linux"):
        from .bubblewrap import Bubblewrap

        return Bubblewrap()
    raise ConfigError(
        f"no default sandbox on {sys.platform}: pass sandbox=Docker() (needs Docker), or "
        "sandbox=UnsafeSubprocess() if the code may run unisolated as your user"
    )


class SessionWorkspaces:
    """One open workspace per key (a conversation), the least recently used closed past
    ``max_sessions``."""

    def __init__(self, sandbox: Sandbox, limits: Limits, max_sessions: int) -> None:
        if max_sessions < 1:
            raise ConfigError(f"max_sessions must be at least 1, got {max_sessions}")
        self.sandbox, self.limits, self.max_sessions = sandbox, limits, max_sessions
        self._open: OrderedDict[str, Workspace] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, key: str) -> Workspace:
        async with self._lock:
            workspace = self._open.get(key)
            if workspace is not None:
                self._open.move_to_end(key)
                return workspace
            workspace = await self.sandbox.open(self.limits)
            self._open[key] = workspace
            evicted = []
            while len(self._open) > self.max_sessions:
                evicted.append(self._open.popitem(last=False)[1])
        for old in evicted:
            await old.close()
        return workspace

    async def use(self, key: str, action: Callable[[Workspace], Awaitable[Execution]]) -> Execution:
        """``action`` in ``key``'s workspace. One closed while the call waited for it (the
        least recently used, closed for another conversation's) is replaced by a new one."""
        while True:
            workspace = await self.get(key)
            try:
                return await action(workspace)
            except WorkspaceClosed:
                if not workspace.closed:
                    raise

    async def close(self, key: str | None = None) -> None:
        """Close one conversation's workspace, or (``key=None``) all of them."""
        async with self._lock:
            if key is None:
                closing = list(self._open.values())
                self._open.clear()
            else:
                found = self._open.pop(key, None)
                closing = [found] if found is not None else []
        for workspace in closing:
            await workspace.close()

    def __len__(self) -> int:
        return len(self._open)


async def run_in(
    sandbox: Sandbox,
    limits: Limits,
    sessions: SessionWorkspaces | None,
    key: str | None,
    action: Callable[[Workspace], Awaitable[Execution]],
) -> Execution:
    """``action`` in ``key``'s session workspace, or (no sessions, or no key) in a fresh
    workspace closed after it: how ``code_execution`` and ``shell`` run what they are given."""
    if sessions is not None and key is not None:
        return await sessions.use(key, action)
    async with await sandbox.open(limits) as workspace:
        return await action(workspace)


class CodeExecution:
    """The ``code_execution`` tool as a tool source (``Agent(tools=[...])`` takes it), whose
    ``aclose()`` (``agent.aclose()``) closes the session workspaces. ``await run(code)`` runs
    code directly, outside any agent."""

    def __init__(
        self,
        sandbox: Sandbox,
        limits: Limits,
        *,
        session: bool,
        languages: Sequence[str],
        name: str,
        max_sessions: int,
    ) -> None:
        check_setup("code_execution", sandbox, limits)
        unknown = [lang for lang in languages if lang not in LANGUAGES]
        if unknown or not languages or isinstance(languages, str):
            raise ConfigError(
                f"code_execution(languages=...) takes a tuple of some of "
                f"{', '.join(LANGUAGES)}, e.g. ('python', 'shell'), got {languages!r}"
            )
        sandbox.check()  # a missing bwrap is the developer's to fix, before the first call
        self.sandbox, self.limits, self.session = sandbox, limits, session
        self.languages = tuple(languages)
        self.sessions = SessionWorkspaces(sandbox, limits, max_sessions) if session else None
        self.tool = self._make_tool(name)
        self._tools = (self.tool,)

    async def run(
        self, code: str, language: str = "python", *, key: str | None = None
    ) -> Execution:
        """Run ``code``: in a fresh workspace, or, in session mode, in ``key``'s workspace."""
        if language not in self.languages:
            raise ConfigError(
                f"language {language!r} is not enabled here (enabled: {', '.join(self.languages)})"
            )
        return await run_in(
            self.sandbox, self.limits, self.sessions, key, lambda w: w.run_code(code, language)
        )

    async def list_tools(self, context: Context) -> tuple[Tool, ...]:
        return self._tools

    async def aclose(self) -> None:
        if self.sessions is not None:
            await self.sessions.close()

    def __repr__(self) -> str:
        mode = ", session=True" if self.session else ""
        return f"code_execution({self.sandbox!r}{mode})"

    def _make_tool(self, name: str) -> Tool:
        owner = self

        async def execute(code: str, context: Context, language: str = "python") -> ToolResult:
            key = context.conversation_id if owner.session else None
            execution = await owner.run(code, language, key=key)
            return ToolResult(execution.summary(), content=execution.report())

        safety = (
            "in an isolated sandbox with no network"
            if self.sandbox.is_security_boundary
            else "as a local subprocess"
        )
        where = "the scratch directory (the working directory)"
        keep = (
            f"Files left in {where} are kept for later calls in this conversation."
            if self.session
            else f"Each call starts with an empty {where}; nothing is kept between calls."
        )
        description = (
            f"Run a {' or '.join(self.languages)} program {safety} and get its exit status, "
            f"stdout, stderr and the files it wrote. Print what you need to see. {keep} "
            f"Limits per run: {self.limits.describe()}."
        )
        if self.languages == ("python",):

            async def run_python(code: str, context: Context) -> ToolResult:
                """Run a Python program.

                Args:
                    code: The Python program to run.
                """
                return await execute(code, context)

            return Tool(run_python, name=name, description=description)

        async def run_program(code: str, language: str, context: Context) -> ToolResult:
            """Run a program.

            Args:
                code: The program to run.
                language: The language the program is written in.
            """
            return await execute(code, context, language)

        # The enum of languages is this tool's own: set on the annotation read for the schema.
        run_program.__annotations__ = {
            "code": str,
            "language": Literal[self.languages],
            "context": Context,
            "return": ToolResult,
        }
        return Tool(run_program, name=name, description=description)


def code_execution(
    sandbox: Sandbox | None = None,
    *,
    limits: Limits | None = None,
    session: bool = False,
    languages: Sequence[Literal["python", "shell"]] = ("python",),
    name: str = "run_code",
    max_sessions: int = 32,
) -> CodeExecution:
    """A tool that runs the model's code in ``sandbox`` (default: ``default_sandbox()``) under
    ``limits`` (default: ``Limits()``).

    ``session=True`` keeps one workspace per conversation (see the module docs);
    ``languages=("python", "shell")`` lets the model run shell scripts too. A missing sandbox
    program is a ``MissingDependency`` here, when the tool is made.
    """
    return CodeExecution(
        sandbox if sandbox is not None else default_sandbox(),
        limits if limits is not None else Limits(),
        session=session,
        languages=languages,
        name=name,
        max_sessions=max_sessions,
    )
