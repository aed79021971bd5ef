"""Records and their JSON codec: the base classes of Baton's vocabulary (``Record``, ``Event``,
``Part``), the registry of the classes a payload may build, and ``to_dict`` / ``from_dict``.

A payload can only ever build a registered class, never an arbitrary class named in the data;
each field is decoded by the decoder its annotation calls for (scalars checked, records and
tuples of records built, bytes from base64), so a stored event with a wrong type is an
``EventDecodeError`` naming the field. ``baton.events`` re-exports all of it.
"""

from __future__ import annotations

import base64
import gc
import importlib
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, fields
from typing import Any, ClassVar, TypeVar, Union, cast, get_args, get_origin

from pydantic_core import CoreSchema, SchemaValidator, to_jsonable_python
from pydantic_core import core_schema as cs

from .errors import EventDecodeError
from .fast_init import fast_init

__all__ = [
    "JSON_PIECE",
    "Event",
    "Part",
    "Record",
    "collector_paused",
    "event_types",
    "events_from_json",
    "from_dict",
    "json_pieces",
    "record_decoder",
    "record_types",
    "register",
    "registered_of",
    "to_dict",
]


class Record:
    """Base of every serializable value in the vocabulary (events, message parts, usage)."""

    __slots__ = ()


class Event(Record):
    """Base class of all events. ``transient`` events are streamed live but not kept in history."""

    __slots__ = ()
    transient: ClassVar[bool] = False


class Part(Record):
    """One piece of a user's input: text, data, or media."""

    __slots__ = ()


# ---------------------------------------------------------------------------------------------
# Registry and JSON codec
# ---------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[Record]] = {}
# Per class: (field name, decoder) pairs, computed once at registration.
_DECODERS: dict[type[Record], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}
_FIELD_NAMES: dict[type[Record], tuple[str, ...]] = {}
# Per class: its decoder made once on first use (see ``_fast_decoder_of``).
_FAST_DECODERS: dict[type[Record], Callable[[Mapping[str, Any]], Any]] = {}
# Per class: its ``to_dict``, made once on first use (see ``_encoder_of``).
_ENCODERS: dict[type[Record], Callable[[Any], dict[str, Any]]] = {}

# Record classes of the core whose module loads when first needed, by type name: the module
# that registers them. A team's events are stored with its conversation, so any process must
# decode them, but ``import baton`` need not build their classes: a payload naming one, a look
# at the whole registry (``event_types``, ``registered_of``, the one-pass decoder) or the
# registration of another class of the same name imports the module first. A name leaves this
# table when its class is registered. (``tests/test_imports.py`` checks that it lists
# exactly the classes ``baton.team_events`` registers.)
_DEFERRED: dict[str, str] = dict.fromkeys(
    ("TeamStarted", "SpeakerSelected", "Handoff", "MemberUsage", "TeamFinished", "TeamFailed"),
    "baton.team_events",
)

R = TypeVar("R", bound=type[Record])


def _load_deferred(name: str | None = None) -> None:
    """Import the module that registers ``name`` (every deferred module when ``None``)."""
    # ``get``: another thread may have imported it, and registered ``name``, since it was seen.
    modules = {_DEFERRED.get(name)} if name is not None else set(_DEFERRED.values())
    for module in sorted(m for m in modules if m is not None):
        importlib.import_module(module)


def register(cls: R) -> R:
    """Add a record class to the registry that ``from_dict`` is allowed to construct."""
    name = cls.__name__
    deferred = _DEFERRED.get(name)
    if deferred is not None and deferred != cls.__module__:
        _load_deferred(name)  # so that taking its name is refused now, as it always was
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"Event type name {name!r} is already registered by another class")
    _REGISTRY[name] = cls
    _DEFERRED.pop(name, None)
    _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    fast_init(cls)  # records are made on every step: store their fields the quick way
    _DECODERS.pop(cls, None)
    _FAST_DECODERS.pop(cls, None)
    _ENCODERS.pop(cls, None)
    _JSON_DECODER.clear()  # its unions name the registered classes: made again on next use
    return cls


