"""Behaviour of ScriptedModel, the network-free model used to test agents."""

import asyncio
from dataclasses import replace

import pytest

from baton import (
    Agent,
    Event,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    Text,
    TextChunk,
    ToolCallError,
    ToolCallResult,
    Usage,
    tool,
)
from baton.errors import (
    BatonError,
    ConfigError,
    ProviderUnavailable,
    RateLimited,
    ScriptExhausted,
)
from baton.events import (
    CompactionSummary,
    Data,
    HumanMessage,
    Image,
    OutputRejected,
    ReasoningChunk,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallDelta,
    UsageReport,
)
from baton.history import HistoryView
from baton.models.base import ModelCall
from baton.testing import ScriptedModel, call, chunks, reasoning


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def agent_with(*turns, tools=(add, mul), **model_options):
    model = ScriptedModel(*turns, **model_options)
    return Agent("scripted", config=model, tools=tools), model


# -- turn kinds -----------------------------------------------------------------------------------


async def test_string_turns_play_in_order():
    agent, model = agent_with("first", "second")
    one = await agent.ask("1")
    two = await agent.ask("2")
    assert (one.text, two.text) == ("first", "second")
    assert one.response.finish_reason == "stop"
    assert one.response.tool_calls == ()
    assert one.response.model == "scripted"
    assert one.response.provider == "scripted"
    assert model.remaining == 0
    assert model.calls_made == 2


async def test_call_turn_asks_for_a_tool_with_its_arguments():
    agent, model = agent_with(call("add", a=4, b=5), "nine")
    reply = await agent.ask("4 + 5")

    response = reply.events[2]
    assert isinstance(response, ModelResponse)
    assert response.finish_reason == "tool_calls"
    (tool_call,) = response.tool_calls
    assert (tool_call.name, tool_call.arguments) == ("add", '{"a":4,"b":5}')
    result = model.requests[1].messages[-1]
    assert isinstance(result, ToolCallResult)
    assert (result.call_id, result.value) == (tool_call.id, 9)


async def test_call_with_raw_arguments_reaches_the_tool_as_is():
    agent, model = agent_with(call("add", arguments='{"a": 1, "b": '), "gave up")
    reply = await agent.ask("broken")
    error = model.requests[1].messages[-1]
    assert isinstance(error, ToolCallError)
    assert error.error_type == "InvalidArguments"
    assert reply.text == "gave up"


async def test_list_of_calls_is_one_parallel_response():
    agent, model = agent_with([call("add", a=1, b=2), call("mul", a=3, b=4)], "done")
    reply = await agent.ask("both")

    response = reply.events[2]
    assert [c.name for c in response.tool_calls] == ["add", "mul"]
    assert len({c.id for c in response.tool_calls}) == 2
    results = {e.call_id: e.value for e in reply.events if isinstance(e, ToolCallResult)}
    assert results == {response.tool_calls[0].id: 3, response.tool_calls[1].id: 12}
    assert model.calls_made == 2
    assert reply.usage.tool_calls == 2


async def test_list_may_mix_text_and_calls():
    agent, _ = agent_with(["Let me check. ", call("add", a=1, b=1)], "2")
    reply = await agent.ask("1 + 1")
    assert reply.events[2].text == "Let me check. "
    assert len(reply.events[2].tool_calls) == 1


async def test_each_played_call_gets_a_fresh_id():
    again = call("add", a=1, b=1)
    agent, _ = agent_with(again, again, "done")
    reply = await agent.ask("twice")
    ids = [c.id for e in reply.events if isinstance(e, ModelResponse) for c in e.tool_calls]
    assert len(ids) == 2
    assert len(set(ids)) == 2


async def test_exception_instance_turn_is_raised():
    error = RateLimited("slow down", retry_after=2)
    agent, _ = agent_with(error)
    with pytest.raises(RateLimited) as caught:
        await agent.ask("hi")
    assert caught.value is error
    assert caught.value.retry_after == 2


