"""Fixtures of the A2A tests: the node peers (``@a2a-js/sdk``) come from the shared fixture."""

from node_peers import node_peers

__all__ = ["node_peers"]
