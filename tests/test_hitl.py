"""Human in the loop: context.input / context.approve, approvals of tool calls (hook and stream),
timeouts, the around_human_input hook point, and suspending an ask and resuming it elsewhere."""

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from baton import (
    Agent,
    ConfigError,
    Context,
    Event,
    MemoryHistory,
    MemoryStorage,
    MemoryStream,
    ModelRequest,
    ModelResponse,
    Tool,
    ToolCallError,
    ToolCallResult,
    tool,
)
from baton.errors import AskSuspended, ConversationBusy, HumanInputTimeout, NotSuspended
from baton.events import (
    ApprovalRequest,
    HumanInputRequest,
    HumanMessage,
    RunFailed,
    RunFinished,
    RunStarted,
    UnattendedRequest,
    from_dict,
    to_dict,
)
from baton.hitl import Approval, ApprovalPolicy
from baton.middleware.base import Middleware
from baton.run import load_run_state
from baton.testing import ScriptedModel, call


def kinds(events: Sequence[Event]) -> list[type]:
    return [type(e) for e in events]


def assert_valid_history(events: Sequence[Event]) -> None:
    """Each tool call answered exactly once before the model is called again; each request for
    a human answered exactly once, after it was made."""
    events = list(events)
    for i, event in enumerate(events):
        if isinstance(event, ModelResponse) and event.tool_calls:
            outcomes: list[str] = []
            for later in events[i + 1 :]:
                if isinstance(later, ModelResponse | ModelRequest):
                    break
                if isinstance(later, ToolCallResult | ToolCallError):
                    outcomes.append(later.call_id)
            assert sorted(outcomes) == sorted(c.id for c in event.tool_calls), (event, outcomes)
        if isinstance(event, HumanInputRequest | ApprovalRequest):
            answers = [
                e
                for e in events[i + 1 :]
                if isinstance(e, HumanMessage) and e.request_id == event.request_id
            ]
            assert len(answers) == 1, (event, answers)
    asked = [e.request_id for e in events if isinstance(e, HumanInputRequest | ApprovalRequest)]
    answered = [e.request_id or "" for e in events if isinstance(e, HumanMessage)]
    assert sorted(asked) == sorted(answered)


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def hit(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def __getitem__(self, name: str) -> int:
        return self.calls.get(name, 0)


@tool
async def ask_city(context: Context) -> str:
    """Ask the user for a city."""
    return await context.input("Which city?")


def result_of(events: Sequence[Event], name: str) -> Any:
    """The outcome (ToolCallResult or ToolCallError) of the call of tool ``name``."""
    return next(
        e for e in events if isinstance(e, ToolCallResult | ToolCallError) and e.name == name
    )


# -- context.input ---------------------------------------------------------------------------


async def test_input_answered_by_a_sync_hook() -> None:
    seen: list[Any] = []

    def hook(request: Any, context: Context) -> str:
        seen.append((request, context.agent_name))
        return "Paris"

    agent = Agent("a", config=ScriptedModel(call("ask_city"), "done"), tools=[ask_city], hitl=hook)
    reply = await agent.ask("weather?")

    assert reply.text == "done"
    [(request, name)] = seen
    assert isinstance(request, HumanInputRequest)
    assert (request.prompt, name) == ("Which city?", "a")
    response = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert request.call_id == response.tool_calls[0].id
    assert result_of(reply.events, "ask_city").content == "Paris"
    answer = next(e for e in reply.events if isinstance(e, HumanMessage))
    assert answer == HumanMessage("Paris", request.request_id)
    assert kinds(reply.events)[2:6] == [
        ModelResponse,
        HumanInputRequest,
        HumanMessage,
        ToolCallResult,
    ]
    assert_valid_history(reply.events)


async def test_input_answered_by_an_async_hook_with_a_human_message() -> None:
    async def hook(request: Any, context: Context) -> HumanMessage:
        await asyncio.sleep(0)
        return HumanMessage("Lyon")  # the request id is filled in

    agent = Agent("a", config=ScriptedModel(call("ask_city"), "done"), tools=[ask_city], hitl=hook)
    reply = await agent.ask("weather?")

    request = next(e for e in reply.events if isinstance(e, HumanInputRequest))
    answer = next(e for e in reply.events if isinstance(e, HumanMessage))
    assert answer == HumanMessage("Lyon", request.request_id)
    assert result_of(reply.events, "ask_city").content == "Lyon"


async def test_input_answered_on_the_stream_by_another_task() -> None:
    stream = MemoryStream()
    seen: list[Event] = []
    stream.subscribe(seen.append)
    requests = stream.where(HumanInputRequest).next(timeout=10)  # listening from now

    async def ui() -> None:
        request = await requests
        await stream.send(HumanMessage("Nice", request_id="someone-else"))  # not ours: ignored
        await stream.send(HumanMessage("Rome", request_id=request.request_id))

    agent = Agent("a", config=ScriptedModel(call("ask_city"), "done"), tools=[ask_city])
    ui_task = asyncio.create_task(ui())
    reply = await agent.ask("weather?", stream=stream)
    await ui_task

    assert result_of(reply.events, "ask_city").content == "Rome"
    request = next(e for e in reply.events if isinstance(e, HumanInputRequest))
    # the stream showed the request first, then the UI's answer, once (not echoed back)
    on_stream = [e for e in seen if isinstance(e, HumanInputRequest | HumanMessage)]
    assert on_stream == [
        request,
        HumanMessage("Nice", request_id="someone-else"),
        HumanMessage("Rome", request.request_id),
    ]
    # history keeps the answer the ask received (and not the stray one)
    assert [e for e in reply.events if isinstance(e, HumanMessage)] == [
        HumanMessage("Rome", request.request_id)
    ]
    assert_valid_history(reply.events)


async def test_a_hook_returning_none_leaves_the_request_to_the_stream() -> None:
    stream = MemoryStream()
    asked: list[str] = []

    def hook(request: Any, context: Context) -> None:
        asked.append(request.request_id)

    async def answer(request: HumanInputRequest) -> None:
        await stream.send(HumanMessage("Oslo", request_id=request.request_id))

    stream.where(HumanInputRequest).subscribe(answer)
    agent = Agent("a", config=ScriptedModel(call("ask_city"), "done"), tools=[ask_city], hitl=hook)
    reply = await agent.ask("weather?", stream=stream)

    assert len(asked) == 1
    assert result_of(reply.events, "ask_city").content == "Oslo"
    assert_valid_history(reply.events)


async def test_input_timeout_becomes_a_tool_error_naming_the_request_and_the_fix() -> None:
    @tool
    async def ask_fast(context: Context) -> str:
        """Ask quickly."""
        return await context.input("Which city?", timeout=0.01)

    model = ScriptedModel(call("ask_fast"), "nobody answered")
    agent = Agent("a", config=model, tools=[ask_fast])
    reply = await agent.ask("weather?")

    error = result_of(reply.events, "ask_fast")
    request = next(e for e in reply.events if isinstance(e, HumanInputRequest))
    assert isinstance(error, ToolCallError)
    assert error.error_type == "HumanInputTimeout"
    assert "nobody answered 'Which city?'" in error.message
    assert request.request_id in error.message
    assert "context.input(..., timeout=N)" in error.message
    assert reply.text == "nobody answered"
    assert not any(isinstance(e, HumanMessage) for e in reply.events)


async def test_input_timeout_raises_outside_a_tool_and_default_replaces_it() -> None:
    answers: list[str] = []

    class AskFirst(Middleware):
        async def around_ask(self, context: Context, proceed: Any) -> Any:
            answers.append(await context.input("Name?", timeout=0.01, default="anonymous"))
            try:
                await context.input("Age?", timeout=0.01)
            except HumanInputTimeout as timeout:
                answers.append(f"timeout {timeout.request_id} {timeout.timeout}")
            return await proceed()

    agent = Agent("a", config=ScriptedModel("hi"), middleware=[AskFirst()])
    await agent.ask("hello")

    assert answers[0] == "anonymous"
    assert answers[1].startswith("timeout ") and answers[1].endswith(" 0.01")


def cleanup_tool(done: list[str]) -> Any:
    """A tool that asks ``context.approve`` before it deletes (noting "deleted" in ``done``)."""

    @tool
    async def cleanup(context: Context) -> str:
        """Delete old files."""
        if not await context.approve("Delete 40 files?"):
            return "kept them"
        done.append("deleted")
        return "deleted"

    return cleanup


async def test_context_approve_pauses_an_ask_that_suspends_on_humans() -> None:
    """As ``context.input`` does: the ask pauses for the approval, and resumed with it, the
    tool runs again and gets the answer (it no longer waits for an answer nobody may give)."""
    done: list[str] = []
    cleanup = cleanup_tool(done)

    agent = Agent(
        "a",
        config=ScriptedModel(call("cleanup"), "ok"),
        tools=[cleanup],
        history=MemoryHistory(),
        storage=MemoryStorage(),
        suspend_on_human=True,
    )
    with pytest.raises(AskSuspended) as paused:
        await agent.ask("clean up", conversation_id="c")
    [request] = paused.value.requests
    assert isinstance(request, ApprovalRequest) and request.reason == "Delete 40 files?"
    assert done == []

    reply = await agent.resume("c", HumanMessage(request_id=request.request_id, approved=True))
    assert done == ["deleted"]
    assert reply.text == "ok"


async def test_context_approve_inside_a_tool() -> None:
    done: list[str] = []
    cleanup = cleanup_tool(done)

    requests: list[ApprovalRequest] = []

    def hook(request: Any, context: Context) -> bool:
        requests.append(request)
        return True

    agent = Agent("a", config=ScriptedModel(call("cleanup"), "ok"), tools=[cleanup], hitl=hook)
    reply = await agent.ask("clean up")

    assert done == ["deleted"]
    [request] = requests
    assert request.reason == "Delete 40 files?"
    assert request.call.name == "cleanup"  # the call running the tool
    assert HumanMessage("", request.request_id, True) in reply.events


# -- approvals -------------------------------------------------------------------------------


def deploy_tools(counter: Counter) -> list[Any]:
    @tool(requires_approval=True)
    def deploy(env: str) -> str:
        """Deploy to an environment."""
        counter.hit("deploy")
        return f"deployed to {env}"

    @tool
    def fetch() -> str:
        """Fetch the build."""
        counter.hit("fetch")
        return "build 42"

    return [deploy, fetch]


@pytest.mark.parametrize(
    ("answer", "ran", "outcome"),
    [
        (True, 1, "deployed to prod"),
        (HumanMessage(approved=True), 1, "deployed to prod"),
        (False, 0, "The user denied this call: no reason given"),
        (HumanMessage("not on a Friday", approved=False), 0, "The user denied this call: not on"),
        (Approval(False, "not today"), 0, "The user denied this call: not today"),
        (Approval(True), 1, "deployed to prod"),
    ],
)
async def test_approval_by_the_hook(answer: Any, ran: int, outcome: str) -> None:
    counter = Counter()
    seen: list[Any] = []

    async def hook(request: Any, context: Context) -> Any:
        seen.append(request)
        return answer

    model = ScriptedModel(call("deploy", env="prod"), "done")
    agent = Agent("ops", config=model, tools=deploy_tools(counter), hitl=hook)
    reply = await agent.ask("ship it")

    assert counter["deploy"] == ran
    [request] = seen
    assert isinstance(request, ApprovalRequest)
    assert request.call.name == "deploy"
    assert request.call.arguments == '{"env":"prod"}'
    assert request.reason == "deploy needs approval"
    outcome_event = result_of(reply.events, "deploy")
    text = (
        outcome_event.content
        if isinstance(outcome_event, ToolCallResult)
        else outcome_event.message
    )
    assert text.startswith(outcome)
    if not ran:
        assert isinstance(outcome_event, ToolCallError)
        assert outcome_event.error_type == "ApprovalDenied"
    # the model read the outcome on its next call
    assert model.requests[1].messages[-1] == outcome_event
    assert_valid_history(reply.events)


@pytest.mark.parametrize("answer", ["yes", 1, {"approved": True}, HumanMessage("ok")])
async def test_an_approval_answered_with_anything_else_is_a_config_error(answer: Any) -> None:
    """Issue 11, point 15: "yes" (or a message that doesn't say approved) is not guessed at:
    the ask fails naming the answers a handler may give, and the call never runs."""
    counter = Counter()
    agent = Agent(
        "ops",
        config=ScriptedModel(call("deploy", env="prod"), "done"),
        tools=deploy_tools(counter),
        hitl=lambda request, context: answer,
    )
    with pytest.raises(ConfigError, match=r"return True or False, Approval\(approved, reason\)"):
        await agent.ask("ship it")
    assert counter["deploy"] == 0


@pytest.mark.parametrize("approved", [True, False])
async def test_approval_on_the_stream(approved: bool) -> None:
    counter = Counter()
    stream = MemoryStream()
    approvals = stream.where(ApprovalRequest).next(timeout=10)

    async def ui() -> ApprovalRequest:
        request: ApprovalRequest = await approvals
        await stream.send(HumanMessage("ok" if approved else "no", request.request_id, approved))
        return request

    agent = Agent(
        "ops", config=ScriptedModel(call("deploy", env="dev"), "done"), tools=deploy_tools(counter)
    )
    ui_task = asyncio.create_task(ui())
    reply = await agent.ask("ship it", stream=stream)
    request = await ui_task

    assert counter["deploy"] == (1 if approved else 0)
    outcome = result_of(reply.events, "deploy")
    assert isinstance(outcome, ToolCallResult if approved else ToolCallError)
    assert HumanMessage("ok" if approved else "no", request.request_id, approved) in reply.events
    assert_valid_history(reply.events)


async def test_policy_predicate_reason_and_unmatched_calls() -> None:
    counter = Counter()
    asked: list[ApprovalRequest] = []

    def hook(request: Any, context: Context) -> bool:
        asked.append(request)
        return True

    policy = ApprovalPolicy(
        lambda c: c.name == "fetch", reason=lambda c: f"{c.name} touches the network"
    )
    tools = deploy_tools(counter)
    tools[0] = Tool(tools[0].function, name="deploy")  # no longer requires approval itself
    model = ScriptedModel([call("fetch"), call("deploy", env="x")], "done")
    agent = Agent("ops", config=model, tools=tools, middleware=[policy], hitl=hook)
    await agent.ask("go")

    assert [(r.call.name, r.reason) for r in asked] == [("fetch", "fetch touches the network")]
    assert counter.calls == {"fetch": 1, "deploy": 1}


async def test_calls_with_invalid_arguments_fail_without_asking() -> None:
    counter = Counter()
    asked: list[Any] = []
    model = ScriptedModel(call("deploy", arguments='{"env": 3}'), "done")
    agent = Agent(
        "ops", config=model, tools=deploy_tools(counter), hitl=lambda r, c: asked.append(r)
    )
    reply = await agent.ask("go")

    assert asked == []
    error = result_of(reply.events, "deploy")
    assert isinstance(error, ToolCallError)
    assert error.error_type == "InvalidArguments"


async def test_approval_timeout_is_a_tool_error_and_the_call_does_not_run() -> None:
    counter = Counter()
    model = ScriptedModel(call("deploy", env="prod"), "done")
    agent = Agent(
        "ops",
        config=model,
        tools=deploy_tools(counter),
        middleware=[ApprovalPolicy(timeout=0.01)],
    )
    reply = await agent.ask("go")

    error = result_of(reply.events, "deploy")
    assert isinstance(error, ToolCallError)
    assert error.error_type == "ApprovalTimeout"
    assert "Nobody approved this call within 0.01 seconds" in error.message
    assert counter["deploy"] == 0
    assert reply.text == "done"


async def test_around_human_input_middleware_sees_every_request_and_may_answer() -> None:
    counter = Counter()
    seen: list[tuple[str, str]] = []

    class Audit(Middleware):
        async def around_human_input(self, request: Any, context: Context, proceed: Any) -> Any:
            answer = await proceed(request)
            seen.append((type(request).__name__, answer.text))
            return answer

    class AutoApproveDev(Middleware):
        async def around_human_input(self, request: Any, context: Context, proceed: Any) -> Any:
            if isinstance(request, ApprovalRequest) and '"dev"' in request.call.arguments:
                return HumanMessage("dev is fine", request.request_id, True)
            return await proceed(request)

    tools = [*deploy_tools(counter), ask_city]
    model = ScriptedModel(call("ask_city"), call("deploy", env="dev"), "done")
    agent = Agent(
        "ops",
        config=model,
        tools=tools,
        middleware=[Audit(), AutoApproveDev()],
        hitl=lambda request, context: "Paris",
    )
    reply = await agent.ask("go")

    assert seen == [("HumanInputRequest", "Paris"), ("ApprovalRequest", "dev is fine")]
    assert counter["deploy"] == 1
    # an answer made by middleware is kept in history with its request
    approval = next(e for e in reply.events if isinstance(e, ApprovalRequest))
    assert HumanMessage("dev is fine", approval.request_id, True) in reply.events
    assert_valid_history(reply.events)


# -- suspending and resuming -----------------------------------------------------------------


async def copy_elsewhere(
    history: MemoryHistory, storage: MemoryStorage
) -> tuple[MemoryHistory, MemoryStorage]:
    """Another process: the same stored data, through JSON, in new objects."""
    new_history, new_storage = MemoryHistory(), MemoryStorage()
    for cid in history.conversation_ids():
        stored = json.loads(json.dumps([to_dict(e) for e in await history.load(cid)]))
        await new_history.append(cid, [from_dict(e) for e in stored])
    for key in await storage.keys():
        await new_storage.put(key, json.loads(json.dumps(await storage.get(key))))
    return new_history, new_storage


def ops_agent(
    model: ScriptedModel,
    counter: Counter,
    history: MemoryHistory,
    storage: MemoryStorage,
    **options: Any,
) -> Agent:
    return Agent(
        "ops",
        config=model,
        tools=deploy_tools(counter),
        middleware=[ApprovalPolicy(suspend=True)],
        history=history,
        storage=storage,
        **options,
    )


async def suspend_deploy(counter: Counter) -> tuple[AskSuspended, MemoryHistory, MemoryStorage]:
    history, storage = MemoryHistory(), MemoryStorage()
    model = ScriptedModel([call("fetch"), call("deploy", env="prod")])
    agent = ops_agent(model, counter, history, storage, variables={"team": "blue"})
    with pytest.raises(AskSuspended) as raised:
        await agent.ask("ship build 42", conversation_id="c1")
    return raised.value, history, storage


async def test_suspend_then_resume_in_another_process_without_redoing_finished_work() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)

    # suspended: the parallel fetch finished, deploy waits; the run is left open
    assert counter.calls == {"fetch": 1}
    assert suspended.conversation_id == "c1"
    assert "agent.resume('c1'" in str(suspended)
    [request] = suspended.requests
    assert request.call.name == "deploy"
    assert suspended.request_id == request.request_id
    events = await history.load("c1")
    assert kinds(events)[:3] == [RunStarted, ModelRequest, ModelResponse]
    assert sorted(type(e).__name__ for e in events[3:]) == ["ApprovalRequest", "ToolCallResult"]
    assert not any(isinstance(e, RunFailed | RunFinished | ToolCallError) for e in events)
    saved = await load_run_state(storage, "c1")
    response = events[2]
    assert saved is not None and isinstance(response, ModelResponse)
    assert saved.status == "paused" and saved.run_id == suspended.run_id
    assert saved.response == response
    assert list(saved.pending) == [c.id for c in response.tool_calls if c.name == "deploy"]
    assert [o.call_id for o in saved.finished] == [
        c.id for c in response.tool_calls if c.name == "fetch"
    ]
    assert saved.requests == (request,)

    # another process: a fresh agent, the stored data only
    history2, storage2 = await copy_elsewhere(history, storage)
    model2 = ScriptedModel("Deployed build 42.")
    agent2 = ops_agent(model2, counter, history2, storage2)
    reply = await agent2.resume("c1", HumanMessage("go ahead", request.request_id, True))

    assert reply.text == "Deployed build 42."
    assert counter.calls == {"fetch": 1, "deploy": 1}  # fetch was not run again
    assert reply.variables == {"team": "blue"}  # the conversation's variables came along
    events = await history2.load("c1")
    assert list(reply.events) == events
    assert kinds(events).count(RunStarted) == 1
    run_ids = {e.run_id for e in events if isinstance(e, RunStarted | RunFinished)}
    assert run_ids == {suspended.run_id} == {reply.run_id}
    assert HumanMessage("go ahead", request.request_id, True) in events
    assert_valid_history(events)
    # the model's next call saw both results, answered in the suspended turn
    seen = list(model2.requests[0].messages)
    results = [e for e in seen if isinstance(e, ToolCallResult)]
    assert sorted(r.content for r in results) == ["build 42", "deployed to prod"]
    # usage covers the whole ask, both sides of the suspension
    assert reply.usage.requests == 2
    assert reply.usage.tool_calls == 2
    # the suspension was used up
    assert await load_run_state(storage2, "c1") is None
    with pytest.raises(NotSuspended):
        await agent2.resume("c1", HumanMessage("again", request.request_id, True))


