"""Which shell commands the docs may show, and the check each gets.

A shell block (``bash``, ``sh``, ``shell``, ``console``) may only hold commands this module
knows how to check; each line is one command (``\\`` continues it; in ``console`` blocks only the
lines starting with ``$ `` are commands, the rest is their output). Leading ``NAME=value``
assignments and ``export NAME=value`` lines are allowed.

- ``pip install ...``: every extra named (``baton-agents[...]``, ``.[...]``) is in pyproject.toml;
- ``python3 dev.py COMMAND``: a command dev.py has;
- ``baton SUB ...`` (or ``.venv/bin/baton``): the subcommand exists and takes every ``--option``
  the line gives (checked against the command itself, and ``SUB --help`` must succeed);
- ``python -m MODULE`` / ``python3 -m`` / ``.venv/bin/python -m``: the module can be found;
- ``python examples/NAME.py ...``: the example exists (the examples' tests run it);
- ``sh PATH`` / ``bash PATH``: the script exists in the repository;
- ``apt-get install``, ``redis-server``, ``uvx``, ``npm``, ``cd``, ``export``: allowed as they are.

To show a new kind of command, add a rule here (with its check) rather than weakening one.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_EXTRAS = re.compile(r"(?:baton-agents|\.)\[(?P<extras>[^\]]+)\]")
_PLAIN = {"apt-get", "apt", "redis-server", "uvx", "npm", "npx", "cd", "export", "docker", "curl"}


def commands(block_code: str, language: str) -> list[tuple[int, str]]:
    """The commands of a shell block: (line offset in the block, command text)."""
    found: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for offset, raw in enumerate(block_code.splitlines()):
        line = raw.rstrip()
        if not pending:
            if language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = offset
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        text = " ".join(pending)
        pending = []
        for part in re.split(r"\s*(?:&&|;|\|\|)\s*", text):
            if part.strip():
                found.append((start, part.strip()))
    return found


def problem(command: str) -> str | None:
    """What is wrong with showing ``command`` in the docs, or None when it checks out."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError as exc:
        return f"not a valid shell line ({exc})"
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words:
        return None
    program = Path(words[0]).name if words[0].startswith((".venv/", "./")) else words[0]
    check = _RULES.get(program)
    if check is not None:
        return check(words[1:])
    if program in _PLAIN:
        return None
    allowed = ", ".join(sorted([*_RULES, *_PLAIN]))
    return (
        f"`{words[0]}` is not a command the docs tests know (allowed: {allowed}); "
        "add a rule to tests/docs/shell_rules.py"
    )


def _pip(args: list[str]) -> str | None:
    if not args or args[0] != "install":
        return "only `pip install ...` is allowed"
    known = set(_pyproject()["project"]["optional-dependencies"])
    for arg in args[1:]:
        for match in _EXTRAS.finditer(arg):
            unknown = {e.strip() for e in match.group("extras").split(",")} - known
            if unknown:
                return f"no extra {sorted(unknown)} in pyproject.toml (extras: {sorted(known)})"
    return None


def _python(args: list[str]) -> str | None:
    if args[:1] == ["-m"]:
        return _module(args[1:])
    if args and args[0].startswith("examples/") and args[0].endswith(".py"):
        return None if (ROOT / args[0]).is_file() else f"no example {args[0]!r}"
    if args[:1] != ["dev.py"]:
        return (
            "only `python3 dev.py COMMAND`, `python3 -m MODULE` and `python examples/NAME.py` "
            "are allowed"
        )
    source = (ROOT / "dev.py").read_text(encoding="utf-8")
    table = re.search(r"^COMMANDS = \{(?P<body>[^}]*)\}", source, re.MULTILINE)
    names = re.findall(r'"(\w+)":', table.group("body")) if table else []
    if len(args) < 2 or args[1] not in names:
        return f"dev.py has the commands {names}"
    return None


def _module(args: list[str]) -> str | None:
    if not args:
        return "`-m` needs a module"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        found = importlib.util.find_spec(args[0])
    except ModuleNotFoundError:
        found = None
    return None if found is not None else f"no module {args[0]!r}"


def _script(args: list[str]) -> str | None:
    if not args or not (ROOT / args[0]).is_file():
        return f"no script {args[0] if args else ''!r} in the repository"
    return None


def _baton(args: list[str]) -> str | None:
    import typer.main
    from typer.testing import CliRunner

    from baton.cli import _build_app

    command: Any = typer.main.get_command(_build_app())
    path: list[str] = []
    rest = list(args)
    while rest and rest[0] in getattr(command, "commands", {}):
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    if hasattr(command, "commands"):
        return f"`baton {' '.join(path)}` needs a subcommand ({', '.join(command.commands)})"
    options = {"--help"} | {
        opt for param in command.params for opt in (*param.opts, *param.secondary_opts)
    }
    for word in rest:
        name = word.split("=", 1)[0]
        if name.startswith("-") and name != "-" and name not in options:
            return f"`baton {' '.join(path)}` has no option {name} (it has {sorted(options)})"
    result = CliRunner().invoke(_build_app(), [*path, "--help"])
    if result.exit_code != 0:
        return f"`baton {' '.join(path)} --help` failed: {result.output}"
    return None


@cache
def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


_RULES: dict[str, Callable[[list[str]], str | None]] = {
    "pip": _pip,
    "python": _python,
    "python3": _python,
    "baton": _baton,
    "sh": _script,
    "bash": _script,
}
