"""Reading the docs' fenced code blocks: where each is, its language, its text, and whether it
only includes a file (``--8<-- "examples/x.py"``, pymdownx.snippets).

Invisible blocks (``<!-- invisible-code-block: python`` ... ``-->``) are code a page needs to run
that a reader doesn't need to see (a unique Redis key prefix, cleaning up); they run in order
with the page's visible blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_SNIPPET = re.compile(r'^\s*-{2,}8<-{2,}\s+"(?P<target>[^"]+)"\s*$')
_INVISIBLE_START = re.compile(r"^\s*<!--\s*invisible-code-block:\s*(?P<language>\w+)\s*$")
_INVISIBLE_END = re.compile(r"^\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page. ``line`` is the line (1-based) of its first code line."""

    page: Path
    line: int
    language: str
    code: str
    invisible: bool = False

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def included_files(self) -> list[str]:
        """The files this block includes, if it is made only of snippet lines; else []."""
        lines = [line for line in self.code.splitlines() if line.strip()]
        matches = [_SNIPPET.match(line) for line in lines]
        if not lines or not all(matches):
            return []
        return [m.group("target") for m in matches if m is not None]


def pages() -> list[Path]:
    """The docs' pages, and the README (the first page most people read)."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of ``page`` (nested in lists, admonitions or tabs too), in order."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        invisible = _INVISIBLE_START.match(lines[i])
        if invisible:
            end = i + 1
            while end < len(lines) and not _INVISIBLE_END.match(lines[end]):
                end += 1
            code = "\n".join(lines[i + 1 : end])
            found.append(Block(page, i + 2, invisible.group("language"), code, invisible=True))
            i = end + 1
            continue
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening.group("indent"), opening.group("fence")
        info = opening.group("info").strip()
        language = info.split()[0].lstrip(".").lower() if info else ""
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line.lstrip()
            for line in lines[i + 1 : end]
        ]
        found.append(Block(page, i + 2, language, "\n".join(body)))
        i = end + 1
    return found


def snippets_outside_blocks(page: Path) -> list[tuple[int, str]]:
    """Snippet lines that are not inside a code block: (line, target)."""
    inside: set[int] = set()
    for block in blocks(page):
        inside.update(range(block.line - 1, block.line + block.code.count("\n") + 1))
    return [
        (n, m.group("target"))
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
        if (m := _SNIPPET.match(line)) and n not in inside
    ]