@pytest.mark.parametrize("envs", [("prod",), ("prod", "dev")])
async def test_a_pause_names_the_call_of_each_request_whether_one_call_or_several_ran(
    envs: tuple[str, ...],
) -> None:
    """One call runs on its own path, several in a task group: either way the suspension and
    the saved state say which call asked each request, and resuming runs each call once."""
    counter = Counter()
    history, storage = MemoryHistory(), MemoryStorage()
    model = ScriptedModel([call("deploy", env=env) for env in envs])
    with pytest.raises(AskSuspended) as raised:
        await ops_agent(model, counter, history, storage).ask("ship", conversation_id="c1")

    suspended = raised.value
    response = next(e for e in await history.load("c1") if isinstance(e, ModelResponse))
    by_call = {
        r.call.id: r.request_id for r in suspended.requests if isinstance(r, ApprovalRequest)
    }
    assert sorted(by_call) == sorted(c.id for c in response.tool_calls)
    assert [by_call[c] for c in suspended.asked_in] == list(suspended.request_ids)
    saved = await load_run_state(storage, "c1")
    assert saved is not None and saved.asked_in == suspended.asked_in
    assert counter.calls == {}

    answers = [HumanMessage(request_id=rid, approved=True) for rid in suspended.request_ids]
    reply = await ops_agent(ScriptedModel("Shipped."), counter, history, storage).resume(
        "c1", *answers
    )
    assert reply.text == "Shipped."
    assert counter.calls == {"deploy": len(envs)}
    assert_valid_history(reply.events)


