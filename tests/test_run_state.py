"""The durable run (issue: a run is a state machine): RunState and its codec, pausing from
``context.input``, sub-agents' human requests reaching the parent, repair of a run a dead
process left open, atomic claims, the store-first rule with a history that fails or stalls, and
the layering of the core."""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from baton import Agent, Context, MemoryHistory, MemoryStorage, MemoryStream, Storage, tool
from baton.errors import (
    AskSuspended,
    BackendUnavailable,
    ConfigError,
    ConversationBusy,
    EventDecodeError,
)
from baton.events import (
    Event,
    HumanInputRequest,
    HumanMessage,
    ModelRequest,
    ModelResponse,
    RunFailed,
    RunFinished,
    RunStarted,
    TaskFailed,
    Text,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
    from_dict,
    to_dict,
)
from baton.run import RunState, load_run_state
from baton.testing import ScriptedModel, call

HistoryCheck = Callable[..., None]  # the valid_history fixture (tests/conftest.py)


def results(events: Sequence[Event]) -> dict[str, str]:
    return {
        e.name: (e.content if isinstance(e, ToolCallResult) else e.error_type)
        for e in events
        if isinstance(e, ToolCallResult | ToolCallError)
    }


# -- RunState -------------------------------------------------------------------------------------


def test_run_state_round_trips_through_json_and_the_registry_only() -> None:
    call_ = ToolCall("c1", "deploy", '{"env": "prod"}')
    state = RunState(
        "conv",
        "run",
        "ops",
        ModelRequest((Text("ship it"),)),
        turn=2,
        status="paused",
        response=ModelResponse("", (call_,)),
        finished=(ToolCallResult("c0", "fetch", "ok"),),
        requests=(HumanInputRequest("r1", "Which region?", "c1"),),
        asked_in=("c1",),
        variables={"team": "blue"},
    )
    again = from_dict(json.loads(json.dumps(to_dict(state))))
    assert again == state
    assert again.pending == ("c1",)
    hostile = to_dict(state)
    hostile["response"] = {"type": "Text", "text": "x"}  # a registered class, the wrong one
    with pytest.raises(EventDecodeError, match="expected ModelResponse"):
        from_dict(hostile)


# -- pausing on context.input ---------------------------------------------------------------------


async def test_input_pauses_the_ask_and_resume_answers_the_same_request(
    valid_history: HistoryCheck,
) -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    side_effects: list[str] = []

    @tool
    async def book(context: Context) -> str:
        """Book a trip."""
        side_effects.append("before")
        city = await context.input("Which city?")
        side_effects.append(city)
        return f"booked {city}"

    @tool
    def weather() -> str:
        """The weather."""
        side_effects.append("weather")
        return "sunny"

    def agent(model: ScriptedModel) -> Agent:
        return Agent(
            "travel",
            config=model,
            tools=[book, weather],
            history=history,
            storage=storage,
            suspend_on_human=True,
        )

    with pytest.raises(AskSuspended) as paused:
        await agent(ScriptedModel([call("book"), call("weather")])).ask("trip", conversation_id="t")
    [request] = paused.value.requests
    assert isinstance(request, HumanInputRequest) and request.prompt == "Which city?"
    assert "agent.resume('t'" in str(paused.value)
    assert sorted(side_effects) == ["before", "weather"]  # the sibling finished
    state = await load_run_state(storage, "t")
    assert state is not None and state.requests == (request,)
    valid_history(await history.load("t"), paused=paused.value.run_id)

    with pytest.raises(ConversationBusy, match="paused"):
        await agent(ScriptedModel("x")).ask("another", conversation_id="t")

    model = ScriptedModel("Booked Oslo.")
    reply = await agent(model).resume("t", HumanMessage("Oslo", request.request_id))
    assert reply.text == "Booked Oslo."
    # the paused call ran again from its start; the finished sibling did not
    assert side_effects.count("weather") == 1 and side_effects[-1] == "Oslo"
    assert results(reply.events) == {"weather": "sunny", "book": "booked Oslo"}
    asked = [e for e in reply.events if isinstance(e, HumanInputRequest)]
    assert [r.request_id for r in asked] == [request.request_id]  # asked once, answered once
    valid_history(reply.events)
    assert await load_run_state(storage, "t") is None


async def test_pausing_needs_a_history_and_a_storage() -> None:
    @tool
    async def ask(context: Context) -> str:
        """Ask."""
        return await context.input("?")

    agent = Agent("a", config=ScriptedModel(call("ask"), "x"), tools=[ask], suspend_on_human=True)
    with pytest.raises(ConfigError, match="history= and storage="):
        await agent.ask("go")


