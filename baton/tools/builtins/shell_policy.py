"""``ShellPolicy``: which shell commands run at once, which are refused, and which need approval.

    ShellPolicy(allow=["ls", "cat", "git status", "git diff"], deny=["rm", "git push"])

Entries are command names (``"ls"``) or command prefixes (``"git status"``), matched word by word
against each simple command of a command line (``a && b | c; d`` is four): a command matches an
entry when its first words are the entry's words (``/usr/bin/rm`` counts as ``rm``; leading
``VAR=value`` assignments are skipped). The verdict for a line:

- ``deny``: some command matches a deny entry: refused without asking.
- ``allow``: every command matches an allow entry and nothing is computed at run time (no
  ``$(...)``, backquotes or ``$VAR`` as a command name, no ``PATH=`` or ``LD_PRELOAD=``
  before it); a command given by path counts only when it is a system directory's
  (``/usr/bin/ls``, not ``./ls``).
- ``ask`` otherwise: a human approves or refuses (``ask=False`` refuses instead).

The commands run in the sandbox whatever the verdict: the policy decides what a human must see
first, not what is safe. Deny entries are a convenience (``xargs rm`` is not ``rm``); the
allow list is the strict part, since anything it does not cover is asked about.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ...errors import ConfigError

__all__ = ["ShellPolicy", "Verdict", "simple_commands"]

_OPERATOR_CHARS = "();<>|&\n"
# Where the programs an allowed name stands for live.
_SYSTEM_BINS = frozenset(
    ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
)
# Variables that change which program runs, or what it loads, for a command they precede.
_RISKY_VARIABLES = frozenset(
    ("PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV", "IFS", "PYTHONPATH")
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy decided for a command line, and why (a sentence for the model)."""

    action: Literal["allow", "deny", "ask"]
    reason: str


@dataclass(frozen=True, slots=True)
class ShellPolicy:
    """Allow and deny lists of command names or prefixes (see the module docs)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    ask: bool = True
    """Ask a human about commands neither list decides; ``False`` refuses them."""
    _allow: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _deny: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __init__(
        self, allow: Iterable[str] = (), deny: Iterable[str] = (), *, ask: bool = True
    ) -> None:
        if isinstance(allow, str) or isinstance(deny, str):
            raise ConfigError("ShellPolicy(allow=..., deny=...) take lists of commands")
        object.__setattr__(self, "allow", tuple(allow))
        object.__setattr__(self, "deny", tuple(deny))
        object.__setattr__(self, "ask", ask)
        object.__setattr__(self, "_allow", tuple(_entry(e, "allow") for e in self.allow))
        object.__setattr__(self, "_deny", tuple(_entry(e, "deny") for e in self.deny))

    def decide(self, command: str) -> Verdict:
        """The verdict for one command line."""
        try:
            commands, computed = simple_commands(command)
        except ValueError as exc:
            return self._undecided(f"the command could not be parsed ({exc})")
        if not commands:
            return Verdict("deny", "the command is empty")
        for words in commands:
            entry = _match(words, self._deny)
            if entry is not None:
                return Verdict("deny", f"{' '.join(entry)!r} is denied by the shell policy")
        if computed:
            return self._undecided(
                "part of it is decided when it runs ($(...), `...`, $VAR as a command, PATH=)"
            )
        unlisted = [
            words for words in commands if _match(words, self._allow, any_path=False) is None
        ]
        if not unlisted:
            return Verdict("allow", "every command is allowed")
        return self._undecided(f"{' '.join(unlisted[0][:3])!r} is not on the allow list")

    def _undecided(self, why: str) -> Verdict:
        if self.ask:
            return Verdict("ask", why)
        return Verdict("deny", f"{why}, and this shell runs only allowed commands")


def _entry(text: str, where: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(
            f"ShellPolicy({where}=...) entry {text!r} cannot be parsed: {exc}"
        ) from None
    if not words:
        raise ConfigError(f"ShellPolicy({where}=...) has an empty entry")
    return words


def _match(
    words: tuple[str, ...], entries: tuple[tuple[str, ...], ...], *, any_path: bool = True
) -> tuple[str, ...] | None:
    """The entry ``words`` starts with. ``any_path``: ``/usr/bin/rm`` and ``./rm`` both count
    as ``rm`` (deny); else only a bare name or a system directory's program does (allow: an
    executable of the workspace named ``ls`` is not the ``ls`` that was allowed)."""
    if not any_path and "/" in words[0] and os.path.dirname(words[0]) not in _SYSTEM_BINS:
        return None
    name = (os.path.basename(words[0]), *words[1:])
    for entry in entries:
        if name[: len(entry)] == entry:
            return entry
    return None


def simple_commands(line: str) -> tuple[list[tuple[str, ...]], bool]:
    """The simple commands of a shell command line (each as its words, redirections and
    leading assignments left out), and whether any part is computed at run time.

    Read conservatively: a process substitution (``<(...)``) is a command of its own, a
    substitution in a redirection target or an assignment counts as computed, and ``#`` starts
    no comment (``sh`` reads ``a#;rm x`` as two commands; the words after a real comment are
    merely checked too)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=_OPERATOR_CHARS)
    lexer.whitespace = " \t\r"  # a newline separates commands, as ';' does
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[tuple[str, ...]] = []
    words: list[str] = []
    computed = False
    skip_next = False
    for token in lexer:
        if token and all(c in _OPERATOR_CHARS for c in token):
            if "<(" in token or ">(" in token:
                computed = True  # process substitution: its command is read as one of its own
            elif "<" in token or ">" in token:
                skip_next = True  # the next word is a redirection's target, not a command
                continue
            if words:
                commands.append(tuple(words))
            words = []
            continue
        if "`" in token or "$(" in token:
            computed = True  # wherever it stands: a target, an assignment or a word
        if skip_next:
            skip_next = False
            continue
        if not words and "=" in token and not token.startswith("="):
            if token.split("=", 1)[0] in _RISKY_VARIABLES:
                computed = True  # it decides which program the command runs
            continue  # VAR=value before the command
        if token == "$" or (not words and "$" in token):
            computed = True
        words.append(token)
    if words:
        commands.append(tuple(words))
    return commands, computed