async def test_resume_with_a_denial_tells_the_model_and_runs_nothing() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)
    model = ScriptedModel("Not deployed.")
    agent = ops_agent(model, counter, history, storage)

    reply = await agent.resume(
        "c1", HumanMessage("freeze week", request_id=suspended.request_id, approved=False)
    )

    assert reply.text == "Not deployed."
    assert counter.calls == {"fetch": 1}
    error = result_of(reply.events, "deploy")
    assert isinstance(error, ToolCallError)
    assert error.message == "The user denied this call: freeze week"
    assert_valid_history(reply.events)


async def test_a_suspended_conversation_refuses_new_asks_until_resumed() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)
    agent = ops_agent(ScriptedModel("Deployed.", "Hello again."), counter, history, storage)

    with pytest.raises(ConversationBusy) as busy:
        await agent.ask("something else", conversation_id="c1")
    assert "agent.resume" in str(busy.value)
    assert suspended.request_id in str(busy.value)

    await agent.resume("c1", HumanMessage(request_id=suspended.request_id, approved=True))
    reply = await agent.ask("something else", conversation_id="c1")
    assert reply.text == "Hello again."
    assert_valid_history(reply.events)


async def test_a_paused_ask_is_found_from_the_stored_data_alone() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)
    history2, storage2 = await copy_elsewhere(history, storage)  # another process
    agent = ops_agent(ScriptedModel("Deployed.", "Hi."), counter, history2, storage2)

    paused = await agent.paused("c1")
    assert paused is not None and paused.run_id == suspended.run_id
    [request] = paused.requests
    assert request.request_id == suspended.request_id and request.call.name == "deploy"
    assert await agent.paused("elsewhere") is None  # nothing stored there

    await agent.resume("c1", HumanMessage(request_id=request.request_id, approved=True))
    assert await agent.paused("c1") is None  # resumed and finished
    assert counter.calls == {"fetch": 1, "deploy": 1}
    assert await Agent("bare", config=ScriptedModel("x")).paused("c1") is None  # no store


