"""Injection into tools and dynamic prompts: Context, ToolCall, Inject, Variable, Depends."""

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import pytest

from baton import (
    Agent,
    ConfigError,
    Context,
    Depends,
    Inject,
    ModelRequest,
    ModelResponse,
    Text,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Variable,
    tool,
)
from baton.errors import MissingDependency, ToolDefinitionError
from baton.events import Event, RunFailed, register
from baton.testing import ScriptedModel, call


class Database:
    def __init__(self, name: str) -> None:
        self.name = name


class Cache:
    pass


@register
@dataclass(frozen=True, slots=True)
class ProgressNote(Event):
    """A custom event a tool publishes through its context."""

    text: str
    transient: ClassVar[bool] = False


def outcomes(reply: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]


def results(reply: Any) -> list[str]:
    found = outcomes(reply)
    assert all(isinstance(o, ToolCallResult) for o in found), found
    return [o.content for o in found]


async def run_one(tool_obj: Any, agent_kwargs: dict[str, Any] | None = None, **ask: Any) -> Any:
    model = ScriptedModel(call(tool_obj.name), "done")
    agent = Agent("a", config=model, tools=[tool_obj], **(agent_kwargs or {}))
    reply = await agent.ask("go", **ask)
    assert reply.text == "done"
    return reply


# --------------------------------------------------------------------------- Context


async def test_context_exposes_ids_variables_events_and_usage():
    seen: dict[str, Any] = {}

    @tool
    def inspect_ctx(context: Context) -> str:
        seen["conversation_id"] = context.conversation_id
        seen["run_id"] = context.run_id
        seen["agent_name"] = context.agent_name
        seen["variables"] = dict(context.variables)
        seen["events"] = list(context.events)
        seen["usage"] = context.usage
        return "ok"

    model = ScriptedModel(call("inspect_ctx"), "done")
    agent = Agent("inspector", config=model, tools=[inspect_ctx], variables={"lang": "en"})
    reply = await agent.ask("hello there")

    assert seen["conversation_id"] == reply.conversation_id
    assert seen["run_id"] == reply.run_id
    assert seen["agent_name"] == "inspector"
    assert seen["variables"] == {"lang": "en"}
    requests = [e for e in seen["events"] if isinstance(e, ModelRequest)]
    assert requests[-1].parts == (Text("hello there"),)
    responses = [e for e in seen["events"] if isinstance(e, ModelResponse)]
    assert responses[-1].tool_calls[0].name == "inspect_ctx"
    # One model call so far, which asked for one tool call.
    assert seen["usage"].requests == 1
    assert seen["usage"].tool_calls == 1
    assert reply.usage.requests == 2


async def test_context_param_can_have_any_name_and_position():
    seen: list[Any] = []

    @tool
    def f(ctx: Context, a: int) -> int:
        seen.append(ctx)
        return a

    model = ScriptedModel(call("f", a=3), "done")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    assert results(reply) == ["3"]
    assert isinstance(seen[0], Context)
    assert seen[0].conversation_id == reply.conversation_id


async def test_context_run_id_changes_per_ask_but_conversation_id_stays():
    seen: list[tuple[str, str]] = []

    @tool
    def f(context: Context) -> str:
        seen.append((context.conversation_id, context.run_id))
        return "ok"

    model = ScriptedModel(call("f"), "one", call("f"), "two")
    agent = Agent("a", config=model, tools=[f])
    first = await agent.ask("1")
    second = await first.ask("2")
    assert seen[0][0] == seen[1][0] == first.conversation_id == second.conversation_id
    assert seen[0][1] == first.run_id
    assert seen[1][1] == second.run_id
    assert first.run_id != second.run_id


async def test_context_emit_records_an_event_in_causal_order():
    @tool
    async def work(context: Context) -> str:
        await context.emit(ProgressNote("halfway"))
        return "finished"

    model = ScriptedModel(call("work"), "done")
    reply = await Agent("a", config=model, tools=[work]).ask("go")
    events = list(reply.events)
    kinds = [type(e) for e in events]
    note_at = kinds.index(ProgressNote)
    assert events[note_at] == ProgressNote("halfway")
    response_at = kinds.index(ModelResponse)
    result_at = kinds.index(ToolCallResult)
    assert response_at < note_at < result_at
    # The model sees it on the next call too: it is part of the conversation.
    assert ProgressNote("halfway") in list(model.requests[1].messages)


