"""The docs site builds strictly: a broken link, a missing page or reference, or any warning of
MkDocs or mkdocstrings fails (`python3 dev.py docs` runs the same build)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .blocks import ROOT


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout}{built.stderr}"
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "reference" / "baton" / "index.html").is_file()