async def test_resume_without_answers_asks_again_and_may_suspend_again() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)
    agent = ops_agent(ScriptedModel("Deployed."), counter, history, storage)

    with pytest.raises(AskSuspended) as again:
        await agent.resume("c1")
    assert again.value.request_ids == suspended.request_ids
    assert counter.calls == {"fetch": 1}

    hooked = ops_agent(
        ScriptedModel("Deployed."), counter, history, storage, hitl=lambda r, c: True
    )
    reply = await hooked.resume("c1")
    assert reply.text == "Deployed."
    assert counter.calls == {"fetch": 1, "deploy": 1}
    assert_valid_history(reply.events)


async def test_a_call_asking_twice_finishes_after_two_resumes_each_answer_recorded_once() -> None:
    """A tool asks a question, then for an approval, with the ask suspending on humans: it
    pauses at the question, runs again from its start when resumed (the question takes its
    answer) and pauses at the approval; resumed again, in another process, both requests take
    their own answers and the call runs once. (It used to ask the question again at every
    resume, forever.)"""
    shipped: list[str] = []

    @tool
    async def ship(context: Context) -> str:
        """Ship a service."""
        name = await context.input("Which service?")
        if not await context.approve(f"Ship {name}?"):
            return "not shipped"
        shipped.append(name)
        return f"shipped {name}"

    history, storage = MemoryHistory(), MemoryStorage()

    def shipper(*turns: Any) -> Agent[str]:
        return Agent(
            "ops",
            config=ScriptedModel(*turns),
            tools=[ship],
            history=history,
            storage=storage,
            suspend_on_human=True,
        )

    with pytest.raises(AskSuspended) as first:
        await shipper(call("ship")).ask("go", conversation_id="c-twice")
    [question] = first.value.requests
    assert isinstance(question, HumanInputRequest)
    with pytest.raises(AskSuspended) as second:
        await shipper().resume("c-twice", HumanMessage("billing", question.request_id))
    [approval] = second.value.requests
    assert isinstance(approval, ApprovalRequest) and approval.call.name == "ship"
    history, storage = await copy_elsewhere(history, storage)  # another process
    reply = await shipper("Shipped.").resume(
        "c-twice", HumanMessage("ok", approval.request_id, approved=True)
    )
    assert reply.text == "Shipped." and shipped == ["billing"]
    events = list(reply.events)
    assert_valid_history(events)
    assert [e.content for e in events if isinstance(e, ToolCallResult)] == ["shipped billing"]
    asked = [e.request_id for e in events if isinstance(e, HumanInputRequest | ApprovalRequest)]
    answered = [e.request_id for e in events if isinstance(e, HumanMessage) and e.request_id]
    assert asked == answered == [question.request_id, approval.request_id]


