"""Context assembly policies: what one model call sees, without changing stored history.

A policy takes the ``ModelCall`` the loop prepared (all of the conversation's events, the
instructions, the tools) and returns the call to make: a window of the events, extra
instructions, a filtered view. Policies run in order, before the middleware chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import Context
    from ..models.base import ModelCall

__all__ = ["ContextPolicy"]


class ContextPolicy:
    """Base class: override ``apply``. Per-conversation state goes in ``context.state(...)``."""

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        return call
