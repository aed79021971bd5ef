"""Fixtures of the worker tests: the backend tests' Redis and SQL fixtures (a unique key prefix
or schema per test, cleaned up after; a ``redis-server`` of a test's own) and ``store`` (each
durable backend in turn), shared from there."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backends"))

from backend_fixtures import *  # noqa: F403  (the fixtures, for pytest to find)
