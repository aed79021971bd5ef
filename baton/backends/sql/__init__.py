"""SQL backends: conversation history, key-value storage and knowledge in SQLite or PostgreSQL.

    from baton.backends.sql import open_backend

    async with open_backend("sqlite:///baton.db") as backend:   # or postgresql://user@host/db
        agent = Agent("assistant", history=backend.history, storage=backend.storage, ...)

Each store also takes a URL or a ``Database`` directly (``SQLHistory("sqlite:///baton.db")``).
Stores on the same URL share one connection pool, closed when the last of them is closed.
The schema is versioned and upgrades itself on first use (``baton_schema_version``).

SQLite needs ``pip install 'baton-agents[sqlite]'`` (aiosqlite), PostgreSQL
``pip install 'baton-agents[postgres]'`` (asyncpg); importing this package imports neither.
"""

from .backend import SQLBackend, open_backend
from .database import Database, DatabaseUnavailable
from .history import SQLHistory
from .knowledge import SQLKnowledge
from .schema import LATEST, SchemaVersionError, migrate, schema_version
from .storage import SQLStorage
from .url import DatabaseURL, parse_url

__all__ = [
    "LATEST",
    "Database",
    "DatabaseURL",
    "DatabaseUnavailable",
    "SQLBackend",
    "SQLHistory",
    "SQLKnowledge",
    "SQLStorage",
    "SchemaVersionError",
    "migrate",
    "open_backend",
    "parse_url",
    "schema_version",
]