async def test_two_suspending_approval_policies_on_one_call_each_ask_once() -> None:
    history, storage = MemoryHistory(), MemoryStorage()
    counter = Counter()
    agent = Agent(
        "ops",
        config=ScriptedModel(call("deploy", env="prod"), "Deployed."),
        tools=deploy_tools(counter),
        middleware=[ApprovalPolicy(suspend=True), ApprovalPolicy(lambda c: True, suspend=True)],
        history=history,
        storage=storage,
    )
    with pytest.raises(AskSuspended) as first:
        await agent.ask("ship", conversation_id="c-two")
    with pytest.raises(AskSuspended) as second:  # the second policy's turn to ask
        await agent.resume("c-two", HumanMessage("yes", first.value.request_id, approved=True))
    assert second.value.request_id != first.value.request_id
    reply = await agent.resume(
        "c-two", HumanMessage("yes too", second.value.request_id, approved=True)
    )
    assert reply.text == "Deployed." and counter.calls == {"deploy": 1}
    assert_valid_history(reply.events)
    assert len([e for e in reply.events if isinstance(e, ApprovalRequest)]) == 2


async def test_resume_rejects_answers_to_unknown_requests_and_unsuspended_conversations() -> None:
    counter = Counter()
    suspended, history, storage = await suspend_deploy(counter)
    agent = ops_agent(ScriptedModel("x"), counter, history, storage)

    with pytest.raises(ConfigError, match=suspended.request_id):
        await agent.resume("c1", HumanMessage(request_id="nope", approved=True))
    with pytest.raises(NotSuspended):
        await agent.resume("other", HumanMessage(request_id="nope", approved=True))
    with pytest.raises(ConfigError, match="storage="):
        await Agent("ops", config=ScriptedModel("x")).resume("c1")


