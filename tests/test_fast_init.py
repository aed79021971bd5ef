"""Registered frozen, slotted records get an ``__init__`` that stores fields through their slot
descriptors (``baton.fast_init``): it must build exactly what the dataclass's own would, and
leave alone the classes whose ``__init__`` does more than store its arguments."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from typing import ClassVar

import pytest

from baton.fast_init import fast_init
from tests.event_samples import SAMPLES


def quick(cls: type) -> bool:
    return any(name.startswith("_set_") for name in vars(cls)["__init__"].__code__.co_names)


@dataclass(frozen=True, slots=True)
class Base:
    a: int
    b: str = "b"


@dataclass(frozen=True, slots=True)
class Point(Base):
    c: tuple[int, ...] = ()
    kind: ClassVar[str] = "point"


def test_every_builtin_record_is_rebuilt_the_same_through_its_init() -> None:
    for name, sample in SAMPLES.items():
        rebuilt = dataclasses.replace(sample)  # calls __init__ with every field
        assert rebuilt == sample and repr(rebuilt) == repr(sample), name
    assert quick(type(SAMPLES["Usage"])) and quick(type(SAMPLES["TextChunk"]))


def test_the_quick_init_takes_what_the_dataclass_init_takes() -> None:
    assert fast_init(Point)
    assert quick(Point)
    assert Point(1) == Point(a=1, b="b", c=())
    assert Point(1, "x", (2,)) == Point(c=(2,), b="x", a=1)
    assert repr(Point(1)) == "Point(a=1, b='b', c=())"
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'a'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional arguments"):
        Point(1, "x", (), 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'd'"):
        Point(1, d=2)  # type: ignore[call-arg]
    with pytest.raises(FrozenInstanceError):
        Point(1).a = 2  # type: ignore[misc]


def test_classes_whose_init_does_more_keep_their_own() -> None:
    made: list[int] = []

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            made.append(self.a)

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True)
    class WithFactory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True)
    class NotSlotted:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class OwnInit:  # an __init__ written in the class: the dataclass keeps it, so do we
        a: str

        def __init__(self, a: str) -> None:
            object.__setattr__(self, "a", a.upper())

    for cls in (Checked, WithInitVar, WithFactory, KeywordOnly, NotSlotted, NotFrozen, OwnInit):
        own = vars(cls)["__init__"]
        assert not fast_init(cls), cls.__name__
        assert vars(cls)["__init__"] is own
    Checked(3)
    assert made == [3]
    assert WithFactory().a == [] and WithFactory().a is not WithFactory().a
    assert OwnInit("abc").a == "ABC"