async def test_context_usage_grows_across_model_calls():
    seen: list[int] = []

    @tool
    def f(context: Context) -> str:
        seen.append(context.usage.requests)
        return "ok"

    model = ScriptedModel(call("f"), call("f"), "done")
    await Agent("a", config=model, tools=[f]).ask("go")
    assert seen == [1, 2]


# --------------------------------------------------------------------------- ToolCall


async def test_tool_call_param_receives_the_call():
    seen: list[ToolCall] = []

    @tool
    def f(a: int, this_call: ToolCall) -> int:
        seen.append(this_call)
        return a

    model = ScriptedModel(call("f", a=7), "done")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    [result] = outcomes(reply)
    assert isinstance(seen[0], ToolCall)
    assert seen[0].name == "f"
    assert seen[0].id == result.call_id
    assert seen[0].arguments == '{"a":7}'
    assert "this_call" not in f.parameters["properties"]


# --------------------------------------------------------------------------- Inject


async def test_inject_by_name_annotated_form():
    db = Database("main")

    @tool
    def f(conn: Annotated[Database, Inject("db")]) -> str:
        return conn.name

    reply = await run_one(f, {"dependencies": {"db": db}})
    assert results(reply) == ["main"]


async def test_inject_by_name_default_form():
    db = Database("main")

    @tool
    def f(conn: Database = Inject("db")) -> str:
        return conn.name

    reply = await run_one(f, {"dependencies": {"db": db}})
    assert results(reply) == ["main"]


async def test_inject_by_type_key_both_forms():
    db = Database("typed")

    @tool
    def f(a: Annotated[Any, Inject(Database)], b: Any = Inject(Database)) -> str:
        assert a is b
        return a.name

    reply = await run_one(f, {"dependencies": {Database: db}})
    assert results(reply) == ["typed"]


async def test_inject_without_key_uses_the_type_annotated_form():
    db = Database("by-type")

    @tool
    def f(conn: Annotated[Database, Inject()]) -> str:
        return conn.name

    reply = await run_one(f, {"dependencies": {Database: db}})
    assert results(reply) == ["by-type"]


async def test_inject_without_key_uses_the_type_default_form():
    db = Database("by-type")

    @tool
    def f(conn: Database = Inject()) -> str:
        return conn.name

    reply = await run_one(f, {"dependencies": {Database: db}})
    assert results(reply) == ["by-type"]


async def test_inject_without_key_falls_back_to_the_param_name():
    db = Database("by-name")

    @tool
    def f(conn: Annotated[Database, Inject()], cache: Cache = Inject()) -> str:
        assert isinstance(cache, Cache)
        return conn.name

    reply = await run_one(f, {"dependencies": {"conn": db, "cache": Cache()}})
    assert results(reply) == ["by-name"]


async def test_inject_without_key_prefers_the_type_over_the_name():
    @tool
    def f(conn: Database = Inject()) -> str:
        return conn.name

    deps = {"conn": Database("by-name"), Database: Database("by-type")}
    reply = await run_one(f, {"dependencies": deps})
    assert results(reply) == ["by-type"]


async def test_injected_values_are_the_same_objects():
    db = Database("x")
    seen: list[Any] = []

    @tool
    def f(conn: Database = Inject("db")) -> str:
        seen.append(conn)
        return "ok"

    await run_one(f, {"dependencies": {"db": db}})
    assert seen[0] is db


# --------------------------------------------------------------------------- missing deps


async def test_missing_dependency_is_raised_from_ask_with_a_helpful_message():
    @tool
    def f(conn: Database = Inject("db")) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel(call("f"), "done")
    agent = Agent("a", config=model, tools=[f])
    with pytest.raises(MissingDependency) as info:
        await agent.ask("go")
    assert isinstance(info.value, ConfigError)
    message = str(info.value)
    assert "'conn'" in message
    assert "'db'" in message
    assert "dependencies=" in message
    # The model was not asked again after the failure.
    assert model.calls_made == 1


async def test_missing_dependency_by_type_names_the_type_and_param():
    @tool
    def f(conn: Database = Inject()) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel(call("f"), "done")
    with pytest.raises(MissingDependency) as info:
        await Agent("a", config=model, tools=[f]).ask("go")
    message = str(info.value)
    assert "conn" in message
    assert "Database" in message
    assert "dependencies=" in message


async def test_missing_dependency_in_parallel_calls_is_not_an_exception_group():
    @tool
    def f(conn: Database = Inject("db")) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel([call("f"), call("f")], "done")
    with pytest.raises(MissingDependency):
        await Agent("a", config=model, tools=[f]).ask("go")


