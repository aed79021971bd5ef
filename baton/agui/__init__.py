"""AG-UI: an agent served to user interfaces over the Agent User Interaction Protocol.

    from baton.agui import AGUIApp
    app = AGUIApp(agent, token="...")     # an ASGI app: uvicorn, or mount it in Starlette/FastAPI

A POST of a ``RunAgentInput`` answers with the run's AG-UI events (server-sent events). Threads
are conversations; front-end tools and questions for a human (approvals, input) end the AG-UI
run with the run paused in the agent's storage, and the next request continues it (see
``baton.agui.app``). Needs the extra: ``pip install 'baton-agents[agui]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import AGUIApp

__all__ = ["AGUIApp"]


def __getattr__(name: str) -> Any:
    # Lazy, so that a missing extra is a ConfigError naming it (not an ImportError), raised
    # when AG-UI is used rather than when baton.agui is merely imported.
    if name == "AGUIApp":
        from ._extra import require_extra

        require_extra()
        from .app import AGUIApp

        return AGUIApp
    raise AttributeError(f"module 'baton.agui' has no attribute {name!r}")