def event_types() -> Mapping[str, type[Record]]:
    """The registered record classes by type name (read-only view)."""
    if _DEFERRED:
        _load_deferred()
    return types.MappingProxyType(_REGISTRY)


# JSON has no NaN or infinities: they are stored as these strings (every backend takes them, and
# no provider chokes on them). A float field reads them back as floats; in data (``Any`` fields,
# such as a tool result's ``value``) they stay the strings.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _non_finite(value: float) -> str:
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


# Values of these exact types are JSON as they are (the common case, checked first).
_PLAIN = frozenset({str, int, bool, type(None)})


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else _non_finite(value)
    if kind is tuple or kind is list:
        return [v if type(v) in _PLAIN else _encode(v) for v in value]
    if kind is dict:
        return {
            k if type(k) is str else str(k): v if type(v) in _PLAIN else _encode(v)
            for k, v in value.items()
        }
    encoder = _ENCODERS.get(kind)
    if encoder is not None:
        return encoder(value)
    # Subclasses of the types above, records not encoded yet, and everything else.
    if isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, Record):
        return to_dict(value)
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    plain = to_jsonable_python(value, fallback=repr)
    return plain if isinstance(plain, str | int | bool | type(None)) else _encode(plain)


def to_dict(record: Record) -> dict[str, Any]:
    """Encode a registered record as a JSON-able dict with a ``"type"`` key."""
    encoder = _ENCODERS.get(type(record))
    if encoder is None:
        encoder = _encoder_of(type(record))
    return encoder(record)


def _encoder_of(cls: type[Record]) -> Callable[[Any], dict[str, Any]]:
    """The ``to_dict`` of one registered class, made once: a function that reads each field and
    builds the dict in one expression, leaving plain values as they are and handing the others
    to ``_encode`` (what a loop over the fields would do, in a third of the time: every stored
    event goes through here). Its source is made from the dataclass's field names only."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        raise TypeError(f"{cls.__name__} is not a registered event type")
    if not all(name.isidentifier() for name in names):  # pragma: no cover - dataclass fields
        raise TypeError(f"{cls.__name__} has a field that is not an identifier")
    reads = "".join(f"    v{i} = record.{name}\n" for i, name in enumerate(names))
    items = "".join(
        f", {name!r}: v{i} if type(v{i}) in plain else encode(v{i})" for i, name in enumerate(names)
    )
    source = f"def to_dict(record):\n{reads}    return {{'type': type_name{items}}}\n"
    scope: dict[str, Any] = {"plain": _PLAIN, "encode": _encode, "type_name": cls.__name__}
    exec(source, scope)  # made from the field names only, never from data
    encoder: Callable[[Any], dict[str, Any]] = scope["to_dict"]
    _ENCODERS[cls] = encoder
    return encoder


def from_dict(data: Mapping[str, Any]) -> Any:
    """Decode a dict made by ``to_dict``. Only registered classes can be built."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise EventDecodeError(f"expected an object with a 'type' key, got {type(data).__name__}")
    type_name = data.get("type")
    cls = _REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is None and isinstance(type_name, str) and type_name in _DEFERRED:
        _load_deferred(type_name)
        cls = _REGISTRY.get(type_name)
    if cls is None:
        raise EventDecodeError(
            f"unknown event type {type_name!r}: only registered event types can be decoded "
            "(register custom events with baton.events.register)"
        )
    decode = _FAST_DECODERS.get(cls)
    if decode is None:
        decode = _fast_decoder_of(cls)
    return decode(data)


