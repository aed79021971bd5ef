"""What every SQL store shares: a ``Database`` (given, or shared by URL) and closing it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from .database import Database

__all__ = ["SQLStore", "prefix_range"]


class SQLStore:
    """A store over a ``Database``. Given a URL, the store takes a reference to the process's
    shared database for it and gives it up on ``aclose()``; given a ``Database``, the caller
    keeps ownership and closes it."""

    def __init__(self, database: Database | str) -> None:
        if isinstance(database, Database):
            self.db, self._owns = database, False
        else:
            self.db, self._owns = Database.shared(database), True
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> Self:
        """A store on the process's shared database for ``url`` (``aclose()`` it when done)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.db.url.redacted!r})"

    async def aclose(self) -> None:
        """Release the database if this store opened it (closing twice is fine)."""
        if not self._closed:
            self._closed = True
            if self._owns:
                await self.db.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """Bounds ``(low, high)`` such that ``low <= key < high`` (code point order) holds exactly
    for the keys starting with ``prefix``; ``high`` is None when no bound exists."""
    if not prefix:
        return "", None
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    if last > 0x10FFFF:
        return prefix, None
    return prefix, prefix[:-1] + chr(last)