async def test_suspending_needs_a_history_and_a_storage() -> None:
    counter = Counter()
    agent = Agent(
        "ops",
        config=ScriptedModel(call("deploy", env="x"), "done"),
        tools=deploy_tools(counter),
        middleware=[ApprovalPolicy(suspend=True)],
    )
    with pytest.raises(ConfigError, match="history= and storage="):
        await agent.ask("go")
    assert counter.calls == {}


async def test_suspend_waits_for_an_answer_on_the_stream_up_to_its_timeout() -> None:
    counter = Counter()
    history, storage = MemoryHistory(), MemoryStorage()
    stream = MemoryStream()

    async def approve(request: ApprovalRequest) -> None:
        await stream.send(HumanMessage(request_id=request.request_id, approved=True))

    stream.where(ApprovalRequest).subscribe(approve)
    model = ScriptedModel(call("deploy", env="prod"), "done")
    agent = Agent(
        "ops",
        config=model,
        tools=deploy_tools(counter),
        middleware=[ApprovalPolicy(suspend=True, timeout=5)],
        history=history,
        storage=storage,
    )
    reply = await agent.ask("go", stream=stream)

    assert reply.text == "done"
    assert counter.calls == {"deploy": 1}
    assert await storage.keys() == []


async def test_suspension_waits_for_calls_in_flight_and_resume_runs_calls_never_started() -> None:
    counter = Counter()
    history, storage = MemoryHistory(), MemoryStorage()
    stream = MemoryStream()
    released = asyncio.Event()
    # the build is released only once the approval is asked: it finishes after deploy parks
    stream.where(ApprovalRequest).subscribe(lambda request: released.set())

    @tool
    async def build() -> str:
        """Build."""
        await released.wait()
        counter.hit("build")
        return "built"

    @tool(sequential=True)
    def notify() -> str:
        """Tell the team (runs alone, after the others)."""
        counter.hit("notify")
        return "notified"

    def agent_with(model: ScriptedModel) -> Agent:
        return Agent(
            "ops",
            config=model,
            tools=[*deploy_tools(counter), build, notify],
            middleware=[ApprovalPolicy(suspend=True)],
            history=history,
            storage=storage,
        )

    first = ScriptedModel([call("deploy", env="prod"), call("build"), call("notify")])
    with pytest.raises(AskSuspended) as suspended:
        await agent_with(first).ask("release", conversation_id="c2", stream=stream)

    assert counter.calls == {"build": 1}
    saved = await load_run_state(storage, "c2")
    assert saved is not None
    response = next(e for e in await history.load("c2") if isinstance(e, ModelResponse))
    names = {c.id: c.name for c in response.tool_calls}
    assert [names[o.call_id] for o in saved.finished] == ["build"]
    assert [names[i] for i in saved.pending] == ["deploy", "notify"]

    reply = await agent_with(ScriptedModel("Released.")).resume(
        "c2", HumanMessage(request_id=suspended.value.request_id, approved=True)
    )

    assert reply.text == "Released."
    assert counter.calls == {"build": 1, "deploy": 1, "notify": 1}
    assert_valid_history(reply.events)