def _decode_checked(cls: type[Record], data: Mapping[str, Any]) -> Any:
    """Decode ``data`` as ``cls`` field by field, naming the field that is wrong: the path a
    payload takes when the fast decoder of its class could not build it (a missing field, a
    wrong type, a nested record that failed), so every error reads the same as ever."""
    type_name = cls.__name__
    decoders = _DECODERS.get(cls)
    if decoders is None:
        decoders = _DECODERS[cls] = _decoders_of(cls)
    kwargs: dict[str, Any] = {}
    for name, decode in decoders:
        if name in data:
            try:
                kwargs[name] = decode(data[name])
            except EventDecodeError as exc:
                raise EventDecodeError(f"{type_name}.{name}: {exc}") from None
            except (TypeError, ValueError) as exc:
                raise EventDecodeError(f"{type_name}.{name}: {exc}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise EventDecodeError(f"{type_name}: {exc}") from None


def _fast_decoder_of(cls: type[Record]) -> Callable[[Mapping[str, Any]], Any]:
    """The decoder of one registered class, made once: a function that reads every field,
    checks a scalar's type inline (one set lookup), hands records, tuples and bytes to their
    field's decoder, and calls the class once. Anything it cannot build in one go (a field
    missing, a wrong type, a class that refuses its values) goes through ``_decode_checked``,
    which builds it or raises the ``EventDecodeError`` naming the field: errors and results are
    the same as the checked path's, at a third of the cost. Its source is made from the
    dataclass's field names only, never from data."""
    decoders = _DECODERS.get(cls)
    if decoders is None:
        decoders = _DECODERS[cls] = _decoders_of(cls)
    if not all(name.isidentifier() for name, _ in decoders):  # pragma: no cover - dataclass
        raise TypeError(f"{cls.__name__} has a field that is not an identifier")
    scope: dict[str, Any] = {"cls": cls, "checked": _decode_checked}
    lines = []
    for i, (name, decode) in enumerate(decoders):
        lines.append(f"        v{i} = data[{name!r}]")
        accepted = _SCALAR_ACCEPTED.get(decode)
        if accepted is not None:
            scope[f"ok{i}"] = accepted
            lines.append(f"        if type(v{i}) not in ok{i}:\n            v{i} = d{i}(v{i})")
        if decode is not _plain:
            scope[f"d{i}"] = decode
            if decode in _EMPTY_TUPLE_DECODERS:  # an empty list is the common case
                lines.append(f"        v{i} = () if v{i} == [] else d{i}(v{i})")
            elif decode in _OPTIONAL_RECORD_DECODERS:
                lines.append(f"        if v{i} is not None:\n            v{i} = d{i}(v{i})")
            elif accepted is None:
                lines.append(f"        v{i} = d{i}(v{i})")
    # Positional arguments when they are the ``__init__``'s own order (a little faster).
    positional = all(f.init and not f.kw_only for f in fields(cls))  # type: ignore[arg-type]
    call = ", ".join(
        f"v{i}" if positional else f"{name}=v{i}" for i, (name, _) in enumerate(decoders)
    )
    source = (
        "def decode(data):\n    try:\n"
        + "".join(line + "\n" for line in lines)
        + f"        return cls({call})\n"
        + "    except Exception:\n        return checked(cls, data)\n"
    )
    exec(source, scope)  # made from the field names only, never from data
    fast: Callable[[Mapping[str, Any]], Any] = scope["decode"]
    _FAST_DECODERS[cls] = fast
    return fast


def _plain(value: Any) -> Any:
    return value


# Decoders a class's fast decoder calls only when there is work: a record field that is not
# None, a tuple field that is not an empty list (see ``_fast_decoder_of``).
_OPTIONAL_RECORD_DECODERS: set[Callable[[Any], Any]] = set()
_EMPTY_TUPLE_DECODERS: set[Callable[[Any], Any]] = set()


def record_decoder(allowed: tuple[type, ...]) -> Callable[[Any], Any]:
    """The decoder of a field holding a record of the ``allowed`` classes (or their registered
    subclasses): a payload's ``"type"`` picks the class, which must be one of them."""
    exact = frozenset(allowed)

    def decode(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is dict:  # the common case: straight to the class's own decoder
            name = value.get("type")
            cls = _REGISTRY.get(name) if type(name) is str else None
            if cls in exact:
                fast = _FAST_DECODERS.get(cls)
                return (fast or _fast_decoder_of(cls))(value)
        record = from_dict(value)
        if type(record) not in exact and not isinstance(record, allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise EventDecodeError(f"expected {names}, got {type(record).__name__}")
        return record

    _OPTIONAL_RECORD_DECODERS.add(decode)
    return decode


def _record_tuple_decoder(allowed: tuple[type, ...]) -> Callable[[Any], Any]:
    decode_one = record_decoder(allowed)

    def decode(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise EventDecodeError("expected a list")
        return tuple([decode_one(v) for v in value])

    _EMPTY_TUPLE_DECODERS.add(decode)
    return decode


def _decode_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("$bytes"), str):
        return base64.b64decode(value["$bytes"])
    raise EventDecodeError("expected {'$bytes': <base64>}")


def _decode_tuple(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise EventDecodeError("expected a list")
    return tuple(value)


_EMPTY_TUPLE_DECODERS.add(_decode_tuple)


def record_types(tp: Any) -> tuple[type, ...]:
    """The record classes an annotation names (itself, or the members of a union)."""
    candidates = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    return tuple(c for c in candidates if isinstance(c, type) and issubclass(c, Record))


def _decoder_for(tp: Any) -> Callable[[Any], Any]:
    """Pick a decoder from a field's annotation. ``Any`` fields stay plain JSON on purpose;
    record fields accept only the record classes the annotation names."""
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        allowed = record_types(args[0]) if args else ()
        return _record_tuple_decoder(allowed) if allowed else _decode_tuple
    allowed = record_types(tp)
    if allowed:
        return record_decoder(allowed)
    if tp is bytes or (origin in (Union, types.UnionType) and bytes in get_args(tp)):
        return _decode_bytes
    return _scalar_decoder(tp)


# The JSON types a scalar annotation accepts (a float field takes an integer; bool is no integer).
_SCALARS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (float, int),
    bool: (bool,),
}


def _scalar_decoder(tp: Any) -> Callable[[Any], Any]:
    """A type check for ``str``/``int``/``float``/``bool`` fields (and ``X | None``), so a
    stored event with the wrong type in a field is an ``EventDecodeError`` when loaded, not a
    ``TypeError`` in a later ask. Other annotations stay plain JSON. Exact type checks: this
    runs for every field of every event a history loads."""
    args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    kinds = [a for a in args if a is not type(None)]
    if len(kinds) != 1 or kinds[0] not in _SCALARS:
        return _plain
    accepted = frozenset(_SCALARS[kinds[0]])
    if type(None) in args:
        accepted = accepted | {type(None)}
    name = kinds[0].__name__

    def decode(value: Any) -> Any:
        if type(value) in accepted:
            return value
        if name == "float" and isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        raise EventDecodeError(f"expected {name}, got {type(value).__name__}")

    _SCALAR_ACCEPTED[decode] = accepted
    return decode


# The types each scalar decoder passes as they are, so a class's fast decoder checks them inline.
_SCALAR_ACCEPTED: dict[Callable[[Any], Any], frozenset[type]] = {}


def _decoders_of(cls: type[Record]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    # Resolved lazily, on first decode, so that annotations may name classes defined later.
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _decoder_for(hints[f.name])) for f in fields(cls))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Stored histories: a JSON array of events, decoded straight into the classes
# ---------------------------------------------------------------------------------------------

# How many events a piece of a history given to ``events_from_json`` should hold: small enough
# that the parsed text of one stays in the processor's cache, large enough that the call per
# piece costs nothing (128 to 512 measured the same; see benchmarks/README.md, "Loads in pieces").
JSON_PIECE = 256


def json_pieces(payloads: Sequence[str] | Sequence[bytes]) -> list[str] | list[bytes]:
    """Stored payloads (one event's JSON each, all text or all bytes) as the pieces
    ``events_from_json`` takes: JSON arrays of ``JSON_PIECE`` events each. A mix of text and
    bytes raises ``TypeError``."""
    if not payloads:
        return []
    starts = range(0, len(payloads), JSON_PIECE)
    if isinstance(payloads[0], str):
        texts = cast("Sequence[str]", payloads)
        return ["[" + ",".join(texts[i : i + JSON_PIECE]) + "]" for i in starts]
    blobs = cast("Sequence[bytes]", payloads)
    return [b"[" + b",".join(blobs[i : i + JSON_PIECE]) + b"]" for i in starts]


# The one validator ``events_from_json`` uses, made on first use and dropped by ``register``
# (its unions list the registered classes); ``None`` inside when it cannot be made.
_JSON_DECODER: list[SchemaValidator | None] = []


def events_from_json(array: str | bytes | Sequence[str | bytes]) -> list[Event] | None:
    """Decode a JSON array of ``to_dict`` payloads of events in one pass, or ``None``; or a
    sequence of such arrays, the pieces of one history, into one list.

    A load reads a whole history at once: this parses the array and builds every event and
    the records inside it in Rust (pydantic-core, already a dependency, builds slotted
    dataclasses without running their ``__init__``), at about the cost of the parse alone. It
    accepts only what ``from_dict`` decodes to the same result: registered event classes
    chosen by their ``"type"`` key, scalars of their field's exact JSON type, records only of
    the classes a field names. Anything else (an unknown type, a wrong type, a non-finite
    float, data that is not JSON) returns ``None``, and the caller decodes the payloads one by
    one with ``from_dict``, which builds what it can and names what is wrong.

    A long history is best given in pieces of a few hundred events (``JSON_PIECE``): the
    validator holds the whole parsed text of an array until it is done with it, and at
    10,000 events that no longer fits in the processor's cache (a 10,000-event decode cost
    40-50 % more per event than a 1,000-event one, and in pieces costs about the same)."""
    if not _JSON_DECODER:
        _JSON_DECODER.append(_json_decoder())
    decoder = _JSON_DECODER[0]
    if decoder is None:
        return None
    # The cyclic collector is paused for this one call, which makes every event and record
    # of the history (about 24,000 tracked objects for 10,000 events). Each counts towards
    # the next collection, so with the collector running the call triggers a young
    # collection every 700 of them and, as the survivors pile up, older ones that walk them
    # again (and, at 10,000 events and more, the whole heap): the cost of a load grew faster
    # than the history. Nothing the call makes can be garbage before it returns (the list it
    # returns holds it all), so those collections would find nothing. Pausing is safe: it
    # only delays collections (a cycle made meanwhile, say by a record's ``__post_init__``,
    # is found by the next one), and the next allocation after the call runs the one that
    # was due, once. It is not a change of the collector's settings: it is undone before
    # returning, only by the call that made it (a collector that was off stays off), and the
    # thresholds are never touched. Between the two, only the decode runs (in Rust, calling
    # back into Python only for a record's ``__post_init__`` or a non-slotted class); another
    # thread that runs meanwhile only sees its collections delayed too.
    try:
        with collector_paused():
            if isinstance(array, str | bytes):
                decoded: list[Event] = decoder.validate_json(array)
            else:
                decoded = []
                for piece in array:
                    decoded += decoder.validate_json(piece)
    except Exception:  # a ValidationError, or what a record's __post_init__ raised
        return None
    return decoded


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector paused while a stored history is decoded (why: see
    ``events_from_json``), and enabled again after only if it was on."""
    paused = gc.isenabled()
    try:
        if paused:  # inside the try: an interrupt right after it still re-enables
            gc.disable()
        yield
    finally:
        if paused:
            gc.enable()


def _json_decoder() -> SchemaValidator | None:
    """The validator of a list of registered events (``None`` when a class's annotations
    cannot be resolved yet: loads then go through ``from_dict``)."""
    if _DEFERRED:
        _load_deferred()  # its unions list every registered class
    try:
        refs: dict[str, CoreSchema] = {
            name: cs.definition_reference_schema(name) for name in _REGISTRY
        }
        definitions = [_record_schema(cls, refs) for cls in _REGISTRY.values()]
        events = [c for c in _REGISTRY.values() if issubclass(c, Event)]
        schema = cs.list_schema(_union_of(events, refs), strict=True)
        return SchemaValidator(cs.definitions_schema(schema, definitions))
    except Exception:  # pragma: no cover - a forward reference nothing defines yet
        return None


def _union_of(classes: Sequence[type[Record]], refs: Mapping[str, CoreSchema]) -> CoreSchema:
    """Records of these classes, picked by the ``"type"`` key (as ``from_dict`` picks them)."""
    choices: dict[Any, CoreSchema] = {c.__name__: refs[c.__name__] for c in classes}
    return cs.tagged_union_schema(choices, "type", strict=True)


def _record_schema(cls: type[Record], refs: Mapping[str, CoreSchema]) -> CoreSchema:
    """One registered class: its fields, as ``_decoders_of`` decodes them, set on an instance
    made without ``__init__`` (as a frozen dataclass's own ``__init__`` sets them, without its
    ``object.__setattr__`` call per field), then its ``__post_init__``. A class that is not a
    plain slotted dataclass, or whose annotations name a class not defined yet, goes through its
    ``from_dict`` decoder instead."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference nothing defines yet: this class alone waits
        hints = None
    params = getattr(cls, "__dataclass_params__", None)
    own = fields(cls)  # type: ignore[arg-type]
    plain = (
        hints is not None
        and params is not None
        and params.init
        and "__dict__" not in dir(cls)
        and all(f.init and not f.kw_only for f in own)
        and "__init__" in cls.__dict__  # the dataclass's own, not a subclass's override
    )
    if not plain:

        def decode(data: Any, cls: type[Record] = cls) -> Any:
            return (_FAST_DECODERS.get(cls) or _fast_decoder_of(cls))(data)

        return cs.no_info_plain_validator_function(decode, ref=cls.__name__)
    assert hints is not None
    args = []
    for f in own:
        schema = _field_schema(hints[f.name], refs)
        if f.default is not MISSING:
            schema = cs.with_default_schema(schema, default=f.default)
        elif f.default_factory is not MISSING:
            schema = cs.with_default_schema(schema, default_factory=f.default_factory)
        args.append(cs.dataclass_field(f.name, schema))
    return cs.dataclass_schema(
        cls,
        cs.dataclass_args_schema(cls.__name__, args, extra_behavior="ignore"),
        [f.name for f in own],
        post_init=hasattr(cls, "__post_init__"),
        slots=True,
        strict=True,
        ref=cls.__name__,
    )


def _field_schema(tp: Any, refs: Mapping[str, CoreSchema]) -> CoreSchema:
    """What a field accepts, mirroring ``_decoder_for``: the same annotation reads the same
    way, only stricter where ``from_dict`` would convert (a non-finite float's string)."""
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        allowed = record_types(args[0]) if args else ()
        items = _union_of(registered_of(allowed), refs) if allowed else cs.any_schema()
        return cs.tuple_schema([items], variadic_item_index=0)
    allowed = record_types(tp)
    if allowed:
        return cs.nullable_schema(_union_of(registered_of(allowed), refs))
    if tp is bytes or (origin in (Union, types.UnionType) and bytes in get_args(tp)):
        return cs.no_info_plain_validator_function(_decode_bytes)
    args = get_args(tp) if origin in (Union, types.UnionType) else (tp,)
    kinds = [a for a in args if a is not type(None)]
    if len(kinds) != 1 or kinds[0] not in _SCALARS:
        return cs.any_schema()
    kind = kinds[0]
    schema: CoreSchema
    if kind is str:
        schema = cs.str_schema(strict=True)
    elif kind is bool:
        schema = cs.bool_schema(strict=True)
    elif kind is int:
        schema = cs.int_schema(strict=True)
    else:  # a float field keeps an integer as it is, as ``from_dict`` does
        schema = cs.union_schema([cs.int_schema(strict=True), cs.float_schema(strict=True)])
    return cs.nullable_schema(schema) if type(None) in args else schema


def registered_of(allowed: tuple[type, ...]) -> list[type[Record]]:
    """The registered classes a record field takes: those it names and their subclasses."""
    if _DEFERRED:
        _load_deferred()
    return [c for c in _REGISTRY.values() if issubclass(c, allowed)]
