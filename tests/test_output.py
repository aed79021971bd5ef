"""Structured output: response schemas, validation, retries, transforming functions."""

import dataclasses
import json
from typing import Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from baton import (
    Agent,
    ConfigError,
    Context,
    OutputValidationError,
    Prompted,
    Retry,
    ToolCallResult,
    ToolResult,
    tool,
)
from baton.events import OutputRejected, RunFinished
from baton.testing import ScriptedModel, call


class City(BaseModel):
    name: str
    population: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


def ask_with(schema, *turns, **agent_options):
    model = ScriptedModel(*turns)
    agent = Agent("out", config=model, response_schema=schema, **agent_options)
    return agent, model


def rejections(reply_or_events):
    events = getattr(reply_or_events, "events", reply_or_events)
    return [e for e in events if isinstance(e, OutputRejected)]


# -- schema kinds ---------------------------------------------------------------------------------


async def test_pydantic_model_output():
    agent, model = ask_with(City, '{"name": "Paris", "population": 2100000}')
    reply = await agent.ask("Biggest city in France?")

    assert isinstance(reply.output, City)
    assert reply.output == City(name="Paris", population=2100000)
    assert reply.text == '{"name": "Paris", "population": 2100000}'
    offered = model.requests[0].output
    assert offered is not None
    assert offered.mode == "native"
    assert offered.json_schema["type"] == "object"
    assert set(offered.json_schema["properties"]) == {"name", "population"}
    assert offered.json_schema["required"] == ["name", "population"]
    assert "result" not in offered.json_schema["properties"]
    finished = reply.events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.output == reply.output


async def test_dataclass_output():
    agent, model = ask_with(Point, '{"x": 1, "y": -2}')
    reply = await agent.ask("a point")
    assert reply.output == Point(1, -2)
    assert isinstance(reply.output, Point)
    assert set(model.requests[0].output.json_schema["properties"]) == {"x", "y"}


async def test_typed_dict_output():
    agent, model = ask_with(Movie, '{"title": "Alien", "year": 1979}')
    reply = await agent.ask("a movie")
    assert reply.output == {"title": "Alien", "year": 1979}
    assert model.requests[0].output.json_schema["type"] == "object"
    assert set(model.requests[0].output.json_schema["properties"]) == {"title", "year"}


@pytest.mark.parametrize("answer", ['{"result": 42}', "42", " 42\n"])
async def test_int_output_is_wrapped_and_both_forms_are_accepted(answer):
    agent, model = ask_with(int, answer)
    reply = await agent.ask("the answer?")

    assert reply.output == 42
    assert type(reply.output) is int
    assert model.requests[0].output.json_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }


@pytest.mark.parametrize(
    "answer",
    [
        '{"result": [{"name": "Oslo", "population": 700000}, {"name": "Bergen", "population": 1}]}',
        '[{"name": "Oslo", "population": 700000}, {"name": "Bergen", "population": 1}]',
    ],
)
async def test_list_of_models_output(answer):
    agent, model = ask_with(list[City], answer)
    reply = await agent.ask("cities")

    assert reply.output == [City(name="Oslo", population=700000), City(name="Bergen", population=1)]
    schema = model.requests[0].output.json_schema
    assert schema["type"] == "object"
    assert schema["required"] == ["result"]
    assert schema["properties"]["result"]["type"] == "array"
    ref = schema["properties"]["result"]["items"]["$ref"]
    # definitions move to the root so that references still resolve
    assert ref == "#/$defs/City"
    assert set(schema["$defs"]["City"]["properties"]) == {"name", "population"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"result": {"kind": "dog", "good": true}}', Dog(kind="dog", good=True)),
        ('{"kind": "cat", "lives": 9}', Cat(kind="cat", lives=9)),
    ],
)
async def test_union_of_two_models_output(answer, expected):
    agent, model = ask_with(Cat | Dog, answer)
    reply = await agent.ask("a pet")

    assert reply.output == expected
    assert type(reply.output) is type(expected)
    schema = model.requests[0].output.json_schema
    assert schema["type"] == "object"
    assert {item["$ref"] for item in schema["properties"]["result"]["anyOf"]} == {
        "#/$defs/Cat",
        "#/$defs/Dog",
    }
    assert set(schema["$defs"]) == {"Cat", "Dog"}


@pytest.mark.parametrize("answer", ['{"result": "no"}', '"no"'])
async def test_literal_output(answer):
    agent, model = ask_with(Literal["yes", "no"], answer)
    reply = await agent.ask("agree?")
    assert reply.output == "no"
    result_schema = model.requests[0].output.json_schema["properties"]["result"]
    assert result_schema["enum"] == ["yes", "no"]