async def test_cancelling_an_ask_that_waits_for_a_human_stops_listening() -> None:
    stream = MemoryStream()
    before = stream.subscriber_count
    asked = stream.where(HumanInputRequest).next(timeout=10)
    agent = Agent("a", config=ScriptedModel(call("ask_city"), "done"), tools=[ask_city])

    task = asyncio.create_task(agent.ask("weather?", stream=stream))
    request = await asked
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert stream.subscriber_count == before
    # an answer arriving now is ignored
    await stream.send(HumanMessage("too late", request_id=request.request_id))


async def test_always_allow_approves_the_tool_for_the_rest_of_the_conversation(tmp_path: Any):
    """Issue 11, point 17: ``Approval(True, always=True)`` (or ``HumanMessage(approved=True,
    always=True)``) approves that tool for the conversation's later calls and asks, also when
    it is continued from the store by another history object; other conversations still ask."""
    from baton.backends.sql import SQLHistory, SQLStorage

    counter = Counter()
    asked: list[str] = []

    def hook(request: Any, context: Context) -> Any:
        asked.append(request.call.name)
        return Approval(True, always=True)

    url = f"sqlite:///{tmp_path / 'always.db'}"
    async with SQLHistory(url) as history, SQLStorage(url) as storage:
        agent = Agent(
            "ops", tools=deploy_tools(counter), hitl=hook, history=history, storage=storage
        )
        script = ScriptedModel(call("deploy", env="a"), call("deploy", env="b"), "done")
        await agent.ask("ship", config=script, conversation_id="c1")
        assert counter["deploy"] == 2 and asked == ["deploy"]
    async with SQLHistory(url) as history, SQLStorage(url) as storage:
        later = Agent(
            "ops", tools=deploy_tools(counter), hitl=hook, history=history, storage=storage
        )
        await later.ask(
            "again", config=ScriptedModel(call("deploy", env="c"), "ok"), conversation_id="c1"
        )
        assert counter["deploy"] == 3 and asked == ["deploy"]  # not asked again
        await later.ask(
            "other", config=ScriptedModel(call("deploy", env="d"), "ok"), conversation_id="c2"
        )
        assert counter["deploy"] == 4 and asked == ["deploy", "deploy"]  # a new conversation asks


