"""Sub-tasks: run_subtasks, fan_out_tool and Agent.as_tool, seen from the parent's ask."""

import asyncio
import json
from collections.abc import Sequence

import pytest

from baton import (
    Agent,
    ConfigError,
    Context,
    Event,
    MemoryHistory,
    MemoryStream,
    ModelRequest,
    ModelResponse,
    TextChunk,
    ToolCallError,
    ToolCallResult,
    Usage,
    tool,
)
from baton.errors import MaxTurnsExceeded, ModelError
from baton.events import (
    RunFailed,
    TaskCompleted,
    TaskFailed,
    TaskProgress,
    TaskStarted,
    UsageReport,
)
from baton.harness import Subtask, SubtaskFailed, fan_out_tool, run_subtasks
from baton.testing import ScriptedModel, call, chunks

TASK_EVENTS = (TaskStarted, TaskProgress, TaskCompleted, TaskFailed)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def child(name: str, *turns: object, model: str | None = None, **options: object) -> Agent:
    config = ScriptedModel(*turns, model=model or f"{name}-model")
    return Agent(name, config=config, description=f"The {name}.", **options)  # type: ignore[arg-type]


def watch(stream: MemoryStream) -> list[Event]:
    seen: list[Event] = []
    stream.subscribe(seen.append)
    return seen


def by_task(events: Sequence[Event]) -> dict[str, list[Event]]:
    tasks: dict[str, list[Event]] = {}
    for event in events:
        if isinstance(event, TASK_EVENTS):
            tasks.setdefault(event.task_id, []).append(event)
    return tasks


def assert_every_call_answered(messages: Sequence[Event]) -> None:
    events = list(messages)
    for i, event in enumerate(events):
        if not isinstance(event, ModelResponse) or not event.tool_calls:
            continue
        answers: list[str] = []
        for later in events[i + 1 :]:
            if isinstance(later, ModelResponse | ModelRequest):
                break
            if isinstance(later, ToolCallResult | ToolCallError):
                answers.append(later.call_id)
        assert sorted(answers) == sorted(c.id for c in event.tool_calls), (event, answers)


def fanned(*agents: Agent, concurrency: int = 4) -> tuple[Agent, ScriptedModel]:
    """A parent whose model hands one task to each agent in one call, then answers "done"."""
    tasks = [{"agent": a.name, "task": f"task for {a.name}"} for a in agents]
    model = ScriptedModel(call("delegate_tasks", tasks=tasks), "done")
    tools = [fan_out_tool(list(agents), concurrency=concurrency)]
    return Agent("parent", config=model, tools=tools), model


def tool_output(model: ScriptedModel, turn: int = 1) -> list[dict[str, str]]:
    result = model.requests[turn].messages[-1]
    assert isinstance(result, ToolCallResult), result
    return json.loads(result.content)


# -- run_subtasks inside a tool -------------------------------------------------------------------


async def test_run_subtasks_in_a_tool_returns_results_in_order_and_rolls_up_usage():
    writer = child("writer", "a poem")
    critic = child("critic", call("add", a=1, b=2), "a review", tools=[add])

    @tool
    async def work(context: Context) -> str:
        """Get a poem and a review."""
        results = await run_subtasks(
            context, [Subtask(writer, "write"), Subtask(critic, "review")], concurrency=2
        )
        assert [r.ok for r in results] == [True, True]
        assert [r.agent for r in results] == ["writer", "critic"]
        return " / ".join(r.message for r in results)

    parent_model = ScriptedModel(call("work"), "done")
    parent = Agent("parent", config=parent_model, tools=[work])
    reply = await parent.ask("go")

    assert reply.text == "done"
    assert parent_model.requests[1].messages[-1].content == "a poem / a review"
    own = sum((e.usage for e in reply.events if isinstance(e, ModelResponse)), Usage())
    children = sum((e.usage for e in reply.events if isinstance(e, TaskCompleted)), Usage())
    assert children.requests == 3  # writer 1, critic 2
    assert reply.usage.requests == own.requests + 3
    assert reply.usage.tool_calls == 2  # the parent's call and the critic's
    assert reply.usage.output_tokens == own.output_tokens + children.output_tokens
    assert reply.usage.input_tokens == own.input_tokens + children.input_tokens
    report = next(e for e in reply.events if isinstance(e, UsageReport))
    assert report.usage == reply.usage
    lines = {(line.kind, line.provider, line.model): line.usage for line in report.breakdown}
    assert set(lines) == {
        ("model", "scripted", "scripted"),
        ("subtask", "scripted", "writer-model"),
        ("subtask", "scripted", "critic-model"),
    }
    assert lines[("subtask", "scripted", "critic-model")].requests == 2
    assert lines[("subtask", "scripted", "critic-model")].tool_calls == 1
    assert lines[("subtask", "scripted", "writer-model")].requests == 1


