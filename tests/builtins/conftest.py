"""Fixtures of the built-in tool tests: open sandbox workspaces."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sandbox_support import TIGHT, needs_bwrap

from baton.tools.builtins import Bubblewrap, UnsafeSubprocess, Workspace


@pytest.fixture
async def bwrap_workspace() -> AsyncIterator[Workspace]:
    needs_bwrap()
    async with await Bubblewrap().open(TIGHT) as workspace:
        yield workspace


@pytest.fixture
async def unsafe_workspace() -> AsyncIterator[Workspace]:
    async with await UnsafeSubprocess().open(TIGHT) as workspace:
        yield workspace
