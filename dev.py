#!/usr/bin/env python3
"""Baton developer entry point (stdlib only, needs just Python 3.11+).

    python3 dev.py demo  [args...]        set up .venv (cli extra) and run `baton demo`
    python3 dev.py test  [pytest args...] set up .venv (dev extra), run ruff, mypy and pytest
    python3 dev.py bench [args...]        set up .venv (dev extra), run `python -m benchmarks.core`
    python3 dev.py docs  [--serve]        set up .venv (docs extra), build the docs site strictly
                                          into site/ (a warning or broken link fails), or
                                          preview it with live reload (--serve [ADDRESS];
                                          warnings are printed, not fatal, while you edit)

`test` also builds the docs strictly (tests/docs/) and runs every code block in them.
`test` also installs the Debian packages the tests drive (chromium, for the dev UI's browser
tests; bubblewrap, for the code sandbox) when it runs as root on Debian and they are missing.

The virtualenv lives in `.venv` next to this file unless BATON_VENV points elsewhere.
Installation is skipped while pyproject.toml and the requested extras are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
PYPROJECT = ROOT / "pyproject.toml"
VENV = Path(os.environ.get("BATON_VENV") or ROOT / ".venv").expanduser().resolve()
MARKER_NAME = ".baton-dev-install.json"
IS_WINDOWS = os.name == "nt"
LINT_DIRS = ("baton", "tests", "benchmarks", "examples")


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def die(msg: str, code: int = 1) -> NoReturn:
    print(f"[dev] error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def venv_label() -> str:
    try:
        return str(VENV.relative_to(ROOT))
    except ValueError:
        return str(VENV)


def bin_dir() -> Path:
    return VENV / ("Scripts" if IS_WINDOWS else "bin")


def venv_exe(name: str) -> Path:
    return bin_dir() / (f"{name}.exe" if IS_WINDOWS else name)


def venv_env() -> dict[str, str]:
    """Environment that looks like an activated venv (for tools spawning subprocesses)."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    return env


def run(cmd: list[str | Path], *, check: bool = True) -> int:
    rc = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=venv_env())
    if check and rc != 0:
        die(f"command failed (exit {rc}): {' '.join(str(c) for c in cmd)}", rc if rc > 0 else 1)
    return rc


def exec_in_venv(cmd: list[str | Path]) -> None:
    """Replace this process with `cmd` (POSIX), or run it and forward its exit code."""
    argv = [str(c) for c in cmd]
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(ROOT)
    if IS_WINDOWS:  # os.exec* on Windows does not really replace the process
        try:
            raise SystemExit(subprocess.call(argv, env=venv_env()))
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    os.execve(argv[0], argv, venv_env())


# --------------------------------------------------------------------------- venv


def install_fingerprint(extras: set[str]) -> str:
    digest = hashlib.sha256(PYPROJECT.read_bytes())
    digest.update(b"\0" + ",".join(sorted(extras)).encode())
    return digest.hexdigest()