async def test_results_keep_the_childs_reply_for_follow_ups():
    helper = child("helper", "first answer", "second answer")
    seen: list[object] = []

    @tool
    async def ask_helper(context: Context) -> str:
        """Ask the helper."""
        [result] = await run_subtasks(context, [Subtask(helper, "question")])
        seen.append(result)
        return result.text

    parent = Agent("parent", config=ScriptedModel(call("ask_helper"), "ok"), tools=[ask_helper])
    await parent.ask("go")
    [result] = seen
    assert result.reply is not None  # type: ignore[attr-defined]
    follow_up = await result.reply.ask("and then?")  # type: ignore[attr-defined]
    assert follow_up.text == "second answer"
    assert follow_up.conversation_id == result.reply.conversation_id  # type: ignore[attr-defined]


async def test_run_subtasks_checks_concurrency_and_accepts_no_tasks():
    seen: list[object] = []

    @tool
    async def run(context: Context, limit: int) -> str:
        """Run nothing."""
        seen.append(await run_subtasks(context, [], concurrency=limit))
        return "ok"

    agent = Agent("a", config=ScriptedModel(call("run", limit=1), "done"), tools=[run])
    await agent.ask("go")
    assert seen == [[]]
    bad = Agent("a", config=ScriptedModel(call("run", limit=0), "never"), tools=[run])
    with pytest.raises(ConfigError, match="concurrency"):
        await bad.ask("go")


# -- parallelism and the concurrency cap ----------------------------------------------------------


async def test_fan_out_children_run_at_the_same_time():
    arrived = {"left": asyncio.Event(), "right": asyncio.Event()}

    def meeting(me: str, other: str) -> object:
        @tool(name="meet")
        async def meet() -> str:
            """Wait for the other agent."""
            arrived[me].set()
            await arrived[other].wait()  # only returns if both run at once
            return f"{me} met {other}"

        return meet

    left = child("left", call("meet"), "left done", tools=[meeting("left", "right")])
    right = child("right", call("meet"), "right done", tools=[meeting("right", "left")])
    parent, parent_model = fanned(left, right, concurrency=2)

    async with asyncio.timeout(5):  # a deadlock guard, not a timing assertion
        reply = await parent.ask("go")

    assert reply.text == "done"
    assert tool_output(parent_model) == [
        {"agent": "left", "task": "task for left", "answer": "left done"},
        {"agent": "right", "task": "task for right", "answer": "right done"},
    ]


def most_in_flight(events: Sequence[Event]) -> int:
    running, most = 0, 0
    for event in events:
        if isinstance(event, TaskStarted):
            running += 1
            most = max(most, running)
        elif isinstance(event, TaskCompleted | TaskFailed):
            running -= 1
    return most


async def test_fan_out_respects_the_concurrency_cap():
    arrived = {"a": asyncio.Event(), "b": asyncio.Event()}

    def meeting(me: str, other: str) -> object:
        @tool(name="meet")
        async def meet() -> str:
            """Wait for the other agent."""
            arrived[me].set()
            await arrived[other].wait()
            return "met"

        return meet

    # a and b must overlap (each waits for the other); c and d are free to start at once.
    a = child("a", call("meet"), "a done", tools=[meeting("a", "b")])
    b = child("b", call("meet"), "b done", tools=[meeting("b", "a")])
    c, d = child("c", "c done"), child("d", "d done")
    parent, parent_model = fanned(a, b, c, d, concurrency=2)
    stream = MemoryStream()
    seen = watch(stream)

    async with asyncio.timeout(5):
        await parent.ask("go", stream=stream)

    assert most_in_flight(seen) == 2
    assert [r["answer"] for r in tool_output(parent_model)] == [
        "a done",
        "b done",
        "c done",
        "d done",
    ]


async def test_concurrency_one_runs_children_one_after_another():
    parent, _ = fanned(child("a", "A"), child("b", "B"), child("c", "C"), concurrency=1)
    stream = MemoryStream()
    seen = watch(stream)
    await parent.ask("go", stream=stream)
    order = [type(e) for e in seen if isinstance(e, TaskStarted | TaskCompleted)]
    assert order == [TaskStarted, TaskCompleted] * 3
    assert most_in_flight(seen) == 1


