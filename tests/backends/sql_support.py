"""SQL fixtures of the backend tests: PostgreSQL in a schema of each test's own, SQLite in a
file of each test's own.

Under ``CI=true`` an unreachable PostgreSQL fails the tests that need it; elsewhere they are
skipped with the command that starts it. SQLite is always available.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _postgres_problem(url: str) -> str | None:
    """Why PostgreSQL cannot be used for the tests, or None when it can."""
    try:
        import asyncpg
    except ImportError:
        return "the asyncpg driver is missing (pip install -e '.[dev]' or '.[postgres]')"

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        await conn.close()

    try:  # on a thread of its own: the fixture may be set up from inside a running loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except Exception as exc:
        return f"PostgreSQL at {url} is unreachable ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL, once it answers (under CI=true a failure, elsewhere a skip)."""
    problem = _postgres_problem(POSTGRES_URL)
    if problem is not None:
        message = f"{problem}; start it with: {START_POSTGRES}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs PostgreSQL: {message}", pytrace=False)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
async def postgresql_url(postgres_server: str) -> AsyncIterator[str]:
    """A PostgreSQL URL whose tables live in a schema of this test's own, dropped after it."""
    import asyncpg

    schema = f"baton_test_{uuid.uuid4().hex[:16]}"
    yield f"{postgres_server}?schema={schema}"
    conn = await asyncpg.connect(postgres_server)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite URL naming a new file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'baton.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """Each SQL database in turn, fresh for the test."""
    return str(request.getfixturevalue(f"{request.param}_url"))
