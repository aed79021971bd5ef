"""Storage and streaming backends beyond memory: ``baton.backends.redis`` (Redis) and
``baton.backends.sql`` (SQLite, PostgreSQL).

Importing this package imports no driver: each backend's extra (``pip install
'baton-agents[redis]'``, ``[sqlite]``, ``[postgres]``) is only needed when that backend is used.
"""

from __future__ import annotations

__all__: list[str] = []
