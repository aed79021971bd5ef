"""Which events a subscriber wants (``EventFilter``): event types, field values and/or a
predicate, as ``stream.where(...)`` and ``subscribe(where=...)`` take them."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, TypeAlias, Union, get_args, get_origin

from .events import Event

__all__ = ["EventFilter", "Where"]


class EventFilter:
    """Which events a subscriber wants: a set of types, field values, and/or a predicate."""

    __slots__ = ("fields", "predicate", "types")

    def __init__(
        self,
        types_: tuple[type, ...] = (Event,),
        fields: tuple[tuple[str, Any], ...] = (),
        predicate: Callable[[Any], bool] | None = None,
    ) -> None:
        self.types = types_  # empty: matches nothing
        # (name, value) pairs, all of which must hold; a name may repeat after narrowing.
        self.fields = fields or None
        self.predicate = predicate

    @classmethod
    def build(
        cls, spec: tuple[Any, ...], predicate: Callable[[Any], bool] | None, fields: dict[str, Any]
    ) -> EventFilter:
        flat: list[type] = []
        for item in spec:
            for candidate in _flatten_types(item):
                if not (isinstance(candidate, type) and issubclass(candidate, Event)):
                    raise TypeError(f"where() takes event classes, got {candidate!r}")
                flat.append(candidate)
        return cls(tuple(flat) or (Event,), tuple(fields.items()), predicate)

    def narrow(self, other: EventFilter) -> EventFilter:
        """Both filters must match (disjoint types or conflicting fields match nothing)."""
        types_ = tuple(
            t for t in other.types if any(issubclass(t, mine) for mine in self.types)
        ) + tuple(t for t in self.types if any(issubclass(t, theirs) for theirs in other.types))
        merged_fields = (*(self.fields or ()), *(other.fields or ()))
        preds = [p for p in (self.predicate, other.predicate) if p is not None]
        predicate: Callable[[Any], bool] | None
        if len(preds) == 2:
            first, second = preds
            predicate = lambda e: first(e) and second(e)  # noqa: E731
        else:
            predicate = preds[0] if preds else None
        return EventFilter(tuple(dict.fromkeys(types_)), merged_fields, predicate)

    def accepts(self, event: Any) -> bool:
        """Field and predicate checks (the type was already matched by the stream's index)."""
        if self.fields is not None:
            for name, expected in self.fields:
                if getattr(event, name, _MISSING) != expected:
                    return False
        return self.predicate is None or bool(self.predicate(event))


_MISSING = object()

# What ``subscribe(where=...)`` takes: a filter, or event classes (``ToolCall``, ``A | B``).
Where: TypeAlias = "EventFilter | type[Event] | types.UnionType | tuple[type[Event], ...] | None"


def _flatten_types(item: Any) -> tuple[Any, ...]:
    if isinstance(item, tuple):
        return tuple(t for sub in item for t in _flatten_types(sub))
    if isinstance(item, types.UnionType) or get_origin(item) is Union:
        return get_args(item)
    return (item,)
