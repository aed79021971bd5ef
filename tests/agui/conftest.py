"""Fixtures of the AG-UI tests: the node peers (``tests/node_peers.py``); helpers are in
``agui_support.py``."""

from __future__ import annotations

import pytest
from node_peers import node_peers

__all__ = ["node_peers"]

pytest.importorskip("ag_ui")
pytest.importorskip("starlette")
