"""Database URLs: ``sqlite:///path``, ``sqlite:///:memory:``, ``postgresql://user@host/db``.

SQLite paths follow the usual convention: ``sqlite:///baton.db`` is relative to the working
directory, ``sqlite:////var/lib/baton.db`` is absolute (four slashes), and ``sqlite://`` or
``sqlite:///:memory:`` is a private in-memory database.

PostgreSQL URLs are libpq's (``postgresql://user:password@host:port/database?sslmode=...``),
plus one option of Baton's own: ``?schema=name`` keeps Baton's tables in that schema (created if
missing), so several applications or test runs can share one database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import ConfigError

__all__ = ["DatabaseURL", "parse_url"]

Dialect = Literal["sqlite", "postgresql"]

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL. ``target`` is the SQLite path (``":memory:"`` for none) or the
    PostgreSQL DSN without Baton's own options; ``schema`` the PostgreSQL schema, if any."""

    dialect: Dialect
    target: str
    schema: str | None = None

    @property
    def redacted(self) -> str:
        """The URL with any password hidden, for messages and reprs."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.target}"
        parts = urlsplit(self.target)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
        text = urlunsplit(parts._replace(netloc=netloc))
        return f"{text}{'&' if parts.query else '?'}schema={self.schema}" if self.schema else text


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL, or raise ``ConfigError`` saying what a valid one looks like."""
    if not isinstance(url, str):
        raise ConfigError(f"a database URL must be a string, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(
            f"{url!r} is not a database URL; use sqlite:///path/to/file.db, sqlite:///:memory: "
            "or postgresql://user@host/database"
        )
    if scheme == "sqlite":
        path = rest.split("?", 1)[0]
        if path in ("", "/", "/:memory:", ":memory:"):
            return DatabaseURL("sqlite", ":memory:")
        if not path.startswith("/"):
            raise ConfigError(
                f"{url!r}: a SQLite URL names a file after three slashes: sqlite:///relative.db "
                "or sqlite:////absolute/path.db"
            )
        return DatabaseURL("sqlite", path[1:])
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        options = parse_qsl(parts.query, keep_blank_values=True)
        schema = None
        kept: list[tuple[str, str]] = []
        for name, value in options:
            if name == "schema":
                if not _SCHEMA_NAME.fullmatch(value):
                    raise ConfigError(
                        f"schema={value!r} in a PostgreSQL URL must be a plain identifier "
                        "(letters, digits and _, not starting with a digit)"
                    )
                schema = value
            else:
                kept.append((name, value))
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(kept)))
        return DatabaseURL("postgresql", dsn, schema)
    raise ConfigError(
        f"unsupported database URL scheme {scheme!r} in a SQL backend; use sqlite:///path or "
        "postgresql://user@host/database (redis:// URLs belong to baton.backends.redis)"
    )
