"""Protobuf messages (the a2a-sdk's types) to and from JSON-able values.

``google.protobuf`` ships no type stubs, so its converters are loaded by name and wrapped here
in typed functions: the rest of the package stays checked by mypy.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeVar

__all__ = ["from_dict", "to_dict", "to_python"]

M = TypeVar("M")


def _json_format() -> Any:
    return importlib.import_module("google.protobuf.json_format")


def to_dict(message: Any) -> dict[str, Any]:
    """A message as the JSON object the A2A wire format uses (camelCase keys)."""
    result: dict[str, Any] = _json_format().MessageToDict(message)
    return result


def from_dict(value: Any, message: M) -> M:
    """Fill ``message`` from a JSON object (unknown fields ignored) and return it."""
    _json_format().ParseDict(value, message, ignore_unknown_fields=True)
    return message


def to_python(value: Any) -> Any:
    """A ``google.protobuf.Value`` (a data part's content) as plain Python data."""
    return _json_format().MessageToDict(value)
