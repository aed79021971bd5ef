"""Helpers the worker tests share."""

from __future__ import annotations

from typing import Any


def open_storage(url: str) -> Any:
    """The ``Storage`` a ``storage_url`` names."""
    if url.startswith("redis"):
        from baton.backends.redis import RedisStorage

        address, _, key_prefix = url.partition("#")
        return RedisStorage(address, prefix=key_prefix)
    from baton.backends.sql import SQLStorage

    return SQLStorage(url)
