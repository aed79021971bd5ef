"""Fixtures of the MCP tests: the node peers (``tests/node_peers.py``); shared helpers are in
``mcp_support.py``."""

from __future__ import annotations

import pytest
from node_peers import node_peers

__all__ = ["node_peers"]

pytest.importorskip("mcp")
