"""Structured output: what shape the final answer must have, and how it is checked.

``response_schema`` may be any type pydantic can validate (a model, dataclass, TypedDict,
primitive, union, list, ...), a function (the model fills its parameters, its return value is the
output), a JSON schema as a dict (the answer is checked against it with the ``jsonschema``
package, ``pip install 'baton-agents[jsonschema]'``, and the output is the decoded JSON), or
``Prompted(X)`` for models without native JSON-schema support, where the schema is put in the
instructions instead.

Roots that are not JSON objects (``int``, ``list[Item]``, unions) are wrapped as
``{"result": ...}`` because several providers only accept object schemas; ``parse`` accepts both
the wrapped and the bare form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from pydantic_core import SchemaError, ValidationError, from_json

from .context import Context
from .errors import ConfigError, Retry
from .tools.injection import Signature, read_signature, resolve_injections

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from .tools.schema import ArgsSchema

__all__ = ["OutputInvalid", "OutputSpec", "Prompted", "build_output_spec"]

OutputMode = Literal["native", "prompted"]
T = TypeVar("T")


class Prompted(Generic[T]):
    """Use the prompted mode for this schema: the JSON schema goes into the instructions."""

    __slots__ = ("schema",)

    @overload
    def __init__(self: Prompted[T], schema: type[T]) -> None: ...

    @overload
    def __init__(self: Prompted[Any], schema: Any) -> None: ...

    def __init__(self, schema: Any) -> None:
        self.schema = schema


class OutputInvalid(Exception):
    """A final answer did not validate; ``message`` is what the model is told."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        first_newline = stripped.find("\n")
        if first_newline != -1 and stripped.endswith("```"):
            return stripped[first_newline + 1 : -3].strip()
    return stripped