async def test_failed_ask_leaves_every_call_answered_and_a_run_failed_event():
    @tool
    def f(conn: Database = Inject("db")) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel(call("f"), "done")
    agent = Agent("a", config=model, tools=[f])
    seen: list[Event] = []
    async with agent.run("go") as run:
        async for event in run:
            seen.append(event)
        with pytest.raises(MissingDependency):
            await run.result()
    [response] = [e for e in seen if isinstance(e, ModelResponse)]
    [answer] = [e for e in seen if isinstance(e, ToolCallError)]
    assert answer.call_id == response.tool_calls[0].id
    assert isinstance(seen[-1], RunFailed)
    assert seen[-1].error_type == "MissingDependency"


# --------------------------------------------------------------------------- Variable


async def test_variable_by_name_both_forms():
    @tool
    def f(a: Annotated[str, Variable("user")], b: str = Variable("user")) -> str:
        return f"{a}/{b}"

    reply = await run_one(f, variables={"user": "ann"})
    assert results(reply) == ["ann/ann"]


async def test_variable_without_name_uses_the_param_name():
    @tool
    def f(user: str = Variable(), tenant: Annotated[str, Variable()] = "") -> str:
        return f"{user}@{tenant}"

    reply = await run_one(f, variables={"user": "ann", "tenant": "acme"})
    assert results(reply) == ["ann@acme"]


async def test_variable_default_when_unset_and_value_when_set():
    @tool
    def f(lang: str = Variable(default="en")) -> str:
        return lang

    assert results(await run_one(f)) == ["en"]
    assert results(await run_one(f, variables={"lang": "fr"})) == ["fr"]
    assert results(await run_one(f, {"variables": {"lang": "de"}})) == ["de"]


async def test_missing_variable_without_default_is_raised_from_ask():
    @tool
    def f(user: str = Variable("user_id")) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel(call("f"), "done")
    with pytest.raises(MissingDependency) as info:
        await Agent("a", config=model, tools=[f]).ask("go")
    message = str(info.value)
    assert "'user_id'" in message
    assert "variables=" in message


async def test_variables_persist_across_asks_of_one_conversation():
    @tool
    def remember(fact: str, context: Context) -> str:
        context.variables["fact"] = fact
        return "saved"

    @tool
    def recall(fact: str = Variable(default="nothing")) -> str:
        return fact

    model = ScriptedModel(call("remember", fact="sky is blue"), "ok", call("recall"), "ok")
    agent = Agent("a", config=model, tools=[remember, recall])
    first = await agent.ask("remember this")
    assert first.variables["fact"] == "sky is blue"
    second = await first.ask("what did I say?")
    assert results(second)[-1] == "sky is blue"


async def test_variables_do_not_leak_into_a_new_conversation():
    @tool
    def remember(context: Context) -> str:
        context.variables["fact"] = "secret"
        return "saved"

    @tool
    def recall(fact: str = Variable(default="nothing")) -> str:
        return fact

    model = ScriptedModel(call("remember"), "ok", call("recall"), "ok")
    agent = Agent("a", config=model, tools=[remember, recall], variables={"base": 1})
    await agent.ask("remember this")
    fresh = await agent.ask("new conversation")
    assert results(fresh) == ["nothing"]
    assert agent.variables == {"base": 1}
    assert fresh.variables == {"base": 1}


async def test_per_ask_variables_merge_with_the_agents():
    seen: list[dict[str, Any]] = []

    @tool
    def f(context: Context) -> str:
        seen.append(dict(context.variables))
        return "ok"

    model = ScriptedModel(call("f"), "ok", call("f"), "ok", repeat=True)
    agent = Agent("a", config=model, tools=[f], variables={"a": 1, "b": 1})
    await agent.ask("go", variables={"b": 2, "c": 3})
    await agent.ask("go again")
    assert seen[0] == {"a": 1, "b": 2, "c": 3}
    assert seen[1] == {"a": 1, "b": 1}  # the agent's own variables were not changed


async def test_per_ask_variables_add_to_the_conversations():
    seen: list[dict[str, Any]] = []

    @tool
    def f(context: Context) -> str:
        seen.append(dict(context.variables))
        return "ok"

    model = ScriptedModel(call("f"), "ok", call("f"), "ok")
    agent = Agent("a", config=model, tools=[f])
    first = await agent.ask("go", variables={"x": 1})
    await first.ask("more", variables={"y": 2})
    assert seen == [{"x": 1}, {"x": 1, "y": 2}]


# --------------------------------------------------------------------------- dependencies