# -- sub-agents' human requests -------------------------------------------------------------------


@tool
async def ask_city(context: Context) -> str:
    """Ask the user for a city."""
    return await context.input("Which city?")


def helper_agent() -> Agent:
    return Agent(
        "helper", config=ScriptedModel(call("ask_city"), "The city is known."), tools=[ask_city]
    )


async def test_a_sub_agents_input_is_answered_by_the_parents_handler() -> None:
    seen: list[Any] = []

    def handler(request: Any, context: Context) -> str:
        seen.append(request)
        return "Lisbon"

    parent = Agent(
        "boss",
        config=ScriptedModel(call("helper", task="find the city"), "Done."),
        tools=[helper_agent().as_tool()],
        hitl=handler,
    )
    reply = await parent.ask("go")
    assert reply.text == "Done."
    [request] = seen
    assert isinstance(request, HumanInputRequest) and request.task_id is not None
    delegate = next(e for e in reply.events if isinstance(e, ModelResponse)).tool_calls[0]
    assert request.call_id == delegate.id  # asked in the parent's call that runs the sub-task
    assert results(reply.events) == {"helper": "The city is known."}
    answers = [e for e in reply.events if isinstance(e, HumanMessage)]
    assert [a.text for a in answers] == ["Lisbon"]


async def test_a_sub_agents_input_reaches_the_parents_stream(valid_history: HistoryCheck) -> None:
    stream = MemoryStream()

    async def answer(request: HumanInputRequest) -> None:
        await stream.send(HumanMessage(f"answer to {request.prompt}", request.request_id))

    stream.where(HumanInputRequest).subscribe(answer)
    parent = Agent(
        "boss",
        config=ScriptedModel(call("helper", task="find the city"), "Done."),
        tools=[helper_agent().as_tool()],
    )
    reply = await asyncio.wait_for(parent.ask("go", stream=stream), 10)
    assert reply.text == "Done."
    [request] = [e for e in reply.events if isinstance(e, HumanInputRequest)]
    assert request.task_id is not None
    valid_history(reply.events)


async def test_a_sub_agents_input_pauses_the_parent(valid_history: HistoryCheck) -> None:
    history, storage = MemoryHistory(), MemoryStorage()

    def parent(model: ScriptedModel) -> Agent:
        return Agent(
            "boss",
            config=model,
            tools=[helper_agent().as_tool()],
            history=history,
            storage=storage,
            suspend_on_human=True,
        )

    with pytest.raises(AskSuspended) as paused:
        await parent(ScriptedModel(call("helper", task="find the city"))).ask(
            "go", conversation_id="p"
        )
    [request] = paused.value.requests
    assert isinstance(request, HumanInputRequest) and request.task_id is not None
    events = await history.load("p")
    assert any(isinstance(e, TaskFailed) and e.error_type == "Paused" for e in events)
    valid_history(events, paused=paused.value.run_id)

    reply = await parent(ScriptedModel("Done.")).resume(
        "p", HumanMessage("Lisbon", request.request_id)
    )
    assert reply.text == "Done."
    assert results(reply.events) == {"helper": "The city is known."}
    valid_history(reply.events)


# -- repair of a run a dead process left open -----------------------------------------------------


async def test_a_run_left_open_is_closed_before_the_next_model_call(
    valid_history: HistoryCheck,
) -> None:
    history = MemoryHistory()
    dead = ModelResponse("", (ToolCall("k1", "slow", "{}"), ToolCall("k2", "slow", "{}")))
    await history.append(
        "c",
        [
            RunStarted("r0", "a", "c"),
            ModelRequest((Text("start"),)),
            dead,
            ToolCallResult("k1", "slow", "done"),
        ],
    )  # what a process killed in the middle of the second call leaves
    model = ScriptedModel("Hello again.")
    agent = Agent("a", config=model, history=history)
    reply = await agent.ask("still there?", conversation_id="c")
    assert reply.text == "Hello again."
    events = await history.load("c")
    valid_history(events)
    failed = next(e for e in events if isinstance(e, RunFailed))
    assert failed.run_id == "r0" and failed.error_type == "Interrupted"
    interrupted = next(e for e in events if isinstance(e, ToolCallError))
    assert interrupted.call_id == "k2" and interrupted.error_type == "Interrupted"
    seen = model.requests[0].messages
    assert any(isinstance(e, ToolCallError) and e.call_id == "k2" for e in seen)


