"""Fixtures of the backend tests: Redis, SQL and every durable backend in turn (see
``backend_fixtures.py``)."""

from __future__ import annotations

from backend_fixtures import *  # noqa: F403  (the fixtures, for pytest to find)