# -- what the parent's stream sees ----------------------------------------------------------------


async def test_child_events_reach_the_parent_stream_as_task_events_in_order():
    a = child("a", call("add", a=1, b=2), "three", tools=[add])
    b = child("b", "just b")
    parent, _ = fanned(a, b)
    stream = MemoryStream()
    seen = watch(stream)

    reply = await parent.ask("go", stream=stream)

    tasks = by_task(seen)
    assert len(tasks) == 2
    first, second = sorted(tasks.values(), key=lambda events: events[0].agent)  # type: ignore[attr-defined]
    assert first[0] == TaskStarted(first[0].task_id, "a", "task for a")
    assert [(e.kind, e.detail) for e in first[1:-1]] == [  # type: ignore[attr-defined]
        ("response", "calls add"),
        ("tool_call", 'add({"a":1,"b":2})'),
        ("response", "three"),
    ]
    assert isinstance(first[-1], TaskCompleted)
    assert first[-1].text == "three"
    assert first[-1].usage.requests == 2
    assert [type(e) for e in second] == [TaskStarted, TaskProgress, TaskCompleted]
    # Started and finished are kept in the parent's history; progress notices are not.
    kept = [type(e) for e in reply.events if isinstance(e, TASK_EVENTS)]
    assert sorted(t.__name__ for t in kept) == sorted(["TaskStarted", "TaskCompleted"] * 2)
    # Every Task event comes between the parent's tool call and its result.
    start = next(i for i, e in enumerate(reply.events) if isinstance(e, ModelResponse))
    result = next(i for i, e in enumerate(reply.events) if isinstance(e, ToolCallResult))
    positions = [i for i, e in enumerate(reply.events) if isinstance(e, TASK_EVENTS)]
    assert all(start < i < result for i in positions)


async def test_child_streams_are_separate_from_the_parents():
    child_stream = MemoryStream()
    child_seen = watch(child_stream)
    talker = child("talker", chunks("Hel", "lo ", "there"))

    @tool
    async def talk(context: Context) -> str:
        """Let the talker talk."""
        [result] = await run_subtasks(context, [Subtask(talker, "talk", stream=child_stream)])
        return result.text

    parent = Agent("parent", config=ScriptedModel(call("talk"), "parent text"), tools=[talk])
    parent_stream = MemoryStream()
    parent_seen = watch(parent_stream)
    reply = await parent.ask("go", stream=parent_stream)

    assert reply.text == "parent text"
    assert [e.text for e in child_seen if isinstance(e, TextChunk)] == ["Hel", "lo ", "there"]
    assert [e.text for e in parent_seen if isinstance(e, TextChunk)] == ["parent text"]
    assert not [e for e in child_seen if isinstance(e, TASK_EVENTS)]
    progress = [e for e in parent_seen if isinstance(e, TaskProgress)]
    assert [(p.kind, p.detail) for p in progress] == [("response", "Hello there")]


# -- failures -------------------------------------------------------------------------------------


async def test_one_child_failing_is_a_short_message_and_the_others_succeed():
    good = child("good", "good answer")
    bad = child("bad", ModelError("the provider is down"))
    also_good = child("also_good", "another answer")
    parent, parent_model = fanned(good, bad, also_good)
    stream = MemoryStream()
    seen = watch(stream)

    reply = await parent.ask("go", stream=stream)

    assert reply.text == "done"
    output = tool_output(parent_model)
    assert output[0]["answer"] == "good answer"
    assert output[1] == {
        "agent": "bad",
        "task": "task for bad",
        "error": "ModelError: the provider is down",
    }
    assert output[2]["answer"] == "another answer"
    [failed] = [e for e in seen if isinstance(e, TaskFailed)]
    assert (failed.error_type, failed.message) == ("ModelError", "the provider is down")
    assert len([e for e in seen if isinstance(e, TaskCompleted)]) == 2