async def test_exception_class_turn_is_raised():
    agent, _ = agent_with(ConnectionResetError, "recovered")
    with pytest.raises(ConnectionResetError):
        await agent.ask("hi")
    assert (await agent.ask("again")).text == "recovered"


async def test_baton_model_error_class_turn_is_raised():
    agent, _ = agent_with(ProviderUnavailable)
    with pytest.raises(ProviderUnavailable):
        await agent.ask("hi")


async def test_chunks_with_reasoning_stream_and_assemble():
    agent, _ = agent_with(chunks(reasoning("Think"), reasoning("ing."), "Hel", "lo", "!"))
    async with agent.run("hi") as run:
        streamed = [e for e in [e async for e in run] if e.transient]
        reply = await run.result()

    assert streamed == [
        ReasoningChunk("Think"),
        ReasoningChunk("ing."),
        TextChunk("Hel"),
        TextChunk("lo"),
        TextChunk("!"),
    ]
    assert reply.text == "Hello!"
    assert reply.response.reasoning == "Thinking."
    assert reply.usage.reasoning_tokens > 0
    assert reply.usage.output_tokens >= reply.usage.reasoning_tokens


async def test_chunks_may_end_with_a_tool_call():
    agent, _ = agent_with(chunks("adding", call("add", a=2, b=2)), "4")
    reply = await agent.ask("2 + 2")
    first = reply.events[2]
    assert first.text == "adding"
    assert [c.name for c in first.tool_calls] == ["add"]
    assert reply.text == "4"


async def test_a_streamed_call_emits_a_tool_call_delta_before_it_runs():
    agent, _ = agent_with(chunks("adding", call("add", a=2, b=2)), call("add", a=1, b=1), "4")
    async with agent.run("2 + 2") as run:
        events = [e async for e in run]
        reply = await run.result()
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    first, second = [e for e in events if isinstance(e, ModelResponse)][:2]
    (streamed,) = first.tool_calls
    # The chunks() call streams as one delta holding its whole arguments, after the text before
    # it and before the answer; the plain call() turn streams none.
    assert deltas == [ToolCallDelta(streamed.id, "add", streamed.arguments)]
    assert events.index(TextChunk("adding")) < events.index(deltas[0]) < events.index(first)
    assert second.tool_calls and not any(d.call_id == second.tool_calls[0].id for d in deltas)
    assert not any(isinstance(e, ToolCallDelta) for e in reply.events)  # live only
    assert reply.text == "4"


async def test_no_tool_call_delta_when_streaming_is_off():
    agent, _ = agent_with(chunks(call("add", a=2, b=2)), "4")
    async with agent.run("2 + 2", settings=ModelSettings(stream=False)) as run:
        events = [e async for e in run]
        await run.result()
    assert not any(isinstance(e, ToolCallDelta) for e in events)
    assert [e.value for e in events if isinstance(e, ToolCallResult)] == [4]


async def test_model_response_turn_is_returned_as_is():
    canned = ModelResponse(
        "canned", usage=Usage(requests=1, input_tokens=70, output_tokens=3), model="gpt-x"
    )
    agent, _ = agent_with(canned)
    reply = await agent.ask("hi")
    # the scripted model hands it over as is; the loop records which agent it answered
    assert reply.response == replace(canned, agent=agent.name)
    assert reply.text == "canned"
    assert reply.usage.input_tokens == 70
    assert reply.usage.output_tokens == 3


async def test_sync_function_turn_chooses_from_the_last_event():
    def answer(c: ModelCall):
        last = c.last
        if isinstance(last, ModelRequest):
            a, b = (int(x) for x in last.text.split("+"))
            return call("add", a=a, b=b)
        assert isinstance(last, ToolCallResult)
        return f"It is {last.content}."

    agent, model = agent_with(answer, repeat=True)
    assert (await agent.ask("2+3")).text == "It is 5."
    assert (await agent.ask("10+20")).text == "It is 30."
    assert model.calls_made == 4


