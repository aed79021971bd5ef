"""A real process on a pseudo-terminal, driven as a person at a keyboard would (for `baton chat`).

The child gets the pseudo-terminal as its controlling terminal, so Ctrl-C (``"\\x03"``) reaches
it as SIGINT from the terminal driver, and ``input()`` sees a terminal (line editing, history).
The timeouts only guard against a hang; nothing here measures time.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

HANG_GUARD = 60.0  # seconds: generous, only so that a broken build fails instead of hanging

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\r\x07]")
_PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DASHSCOPE_API_KEY",
)


class Terminal:
    """``python -m baton.cli *args`` on a pseudo-terminal."""

    def __init__(
        self, *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if k not in _PROVIDER_KEYS}
        environment.update({"TERM": "xterm", "COLUMNS": "200", "LINES": "50"})
        environment.update(env or {})
        argv = [sys.executable, "-m", "baton.cli", *args]
        pid, fd = pty.fork()
        if pid == 0:  # the child: nothing but exec
            try:
                if cwd is not None:
                    os.chdir(cwd)
                # A terminal's Ctrl-C, even when the tests run as a background job (which
                # starts with SIGINT ignored, and exec keeps that).
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(argv[0], argv, environment)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = ""  # everything shown so far, escape sequences removed
        self._seen = 0  # how much of it expect() has consumed
        self.status: int | None = None

    def send(self, keys: str) -> None:
        """Type ``keys`` (``"\\r"`` is Enter, ``"\\x03"`` Ctrl-C, ``"\\x1b[A"`` the up arrow)."""
        os.write(self.fd, keys.encode())

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        self.output += _ESCAPES.sub(b"", data).decode(errors="replace")
        return True

    def expect(self, text: str) -> str:
        """Wait until ``text`` is shown (after what earlier calls consumed); return what was
        shown up to and including it."""
        deadline = time.monotonic() + HANG_GUARD
        while True:
            found = self.output.find(text, self._seen)
            if found >= 0:
                shown = self.output[self._seen : found + len(text)]
                self._seen = found + len(text)
                return shown
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 1.0)):
                if self.output.find(text, self._seen) >= 0:
                    continue
                raise AssertionError(
                    f"never shown: {text!r}; the terminal shows:\n{self.output[self._seen :]}"
                )

    def interrupt(self) -> int:
        """Press Ctrl-C at the prompt and wait for the process to exit; its exit code.

        CPython's readline prints the prompt before it waits for the terminal, and a SIGINT
        landing between the two is only seen at the next key (the wait is not interrupted):
        a person presses Ctrl-C again, and so does this, a few times, after a while."""
        for _ in range(5):
            self.send("\x03")
            exited = self._exit_within(HANG_GUARD / 10)
            if exited is not None:
                return exited
        raise AssertionError(f"Ctrl-C did not end the chat; the terminal shows:\n{self.output}")

    def wait(self) -> int:
        """Wait for the process to exit (reading what it still shows); its exit code."""
        exited = self._exit_within(HANG_GUARD)
        if exited is None:
            raise AssertionError(f"the chat did not exit; the terminal shows:\n{self.output}")
        return exited

    def _exit_within(self, guard: float) -> int | None:
        """The exit code once the process exits, or None if it still runs after ``guard``
        seconds (reading what it shows meanwhile)."""
        deadline = time.monotonic() + guard
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.1):
                    pass
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            self._read(0.2)
        return None

    def close(self) -> None:
        """Kill the process if it still runs, and close the terminal."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