async def test_per_ask_dependencies_merge_with_the_agents():
    seen: list[tuple[str, str]] = []

    @tool
    def f(db: Database = Inject("db"), other: Database = Inject("other")) -> str:
        seen.append((db.name, other.name))
        return "ok"

    model = ScriptedModel(call("f"), "ok", repeat=True)
    agent = Agent(
        "a",
        config=model,
        tools=[f],
        dependencies={"db": Database("agent-db"), "other": Database("agent-other")},
    )
    await agent.ask("go", dependencies={"other": Database("ask-other")})
    await agent.ask("go")
    assert seen == [("agent-db", "ask-other"), ("agent-db", "agent-other")]


async def test_per_ask_dependency_fills_what_the_agent_lacks():
    @tool
    def f(db: Database = Inject("db"), cache: Cache = Inject()) -> str:
        assert isinstance(cache, Cache)
        return db.name

    reply = await run_one(
        f, {"dependencies": {Cache: Cache()}}, dependencies={"db": Database("ask")}
    )
    assert results(reply) == ["ask"]


# --------------------------------------------------------------------------- Depends


async def test_depends_on_a_sync_function():
    def settings() -> dict[str, int]:
        return {"limit": 3}

    @tool
    def f(cfg: dict[str, int] = Depends(settings)) -> int:
        return cfg["limit"]

    assert "cfg" not in f.parameters["properties"]
    assert results(await run_one(f)) == ["3"]


async def test_depends_on_an_async_function_annotated_form():
    async def token() -> str:
        return "tok-123"

    @tool
    async def f(tok: Annotated[str, Depends(token)]) -> str:
        return tok

    assert results(await run_one(f)) == ["tok-123"]


async def test_depends_function_gets_its_own_injections():
    def connection(
        context: Context,
        db: Database = Inject("db"),
        user: str = Variable("user"),
    ) -> str:
        return f"{db.name}:{user}:{context.agent_name}"

    @tool
    def f(conn: str = Depends(connection)) -> str:
        return conn

    reply = await run_one(f, {"dependencies": {"db": Database("pg")}}, variables={"user": "ann"})
    assert results(reply) == ["pg:ann:a"]


async def test_nested_depends():
    def base() -> int:
        return 2

    async def doubled(x: int = Depends(base)) -> int:
        return x * 2

    def squared(y: Annotated[int, Depends(doubled)]) -> int:
        return y * y

    @tool
    def f(value: int = Depends(squared)) -> int:
        return value

    assert results(await run_one(f)) == ["16"]


async def test_depends_is_computed_once_per_call_when_used_twice():
    calls: list[int] = []

    def session() -> object:
        calls.append(1)
        return object()

    def repo(s: object = Depends(session)) -> object:
        return s

    @tool
    def f(a: object = Depends(session), b: object = Depends(session), r: object = Depends(repo)):
        assert a is b is r
        return "same"

    model = ScriptedModel(call("f"), call("f"), "done")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    assert results(reply) == ["same", "same"]
    # Once per tool call, not once per parameter (and not cached across calls).
    assert len(calls) == 2


async def test_depends_function_sees_the_tool_call():
    def call_id(c: ToolCall) -> str:
        return c.id

    @tool
    def f(cid: str = Depends(call_id)) -> str:
        return cid

    reply = await run_one(f)
    [result] = outcomes(reply)
    assert result.content == result.call_id


def test_depends_function_with_a_model_param_is_rejected():
    def needs_input(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError) as info:

        @tool
        def f(v: int = Depends(needs_input)) -> int:
            return v

    assert "'x'" in str(info.value)


async def test_missing_dependency_inside_depends_is_raised_from_ask():
    def connection(db: Database = Inject("db")) -> str:
        return db.name

    @tool
    def f(conn: str = Depends(connection)) -> str:
        return conn

    model = ScriptedModel(call("f"), "done")
    with pytest.raises(MissingDependency, match="dependencies="):
        await Agent("a", config=model, tools=[f]).ask("go")


def test_depends_requires_a_callable():
    with pytest.raises(TypeError):
        Depends(42)


# --------------------------------------------------------------------------- dynamic prompts


async def test_dynamic_prompt_is_re_evaluated_before_every_model_call():
    def prompt(context: Context, name: str = Variable("name", default="stranger")) -> str:
        return f"turn {context.turn}; user is {name}"

    @tool
    def set_name(name: str, context: Context) -> str:
        context.variables["name"] = name
        return "ok"

    model = ScriptedModel(call("set_name", name="Bob"), "done")
    reply = await Agent("a", prompt=prompt, config=model, tools=[set_name]).ask("go")
    assert reply.text == "done"
    assert model.requests[0].instructions == "turn 0; user is stranger"
    assert model.requests[1].instructions == "turn 1; user is Bob"