async def test_async_function_turn():
    seen: list[Event | None] = []

    async def answer(c: ModelCall):
        await asyncio.sleep(0)
        seen.append(c.last)
        return [call("mul", a=6, b=7)] if len(seen) == 1 else f"got {c.last.value}"

    agent, _ = agent_with(answer, answer)
    reply = await agent.ask("6 * 7")
    assert reply.text == "got 42"
    assert isinstance(seen[0], ModelRequest)
    assert isinstance(seen[1], ToolCallResult)


async def test_function_turn_may_return_a_function_or_an_exception():
    def outer(c):
        return lambda c2: "inner answer"

    def fail(c):
        return RateLimited("from a function")

    agent, _ = agent_with(outer, fail)
    assert (await agent.ask("x")).text == "inner answer"
    with pytest.raises(RateLimited, match="from a function"):
        await agent.ask("y")


# -- script control -------------------------------------------------------------------------------


async def test_script_exhausted_has_a_helpful_message():
    agent, model = agent_with("only one", model="tiny")
    await agent.ask("1")

    with pytest.raises(ScriptExhausted) as caught:
        await agent.ask("2")

    assert isinstance(caught.value, BatonError)
    message = str(caught.value)
    assert "'tiny'" in message
    assert "called 2 times" in message
    assert "script has 1 turn;" in message  # (not "1 turns")
    assert "repeat=True" in message
    assert model.calls_made == 2  # the call was still recorded


async def test_empty_script_is_exhausted_even_with_repeat():
    agent, _ = agent_with(repeat=True)
    with pytest.raises(ScriptExhausted):
        await agent.ask("hi")


async def test_repeat_starts_over():
    agent, model = agent_with("a", "b", repeat=True)
    texts = [(await agent.ask(str(i))).text for i in range(5)]
    assert texts == ["a", "b", "a", "b", "a"]
    assert model.calls_made == 5


async def test_shared_tape_by_default():
    agent, _ = agent_with("first", "second")
    assert (await agent.ask("1")).text == "first"
    assert (await agent.ask("2")).text == "second"  # a new conversation, same tape
    with pytest.raises(ScriptExhausted):
        await agent.ask("3")


async def test_per_conversation_replays_the_script_for_each_conversation():
    agent, model = agent_with("hello", "goodbye", per_conversation=True)

    one = await agent.ask("1")
    two = await agent.ask("2")
    assert (one.text, two.text) == ("hello", "hello")

    assert (await one.ask("more")).text == "goodbye"
    two_more = await two.ask("more")
    assert two_more.text == "goodbye"
    with pytest.raises(ScriptExhausted, match="called 3 times"):
        await two_more.ask("even more")
    assert model.calls_made == 5
    assert model.remaining == 2  # the shared tape was never used


# -- recorded requests ----------------------------------------------------------------------------


async def test_requests_record_messages_tools_instructions_and_settings():
    model = ScriptedModel(call("add", a=1, b=2), "3", "extra")
    agent = Agent(
        "recorder",
        prompt="Be brief.",
        config=model,
        tools=[add],
        settings=ModelSettings(max_tokens=50, temperature=0.9),
    )

    reply = await agent.ask("1 + 2", settings=ModelSettings(temperature=0.1, seed=7))

    first, second = model.requests
    assert first.agent == "recorder"
    assert first.conversation_id == reply.conversation_id
    assert first.run_id == reply.run_id
    assert first.instructions == "Be brief."
    # messages are a snapshot of what the model saw at the time
    assert [type(e) for e in first.messages] == [RunStarted, ModelRequest]
    assert first.messages[1].parts == (Text("1 + 2"),)
    assert first.last == first.messages[1]
    assert len(second.messages) == 4
    assert isinstance(second.last, ToolCallResult)
    # tools offered
    assert first.tool_names == ["add"]
    (spec,) = first.tools
    assert spec.description == "Add two integers."
    assert spec.parameters["properties"]["a"]["type"] == "integer"
    assert sorted(spec.parameters["required"]) == ["a", "b"]
    # settings: the agent's merged with the ask's
    assert first.settings.max_tokens == 50
    assert first.settings.temperature == 0.1
    assert first.settings.seed == 7
    assert first.settings.stream is True
    assert model.last_request is second

    await agent.ask("no override")
    assert model.last_request.settings.temperature == 0.9
    assert model.last_request.settings.seed is None


