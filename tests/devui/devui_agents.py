"""Agents the dev UI tests (and ``benchmarks/devui.py``, and the screenshot) serve: scripted
models, so nothing needs a network or a key. Each is made by a function (``baton dev`` calls a
factory named as ``module:function``), fresh for each test."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from baton import Agent, Context, tool
from baton.errors import InvalidRequest, ProviderUnavailable
from baton.events import Event, ObserverAlert, ToolCallResult
from baton.history import MemoryHistory, MemoryStorage
from baton.hooks import Observer
from baton.middleware import RetryMiddleware
from baton.teams import Human, MaxTurns, RoundRobin
from baton.testing import ScriptedModel, call, chunks


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool(requires_approval=True)
def deploy(service: str) -> str:
    """Deploy a service to production."""
    return f"{service} deployed"


def calculator(history: Any = None, storage: Any = None) -> Agent[str]:
    """Streams a tool call (add 2 + 3), then streams the answer; then echoes, for follow-ups."""
    model = ScriptedModel(
        chunks("Let me add ", "those. ", call("add", a=2, b=3)),
        chunks("The sum ", "is 5."),
        chunks("Still ", "5."),
        repeat=True,
    )
    return Agent(
        "calculator",
        "You add numbers.",
        config=model,
        tools=[add],
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


def deployer(history: Any = None, storage: Any = None) -> Agent[str]:
    """Asks to deploy (a call that needs approval), then reports."""
    model = ScriptedModel(
        chunks("Deploying. ", call("deploy", service="billing")),
        chunks("Billing is ", "live."),
        repeat=True,
    )
    return Agent(
        "deployer",
        config=model,
        tools=[deploy],
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


class Forecast(BaseModel):
    city: str
    celsius: float


def forecaster(history: Any = None, storage: Any = None) -> Agent[Forecast]:
    """Answers with a structured output (a ``Forecast``)."""
    return Agent(
        "forecaster",
        config=ScriptedModel('{"city": "Paris", "celsius": 21.5}', repeat=True),
        response_schema=Forecast,
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


@tool
async def choose_region(context: Context) -> str:
    """Ask the user which region to deploy to."""
    region = await context.input("Which region?")
    return f"deploying to {region}"


def asker(history: Any = None, storage: Any = None) -> Agent[str]:
    """Asks the user a question (from inside a tool), then reports the tool's result."""
    model = ScriptedModel(
        call("choose_region"),
        lambda request: f"Done: {request.messages[-1].content}.",
        repeat=True,
    )
    return Agent(
        "asker",
        config=model,
        tools=[choose_region],
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


async def _no_wait(seconds: float) -> None:
    return None


class SlowToolAlert(Observer):
    """Alerts on every tool result (for the timeline test: an alert to show)."""

    name = "tool-watch"

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        if isinstance(event, ToolCallResult):
            return ObserverAlert(self.name, f"{event.name} returned")
        return None


def manager(history: Any = None, storage: Any = None) -> Agent[str]:
    """Its first model call fails once (retried), then it hands a task to a sub-agent (a
    sub-task), whose result an observer alerts on; then it answers."""
    researcher = Agent("researcher", config=ScriptedModel("Paris is the capital.", repeat=True))
    model = ScriptedModel(
        ProviderUnavailable("overloaded"),
        call("researcher", task="What is the capital of France?"),
        "The researcher says: Paris.",
        repeat=True,
    )
    return Agent(
        "manager",
        config=model,
        tools=[researcher.as_tool()],
        middleware=[RetryMiddleware(attempts=2, base_delay=0, sleep=_no_wait)],
        observers=[SlowToolAlert()],
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


def failing(history: Any = None, storage: Any = None) -> Agent[str]:
    """Its model refuses every call (an error that is not worth retrying)."""
    return Agent(
        "failing",
        config=ScriptedModel(InvalidRequest("the model does not exist"), repeat=True),
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


def crew(history: Any = None, storage: Any = None) -> RoundRobin:
    """A team: a writer (streaming) and a critic take one turn each per ask."""
    writer = Agent(
        "writer", config=ScriptedModel(chunks("A haiku ", "on tea."), "Coffee haiku.", repeat=True)
    )
    critic = Agent("critic", config=ScriptedModel("Too short.", "Fine.", repeat=True))
    return RoundRobin(
        [writer, critic],
        name="crew",
        termination=MaxTurns(2),
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


def edited(history: Any = None, storage: Any = None) -> RoundRobin:
    """A team waiting for a person: a writer, then the editor (a paused turn), then the writer."""
    writer = Agent("writer", config=ScriptedModel("Draft one.", "Draft two.", repeat=True))
    return RoundRobin(
        [writer, Human("editor", suspend=True)],
        name="edited",
        termination=MaxTurns(3),
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )


def released(history: Any = None, storage: Any = None) -> RoundRobin:
    """A team whose deployer asks to deploy (an approval the page answers), then a reviewer."""
    reviewer = Agent("reviewer", config=ScriptedModel("Looks good.", repeat=True))
    return RoundRobin(
        [deployer(), reviewer],
        name="release",
        termination=MaxTurns(2),
        history=history or MemoryHistory(),
        storage=storage or MemoryStorage(),
    )