async def test_a_failed_childs_spent_usage_still_counts():
    # The child answers once with a tool call, then its script runs out.
    flaky = child("flaky", call("add", a=1, b=1), tools=[add])
    parent, parent_model = fanned(flaky)

    reply = await parent.ask("go")

    [output] = tool_output(parent_model)
    assert output["error"].startswith("ScriptExhausted: ")
    assert "Traceback" not in output["error"]
    report = next(e for e in reply.events if isinstance(e, UsageReport))
    [line] = [line for line in report.breakdown if line.kind == "subtask"]
    assert (line.provider, line.model) == ("scripted", "flaky-model")
    assert line.usage.requests == 1
    assert line.usage.tool_calls == 1
    assert reply.usage.requests == 3


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelling_the_parent_cancels_the_children():
    started = {"a": asyncio.Event(), "b": asyncio.Event()}
    cancelled: list[str] = []
    never = asyncio.Event()

    def hanging(me: str) -> object:
        @tool(name="hang")
        async def hang() -> str:
            """Take forever."""
            started[me].set()
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(me)
                raise
            return "unreachable"

        return hang

    child_history = MemoryHistory()
    a = child("a", call("hang"), "a?", tools=[hanging("a")], history=child_history)
    b = child("b", call("hang"), "b?", tools=[hanging("b")], history=child_history)
    parent_history = MemoryHistory()
    tasks = [{"agent": "a", "task": "x"}, {"agent": "b", "task": "y"}]
    parent_model = ScriptedModel(call("delegate_tasks", tasks=tasks), "recovered")
    parent = Agent("p", config=parent_model, tools=[fan_out_tool([a, b])], history=parent_history)

    ask = asyncio.create_task(parent.ask("go", conversation_id="p"))
    async with asyncio.timeout(5):
        await started["a"].wait()
        await started["b"].wait()
    ask.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ask

    assert sorted(cancelled) == ["a", "b"]
    events = await parent_history.load("p")
    assert_every_call_answered(events)
    assert isinstance(events[-1], RunFailed)
    assert events[-1].error_type == "Cancelled"
    failed = [e for e in events if isinstance(e, TaskFailed)]
    assert [e.error_type for e in failed] == ["Cancelled", "Cancelled"]
    for conversation_id in child_history.conversation_ids():
        child_events = await child_history.load(conversation_id)
        assert_every_call_answered(child_events)
        assert isinstance(child_events[-1], RunFailed)
        assert child_events[-1].error_type == "Cancelled"
    assert len(child_history.conversation_ids()) == 2

    again = await parent.ask("and now?", conversation_id="p")
    assert again.text == "recovered"
    assert_every_call_answered(parent_model.requests[-1].messages)


# -- fan_out_tool ---------------------------------------------------------------------------------


async def test_fan_out_tool_schema_names_the_agents_and_limits_the_tasks():
    delegate = fan_out_tool({"research": child("r"), "write": child("w")}, max_tasks=3)
    assert delegate.name == "delegate_tasks"
    assert "- research: The r." in delegate.description
    assert "- write: The w." in delegate.description
    [item] = [delegate.parameters["properties"]["tasks"]]
    assert item["maxItems"] == 3
    assert item["minItems"] == 1
    item_schema = item["items"]
    if "$ref" in item_schema:
        item_schema = delegate.parameters["$defs"][item_schema["$ref"].split("/")[-1]]
    assert item_schema["properties"]["agent"]["enum"] == ["research", "write"]
    assert item_schema["required"] == ["agent", "task"]


async def test_fan_out_tool_rejects_unknown_agents_and_too_many_tasks_to_the_model():
    model = ScriptedModel(
        call("delegate_tasks", tasks=[{"agent": "nobody", "task": "x"}]),
        call("delegate_tasks", tasks=[{"agent": "a", "task": str(i)} for i in range(3)]),
        "gave up",
    )
    helper = child("a", "never")
    parent = Agent("p", config=model, tools=[fan_out_tool([helper], max_tasks=2)])
    reply = await parent.ask("go")
    assert reply.text == "gave up"
    errors = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert [e.error_type for e in errors] == ["InvalidArguments", "InvalidArguments"]
    assert "nobody" in errors[0].message
    assert helper.config.calls_made == 0  # type: ignore[union-attr]


def test_fan_out_tool_configuration_errors():
    with pytest.raises(ConfigError, match="at least one agent"):
        fan_out_tool([])
    with pytest.raises(ConfigError, match="two agents are named 'x'"):
        fan_out_tool([child("x"), child("x")])
    with pytest.raises(ConfigError, match="max_tasks"):
        fan_out_tool([child("x")], max_tasks=0)
    with pytest.raises(ConfigError, match="concurrency"):
        fan_out_tool([child("x")], concurrency=0)


# -- Agent.as_tool --------------------------------------------------------------------------------


