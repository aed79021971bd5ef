"""A2A (the Agent2Agent protocol): any agent served to other agents (``A2AApp``), and any
remote A2A agent used as a tool or a sub-task (``RemoteAgent``).

    from baton.a2a import A2AApp, RemoteAgent

    app = A2AApp(agent, token="...")                  # an ASGI app: JSON-RPC, HTTP+JSON, SSE
    remote = RemoteAgent("https://agents.example.com/travel", token="...")
    planner = Agent("planner", config=..., tools=[remote.as_tool()])

Needs the a2a-sdk: ``pip install 'baton-agents[a2a]'``. Importing ``baton`` (or this package)
does not import it; making an app or a remote agent without it is a ``ConfigError``.
"""

from .answers import APPROVE_WORDS, DENY_WORDS
from .app import A2AApp
from .card import Skill
from .events import RemoteStatus, RemoteText
from .remote import RemoteAgent

__all__ = [
    "APPROVE_WORDS",
    "DENY_WORDS",
    "A2AApp",
    "RemoteAgent",
    "RemoteStatus",
    "RemoteText",
    "Skill",
]