# -- one ask per conversation ---------------------------------------------------------------------


async def test_two_asks_on_a_conversation_not_yet_open_never_interleave() -> None:
    history = MemoryHistory()
    gate = asyncio.Event()

    async def slow(_: object) -> str:
        await gate.wait()
        return "first"

    agent = Agent(
        "a", config=ScriptedModel(slow, "second", per_conversation=False), history=history
    )
    first = asyncio.create_task(agent.ask("1", conversation_id="x"))
    second = asyncio.create_task(agent.ask("2", conversation_id="x"))
    done, _ = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
    assert isinstance(done.pop().exception(), ConversationBusy)
    gate.set()
    assert (await first).text == "first"
    waited = await agent.ask("3", conversation_id="x", wait_busy=5)
    assert waited.text == "second"
    assert [type(e) for e in await history.load("x")].count(RunStarted) == 2


# -- the store is the truth -----------------------------------------------------------------------


class FlakyHistory:
    """A history that fails (or holds back until released) chosen appends of a real one."""

    def __init__(self, fail: set[int] = frozenset(), stall: set[int] = frozenset()) -> None:
        self.inner = MemoryHistory()
        self.fail, self.stall = set(fail), set(stall)
        self.appends = 0
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()

    async def load(self, conversation_id: str) -> list[Event]:
        return await self.inner.load(conversation_id)

    async def length(self, conversation_id: str) -> int:
        return await self.inner.length(conversation_id)

    async def append(self, conversation_id: str, events: Sequence[Event]) -> None:
        self.appends += 1
        if self.appends in self.fail:
            raise ConnectionError("the store went away")
        if self.appends in self.stall:
            self.stalled.set()
            await self.release.wait()
        await self.inner.append(conversation_id, events)


@tool
def add(a: int, b: int) -> int:
    """Add."""
    return a + b


@pytest.mark.parametrize("failing", [1, 2, 3, 4])  # each write of the ask
async def test_a_failed_write_leaves_memory_as_the_store_and_the_next_ask_works(
    failing: int, valid_history: HistoryCheck
) -> None:
    history = FlakyHistory(fail={failing})
    agent = Agent(
        "a", config=ScriptedModel(call("add", a=1, b=2), "3", "next"), tools=[add], history=history
    )
    with pytest.raises(BackendUnavailable, match="ConnectionError") as failed:
        await agent.ask("sum", conversation_id="c")
    assert failed.value.retryable
    stored = await history.inner.load("c")
    valid_history(stored)
    reply = await agent.ask("again", conversation_id="c")
    assert list(reply.events) == await history.inner.load("c")
    valid_history(reply.events)


async def test_a_branch_whose_first_write_fails_keeps_its_prefix(
    valid_history: HistoryCheck,
) -> None:
    history = FlakyHistory()
    agent = Agent(
        "a",
        config=ScriptedModel("one", "two", "branch", "again"),
        history=history,
    )
    first = await agent.ask("1", conversation_id="c")
    await first.ask("2")  # the conversation moves on: continuing `first` forks a branch
    history.fail = {history.appends + 1}
    with pytest.raises(BackendUnavailable):
        await first.ask("3")
    branch = await first.ask("3 again")
    assert [e.text for e in branch.events if isinstance(e, ModelResponse)] == ["one", "branch"]
    assert list(branch.events) == await history.inner.load(branch.conversation_id)
    valid_history(branch.events)


async def test_a_cancel_during_a_stalled_write_keeps_memory_and_store_equal(
    valid_history: HistoryCheck,
) -> None:
    history = FlakyHistory(stall={3})  # the tool result's write
    agent = Agent(
        "a", config=ScriptedModel(call("add", a=1, b=2), "3", "next"), tools=[add], history=history
    )
    task = asyncio.create_task(agent.ask("sum", conversation_id="c"))
    await history.stalled.wait()
    task.cancel()
    await asyncio.sleep(0)
    history.release.set()  # the write completes after the cancel: it is kept, once
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await history.inner.load("c")
    assert sum(isinstance(e, ToolCallResult) for e in stored) == 1
    assert isinstance(stored[-1], RunFailed) and stored[-1].error_type == "Cancelled"
    valid_history(stored)
    reply = await agent.ask("again", conversation_id="c")
    assert list(reply.events) == await history.inner.load("c")
    assert isinstance(reply.events[-1], RunFinished)


# -- the core's layering --------------------------------------------------------------------------

