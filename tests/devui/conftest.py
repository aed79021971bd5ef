"""Fixtures of the dev UI tests: Chromium driven by Playwright (``devui_support.py``), the dev
app served on loopback, and the shared Redis and SQL fixtures of the backend tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("ag_ui")
pytest.importorskip("uvicorn")

# The backend tests' Redis and SQL fixtures (a real server, a prefix or schema of each test's own).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backends"))

from backend_fixtures import *  # noqa: F403  (the fixtures, for pytest to find)
from devui_support import browser

__all__ = ["browser"]