async def test_per_ask_tools_are_added_to_the_agents_tools():
    model = ScriptedModel("a", "b")
    agent = Agent("tools", config=model, tools=[add])
    await agent.ask("with extra", tools=[mul])
    await agent.ask("without")
    assert sorted(model.requests[0].tool_names) == ["add", "mul"]
    assert model.requests[1].tool_names == ["add"]


async def test_record_false_keeps_no_requests():
    model = ScriptedModel("a", record=False)
    reply = await Agent("quiet", config=model).ask("hi")
    assert reply.text == "a"
    assert model.requests == []
    with pytest.raises(AssertionError, match="has not been called"):
        _ = model.last_request


def test_scripted_model_is_a_model_config():
    model = ScriptedModel("x", model="fake-1")
    assert model.provider == "scripted"
    assert model.model_name == "fake-1"
    assert model.client() is model
    assert model.remaining == 1


# -- several agents -------------------------------------------------------------------------------


async def test_two_agents_each_with_their_own_script_via_as_tool():
    helper_model = ScriptedModel(call("mul", a=6, b=7), "forty-two")
    helper = Agent(
        "helper",
        prompt="You multiply.",
        config=helper_model,
        tools=[mul],
        description="Multiplies numbers.",
    )
    boss_model = ScriptedModel(call("helper", task="What is 6 * 7?"), "The helper says 42.")
    boss = Agent("boss", prompt="You delegate.", config=boss_model, tools=[helper.as_tool()])

    reply = await boss.ask("Please compute 6 * 7")

    assert reply.text == "The helper says 42."
    # the boss offered the sub-agent as a tool taking a task
    (spec,) = boss_model.requests[0].tools
    assert spec.name == "helper"
    assert spec.description == "Multiplies numbers."
    assert list(spec.parameters["properties"]) == ["task"]
    # the helper saw only the task, in its own conversation
    assert helper_model.calls_made == 2
    helper_request = helper_model.requests[0]
    assert helper_request.instructions == "You multiply."
    assert helper_request.last.text == "What is 6 * 7?"
    assert helper_request.conversation_id != reply.conversation_id
    assert helper_request.tool_names == ["mul"]
    # the boss got the helper's answer as the tool result
    result = boss_model.requests[1].last
    assert isinstance(result, ToolCallResult)
    assert result.content == "forty-two"
    # the helper's usage counts toward the boss's ask
    assert reply.usage.requests == 4
    assert reply.usage.tool_calls == 2


# -- usage ----------------------------------------------------------------------------------------


async def test_usage_is_non_zero_and_input_grows_across_a_conversation():
    agent, _ = agent_with(
        call("add", a=1, b=2), "three", "a longer answer to the second question", "fine"
    )
    first = await agent.ask("What is one plus two?")
    second = await first.ask("Tell me more about it, please.")
    third = await second.ask("And again.")

    for reply in (first, second, third):
        assert reply.usage.requests >= 1
        assert reply.usage.input_tokens > 0
        assert reply.usage.output_tokens > 0
        assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    responses = [e for e in third.events if isinstance(e, ModelResponse)]
    inputs = [r.usage.input_tokens for r in responses]
    assert len(inputs) == 4
    assert inputs == sorted(inputs)
    assert len(set(inputs)) == 4  # strictly growing
    assert first.usage == responses[0].usage + responses[1].usage + Usage(tool_calls=1)
    assert second.usage == responses[2].usage