def read_marker() -> dict[str, object]:
    try:
        data = json.loads((VENV / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def create_venv() -> None:
    say(f"Setting up {venv_label()} (first run only)...")
    try:
        venv.EnvBuilder(with_pip=True, symlinks=not IS_WINDOWS).create(VENV)
    except Exception as exc:  # ensurepip missing on some distros, permissions, ...
        die(
            f"could not create a virtualenv at {VENV}: {exc}\n"
            "  On Debian/Ubuntu you may need: sudo apt install python3-venv"
        )
    say("Upgrading pip...")
    run([venv_exe("python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])


def ensure_venv(extra: str) -> Path:
    """Make sure the venv exists and has the project installed with `extra`; return its python."""
    python = venv_exe("python")
    if not python.exists():
        if VENV.exists() and any(VENV.iterdir()):
            die(f"{VENV} exists but has no {python.relative_to(VENV)}; delete it and re-run.")
        create_venv()

    marker = read_marker()
    installed = marker.get("extras")
    # Keep extras installed by earlier runs (e.g. `dev` then `demo`) as long as
    # pyproject.toml is unchanged, so switching commands never reinstalls.
    extras = {extra}
    if isinstance(installed, list) and all(isinstance(e, str) for e in installed):
        previous = set(installed)
        if marker.get("fingerprint") == install_fingerprint(previous):
            if extra in previous:
                return python
            extras |= previous

    label = ",".join(sorted(extras))
    say(f"Installing baton[{label}] into {venv_label()} (only when pyproject.toml changes)...")
    (VENV / MARKER_NAME).unlink(missing_ok=True)
    run([python, "-m", "pip", "install", "--quiet", "--editable", f"{ROOT}[{label}]"])
    (VENV / MARKER_NAME).write_text(
        json.dumps({"extras": sorted(extras), "fingerprint": install_fingerprint(extras)}) + "\n",
        encoding="utf-8",
    )
    say("Environment ready.")
    return python


# --------------------------------------------------------------------------- commands


def cmd_demo(args: list[str]) -> None:
    ensure_venv("cli")
    baton = venv_exe("baton")
    if not baton.exists():
        die(f"{baton} not found; is the `baton` console script defined in pyproject.toml?")
    exec_in_venv([baton, "demo", *args])


# chromium: the browser the dev UI's Playwright tests drive; bubblewrap: the code sandbox.
TEST_DEBIAN_PACKAGES = ["chromium", "bubblewrap"]


def ensure_debian_packages(packages: list[str]) -> None:
    """Install the Debian packages the tests need that are missing, when this runs as root on
    Debian with apt-get (a fresh CI machine); elsewhere the tests that need them skip, naming
    the install line."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    if not Path("/etc/debian_version").exists() or not shutil.which("apt-get"):
        return
    missing = [
        package
        for package in packages
        if subprocess.call(
            ["dpkg", "-s", package], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        != 0
    ]
    if not missing:
        return
    say(f"apt-get install -y {' '.join(missing)} (needed by the tests; first run only)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *missing]):
        if subprocess.call(command, env=env, stdout=subprocess.DEVNULL) != 0:
            say(f"could not install {' '.join(missing)}; the tests needing them will skip")
            return


def cmd_test(args: list[str]) -> None:
    python = ensure_venv("dev")
    ensure_debian_packages(TEST_DEBIAN_PACKAGES)
    failed: list[str] = []

    lint_dirs = [d for d in LINT_DIRS if (ROOT / d).is_dir()]
    say(f"ruff check {' '.join(lint_dirs)}")
    if run([python, "-m", "ruff", "check", *lint_dirs], check=False) != 0:
        failed.append("ruff")

    say("mypy baton")
    if run([python, "-m", "mypy", "baton"], check=False) != 0:
        failed.append("mypy")

    say(" ".join(["pytest", *args]))
    rc = run([python, "-m", "pytest", *args], check=False)
    if rc == 5:
        say("pytest collected no tests -- counting that as a failure.")
        failed.append("pytest (no tests collected)")
    elif rc != 0:
        failed.append("pytest")

    if failed:
        print(f"[dev] FAILED: {', '.join(failed)}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    say("All checks passed: ruff, mypy, pytest.")


def cmd_bench(args: list[str]) -> None:
    python = ensure_venv("dev")
    exec_in_venv([python, "-m", "benchmarks.core", *args])


def cmd_docs(args: list[str]) -> None:
    python = ensure_venv("docs")
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's notice about its successor
    if args[:1] == ["--serve"]:
        address = args[1] if len(args) > 1 else "127.0.0.1:8000"
        exec_in_venv([python, "-m", "mkdocs", "serve", "--no-strict", "--dev-addr", address])
    if args:
        die(f"unexpected arguments {' '.join(args)!r}; use `docs` or `docs --serve [ADDRESS]`", 2)
    exec_in_venv([python, "-m", "mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site")])


COMMANDS = {"demo": cmd_demo, "test": cmd_test, "bench": cmd_bench, "docs": cmd_docs}


def main(argv: list[str]) -> None:
    # Friendly message for people running an older python3 (this file stays 3.8-parseable).
    if sys.version_info < (3, 11):  # noqa: UP036
        die(f"Python 3.11+ is required (this is {sys.version.split()[0]}).")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        raise SystemExit(0 if argv else 2)
    command, *rest = argv
    if command not in COMMANDS:
        die(f"unknown command {command!r}; expected one of: {', '.join(COMMANDS)}", 2)
    try:
        COMMANDS[command](rest)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main(sys.argv[1:])
