"""Stored events decoded row by row, each as its row's class, with msgspec when it is installed.

A SQL history's rows carry each event's type name next to its payload, so a load can decode
each payload straight into that class: ``msgspec.json.Decoder(cls)`` parses the JSON and builds
a frozen, slotted dataclass (and the dataclasses and tuples inside it) in C, without calling
its ``__init__``. With the check below, a load's decode takes about two thirds of the
instructions and 60 % of the CPU time of pydantic-core's one-pass decode (``events_from_json``;
benchmarks/README.md, "Loads row by row with msgspec").

msgspec reads a dataclass more leniently than ``from_dict`` in two ways, so a payload is first
read by a second, smaller decoder (a "check"): a msgspec ``Struct`` per registered class,
holding only what the first one does not check as ``from_dict`` does:

- the ``"type"`` key of the payload and of every record in it (msgspec skips keys that are not
  fields; ``from_dict`` builds the class it names, and only one the field allows),
- a float field holding an integer (msgspec makes it a float; ``from_dict`` keeps the int).

Where msgspec is stricter (``null`` in a record field that is not optional, a number in a
``tuple[str, ...]``, ``1e400``, a lone surrogate), the row takes the slow path below.
Everything else reads the same: scalars of their field's exact JSON type (no bool for an int,
no float for an int, no string for a float), ``Any`` fields as plain JSON (big integers
included), defaults for missing fields, extra keys ignored, the last of duplicate keys kept,
``__post_init__`` run. A record field naming several classes (``tuple[Part, ...]``) is built
by ``from_dict``'s own record decoder (msgspec hands it the parsed value). A class is decoded
this way only if every field's annotation is one whose reading is known to be the same (see
``_field_kind``); any other class, and any payload either decoder refuses, makes
``events_from_rows`` return ``None``, and the load decodes row by row with ``from_dict`` as
before, with the same results and errors. ``tests/test_events_json.py`` pins the agreement.

Without msgspec, ``events_from_rows`` joins the payloads and uses ``events_from_json``.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Annotated, Any, Union, get_args, get_origin

from .codec import (
    Event,
    Record,
    collector_paused,
    event_types,
    events_from_json,
    json_pieces,
    record_decoder,
    record_types,
    registered_of,
)

__all__ = ["events_from_payloads", "events_from_rows", "fast"]


def events_from_rows(
    types: Sequence[str], payloads: Sequence[str] | Sequence[bytes]
) -> list[Event] | None:
    """The events of a history's rows (type names and JSON payloads, in order), each exactly
    what ``from_dict`` builds from its payload and of its row's class; or ``None`` when a row
    is not one the fast decodes build the same way (the caller then decodes row by row with
    ``from_dict``, which builds what it can and names what is wrong).

    A history holding a class msgspec does not read the same way (a custom event class that
    is not a slotted dataclass, say) is given to ``events_from_json`` instead, as it was
    before msgspec. A payload msgspec refuses is not: it goes row by row (``events_from_json``
    reads the payloads joined, and two rows that are no JSON each can be JSON joined)."""
    if len(types) != len(payloads):
        return None
    table = _table()
    if table is None:
        return _with_json(types, payloads)
    try:
        with collector_paused():
            events: list[Event] = []
            append = events.append
            for name, payload in zip(types, payloads, strict=True):  # lengths checked above
                check, decode = table[name]
                check(payload)
                append(decode(payload))
        return events
    except KeyError:  # a class msgspec does not read as ``from_dict`` does (msgspec raises
        pass  # no KeyError; a ``__post_init__`` that does fails the one-pass decode too)
    except Exception:  # a payload refused: the slow path names what is wrong
        return None
    return _with_json(types, payloads)


def events_from_payloads(payloads: Sequence[bytes]) -> list[Event] | None:
    """The events of stored payloads without their type names (Redis entries), each exactly
    what ``from_dict`` builds from it; or ``None`` when one is not (the caller decodes them
    one by one). With msgspec each payload's check, a union of every class's, tells its
    class; a payload it does not take sends them all to ``events_from_json``, in pieces of
    ``JSON_PIECE``, as without msgspec."""
    decoders = _fast()
    any_check = None if decoders is None else decoders.any_check
    if decoders is not None and any_check is not None:
        by_check = decoders.by_check
        try:
            with collector_paused():
                events: list[Event] = []
                append = events.append
                for payload in payloads:
                    append(by_check[type(any_check(payload))](payload))
            return events
        except Exception:  # a payload msgspec does not take: the one-pass decode, as before
            pass
    return events_from_json(json_pieces(payloads))


def _with_json(
    types: Sequence[str], payloads: Sequence[str] | Sequence[bytes]
) -> list[Event] | None:
    try:
        pieces = json_pieces(payloads)
    except TypeError:  # a mix of text and bytes
        return None
    events = events_from_json(pieces)
    if events is None or len(events) != len(types):
        return None
    if [type(e).__name__ for e in events] != list(types):
        return None
    return events


def fast() -> bool:
    """Whether msgspec is installed (the stores' extras install it: ``baton-agents[sqlite]``,
    ``[postgres]``, ``[redis]``): loads then decode each row straight into its class; without
    it, in one pass through pydantic-core."""
    return _msgspec() is not None


_MSGSPEC: list[Any] = []


def _msgspec() -> Any:
    """The msgspec module, imported on first use (it is optional, and ``import baton`` does
    not import it), or ``None``."""
    if not _MSGSPEC:
        try:
            _MSGSPEC.append(importlib.import_module("msgspec"))
        except ImportError:
            _MSGSPEC.append(None)
    return _MSGSPEC[0]


# (registry size, the decoders): made again when a class is registered (the registry only
# grows; a new class can change what another's record fields allow).
_TABLE: list[tuple[int, _Fast]] = []


def _fast() -> _Fast | None:
    msgspec = _msgspec()
    if msgspec is None:
        return None
    size = len(event_types())
    if not _TABLE or _TABLE[0][0] != size:
        try:
            built = _build(msgspec)
        except Exception:  # e.g. a class registered by another thread meanwhile (the registry
            return None  # changed size while read): this load takes the one-pass path; not kept
        _TABLE[:] = [(size, built)]
    return _TABLE[0][1]


def _table() -> dict[str, Any] | None:
    """The check and decoder of each class msgspec reads as ``from_dict`` does, by name."""
    decoders = _fast()
    return None if decoders is None else decoders.by_name


def _build(msgspec: Any) -> _Fast:
    """Per registered event class that reads the same through msgspec: its check and its
    decoder (each a bound ``decode``)."""
    # A float field may not hold an integer in a check: no integer is both >= 1 and <= 0.
    no_int = Annotated[int, msgspec.Meta(ge=1, le=0)]
    # A second member of every check's union, so msgspec requires the ``"type"`` key (a lone
    # tagged Struct takes an object without one); its tag is no class's name, and its one
    # field no value satisfies.
    never = msgspec.defstruct("Never", [("never", no_int)], tag_field="type", tag="")
    make = _Checks(msgspec, Union[no_int, float], never)  # noqa: UP007
    kinds: dict[type[Record], dict[str, Any] | None] = {}
    for cls in event_types().values():
        _kinds_of(cls, kinds)
    decoders = _Fast()
    for name, cls in event_types().items():
        if not issubclass(cls, Event) or kinds.get(cls) is None:
            continue
        try:
            check = msgspec.json.Decoder(make.tagged(cls, kinds)).decode
            decode = msgspec.json.Decoder(cls, dec_hook=_hook).decode
        except Exception:  # msgspec does not take this class: it stays on the slow path
            continue
        decoders.by_name[name] = (check, decode)
        decoders.by_check[make.of(cls, kinds)] = decode
    if decoders.by_check:
        # payloads without their type names (Redis): the check that matches tells the class
        decoders.any_check = msgspec.json.Decoder(Union[(*decoders.by_check, never)]).decode
    return decoders


class _Fast:
    """The decoders of one registry: by type name, each class's check and decoder; by check
    Struct, the class's decoder; and one check of any of them (``None`` if there is none)."""

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}
        self.by_check: dict[type, Callable[[Any], Any]] = {}
        self.any_check: Callable[[Any], Any] | None = None