async def test_a_wait_nobody_can_answer_is_reported_at_once(caplog: pytest.LogCaptureFixture):
    """Issue 11, point 16: no handler, no parent, nobody watching the stream: the wait is
    recorded as UnattendedRequest and logged as a warning when it starts (not when it ends)."""

    @tool
    async def ask_fast(context: Context) -> str:
        """Ask quickly."""
        return await context.input("Which city?", timeout=0.01)

    agent = Agent("a", config=ScriptedModel(call("ask_fast"), "nobody answered"), tools=[ask_fast])
    with caplog.at_level(logging.WARNING, logger="baton.humans"):
        reply = await agent.ask("weather?")
    kinds = [type(e).__name__ for e in reply.events]
    assert (
        kinds.index("HumanInputRequest")
        < kinds.index("UnattendedRequest")
        < kinds.index("ToolCallError")
    )
    [unattended] = [e for e in reply.events if isinstance(e, UnattendedRequest)]
    assert "Agent(hitl=...)" in unattended.message and "nobody watches" in unattended.message
    assert "nobody watches its stream" in caplog.text


async def test_a_watched_or_handled_wait_is_not_reported_as_unattended() -> None:
    stream = MemoryStream()

    async def answer(event: Event) -> None:
        if isinstance(event, HumanInputRequest):
            await stream.send(HumanMessage("Paris", request_id=event.request_id))

    stream.subscribe(answer)
    watched = await Agent("a", config=ScriptedModel(call("ask_city"), "ok"), tools=[ask_city]).ask(
        "go", stream=stream
    )
    handled = await Agent(
        "a",
        config=ScriptedModel(call("ask_city"), "ok"),
        tools=[ask_city],
        hitl=lambda request, context: "Rome",
    ).ask("go")
    for reply in (watched, handled):
        assert not any(isinstance(e, UnattendedRequest) for e in reply.events)
        assert result_of(reply.events, "ask_city").content in ("Paris", "Rome")
