"""Making tools: schemas from signatures and docstrings, names, overrides, toolkits."""

import dataclasses
import enum
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from baton import (
    Agent,
    Context,
    Depends,
    Inject,
    Tool,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Toolkit,
    Variable,
    tool,
)
from baton.errors import ConfigError, ToolConflictError, ToolDefinitionError
from baton.testing import ScriptedModel, call

# --------------------------------------------------------------------------- helpers


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int = 0


@dataclasses.dataclass
class Box:
    label: str
    weight: float


class Address(TypedDict):
    street: str
    number: int


class Opaque:
    """A class pydantic cannot describe as JSON."""


def outcomes(reply: Any) -> list[ToolCallResult | ToolCallError]:
    return [e for e in reply.events if isinstance(e, ToolCallResult | ToolCallError)]


def only_result(reply: Any) -> ToolCallResult:
    found = outcomes(reply)
    assert len(found) == 1, found
    assert isinstance(found[0], ToolCallResult), found[0]
    return found[0]


def resolve_ref(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if ref is None:
        return prop
    name = ref.rsplit("/", 1)[-1]
    return schema["$defs"][name]


# --------------------------------------------------------------------------- plain functions


def test_decorated_function_stays_directly_callable():
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    assert isinstance(add, Tool)
    assert add(2, 3) == 5
    assert add(a=4, b=5) == 9


async def test_decorated_async_function_stays_directly_awaitable():
    @tool
    async def double(x: int) -> int:
        return x * 2

    assert await double(21) == 42


def test_decorator_with_and_without_parentheses():
    @tool
    def one() -> int:
        return 1

    @tool()
    def two() -> int:
        return 2

    assert one.name == "one"
    assert two.name == "two"
    assert two() == 2


def test_tool_class_wraps_a_function_directly():
    def greet(name: str) -> str:
        """Greet someone."""
        return f"hi {name}"

    t = Tool(greet)
    assert t.name == "greet"
    assert t.description == "Greet someone."
    assert t.parameters["required"] == ["name"]
    assert t("Ann") == "hi Ann"


def test_spec_carries_name_description_and_parameters():
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    assert add.spec.name == "add"
    assert add.spec.description == "Add two integers."
    assert add.spec.parameters == add.parameters
    assert add.parameters["type"] == "object"


def test_no_docstring_gives_empty_description():
    @tool
    def bare(a: int) -> int:
        return a

    assert bare.description == ""
    assert "description" not in bare.parameters["properties"]["a"]


# --------------------------------------------------------------------------- types


def test_schema_from_primitive_type_hints():
    @tool
    def f(i: int, s: str, x: float, flag: bool, nums: list[int]) -> None:
        pass

    props = f.parameters["properties"]
    assert props["i"]["type"] == "integer"
    assert props["s"]["type"] == "string"
    assert props["x"]["type"] == "number"
    assert props["flag"]["type"] == "boolean"
    assert props["nums"] == {"type": "array", "items": {"type": "integer"}}
    assert sorted(f.parameters["required"]) == ["flag", "i", "nums", "s", "x"]


def test_schema_forbids_extra_properties():
    @tool
    def f(a: int) -> None:
        pass

    assert f.parameters["additionalProperties"] is False


def test_optional_without_default_is_required_and_nullable():
    @tool
    def f(a: Optional[int], b: str | None) -> None:  # noqa: UP045
        pass

    props = f.parameters["properties"]
    for name, json_type in (("a", "integer"), ("b", "string")):
        variants = {v["type"] for v in props[name]["anyOf"]}
        assert variants == {json_type, "null"}
    assert sorted(f.parameters["required"]) == ["a", "b"]


def test_optional_with_none_default_is_not_required():
    @tool
    def f(a: int, b: int | None = None) -> None:
        pass

    assert f.parameters["required"] == ["a"]
    assert "b" in f.parameters["properties"]


def test_literal_becomes_enum():
    @tool
    def f(mode: Literal["fast", "slow"]) -> None:
        pass

    prop = f.parameters["properties"]["mode"]
    assert prop["enum"] == ["fast", "slow"]


def test_enum_becomes_enum_of_values():
    @tool
    def f(color: Color) -> None:
        pass

    prop = resolve_ref(f.parameters, f.parameters["properties"]["color"])
    assert prop["enum"] == ["red", "blue"]


def test_pydantic_model_dataclass_and_typeddict_params_become_objects():
    @tool
    def f(point: Point, box: Box, address: Address) -> None:
        pass

    props = f.parameters["properties"]
    point = resolve_ref(f.parameters, props["point"])
    assert point["type"] == "object"
    assert set(point["properties"]) == {"x", "y"}
    assert point["required"] == ["x"]
    box = resolve_ref(f.parameters, props["box"])
    assert box["type"] == "object"
    assert set(box["properties"]) == {"label", "weight"}
    assert sorted(box["required"]) == ["label", "weight"]
    address = resolve_ref(f.parameters, props["address"])
    assert address["type"] == "object"
    assert sorted(address["required"]) == ["number", "street"]


async def test_structured_arguments_arrive_as_python_objects():
    seen: dict[str, Any] = {}

    @tool
    def f(color: Color, mode: Literal["a", "b"], point: Point, box: Box, address: Address) -> str:
        seen.update(color=color, mode=mode, point=point, box=box, address=address)
        return "ok"

    model = ScriptedModel(
        call(
            "f",
            color="blue",
            mode="b",
            point={"x": 3},
            box={"label": "crate", "weight": 2.5},
            address={"street": "Main", "number": 7},
        ),
        "done",
    )
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    assert reply.text == "done"
    assert only_result(reply).content == "ok"
    assert seen["color"] is Color.BLUE
    assert seen["mode"] == "b"
    assert seen["point"] == Point(x=3, y=0)
    assert seen["box"] == Box(label="crate", weight=2.5)
    assert seen["address"] == {"street": "Main", "number": 7}


async def test_literal_outside_its_values_is_rejected():
    @tool
    def f(mode: Literal["a", "b"]) -> str:
        raise AssertionError("must not run")

    model = ScriptedModel(call("f", mode="c"), "done")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    [err] = outcomes(reply)
    assert isinstance(err, ToolCallError)
    assert "Invalid arguments for tool 'f'" in err.message
    assert "mode" in err.message


# --------------------------------------------------------------------------- defaults


def test_defaults_are_not_required_and_shown_in_schema():
    @tool
    def f(a: int, b: int = 3, label: str = "x", tags: list[str] = ()) -> None:  # type: ignore[assignment]
        pass

    params = f.parameters
    assert params["required"] == ["a"]
    assert params["properties"]["b"]["default"] == 3
    assert params["properties"]["label"]["default"] == "x"
    assert "default" not in params["properties"]["a"]


def test_none_default_is_not_shown_but_param_optional():
    @tool
    def f(a: str | None = None) -> None:
        pass

    assert "required" not in f.parameters or f.parameters["required"] == []
    assert "default" not in f.parameters["properties"]["a"]


def test_non_json_default_does_not_break_the_tool():
    sentinel = Opaque()

    @tool
    def f(a: Any = sentinel) -> None:
        pass

    assert f.parameters.get("required", []) == []


async def test_model_omitting_a_defaulted_argument_gets_the_python_default():
    seen: list[tuple[int, int, str | None]] = []

    @tool
    def f(a: int, b: int = 10, c: str | None = None) -> int:
        seen.append((a, b, c))
        return a + b

    model = ScriptedModel(call("f", a=1), call("f", a=1, b=2, c="z"), "done")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    assert reply.text == "done"
    assert seen == [(1, 10, None), (1, 2, "z")]
    assert model.requests[1].messages[-1].content == "11"
    assert model.requests[2].messages[-1].content == "3"


async def test_empty_arguments_text_counts_as_no_arguments():
    @tool
    def ping() -> str:
        return "pong"

    model = ScriptedModel(call("ping", arguments=""), "done")
    reply = await Agent("a", config=model, tools=[ping]).ask("go")
    assert only_result(reply).content == "pong"


# --------------------------------------------------------------------------- docstrings


def test_google_docstring():
    @tool
    def search(query: str, limit: int = 5) -> list[str]:
        """Search the web.

        Returns the best pages first.

        Args:
            query: What to look for,
                in plain words.
            limit: How many results to return.

        Returns:
            A list of URLs.
        """
        return []

    assert search.description.startswith("Search the web.")
    assert "Returns the best pages first." in search.description
    assert "A list of URLs" not in search.description
    assert "query:" not in search.description
    props = search.parameters["properties"]
    assert props["query"]["description"] == "What to look for, in plain words."
    assert props["limit"]["description"] == "How many results to return."


def test_numpy_docstring():
    @tool
    def area(width: float, height: float) -> float:
        """Compute a rectangle's area.

        Parameters
        ----------
        width : float
            The width in meters.
        height : float
            The height in meters.

        Returns
        -------
        float
            The area.
        """
        return width * height

    assert area.description == "Compute a rectangle's area."
    props = area.parameters["properties"]
    assert props["width"]["description"] == "The width in meters."
    assert props["height"]["description"] == "The height in meters."


def test_sphinx_docstring():
    @tool
    def convert(amount: float, currency: str) -> float:
        """Convert money to euros.

        :param amount: How much money.
        :param currency: The ISO code of the currency.
        :returns: The amount in euros.
        """
        return amount

    assert convert.description == "Convert money to euros."
    props = convert.parameters["properties"]
    assert props["amount"]["description"] == "How much money."
    assert props["currency"]["description"] == "The ISO code of the currency."


def test_docstring_params_that_are_injected_are_not_shown():
    @tool
    def f(a: int, context: Context) -> None:
        """Do it.

        Args:
            a: The number.
            context: Injected, the model must not see it.
        """

    assert list(f.parameters["properties"]) == ["a"]
    assert "Injected" not in str(f.parameters)


# --------------------------------------------------------------------------- overrides and names


def test_name_and_description_overrides():
    @tool(name="plus", description="Sum two numbers.")
    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: First number.
            b: Second number.
        """
        return a + b

    assert add.name == "plus"
    assert add.spec.name == "plus"
    assert add.description == "Sum two numbers."
    assert add.spec.description == "Sum two numbers."
    # Parameter descriptions still come from the docstring.
    assert add.parameters["properties"]["a"]["description"] == "First number."
    assert add(1, 2) == 3


async def test_overridden_name_is_what_the_model_calls():
    @tool(name="plus")
    def add(a: int, b: int) -> int:
        return a + b

    model = ScriptedModel(call("plus", a=1, b=2), "3")
    reply = await Agent("a", config=model, tools=[add]).ask("go")
    assert only_result(reply).content == "3"
    assert model.requests[0].tool_names == ["plus"]


def test_empty_description_override_is_kept():
    @tool(description="")
    def f() -> None:
        """A docstring."""

    assert f.description == ""


@pytest.mark.parametrize("bad", ["has space", "dots.not.allowed", "x" * 65, "ünïcode", "a/b"])
def test_invalid_tool_names_are_rejected(bad: str):
    with pytest.raises(ToolDefinitionError) as info:

        @tool(name=bad)
        def f() -> None:
            pass

    assert repr(bad) in str(info.value)
    assert "@tool(name=...)" in str(info.value)


@pytest.mark.parametrize("good", ["a", "get_weather", "get-weather", "Tool2", "x" * 64])
def test_valid_tool_names_are_accepted(good: str):
    @tool(name=good)
    def f() -> None:
        pass

    assert f.name == good


def test_lambda_needs_an_explicit_name():
    with pytest.raises(ToolDefinitionError, match="name"):
        Tool(lambda x: x)
    named = Tool(lambda x: x, name="identity")
    assert named.name == "identity"


def test_timeout_must_be_positive():
    with pytest.raises(ToolDefinitionError, match="timeout"):

        @tool(timeout=0)
        def f() -> None:
            pass


def test_tool_errors_are_config_errors():
    assert issubclass(ToolDefinitionError, ConfigError)
    assert issubclass(ToolConflictError, ConfigError)


# --------------------------------------------------------------------------- rejected signatures


def test_var_positional_is_rejected():
    with pytest.raises(ToolDefinitionError) as info:

        @tool
        def f(*items: int) -> None:
            pass

    assert "items" in str(info.value)


def test_var_keyword_is_rejected():
    with pytest.raises(ToolDefinitionError) as info:

        @tool
        def f(a: int, **options: Any) -> None:
            pass

    assert "options" in str(info.value)


def test_positional_only_is_rejected():
    with pytest.raises(ToolDefinitionError, match="positional-only"):

        @tool
        def f(a: int, /) -> None:
            pass


def test_type_without_json_schema_is_rejected_and_suggests_inject():
    with pytest.raises(ToolDefinitionError) as info:

        @tool
        def f(thing: Opaque) -> None:
            pass

    message = str(info.value)
    assert "Inject" in message
    assert "'f'" in message


def test_same_type_is_fine_when_injected():
    @tool
    def f(a: int, thing: Annotated[Opaque, Inject()]) -> None:
        pass

    assert list(f.parameters["properties"]) == ["a"]


def test_unresolvable_annotation_is_a_definition_error():
    with pytest.raises(ToolDefinitionError):

        @tool
        def f(a: "DoesNotExist") -> None:  # type: ignore[name-defined]  # noqa: F821
            pass


# --------------------------------------------------------------------------- injected params


def test_injected_params_are_absent_from_the_schema():
    def dep() -> int:
        return 1

    @tool
    def f(
        a: int,
        context: Context,
        tool_call: ToolCall,
        db: Annotated[Opaque, Inject("db")],
        user: Annotated[str, Variable("user")],
        value: Annotated[int, Depends(dep)],
        other: Opaque = Inject(Opaque),
        tenant: str = Variable(default="t"),
        computed: int = Depends(dep),
        b: int = 2,
    ) -> None:
        pass

    assert list(f.parameters["properties"]) == ["a", "b"]
    assert f.parameters["required"] == ["a"]


def test_params_named_json_and_schema_are_allowed():
    @tool
    def f(json: str, schema: int = 1) -> str:
        return f"{json}:{schema}"

    assert set(f.parameters["properties"]) == {"json", "schema"}
    assert f.parameters["required"] == ["json"]


async def test_params_named_json_and_schema_reach_the_function():
    @tool
    def f(json: str, schema: int = 1, validate: bool = False) -> str:
        return f"{json}:{schema}:{validate}"

    model = ScriptedModel(call("f", json="x", schema=2, validate=True), call("f", json="y"), "ok")
    reply = await Agent("a", config=model, tools=[f]).ask("go")
    assert [o.content for o in outcomes(reply)] == ["x:2:True", "y:1:False"]


# --------------------------------------------------------------------------- toolkits


class Counter(Toolkit):
    def __init__(self, start: int = 0, **kwargs: Any) -> None:
        self.count = start
        super().__init__(**kwargs)

    @tool
    def increment(self, by: int = 1) -> int:
        """Increase the counter.

        Args:
            by: How much to add.
        """
        self.count += by
        return self.count

    @tool
    async def read(self) -> int:
        """Read the counter."""
        return self.count


def test_toolkit_methods_hide_self_from_the_schema():
    kit = Counter()
    names = sorted(t.name for t in kit)
    assert names == ["increment", "read"]
    inc = next(t for t in kit if t.name == "increment")
    assert list(inc.parameters["properties"]) == ["by"]
    assert "self" not in str(inc.parameters)
    assert inc.parameters.get("required", []) == []
    assert inc.description == "Increase the counter."
    assert inc.parameters["properties"]["by"]["description"] == "How much to add."


def test_toolkit_methods_are_bound_per_instance_when_called_directly():
    a, b = Counter(), Counter(start=100)
    assert a.increment(2) == 2
    assert b.increment() == 101
    assert a.count == 2
    assert b.count == 101


async def test_two_toolkit_instances_keep_their_own_state_through_agents():
    first, second = Counter(), Counter(start=10)
    model_a = ScriptedModel(call("increment", by=5), call("read"), "done")
    model_b = ScriptedModel(call("increment"), "done")
    reply_a = await Agent("a", config=model_a, tools=[first]).ask("go")
    reply_b = await Agent("b", config=model_b, tools=[second]).ask("go")
    assert [o.content for o in outcomes(reply_a)] == ["5", "5"]
    assert [o.content for o in outcomes(reply_b)] == ["11"]
    assert first.count == 5
    assert second.count == 11


def test_toolkit_from_listed_tools():
    @tool
    def search(q: str) -> str:
        return q

    def fetch(url: str) -> str:
        return url

    kit = Toolkit(search, fetch, name="web")
    assert kit.name == "web"
    assert len(kit) == 2
    assert [t.name for t in kit.tools] == ["search", "fetch"]
    assert all(isinstance(t, Tool) for t in kit)


def test_toolkit_prefix_renames_tools():
    @tool
    def search(q: str) -> str:
        """Search."""
        return q

    kit = Toolkit(search, prefix="web")
    [renamed] = kit.tools
    assert renamed.name == "web_search"
    assert renamed.spec.name == "web_search"
    assert renamed.description == "Search."
    assert search.name == "search"  # the original is untouched


def test_toolkit_subclass_with_prefix():
    kit = Counter(prefix="c1")
    assert sorted(t.name for t in kit) == ["c1_increment", "c1_read"]
    inc = next(t for t in kit if t.name == "c1_increment")
    assert inc(3) == 3
    assert kit.count == 3


def test_toolkit_rejects_duplicate_names():
    @tool
    def a() -> None:
        pass

    @tool(name="a")
    def b() -> None:
        pass

    with pytest.raises(ToolConflictError) as info:
        Toolkit(a, b, name="kit")
    assert "'a'" in str(info.value)


def test_toolkit_rejects_non_tools():
    with pytest.raises(ToolDefinitionError, match="not a tool"):
        Toolkit(42)  # type: ignore[arg-type]


def test_nested_toolkits_flatten():
    @tool
    def a() -> None:
        pass

    @tool
    def b() -> None:
        pass

    inner = Toolkit(a, name="inner")
    outer = Toolkit(inner, b, name="outer", prefix="o")
    assert sorted(t.name for t in outer) == ["o_a", "o_b"]


def test_agent_tool_table_lists_tools_from_functions_tools_and_toolkits():
    @tool
    def a() -> None:
        pass

    def b() -> None:
        pass

    agent = Agent("x", config=ScriptedModel("hi"), tools=[a, b, Counter(prefix="k")])
    assert sorted(agent.tools) == ["a", "b", "k_increment", "k_read"]


def _takes_args(*values: int) -> int:
    return len(values)


def _takes_kwargs(**options: int) -> int:
    return len(options)


@pytest.mark.parametrize(
    ("function", "shown"), [(_takes_args, "*values"), (_takes_kwargs, "**options")]
)
def test_star_parameters_are_refused_as_written(function: Any, shown: str) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        tool(function)
    assert f"takes {shown}: tools need named parameters" in str(info.value)


class _Database:
    """Not something a model can send."""


def test_a_parameter_the_model_cannot_fill_is_named_with_the_way_out() -> None:
    def lookup(query: str, db: _Database) -> str:
        return query

    with pytest.raises(ToolDefinitionError) as info:
        tool(lookup)
    message = str(info.value)
    assert message.startswith(
        "tool 'lookup': parameter 'db' (_Database) cannot be described to the model as JSON"
    )
    assert "Inject(...) or Depends(...)" in message
    assert "arbitrary_types_allowed" not in message
