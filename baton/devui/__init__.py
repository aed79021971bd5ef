"""``baton dev``: a local web page to chat with an agent, watch every step of its runs, answer
its approvals and questions, and browse, replay or watch stored conversations.

    from baton.devui import DevApp
    app = DevApp(agent)                 # an ASGI app; app.token opens it: /?token=...

``baton dev module:agent`` serves it on 127.0.0.1 and opens the browser. The page talks to the
agent over its AG-UI endpoint (``baton.agui``) and reads the timeline from a small JSON and
server-sent-event API of its own (``baton.devui.app``). Needs the extra:
``pip install 'baton-agents[devui]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import DevApp

__all__ = ["DevApp"]


def __getattr__(name: str) -> Any:
    # Lazy, so that a missing extra is a ConfigError naming it, raised when the dev UI is used.
    if name == "DevApp":
        from ._extra import require_extra

        require_extra()
        from .app import DevApp

        return DevApp
    raise AttributeError(f"module 'baton.devui' has no attribute {name!r}")
