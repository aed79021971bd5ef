"""``open_backend(url)``: history, storage and knowledge on one database."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from .database import Database
from .history import SQLHistory
from .knowledge import SQLKnowledge
from .storage import SQLStorage

__all__ = ["SQLBackend", "open_backend"]


class SQLBackend:
    """A history, a storage and a knowledge store sharing one database (one pool).

    async with open_backend("postgresql://app@db/app") as backend:
        agent = Agent("a", history=backend.history, storage=backend.storage, ...)
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.history = SQLHistory(database)
        self.storage = SQLStorage(database)
        self.knowledge = SQLKnowledge(database)

    def __repr__(self) -> str:
        return f"SQLBackend({self.database.url.redacted!r})"

    async def aclose(self) -> None:
        """Release the database (the pool closes when its last user lets go)."""
        await self.database.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def open_backend(url: str) -> SQLBackend:
    """History, storage and knowledge for ``url`` (``sqlite:///path``, ``sqlite:///:memory:``,
    ``postgresql://user@host/db``) on the process's shared pool for that URL. Nothing connects
    until first use; a missing driver is a ``ConfigError`` naming the extra to install."""
    return SQLBackend(Database.shared(url))
