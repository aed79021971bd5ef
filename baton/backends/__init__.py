"""Storage and streaming backends beyond memory: ``baton.backends.redis`` (Redis).

Importing this package imports no driver: each backend's extra (``pip install
'baton-agents[redis]'``) is only needed when that backend is used.
"""

from __future__ import annotations

__all__: list[str] = []
