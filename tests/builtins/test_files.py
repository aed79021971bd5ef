"""The ``files`` tools: work inside the root, refuse every way out of it, respect the limits
and read-only mode; refusals reach the model as short tool errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton import Agent, ToolCallError, ToolCallResult
from baton.errors import ConfigError
from baton.testing import ScriptedModel, call
from baton.tools.builtins import OutsideRoot, files
from baton.tools.tool import Tool
from baton.tools.toolkit import Toolkit


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    (root / "README.md").write_text("# Project\nhello world\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    return root


def tools_of(kit: Toolkit) -> dict[str, Tool]:
    return {t.name: t for t in kit.tools}


def test_read_write_list_search_and_patch_inside_the_root(project: Path) -> None:
    kit = tools_of(files(project))
    assert set(kit) == {"files_read", "files_list", "files_search", "files_write", "files_patch"}
    read, write, listing, search, patch = (
        kit["files_read"],
        kit["files_write"],
        kit["files_list"],
        kit["files_search"],
        kit["files_patch"],
    )
    assert read("src/app.py") == "def main():\n    return 'hello'\n"
    assert write("notes/todo.txt", "ship it") == "Wrote notes/todo.txt (7 bytes)."
    assert (project / "notes" / "todo.txt").read_text() == "ship it"
    assert listing() == "README.md (22 bytes)\nnotes/\nsrc/"
    assert "src/app.py (31 bytes)" in listing(recursive=True)
    assert search("hello") == ("README.md:2: hello world\nsrc/app.py:2: return 'hello'")
    assert search(r"def \w+", regex=True) == "src/app.py:1: def main():"
    assert patch("src/app.py", "'hello'", "'bye'") == "Replaced 1 occurrence(s) in src/app.py."
    assert "'bye'" in (project / "src" / "app.py").read_text()
    absolute = str(project / "README.md")
    assert read(absolute).startswith("# Project")  # under the root: fine


@pytest.mark.parametrize(
    "escape",
    ["../secret.txt", "src/../../secret.txt", "/etc/passwd", "link-out/secret.txt", "leak.txt"],
)
def test_every_way_out_of_the_root_is_refused(project: Path, escape: str) -> None:
    os.symlink(project.parent, project / "link-out")
    os.symlink(project.parent / "secret.txt", project / "leak.txt")
    kit = tools_of(files(project))
    for name, args in [
        ("files_read", (escape,)),
        ("files_write", (escape, "pwned")),
        ("files_patch", (escape, "TOP", "NOT")),
        ("files_search", ("SECRET", escape)),
    ]:
        with pytest.raises(OutsideRoot, match="outside the directory"):
            kit[name](*args)
    assert (project.parent / "secret.txt").read_text() == "TOP SECRET"
    with pytest.raises(OutsideRoot):
        kit["files_list"]("..")


@pytest.mark.parametrize("tool", ["files_read", "files_write", "files_patch", "files_list"])
def test_a_directory_swapped_for_a_symlink_after_the_check_is_not_followed(
    project: Path, tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An attacker with a shell in the same directory swaps src/ for a symlink pointing out of
    # the root, right after the path was checked: the moment os.path.realpath returns.
    outside = project.parent / "outside"
    outside.mkdir()
    (outside / "app.py").write_text("def main():\n    return 'TOP SECRET'\n")
    checked = os.path.realpath

    def check_then_swap(path: str | os.PathLike[str], *, strict: bool = False) -> str:
        real = checked(path, strict=strict)
        if not (project / "src").is_symlink():
            (project / "src").rename(project / "src-moved")
            os.symlink(outside, project / "src")
        return real

    kit = tools_of(files(project))
    monkeypatch.setattr(os.path, "realpath", check_then_swap)
    args = {
        "files_read": ("src/app.py",),
        "files_write": ("src/app.py", "pwned"),
        "files_patch": ("src/app.py", "TOP SECRET", "pwned"),
        "files_list": ("src",),
    }[tool]
    with pytest.raises(OutsideRoot, match="replaced by a symlink"):
        kit[tool](*args)
    assert (outside / "app.py").read_text() == "def main():\n    return 'TOP SECRET'\n"


def test_a_symlink_inside_the_root_to_a_file_inside_is_fine(project: Path) -> None:
    os.symlink(project / "README.md", project / "readme-link")
    kit = tools_of(files(project))
    assert kit["files_read"]("readme-link").startswith("# Project")


def test_limits_on_reads_and_writes(project: Path) -> None:
    (project / "big.txt").write_text("x" * 100)
    kit = tools_of(files(project, max_read_bytes=40, max_write_bytes=50))
    first = kit["files_read"]("big.txt")
    assert first == "x" * 40 + "\n[... 60 more bytes: read again with offset=40]"
    assert kit["files_read"]("big.txt", offset=80) == "x" * 20
    with pytest.raises(ValueError, match="the limit is 50"):
        kit["files_write"]("new.txt", "y" * 51)
    assert not (project / "new.txt").exists()
    (project / "blob.bin").write_bytes(b"\x00\x01binary")
    with pytest.raises(ValueError, match="binary file"):
        kit["files_read"]("blob.bin")


def test_patch_needs_a_unique_match(project: Path) -> None:
    (project / "dup.txt").write_text("a a a")
    patch = tools_of(files(project))["files_patch"]
    with pytest.raises(ValueError, match="occurs 3 times"):
        patch("dup.txt", "a", "b")
    with pytest.raises(ValueError, match="not found"):
        patch("dup.txt", "z", "b")
    assert patch("dup.txt", "a", "b", replace_all=True) == "Replaced 3 occurrence(s) in dup.txt."


def test_read_only_mode_offers_no_writing_tools(project: Path) -> None:
    assert set(tools_of(files(project, read_only=True))) == {
        "files_read",
        "files_list",
        "files_search",
    }


def test_a_root_that_is_not_a_directory_is_a_config_error(project: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        files(project / "README.md")
    with pytest.raises(ConfigError, match="max_read_bytes"):
        files(project, max_read_bytes=0)
    with pytest.raises(ConfigError, match=r"takes a directory path, got NoneType"):
        files(None)  # type: ignore[arg-type]


async def test_an_escape_reaches_the_model_as_a_short_tool_error(project: Path) -> None:
    agent = Agent(
        "editor",
        config=ScriptedModel(
            call("files_read", path="../secret.txt"), call("files_read", path="README.md"), "ok"
        ),
        tools=[files(project)],
    )
    reply = await agent.ask("read")
    error, result = [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]
    assert isinstance(error, ToolCallError)
    assert error.message == (
        "Tool 'files_read' failed: OutsideRoot: '../secret.txt' is outside the directory this "
        "tool may use"
    )
    assert "TOP SECRET" not in error.message
    assert isinstance(result, ToolCallResult) and result.content.startswith("# Project")


def test_what_is_not_a_regular_file_is_refused_not_waited_on(project: Path) -> None:
    """A FIFO (or a device) under the root would block an open for ever: it is refused."""
    os.mkfifo(project / "pipe")
    kit = tools_of(files(project))
    for name, args in (
        ("files_read", ("pipe",)),
        ("files_patch", ("pipe", "a", "b")),
        ("files_write", ("pipe", "data")),
        ("files_search", ("x", "pipe")),
    ):
        with pytest.raises(OSError, match="'pipe' is not a regular file"):
            kit[name](*args)
    with pytest.raises(IsADirectoryError, match="'src' is not a regular file"):
        kit["files_read"]("src")