async def test_literal_output_rejects_other_values():
    agent, _ = ask_with(Literal["yes", "no"], '"maybe"', '"yes"')
    reply = await agent.ask("agree?")
    assert reply.output == "yes"
    assert len(rejections(reply)) == 1
    assert rejections(reply)[0].text == '"maybe"'


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"name": "Rome", "population": 3}\n```',
        '```\n{"name": "Rome", "population": 3}\n```',
        '  ```json\n  {"name": "Rome", "population": 3}\n```  ',
    ],
)
async def test_answer_in_code_fences_parses(answer):
    agent, _ = ask_with(City, answer)
    reply = await agent.ask("a city")
    assert reply.output == City(name="Rome", population=3)
    assert not rejections(reply)


async def test_fenced_wrapped_answer_parses():
    agent, _ = ask_with(list[int], '```json\n{"result": [1, 2, 3]}\n```')
    assert (await agent.ask("numbers")).output == [1, 2, 3]


async def test_no_schema_output_is_the_text():
    agent, model = ask_with(None, '{"name": "Rome"}')
    reply = await agent.ask("x")
    assert reply.output == reply.text == '{"name": "Rome"}'
    assert model.requests[0].output is None


# -- validation and retries -----------------------------------------------------------------------


async def test_invalid_answer_is_sent_back_and_retried():
    agent, model = ask_with(
        City,
        '{"name": "Paris", "population": "many"}',
        '{"name": "Paris", "population": 2}',
    )
    reply = await agent.ask("a city")

    assert reply.output == City(name="Paris", population=2)
    assert model.calls_made == 2
    rejected = model.requests[1].messages[-1]
    assert isinstance(rejected, OutputRejected)
    assert rejected.text == '{"name": "Paris", "population": "many"}'
    assert "population" in rejected.message
    assert "schema" in rejected.message
    assert rejections(reply) == [rejected]


async def test_non_json_answer_is_sent_back_with_a_readable_message():
    agent, model = ask_with(int, "forty-two", "42")
    reply = await agent.ask("the answer?")
    assert reply.output == 42
    rejected = model.requests[1].messages[-1]
    assert isinstance(rejected, OutputRejected)
    assert "not valid JSON" in rejected.message


async def test_missing_field_message_names_the_field():
    agent, model = ask_with(City, '{"name": "Paris"}', '{"name": "Paris", "population": 1}')
    await agent.ask("a city")
    assert "population" in model.requests[1].messages[-1].message


async def test_output_retries_exhausted_raises_output_validation_error():
    bad = ['{"name": 1}', '{"name": 2}', '{"population": "x"}', '{"name": "never used"}']
    agent, model = ask_with(City, *bad)

    with pytest.raises(OutputValidationError) as caught:
        await agent.ask("a city")

    error = caught.value
    assert model.calls_made == 3  # one answer plus the default two retries
    assert error.text == '{"population": "x"}'
    assert error.errors
    message = str(error)
    assert "'out'" in message
    assert "3 attempts (3 invalid)" in message
    assert "output_retries" in message
    assert "population" in message


@pytest.mark.parametrize("retries", [0, 1, 4])
async def test_custom_output_retries(retries):
    turns = ["not json"] * (retries + 1) + ['{"name": "x", "population": 1}']
    agent, model = ask_with(City, *turns, output_retries=retries)

    attempts = retries + 1
    expected = f"{attempts} attempt{'s' if attempts != 1 else ''} \\({attempts} invalid\\)"
    with pytest.raises(OutputValidationError, match=expected):
        await agent.ask("a city")
    assert model.calls_made == retries + 1

    # the same budget succeeds when the last allowed attempt is valid
    turns = ["not json"] * retries + ['{"name": "x", "population": 1}']
    agent, model = ask_with(City, *turns, output_retries=retries)
    assert (await agent.ask("a city")).output == City(name="x", population=1)
    assert model.calls_made == retries + 1


async def test_per_ask_output_retries_override():
    agent, model = ask_with(City, "bad", "bad", "bad")
    with pytest.raises(OutputValidationError):
        await agent.ask("a city", output_retries=0)
    assert model.calls_made == 1


async def test_failure_messages_count_only_their_own_kind_of_failure():
    # the retry budget is shared by empty and invalid answers; the error must not claim that
    # the answer failed validation three times when it failed once
    agent, model = ask_with(City, "", "", "not json")
    with pytest.raises(OutputValidationError) as caught:
        await agent.ask("a city")
    assert model.calls_made == 3
    assert "3 attempts (2 empty, 1 invalid)" in str(caught.value)


# -- transforming (callable) schemas --------------------------------------------------------------


async def test_callable_schema_fills_parameters_and_returns_its_value():
    received = []

    def describe_city(name: str, population: int, context: Context) -> str:
        """Describe a city.

        Args:
            name: The city's name.
            population: How many people live there.
        """
        received.append((context.agent_name, context.conversation_id, context.variables["unit"]))
        return f"{name} has {population} {context.variables['unit']}"

    model = ScriptedModel('{"name": "Lima", "population": 10}')
    agent = Agent("out", config=model, response_schema=describe_city, variables={"unit": "people"})
    reply = await agent.ask("a city")

    assert reply.output == "Lima has 10 people"
    assert reply.text == '{"name": "Lima", "population": 10}'
    assert received == [("out", reply.conversation_id, "people")]
    schema = model.requests[0].output.json_schema
    assert set(schema["properties"]) == {"name", "population"}  # context is injected, not asked
    assert schema["properties"]["population"]["type"] == "integer"
    assert "How many people" in json.dumps(schema)


async def test_async_callable_schema():
    async def total(values: list[int]) -> int:
        return sum(values)

    agent, _ = ask_with(total, '{"values": [1, 2, 3]}')
    assert (await agent.ask("sum")).output == 6


async def test_callable_schema_retry_sends_the_message_back():
    calls = []

    def submit(population: int) -> int:
        calls.append(population)
        if population < 0:
            raise Retry("population must not be negative; count again")
        return population

    agent, model = ask_with(submit, '{"population": -5}', '{"population": 5}')
    reply = await agent.ask("count")

    assert reply.output == 5
    assert calls == [-5, 5]
    rejected = model.requests[1].messages[-1]
    assert isinstance(rejected, OutputRejected)
    assert rejected.message == "population must not be negative; count again"
    assert rejected.text == '{"population": -5}'


async def test_callable_schema_invalid_arguments_are_retried():
    def submit(population: int) -> int:
        return population

    agent, model = ask_with(submit, '{"population": "lots"}', '{"population": 3}')
    assert (await agent.ask("count")).output == 3
    assert "population" in model.requests[1].messages[-1].message


async def test_callable_schema_retry_exhaustion_raises():
    def submit(population: int) -> int:
        raise Retry("never good enough")

    agent, model = ask_with(submit, *['{"population": 1}'] * 3)
    with pytest.raises(OutputValidationError, match="never good enough"):
        await agent.ask("count")
    assert model.calls_made == 3


# -- prompted mode and per-ask schemas ------------------------------------------------------------


async def test_prompted_schema_goes_into_the_instructions():
    agent, model = ask_with(
        Prompted(City), '{"name": "Quito", "population": 3}', prompt="You know cities."
    )
    reply = await agent.ask("a city")

    assert reply.output == City(name="Quito", population=3)
    spec = model.requests[0].output
    assert spec.mode == "prompted"
    instructions = model.requests[0].instructions
    assert instructions.startswith("You know cities.\n\n")
    assert json.dumps(spec.json_schema, separators=(",", ":")) in instructions
    assert '"population"' in instructions
    assert "JSON" in instructions


async def test_prompted_schema_without_a_prompt():
    agent, model = ask_with(Prompted(int), '{"result": 7}')
    assert (await agent.ask("n")).output == 7
    assert model.requests[0].instructions.startswith("Reply with only a JSON object")


async def test_native_schema_leaves_instructions_alone():
    agent, model = ask_with(City, '{"name": "a", "population": 1}', prompt="Plain.")
    await agent.ask("a city")
    assert model.requests[0].instructions == "Plain."


async def test_per_ask_response_schema_override():
    model = ScriptedModel('{"result": 3}', "plain text", '{"name": "N", "population": 1}', "again")
    agent = Agent("out", config=model)

    numeric = await agent.ask("n", response_schema=int)
    assert numeric.output == 3
    assert model.requests[0].output.json_schema["properties"]["result"] == {"type": "integer"}

    text = await agent.ask("t")
    assert text.output == "plain text"
    assert model.requests[1].output is None

    city = await numeric.ask("c", response_schema=Prompted(City))
    assert city.output == City(name="N", population=1)
    assert '"population"' in model.requests[2].instructions

    # an agent schema can be overridden back to plain text for one ask
    typed = Agent("typed", config=model, response_schema=City)
    assert (await typed.ask("x", response_schema=str)).output == "again"
    assert typed.output_spec is not None


# -- ToolResult(final=True) -----------------------------------------------------------------------


async def test_final_tool_result_is_validated_against_the_schema():
    @tool
    def lookup(name: str) -> ToolResult:
        """Look a city up."""
        return ToolResult({"name": name, "population": 99}, final=True)

    model = ScriptedModel(call("lookup", name="Bonn"), "never asked")
    agent = Agent("out", config=model, tools=[lookup], response_schema=City)
    reply = await agent.ask("Bonn?")

    assert reply.output == City(name="Bonn", population=99)
    assert model.calls_made == 1
    result = next(e for e in reply.events if isinstance(e, ToolCallResult))
    assert result.final is True
    assert reply.text == result.content
    assert json.loads(reply.text) == {"name": "Bonn", "population": 99}


async def test_invalid_final_tool_result_raises_output_validation_error():
    @tool
    def lookup(name: str) -> ToolResult:
        """Look a city up."""
        return ToolResult({"name": name}, final=True)

    model = ScriptedModel(call("lookup", name="Bonn"), "never asked")
    agent = Agent("out", config=model, tools=[lookup], response_schema=City)

    with pytest.raises(OutputValidationError) as caught:
        await agent.ask("Bonn?")
    assert "lookup" in str(caught.value)
    assert "population" in str(caught.value)
    assert caught.value.text == '{"name":"Bonn"}'
    assert model.calls_made == 1


async def test_final_tool_result_without_schema_is_the_value():
    @tool
    def finish() -> ToolResult:
        """Finish."""
        return ToolResult([1, 2], final=True, content="done")

    agent = Agent("out", config=ScriptedModel(call("finish")), tools=[finish])
    reply = await agent.ask("go")
    assert reply.output == [1, 2]
    assert reply.text == "done"


async def test_unknown_schema_error_is_a_config_error():
    class Opaque:
        pass

    with pytest.raises(ConfigError, match="cannot be described as a JSON schema") as caught:
        Agent("out", config=ScriptedModel("x"), response_schema=Opaque)
    # pydantic's advice for model authors (arbitrary_types_allowed, ...) is not repeated
    assert "arbitrary_types_allowed" not in str(caught.value)
    assert "pydantic-core schema for" in str(caught.value)


async def test_an_instance_given_as_the_schema_names_its_class() -> None:
    with pytest.raises(ConfigError) as caught:
        Agent("out", config=ScriptedModel("x"), response_schema=City(name="x", population=1))
    assert str(caught.value) == (
        "response_schema takes a class, not an instance: pass City, not "
        "City(name='x', population=1)"
    )


# -- JSON-schema dicts ----------------------------------------------------------------------------

CITY_SCHEMA = {
    "type": "object",
    "title": "City",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["name", "population"],
    "additionalProperties": False,
}


async def test_a_json_schema_dict_checks_the_answer_and_the_output_is_a_dict():
    """Issue 11, point 4: the model is given the schema; a wrong answer is sent back with
    what is wrong (a retry), a right one is ``reply.output`` as a dict."""
    agent, model = ask_with(
        CITY_SCHEMA, '{"name": "Oslo", "population": -5}', '{"name": "Oslo", "population": 700000}'
    )
    reply = await agent.ask("a city")
    assert reply.output == {"name": "Oslo", "population": 700000}
    assert model.requests[0].output is not None
    assert model.requests[0].output.json_schema == CITY_SCHEMA
    [rejected] = rejections(reply)
    assert "population" in rejected.message and "minimum" in rejected.message


async def test_a_json_schema_dict_for_a_list_is_wrapped_and_both_forms_are_accepted():
    schema = {"type": "array", "items": {"type": "integer"}}
    for answer in ('{"result": [1, 2]}', "[1, 2]"):
        agent, model = ask_with(schema, answer)
        reply = await agent.ask("numbers")
        assert reply.output == [1, 2]
        assert model.requests[0].output.json_schema["properties"]["result"] == schema


async def test_a_json_schema_dict_checks_a_final_tool_result_too():
    @tool
    def lookup() -> ToolResult:
        """Look the city up."""
        return ToolResult({"name": "Oslo"}, final=True)

    agent = Agent(
        "out", config=ScriptedModel(call("lookup")), response_schema=CITY_SCHEMA, tools=[lookup]
    )
    with pytest.raises(OutputValidationError, match="population"):
        await agent.ask("a city")


def test_a_schema_baton_cannot_use_is_a_config_error():
    with pytest.raises(ConfigError, match=r"not a valid JSON schema .*type"):
        Agent("out", config=ScriptedModel("x"), response_schema={"type": "no-such-type"})


async def test_an_answer_that_is_not_json_is_named_as_the_answer() -> None:
    # (A tool's arguments are "arguments"; a final answer is not: the model reads this.)
    agent, model = ask_with(City, "not json", "also not json", "nope", output_retries=1)
    with pytest.raises(OutputValidationError) as caught:
        await agent.ask("a city")
    assert "the required output schema: the answer: Invalid JSON" in str(caught.value)
    assert "the answer: Invalid JSON" in model.requests[1].messages[-1].message
