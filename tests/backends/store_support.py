"""The ``store`` fixture: each durable backend in turn (SQLite, PostgreSQL, Redis), fresh for the
test, named by one string. Shared by the backend and worker tests (their conftests import it)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """Each durable backend in turn, fresh for the test, as one spec (what ``run_procs.stores``
    and the worker tests' ``open_storage`` open): a SQL URL, or a Redis URL with its key prefix
    after ``#``."""
    if request.param == "redis":
        return f"{request.getfixturevalue('redis_url')}#{request.getfixturevalue('prefix')}"
    return str(request.getfixturevalue(f"{request.param}_url"))