async def test_async_dynamic_prompt_with_inject_and_variables():
    async def prompt(db: Database = Inject("db"), lang: str = Variable("lang")) -> str:
        return f"db={db.name} lang={lang}"

    model = ScriptedModel("one", "two")
    agent = Agent("a", prompt=prompt, config=model, dependencies={"db": Database("pg")})
    first = await agent.ask("go", variables={"lang": "en"})
    await first.ask("again", variables={"lang": "fr"})
    assert model.requests[0].instructions == "db=pg lang=en"
    assert model.requests[1].instructions == "db=pg lang=fr"


async def test_dynamic_prompt_sees_the_conversation_events():
    def prompt(context: Context) -> str:
        return f"{len(context.events)} events"

    @tool
    def noop() -> str:
        return "ok"

    model = ScriptedModel(call("noop"), "done")
    await Agent("a", prompt=prompt, config=model, tools=[noop]).ask("go")
    first, second = (int(r.instructions.split()[0]) for r in model.requests)
    assert second > first


async def test_dynamic_prompt_missing_variable_is_raised_from_ask():
    def prompt(user: str = Variable("user")) -> str:
        return user

    model = ScriptedModel("never")
    with pytest.raises(MissingDependency, match="'user'"):
        await Agent("a", prompt=prompt, config=model).ask("go")
    assert model.calls_made == 0


def test_prompt_function_with_a_non_injected_param_is_rejected():
    def prompt(topic: str) -> str:
        return topic

    with pytest.raises(ToolDefinitionError, match="'topic'"):
        Agent("a", prompt=prompt, config=ScriptedModel("x"))


# --------------------------------------------------------------------------- optional dependencies


async def test_a_missing_optional_dependency_is_its_default():
    """Issue 11, point 2: Inject(default=...), default_factory=..., or the parameter's own
    default make a dependency optional; the ask goes on without it."""

    @tool
    def f(
        cache: Annotated[dict[str, int] | None, Inject("cache")] = None,
        limit: int = Inject("limit", default=5),
        seen: list[str] = Inject("seen", default_factory=list),
    ) -> str:
        seen.append("x")
        return f"{cache}:{limit}:{seen}"

    assert results(await run_one(f)) == ["None:5:['x']"]
    given = {"dependencies": {"cache": {"a": 1}, "limit": 9, "seen": ["y"]}}
    assert results(await run_one(f, given)) == ["{'a': 1}:9:['y', 'x']"]


def test_inject_takes_a_default_or_a_factory_not_both():
    with pytest.raises(TypeError, match="not both"):
        Inject("k", default=1, default_factory=dict)


# --------------------------------------------------------------------------- generator dependencies


async def test_a_generator_dependency_yields_its_value_and_cleans_up_after_the_call():
    """Issue 11, point 3: the value is what the generator yields; the code after ``yield`` runs
    when the tool call ends, with the tool's error raised at the ``yield`` when it fails."""
    log: list[str] = []

    def connection() -> Iterator[str]:
        log.append("open")
        try:
            yield "conn-1"
        except RuntimeError as exc:
            log.append(f"failed: {exc}")
            raise
        finally:
            log.append("close")

    async def session(conn: str = Depends(connection)) -> AsyncIterator[str]:
        log.append("begin")
        yield f"session on {conn}"
        log.append("end")

    @tool
    def use(s: str = Depends(session)) -> str:
        log.append(f"use {s}")
        return s

    @tool
    def boom(conn: str = Depends(connection)) -> str:
        raise RuntimeError("disk full")

    assert results(await run_one(use)) == ["session on conn-1"]
    assert log == ["open", "begin", "use session on conn-1", "end", "close"]
    log.clear()
    reply = await run_one(boom)
    [error] = outcomes(reply)
    assert isinstance(error, ToolCallError) and "disk full" in error.message
    assert log == ["open", "failed: disk full", "close"]


async def test_generator_dependencies_of_instructions_and_output_functions_clean_up():
    log: list[str] = []

    async def user() -> AsyncIterator[str]:
        log.append("open")
        yield "ann"
        log.append("close")

    def prompt(name: str = Depends(user)) -> str:
        log.append("render")
        return f"Help {name}."

    model = ScriptedModel("hi")
    await Agent("a", prompt, config=model).ask("go")
    assert model.requests[0].instructions == "Help ann."
    assert log == ["open", "render", "close"]