def _kinds_of(cls: type[Record], kinds: dict[type[Record], dict[str, Any] | None]) -> Any:
    """What each field of ``cls`` is (``_field_kind``), or ``None`` if ``cls`` is not read the
    same by msgspec (a field of another kind, a class that is not a plain slotted dataclass,
    a record field naming such a class). Memoized in ``kinds``; a cycle reads as ``None``."""
    if cls in kinds:
        return kinds[cls]
    kinds[cls] = None  # while it is being looked at
    params = getattr(cls, "__dataclass_params__", None)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a forward reference nothing defines yet
        return None
    if params is None or not params.init or "__dict__" in dir(cls):
        return None
    own = fields(cls)  # type: ignore[arg-type]
    if not all(f.init and not f.kw_only for f in own) or "__init__" not in cls.__dict__:
        return None
    result: dict[str, Any] = {}
    for f in own:
        kind = _field_kind(hints[f.name], kinds)
        if kind is None:
            return None
        result[f.name] = kind
    kinds[cls] = result
    return result


_SCALARS = {str, int, bool, float, Any}


def _field_kind(tp: Any, kinds: dict[type[Record], dict[str, Any] | None]) -> Any:
    """How a field reads, among those msgspec reads as ``from_dict`` does (else ``None``):
    ``"plain"`` (``str``, ``int``, ``bool``, ``Any``, optional or not, and tuples of them),
    ``"float"`` (a float, optional or not), ``("record", cls)`` (one plain registered class
    with no registered subclass), ``("records", cls)`` (a tuple of those), ``"hook"`` (a
    record or tuple of records of an abstract class, built by ``from_dict``'s own decoder)."""
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            return None
        item = args[0]
        if item in (str, int, bool, Any):
            return "plain"
        kind = _field_kind(item, kinds)
        if isinstance(kind, tuple) and kind[0] == "record":
            return ("records", kind[1])
        return "hook" if kind == "hook" else None
    args = get_args(tp) if origin in (Union, typing.get_origin(int | None)) else (tp,)
    named = [a for a in args if a is not type(None)]
    if len(named) != 1:
        return None
    (one,) = named
    if one in _SCALARS:
        return "float" if one is float else "plain"
    if not isinstance(one, type) or not issubclass(one, Record) or not record_types(one):
        return None
    registered = registered_of((one,))
    if hasattr(one, "__dataclass_fields__"):
        # msgspec builds this class itself: it must be the only one the field allows
        if registered != [one] or _kinds_of(one, kinds) is None:
            return None
        return ("record", one)
    return "hook" if registered else None  # an abstract class: msgspec calls ``_hook``


