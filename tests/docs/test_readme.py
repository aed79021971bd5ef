"""The README is read on GitHub, outside the docs site: its relative links must point at files
of the repository (the site's strict build checks the links of docs/ itself)."""

from __future__ import annotations

import re

from .blocks import ROOT

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def test_the_readme_links_to_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {m.group("target").split("#")[0] for m in _LINK.finditer(readme)}
    relative = {t for t in targets if t and "://" not in t and not t.startswith("mailto:")}
    missing = sorted(t for t in relative if not (ROOT / t).exists())
    assert relative, "the README links into the docs"
    assert not missing, f"README.md links to files that don't exist: {missing}"


def test_the_readme_shows_the_command_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    two_commands = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    assert "\npython3 dev.py test\n" in ci
    assert "python3 dev.py test" in two_commands
