"""JSON schemas and validators built from Python signatures and docstrings.

A tool's arguments are validated by a pydantic ``TypeAdapter`` over a ``TypedDict`` made from its
parameters: JSON text from the model goes straight into pydantic's Rust validator, parameters the
model leaves out fall back to the Python defaults, and any parameter name works (even ``json``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Annotated, Any, NotRequired, cast

from pydantic import ConfigDict, Field, PydanticSchemaGenerationError, TypeAdapter, ValidationError
from pydantic.errors import PydanticInvalidForJsonSchema, PydanticUserError
from pydantic_core import to_jsonable_python
from typing_extensions import TypedDict

from ..errors import ToolDefinitionError
from .injection import ModelParam

__all__ = [
    "ArgsSchema",
    "JsonArgs",
    "describe_validation_error",
    "parse_docstring",
    "schema_problem",
]


_SCHEMA_ERRORS = (PydanticSchemaGenerationError, PydanticInvalidForJsonSchema, PydanticUserError)


def schema_problem(exc: Exception) -> str:
    """The first sentence of pydantic's schema error: what failed, without its advice for
    pydantic model authors (``arbitrary_types_allowed``, ``__get_pydantic_core_schema__``),
    which is not how a Baton user fixes it."""
    first = str(exc).strip().split("\n", 1)[0]
    return first.split(". ", 1)[0].rstrip(".")


def _undescribable(params: tuple[ModelParam, ...]) -> ModelParam | None:
    """The first parameter whose type alone has no JSON schema (on the error path only)."""
    for p in params:
        try:
            TypeAdapter(p.annotation).json_schema()
        except _SCHEMA_ERRORS:
            return p
    return None


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def parse_docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """(description, {param: description}) from a Google, NumPy, Sphinx or Epydoc docstring."""
    doc = inspect.getdoc(fn) or ""
    if not doc:
        return "", {}
    import docstring_parser  # for the first documented function (a remote tool has none)

    parsed = docstring_parser.parse(doc)
    text = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: " ".join(p.description.split()) for p in parsed.params if p.description}
    return text.strip(), params


class ArgsSchema:
    """The validator and JSON schema for a set of model-filled parameters."""

    __slots__ = ("adapter", "json_schema", "names")

    def __init__(self, owner: str, params: tuple[ModelParam, ...], docs: dict[str, str]) -> None:
        self.names = tuple(p.name for p in params)
        fields: dict[str, Any] = {}
        for p in params:
            ann = (
                Annotated[p.annotation, Field(description=docs[p.name])]
                if p.name in docs
                else p.annotation
            )
            fields[p.name] = ann if p.default is inspect.Parameter.empty else NotRequired[ann]
        typed = TypedDict(f"{owner}_arguments", fields)  # type: ignore[misc]
        typed.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        try:
            self.adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(cast(Any, typed))
            schema = self.adapter.json_schema()
        except _SCHEMA_ERRORS as exc:
            culprit = _undescribable(params)
            which = (
                "a parameter type"
                if culprit is None
                else f"parameter {culprit.name!r} ({_type_name(culprit.annotation)})"
            )
            raise ToolDefinitionError(
                f"{owner}: {which} cannot be described to the model as JSON "
                f"({schema_problem(exc)}). Use JSON-friendly types (str, int, pydantic models, "
                "dataclasses, TypedDicts, lists, Literal, Enum); a value the model should not "
                "fill (a client, a connection) is injected with Inject(...) or Depends(...)"
            ) from None
        schema.pop("title", None)
        properties = schema.setdefault("properties", {})
        for p in params:
            prop = properties.get(p.name)
            if prop is None:
                continue
            prop.pop("title", None)
            if p.default is not inspect.Parameter.empty and p.default is not None:
                # A default the model can't see is harmless: skip non-JSON ones.
                with contextlib.suppress(Exception):
                    prop["default"] = to_jsonable_python(p.default)
        self.json_schema: dict[str, Any] = schema

    def validate_json(self, arguments: str) -> dict[str, Any]:
        return self.adapter.validate_json(arguments or "{}")


class JsonArgs:
    """Arguments described by a JSON schema taken as it is (a remote tool's, e.g. MCP's).

    The model's JSON text must be an object; the rest of the schema is the remote side's to
    check (it answers a wrong call with an error the model reads).
    """

    __slots__ = ("json_schema", "names")

    _adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])

    def __init__(self, json_schema: dict[str, Any]) -> None:
        self.json_schema = json_schema
        self.names = tuple(json_schema.get("properties") or ())

    def validate_json(self, arguments: str) -> dict[str, Any]:
        return self._adapter.validate_json(arguments or "{}")


def describe_validation_error(
    exc: ValidationError, limit: int = 6, whole: str = "arguments"
) -> str:
    """A short, model-readable summary of a pydantic error: no tracebacks, no file paths.
    ``whole`` names what an error without a location is about (a tool call's arguments, a
    final answer)."""
    lines: list[str] = []
    errors = exc.errors(include_url=False, include_context=False)
    for err in errors[:limit]:
        loc = ".".join(str(x) for x in err["loc"]) or whole
        message = err["msg"]
        kind = err["type"]
        if kind not in ("missing", "json_invalid", "extra_forbidden") and "input" in err:
            shown = repr(err["input"])
            if len(shown) > 60:
                shown = shown[:57] + "..."
            message = f"{message} (got {shown})"
        lines.append(f"{loc}: {message}")
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "; ".join(lines)