CORE = {
    "errors",
    "events",
    "codec",
    "codec_rows",
    "stream",
    "event_filter",
    "resumed",
    "history",
    "forked",
    "run",
    "runstate",
    "storing",
    "repair",
    "redaction",
    "sync",
    "subscribers",
    "options",
    "context",
    "hooks",
    "humans",
    "loop",
    "conversation",
    "prompt",
    "output",
    "transcript",
    "tools",
    "models",
}
FEATURES = {
    "hitl",
    "harness",
    "middleware",
    "backends",
    "providers",
    "telemetry",
    "mcp",
    "a2a",
    "agui",
    "teams",
    "worker",
    "devui",
}


def _imports(path: Path, package: str) -> set[str]:
    """The top-level ``baton`` modules a file imports (relative imports resolved)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] if node.module else [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "baton" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_the_core_imports_no_feature_module() -> None:
    root = Path(__file__).resolve().parent.parent / "baton"
    offences = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts  # ("baton", "tools", ...)
        if parts[1] not in CORE or parts[1:3] == ("tools", "builtins"):
            continue  # built-in tools and FallbackModel (models/) are features beside the core
        if parts[1:3] == ("models", "fallback"):
            continue
        bad = _imports(path, ".".join(parts[:-1])) & FEATURES
        if bad:
            offences.append(f"{'/'.join(parts)}: {sorted(bad)}")
    assert not offences, "the core imports feature modules:\n" + "\n".join(offences)


def test_no_module_reaches_into_a_runs_private_state() -> None:
    root = Path(__file__).resolve().parent.parent / "baton"
    pattern = ("._job", "._counter", "context._", "agent._prepare", "agent._execute")
    offences = [
        f"{path.relative_to(root.parent)}: {needle}"
        for path in sorted(root.rglob("*.py"))
        for needle in pattern
        if needle in path.read_text() and path.name != "context.py"
    ]
    assert not offences, offences


def test_features_use_the_context_not_the_live_run_behind_it() -> None:
    root = Path(__file__).resolve().parent.parent / "baton"
    offences = [
        str(path.relative_to(root.parent))
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).parts[0] in FEATURES | {f"{f}.py" for f in FEATURES}
        and "context.run." in path.read_text()
    ]
    assert not offences, offences


# -- the transcript -------------------------------------------------------------------------------


def test_the_transcript_is_what_a_model_sees_and_names_other_agents() -> None:
    from baton.events import CompactionSummary, OutputRejected, UsageReport
    from baton.transcript import sent_to_model, transcript

    call_ = ToolCall("w1", "add", "{}")
    events: list[Event] = [
        RunStarted("r", "writer", "c"),
        ModelRequest((Text("hi"),)),
        ModelResponse("", (call_,), agent="writer"),
        ToolCallResult("w1", "add", "3"),
        ModelResponse("three", agent="writer"),
        HumanInputRequest("q", "?"),
        HumanMessage("answer", "q"),  # an answer to a request: the tool reads it, not the model
        HumanMessage("a remark"),
        OutputRejected("try again"),
        CompactionSummary("earlier", 2),
        UsageReport(Usage()),
        RunFinished("r", "three"),
    ]
    own = [(role, type(e).__name__) for role, e in transcript(events, "writer")]
    assert own == [
        ("user", "ModelRequest"),
        ("assistant", "ModelResponse"),
        ("tool", "ToolCallResult"),
        ("assistant", "ModelResponse"),
        ("user", "HumanMessage"),
        ("user", "OutputRejected"),
        ("user", "CompactionSummary"),
    ]
    other = [(role, getattr(e, "text", None)) for role, e in transcript(events, "critic")]
    assert other[1:4] == [
        ("user", "[writer] calls tool add({})"),
        ("user", "[writer] tool add answered: 3"),
        ("user", "[writer] three"),
    ]
    assert [sent_to_model(e) for e in events].count(True) == len(own)


# -- resume and pause edge cases ------------------------------------------------------------------


async def _paused_on_a_question() -> tuple[Callable[[ScriptedModel], Agent], HumanMessage, Storage]:
    """An ask paused on conversation ``r`` waiting for a city: the agent (given its model) to
    resume it with, the answer, and the storage holding the paused state."""
    history, storage = MemoryHistory(), MemoryStorage()

    @tool
    async def ask(context: Context) -> str:
        """Ask."""
        return await context.input("Which city?")

    def agent(model: ScriptedModel) -> Agent:
        return Agent(
            "a", config=model, tools=[ask], history=history, storage=storage, suspend_on_human=True
        )

    with pytest.raises(AskSuspended) as paused:
        await agent(ScriptedModel(call("ask"))).ask("go", conversation_id="r")
    return agent, HumanMessage("Oslo", paused.value.request_id), storage


async def test_a_resume_that_fails_before_it_starts_leaves_the_run_paused() -> None:
    agent, answer, storage = await _paused_on_a_question()
    with pytest.raises(ConfigError, match="max_turns"):
        await agent(ScriptedModel("x")).resume("r", answer, max_turns=0)
    assert await load_run_state(storage, "r") is not None  # still paused
    reply = await agent(ScriptedModel("Oslo it is.")).resume("r", answer)
    assert reply.text == "Oslo it is."


class _NoClient(ScriptedModel):
    """A model whose client can't be made here (a provider's without credentials)."""

    def client(self) -> Any:
        raise ConfigError("no client for this model")


async def test_a_resume_whose_model_client_cannot_be_made_leaves_the_run_paused() -> None:
    # A resume may run in another process, without the provider's credentials: its failure
    # to make the model's client must not use up the pause (the answers can come again).
    agent, answer, storage = await _paused_on_a_question()
    with pytest.raises(ConfigError, match="no client"):
        await agent(_NoClient("x")).resume("r", answer)
    assert await load_run_state(storage, "r") is not None  # still paused
    reply = await agent(ScriptedModel("Oslo it is.")).resume("r", answer)
    assert reply.text == "Oslo it is."


async def test_two_sub_agents_paused_in_one_call_each_get_their_own_answer(
    valid_history: HistoryCheck,
) -> None:
    from baton.harness.subtasks import Subtask, run_subtasks

    @tool
    async def ask_colour(context: Context) -> str:
        """Ask for a colour."""
        return await context.input("Which colour?")

    def helper(name: str, asking: Any) -> Agent:  # made per run: its script starts afresh
        model = ScriptedModel(call(asking.name), lambda c: f"{name}={c.last.content}")
        return Agent(name, config=model, tools=[asking])

    @tool
    async def plan(context: Context) -> str:
        """Plan with both helpers."""
        tasks = [
            Subtask(helper("city", ask_city), "city?"),
            Subtask(helper("colour", ask_colour), "?"),
        ]
        results = await run_subtasks(context, tasks)
        return " ".join(r.message for r in results)

    history, storage = MemoryHistory(), MemoryStorage()

    def boss(model: ScriptedModel) -> Agent:
        return Agent(
            "boss",
            config=model,
            tools=[plan],
            history=history,
            storage=storage,
            suspend_on_human=True,
        )

    with pytest.raises(AskSuspended) as paused:
        await boss(ScriptedModel(call("plan"))).ask("go", conversation_id="two")
    by_prompt = {r.prompt: r.request_id for r in paused.value.requests}  # type: ignore[union-attr]
    assert set(by_prompt) == {"Which city?", "Which colour?"}
    # given in the other order than they were asked: each still reaches its own question
    reply = await boss(ScriptedModel("done")).resume(
        "two",
        HumanMessage("blue", by_prompt["Which colour?"]),
        HumanMessage("Lisbon", by_prompt["Which city?"]),
    )
    assert results(reply.events) == {"plan": "city=Lisbon colour=blue"}
    valid_history(reply.events)


async def test_pausing_from_around_ask_is_a_clear_error() -> None:
    from baton.middleware import Middleware

    class Gate(Middleware):
        async def around_ask(self, context: Context, proceed: Any) -> Any:
            context.pause(HumanInputRequest("g", "May I start?"))

    agent = Agent(
        "a",
        config=ScriptedModel("x"),
        history=MemoryHistory(),
        storage=MemoryStorage(),
        middleware=[Gate()],
    )
    with pytest.raises(ConfigError, match="only while it runs"):
        await agent.ask("go", conversation_id="g")


# -- settings are checked when made (issue 10, point 15) ------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("temperature", 2.5, "from 0 to 2"),
        ("temperature", float("nan"), "from 0 to 2"),
        ("top_p", 0, "above 0 and at most 1"),
        ("max_tokens", 0, "at least 1"),
        ("reasoning_effort", "extreme", "one of minimal, low, medium, high"),
        ("seed", 1.5, "integer"),
    ],
)
def test_settings_out_of_range_are_refused_naming_the_range(
    setting: str, value: Any, words: str
) -> None:
    from baton import ModelSettings
    from baton.providers import OpenAIConfig

    with pytest.raises(ConfigError, match=words):
        ModelSettings(**{setting: value})
    with pytest.raises(ConfigError, match=words):
        OpenAIConfig("gpt-5", **{setting: value})