async def test_as_tool_emits_task_events_and_rolls_up_usage_as_a_subtask():
    helper = child("helper", call("add", a=2, b=2), "four", tools=[add])
    parent_model = ScriptedModel(call("helper", task="add 2 and 2"), "it is four")
    parent = Agent("parent", config=parent_model, tools=[helper.as_tool()])
    stream = MemoryStream()
    seen = watch(stream)

    reply = await parent.ask("go", stream=stream)

    assert reply.text == "it is four"
    assert parent_model.requests[1].messages[-1].content == "four"
    [events] = by_task(seen).values()
    started, *progress, completed = events
    assert isinstance(started, TaskStarted)
    assert (started.agent, started.task) == ("helper", "add 2 and 2")
    assert [p.kind for p in progress] == ["response", "tool_call", "response"]  # type: ignore[attr-defined]
    assert isinstance(completed, TaskCompleted)
    assert completed.text == "four"
    assert completed.usage.requests == 2
    report = next(e for e in reply.events if isinstance(e, UsageReport))
    subtask = [line for line in report.breakdown if line.kind == "subtask"]
    assert [(s.provider, s.model, s.usage) for s in subtask] == [
        ("scripted", "helper-model", completed.usage)
    ]
    assert reply.usage.requests == 4


async def test_as_tool_child_failure_reaches_the_parent_model_as_a_short_error():
    looping = child(
        "looper", call("add", a=1, b=1), call("add", a=1, b=1), tools=[add], max_turns=1
    )
    parent_model = ScriptedModel(call("looper", task="loop"), "the looper failed")
    parent = Agent("parent", config=parent_model, tools=[looping.as_tool()])
    stream = MemoryStream()
    seen = watch(stream)

    reply = await parent.ask("go", stream=stream)

    assert reply.text == "the looper failed"
    error = parent_model.requests[1].messages[-1]
    assert isinstance(error, ToolCallError)
    assert error.error_type == SubtaskFailed.__name__
    assert MaxTurnsExceeded.__name__ in error.message
    assert "'looper' agent could not finish the task" in error.message
    assert "Traceback" not in error.message
    assert len(error.message) < 500
    [failed] = [e for e in seen if isinstance(e, TaskFailed)]
    assert failed.error_type == "MaxTurnsExceeded"
    assert reply.usage.requests == 3  # the child's one model call counts


async def test_as_tool_cancellation_propagates_and_leaves_valid_histories():
    started = asyncio.Event()
    saw_cancel = asyncio.Event()

    @tool
    async def slow() -> str:
        """Take forever."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            saw_cancel.set()
            raise
        return "unreachable"

    child_history = MemoryHistory()
    helper = child("helper", call("slow"), tools=[slow], history=child_history)
    history = MemoryHistory()
    parent = Agent(
        "parent",
        config=ScriptedModel(call("helper", task="x")),
        tools=[helper.as_tool()],
        history=history,
    )
    ask = asyncio.create_task(parent.ask("go", conversation_id="c"))
    async with asyncio.timeout(5):
        await started.wait()
    ask.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ask

    assert saw_cancel.is_set()
    events = await history.load("c")
    assert_every_call_answered(events)
    assert [type(e) for e in events[-3:]] == [TaskFailed, ToolCallError, RunFailed]
    [child_id] = child_history.conversation_ids()
    child_events = await child_history.load(child_id)
    assert_every_call_answered(child_events)
    assert isinstance(child_events[-1], RunFailed)


async def test_a_childs_usage_is_counted_on_the_model_that_answered_with_its_own_breakdown():
    """Issue 11, point 12: a child's FallbackModel that answered on its secondary is reported
    as the secondary, and the child's own sub-tasks keep their line under the parent's."""
    from baton.errors import RateLimited
    from baton.models.fallback import FallbackModel

    grandchild = child("grand", "deep answer")
    fallback = FallbackModel(
        ScriptedModel(RateLimited("quota"), model="primary", repeat=True),
        ScriptedModel(call("grand", task="go deeper"), "helped", model="secondary"),
    )
    helper = Agent("helper", config=fallback, tools=[grandchild.as_tool()])
    parent = Agent(
        "parent",
        config=ScriptedModel(call("helper", task="help"), "done", model="parent-model"),
        tools=[helper.as_tool()],
    )
    reply = await parent.ask("go")
    lines = {(ln.kind, ln.model): ln.usage for ln in reply.usage_report.breakdown}
    assert ("subtask", "secondary") in lines and ("subtask", "primary") not in lines
    assert lines[("subtask/subtask", "grand-model")].requests == 1
    assert sum((u for u in lines.values()), Usage()) == reply.usage
