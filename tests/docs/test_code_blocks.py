"""Every code block in the docs (docs/**/*.md and README.md) is either an example file
included by reference or is checked here. The conventions, for anyone writing a page:

- ```` ```python ```` blocks run. The blocks of one page run in order in one shared namespace
  (a later block uses what an earlier one defined), with ``__name__ == "__main__"``, in a
  temporary working directory (``examples/`` is linked there). Top-level ``await`` is allowed:
  such a block runs on the page's own event loop, which lasts for the whole page; a block
  without ``await`` runs as plain code, so ``asyncio.run(...)`` and ``agent.ask_sync(...)`` work
  in it. Provider API keys are removed from the environment: a block that needs a model uses
  ``ScriptedModel`` (``baton.testing``). Redis (``BATON_REDIS_URL``, default
  ``redis://127.0.0.1:6379/0``) and PostgreSQL are the real servers of the other tests; a page
  using them gives its keys a unique prefix in an invisible block and cleans up after itself.
- ``<!-- invisible-code-block: python`` ... ``-->`` is Python a page needs to run that the
  reader needn't see (setup, clean-up, asserting that what the page says is true); it runs in
  order with the visible blocks.
- A block made only of snippet lines (``--8<-- "examples/name.py"``) includes an example file,
  which the examples' own tests run; the file must be under ``examples/``.
- ``bash``/``sh``/``shell``/``console`` blocks may only hold the commands ``shell_rules.py``
  knows, each checked (a ``baton`` subcommand must exist and take the options shown, a ``pip``
  extra must exist, ...).
- ``json``, ``yaml`` and ``toml`` blocks must parse. ``text`` blocks are not code (program
  output, a directory layout) and are left alone.
- Any other block, or one with no language, fails the test naming its page and line.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import tomllib
import traceback
from pathlib import Path
from types import CodeType

import pytest
import yaml

from .blocks import ROOT, Block, blocks, pages, snippets_outside_blocks
from .shell_rules import SHELL_LANGUAGES, commands, problem

PYTHON = {"python", "py", "python3"}
PARSED = {"json", "yaml", "yml", "toml"}
NOT_CODE = {"text"}
BLOCK_TIMEOUT = 120.0  # seconds for one awaited block; generous on a loaded machine
PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DASHSCOPE_API_KEY",
    "TAVILY_API_KEY",
    "BRAVE_API_KEY",
)


def _block_problems(block: Block) -> list[str]:
    if block.included_files:
        return [
            f"{block.where}: includes {target!r}; included code must be an example file "
            "under examples/ (the examples' tests run those)"
            for target in block.included_files
            if not target.split(":")[0].startswith("examples/")
            or not (ROOT / target.split(":")[0]).is_file()
        ]
    if block.language in PYTHON or block.language in NOT_CODE:
        return []
    if block.language in SHELL_LANGUAGES:
        found = []
        for offset, command in commands(block.code, block.language):
            wrong = problem(command)
            if wrong is not None:
                found.append(f"{block.page.relative_to(ROOT)}:{block.line + offset}: {wrong}")
        return found
    if block.language in PARSED:
        try:
            if block.language == "json":
                json.loads(block.code)
            elif block.language == "toml":
                tomllib.loads(block.code)
            else:
                list(yaml.safe_load_all(block.code))
        except Exception as exc:
            return [f"{block.where}: the {block.language} block does not parse: {exc}"]
        return []
    if not block.language:
        return [f"{block.where}: a code block without a language; give it one (python, bash, ...)"]
    return [
        f"{block.where}: a {block.language!r} block is neither run nor an included example "
        "(see tests/docs/test_code_blocks.py for the kinds of blocks the docs may have)"
    ]


def test_every_block_is_run_checked_or_an_example() -> None:
    found: list[str] = []
    for page in pages():
        for block in blocks(page):
            found.extend(_block_problems(block))
        for line, target in snippets_outside_blocks(page):
            if not target.startswith("examples/"):
                found.append(
                    f"{page.relative_to(ROOT)}:{line}: includes {target!r} outside a code block"
                )
    assert not found, "\n".join(found)


def _python_pages() -> list[Path]:
    return [
        page
        for page in pages()
        if any(b.language in PYTHON and not b.included_files for b in blocks(page))
    ]


def _compile(block: Block) -> CodeType:
    """The block compiled so that tracebacks name the page and its lines."""
    tree = ast.parse(block.code, filename=str(block.page), mode="exec")
    ast.increment_lineno(tree, block.line - 1)
    return compile(
        tree, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )


@pytest.mark.parametrize("page", _python_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(page)}
    loop = asyncio.new_event_loop()
    try:
        for block in blocks(page):
            if block.language not in PYTHON or block.included_files:
                continue
            try:
                code = _compile(block)
            except SyntaxError as exc:
                pytest.fail(f"{block.where}: the block does not compile: {exc}", pytrace=False)
            try:
                if code.co_flags & inspect.CO_COROUTINE:
                    awaited = eval(code, namespace)  # the docs' own code
                    loop.run_until_complete(asyncio.wait_for(awaited, BLOCK_TIMEOUT))
                else:
                    exec(code, namespace)
            except Exception:
                pytest.fail(
                    f"{block.where}: the block failed:\n{traceback.format_exc()}", pytrace=False
                )
    finally:
        _close(loop)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a page left running on its loop, then close the loop."""
    left = asyncio.all_tasks(loop)
    for task in left:
        task.cancel()
    if left:
        loop.run_until_complete(asyncio.wait(left))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