class OutputSpec:
    """A compiled response schema."""

    __slots__ = (
        "_adapter",
        "_args",
        "_checker",
        "_signature",
        "json_schema",
        "mode",
        "name",
        "wrapped",
    )

    def __init__(self, schema: Any, mode: OutputMode) -> None:
        # pydantic's schema machinery loads with the first spec made, not with ``import baton``.
        from pydantic import TypeAdapter
        from pydantic.errors import (
            PydanticInvalidForJsonSchema,
            PydanticSchemaGenerationError,
            PydanticUserError,
        )

        from .tools.schema import ArgsSchema, parse_docstring, schema_problem

        self.mode: OutputMode = mode
        self._adapter: TypeAdapter[Any] | None = None
        self._args: ArgsSchema | None = None
        self._signature: Signature | None = None
        self._checker: Any = None  # a jsonschema validator, for a JSON schema given as a dict
        if isinstance(schema, Mapping):
            self.name = str(schema.get("title") or "result")
            self._checker = _json_schema_checker(schema)
            self._wrap(dict(schema))
            return
        if inspect.isfunction(schema) or inspect.ismethod(schema):
            self.name = schema.__name__
            self._signature = read_signature(schema)
            _, docs = parse_docstring(schema)
            self._args = ArgsSchema(f"output function {self.name!r}", self._signature.params, docs)
            self.json_schema = self._args.json_schema
            self.wrapped = False
            return
        if _is_instance_of_a_schema_class(schema):
            raise ConfigError(
                f"response_schema takes a class, not an instance: pass "
                f"{type(schema).__name__}, not {schema!r}"
            )
        self.name = getattr(schema, "__name__", None) or "result"
        try:
            self._adapter = TypeAdapter(schema)
            raw = self._adapter.json_schema()
        except (
            PydanticSchemaGenerationError,
            PydanticInvalidForJsonSchema,
            PydanticUserError,
            SchemaError,
        ) as exc:
            raise ConfigError(
                f"response_schema {schema!r} cannot be described as a JSON schema "
                f"({schema_problem(exc)}); use a "
                "pydantic model, dataclass, TypedDict (from typing_extensions before Python 3.12), "
                "primitive, list or union of those, or a JSON schema as a dict"
            ) from None
        self._wrap(raw)

    def _wrap(self, raw: dict[str, Any]) -> None:
        """Keep the schema the model is given: an object, or ``{"result": ...}`` around it."""
        self.wrapped = raw.get("type") != "object"
        if self.wrapped:
            defs = raw.pop("$defs", None)
            raw = {"type": "object", "properties": {"result": raw}, "required": ["result"]}
            if defs:
                raw["$defs"] = defs
        self.json_schema = raw

    @property
    def instructions(self) -> str | None:
        """Extra instructions for the prompted mode (None in native mode)."""
        return self.prompt_text() if self.mode == "prompted" else None

    def prompt_text(self) -> str:
        """The schema as instructions, for models that can't take it natively."""
        return (
            "Reply with only a JSON object that matches this JSON schema, and no other text:\n"
            + json.dumps(self.json_schema, separators=(",", ":"))
        )

    async def parse(self, text: str, context: Context) -> Any:
        """Validate a final answer; raise ``OutputInvalid`` with a model-readable message."""
        raw = _strip_fences(text)
        try:
            if self._args is not None:
                return await self._call_function(raw, context)
            if self._checker is not None:
                return self._check_json(raw)
            assert self._adapter is not None
            if not self.wrapped:
                return self._adapter.validate_json(raw)
            try:
                data = from_json(raw)
            except ValueError as exc:
                raise OutputInvalid(
                    self._explain(f"the answer is not valid JSON ({exc})")
                ) from None
            if isinstance(data, dict) and len(data) == 1 and "result" in data:
                data = data["result"]
            return self._adapter.validate_python(data)
        except ValidationError as exc:
            from .tools.schema import describe_validation_error  # loaded with the spec

            # An error without a location is about the answer itself (not JSON, not an object);
            # a function's output names its arguments, as a tool's do.
            whole = "arguments" if self._args is not None else "the answer"
            raise OutputInvalid(
                self._explain(describe_validation_error(exc, whole=whole))
            ) from None
        except Retry as exc:
            raise OutputInvalid(exc.message) from None

    async def _call_function(self, raw: str, context: Context) -> Any:
        assert self._args is not None and self._signature is not None
        kwargs = self._args.validate_json(raw)
        sig = self._signature
        if sig.needs_cleanup:  # generator dependencies end when the function does
            async with contextlib.AsyncExitStack() as exits:
                await resolve_injections(sig, context, None, kwargs, exits=exits)
                result = sig.fn(**kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
        if sig.injections:
            await resolve_injections(sig, context, None, kwargs)
        result = sig.fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _check_json(self, raw: str) -> Any:
        try:
            data = from_json(raw)
        except ValueError as exc:
            raise OutputInvalid(self._explain(f"the answer is not valid JSON ({exc})")) from None
        if self.wrapped and isinstance(data, dict) and len(data) == 1 and "result" in data:
            data = data["result"]
        problems = self._problems(data)
        if problems:
            raise OutputInvalid(self._explain(problems))
        return data

    def _problems(self, data: Any) -> str:
        """What is wrong with ``data`` under the dict schema ("" when nothing)."""
        errors = sorted(self._checker.iter_errors(data), key=lambda e: list(e.absolute_path))
        return "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or 'the answer'}: {e.message}"
            for e in errors[:5]
        )

    def validate_value(self, value: Any) -> Any:
        """Check a value a tool returned as final output (functions' results pass through)."""
        if self._checker is not None:
            problems = self._problems(value)
            if problems:
                raise ValueError(problems)
            return value
        if self._adapter is None:
            return value
        return self._adapter.validate_python(value)

    def _explain(self, problem: str) -> str:
        return (
            f"Your answer does not match the required output schema: {problem}. "
            "Reply again with only JSON that matches the schema."
        )


def _is_instance_of_a_schema_class(schema: Any) -> bool:
    """A pydantic model's or a dataclass's instance given where its class was meant."""
    if isinstance(schema, type):
        return False
    return dataclasses.is_dataclass(schema) or hasattr(type(schema), "__pydantic_fields__")


def _json_schema_checker(schema: Mapping[str, Any]) -> Any:
    """A ``jsonschema`` validator for ``schema`` (checked against its metaschema)."""
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        raise ConfigError(
            "a response_schema given as a JSON-schema dict is checked with the jsonschema "
            "package: pip install 'baton-agents[jsonschema]'"
        ) from None
    try:
        checker_type = jsonschema.validators.validator_for(schema)
        checker_type.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "the top level"
        raise ConfigError(
            f"response_schema is not a valid JSON schema (at {where}: {exc.message}); fix the "
            "schema, or give a pydantic model or dataclass instead"
        ) from None
    return checker_type(schema)


def build_output_spec(schema: Any) -> OutputSpec | None:
    """Compile a ``response_schema``; ``None`` or ``str`` mean plain text (no spec)."""
    if schema is None or schema is str:
        return None
    if isinstance(schema, OutputSpec):
        return schema
    if isinstance(schema, Prompted):
        return OutputSpec(schema.schema, "prompted")
    return OutputSpec(schema, "native")