class _Checks:
    """The check Structs, one per class, made once per table."""

    def __init__(self, msgspec: Any, float_type: Any, never: Any) -> None:
        self.msgspec, self.float_type, self.never = msgspec, float_type, never
        self.made: dict[type[Record], Any] = {}

    def tagged(self, cls: type[Record], kinds: Any) -> Any:
        """What a check reads a record of ``cls`` as: its Struct or ``never`` (so the
        ``"type"`` key is required and must name ``cls``)."""
        return Union[self.of(cls, kinds), self.never]  # noqa: UP007

    def of(self, cls: type[Record], kinds: Any) -> Any:
        """The check Struct of ``cls``: its ``"type"`` tag, and only the fields that need a
        check (every field optional: the decoder itself requires what the class requires)."""
        if cls in self.made:
            return self.made[cls]
        spec: list[tuple[str, Any, Any]] = []
        for name, kind in kinds[cls].items():
            if kind == "float":
                spec.append((name, self.float_type | None, None))
            elif isinstance(kind, tuple):
                nested = self.tagged(kind[1], kinds)
                if kind[0] == "records":
                    spec.append((name, tuple.__class_getitem__((nested, ...)), ()))
                else:
                    spec.append((name, nested | None, None))
        check = self.msgspec.defstruct(
            f"Check{cls.__name__}", spec, tag_field="type", tag=cls.__name__, kw_only=True
        )
        self.made[cls] = check
        return check


_HOOKS: dict[type, Callable[[Any], Any]] = {}


def _hook(tp: type, value: Any) -> Any:
    """A field of an abstract record class (``Part``, ``Media``): msgspec hands over the parsed
    value, and ``from_dict``'s own record decoder builds it (or refuses it) as it would."""
    decode = _HOOKS.get(tp)
    if decode is None:
        decode = _HOOKS[tp] = record_decoder((tp,))
    return decode(value)