async def test_input_tokens_count_what_models_are_shown_of_each_kind():
    # The estimate (about four characters a token) per kind the transcript shows: a request's
    # text and data, and a flat 256 a media part; an answer's text and each call's arguments
    # (+4 a call); a tool's result or error (+4); a summary. Run bookkeeping, usage reports, a
    # human's remark and a rejected output add nothing. A second call counts only what is new.
    model = ScriptedModel("one", "two")
    png = Image(data=b"\x89PNG", media_type="image/png")
    events: list[Event] = [
        RunStarted("r1", "a", "c1"),
        ModelRequest((Text("x" * 10), Data({"k": 1}), png)),  # 3 + 2 + 256
        ModelResponse("y" * 7, (ToolCall("t1", "f", '{"a":1}'),), agent="b"),  # 2 + (2 + 4)
        ToolCallResult("t1", "f", "z" * 9),  # 3 + 4
        ToolCallResult("t2", "f", "[image]", parts=(Text("t" * 5), png)),  # 4 + 2 + 256
        UsageReport(Usage(requests=1)),
    ]

    def model_call(length: int) -> ModelCall:
        return ModelCall(
            "a", "c1", "r1", None, HistoryView(events, length), (), None, ModelSettings()
        )

    async def ignore(event: Event) -> None:
        return None

    first = await model.respond(model_call(len(events)), ignore)
    assert first.usage.input_tokens == 261 + 8 + 7 + 262
    events += [
        ToolCallError("t3", "f", "e" * 4),  # 1 + 4
        CompactionSummary("s", 3),  # "Summary of the earlier conversation: s": 10 + 4
        HumanMessage("a remark"),
        OutputRejected("not valid"),
        RunFinished("r1", "done"),
    ]
    second = await model.respond(model_call(len(events)), ignore)
    assert second.usage.input_tokens == 261 + 8 + 7 + 262 + 5 + 14


async def test_token_tallies_stay_bounded_and_counts_right_when_trimmed():
    # Each call of more than a few events keeps a tally (for forks); only the newest
    # max_tracked_conversations are kept, dropped in batches (cheap at any size), and a
    # forgotten one is simply recounted: the counts never change.
    model = ScriptedModel("ok", repeat=True)
    model.max_tracked_conversations = 8

    def conversation(cid: str, turns: int) -> list[Event]:
        events: list[Event] = [RunStarted("r", "a", cid)]
        for i in range(turns):
            events += [ModelRequest((Text("q" * (4 * i + 4)),)), ModelResponse("a" * 8)]
        return events

    def model_call(cid: str, events: list[Event]) -> ModelCall:
        return ModelCall("a", cid, "r", None, HistoryView(events), (), None, ModelSettings())

    async def ignore(event: Event) -> None:
        return None

    def expected(events: list[Event]) -> int:
        return sum((i + 1) + 2 for i in range(sum(isinstance(e, ModelRequest) for e in events)))

    kept = {f"c{n}": conversation(f"c{n}", 5) for n in range(40)}
    for cid, events in kept.items():
        answer = await model.respond(model_call(cid, events), ignore)
        assert answer.usage.input_tokens == expected(events)
        assert len(model._tallies) <= model.max_tracked_conversations
    # The first conversations' tallies are long gone; they go on, counted right.
    for cid in ("c0", "c1", "c39"):
        events = kept[cid]
        events += [ModelRequest((Text("q" * 24),)), ModelResponse("a" * 8)]
        answer = await model.respond(model_call(cid, events), ignore)
        assert answer.usage.input_tokens == expected(events)


@pytest.mark.parametrize("turn", [3, {"a": 1}, ["text", 3], None])
def test_a_turn_the_script_cannot_play_is_refused_when_it_is_made(turn: object) -> None:
    with pytest.raises(ConfigError, match=r"turn 2 is .* which it can't play: a turn is text"):
        ScriptedModel("fine", turn)


def test_a_script_says_what_it_is_and_counts_in_words() -> None:
    assert repr(ScriptedModel("a", "b", model="demo")) == "ScriptedModel('demo', 2 turns)"
