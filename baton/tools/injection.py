"""Reading a function's signature once: which parameters the model fills and which are injected.

The result (a ``Signature``) is computed when a tool, prompt or output function is made, so that a
call only walks a short tuple of precomputed injections.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from ..context import _NO_DEFAULT, Context, DependsMarker, InjectMarker, VariableMarker
from ..errors import MissingDependency, ToolDefinitionError
from ..events import ToolCall

__all__ = ["Injection", "ModelParam", "Signature", "read_signature", "resolve_injections"]

CONTEXT, CALL, INJECT, VARIABLE, DEPENDS = range(5)


@dataclass(frozen=True, slots=True)
class ModelParam:
    """A parameter the model fills in."""

    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required


@dataclass(frozen=True, slots=True)
class Injection:
    """A parameter Baton fills in."""

    name: str
    kind: int
    key: Any = None
    annotation: Any = None
    default: Any = _NO_DEFAULT
    depends: Signature | None = None
    default_factory: Callable[[], Any] | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    fn: Callable[..., Any]
    is_async: bool
    params: tuple[ModelParam, ...]
    injections: tuple[Injection, ...]
    has_depends: bool
    # A dependency (maybe of a dependency) is a generator: the caller passes an exit stack.
    needs_cleanup: bool = False
    is_generator: bool = False  # ``fn`` itself is a generator (or async generator) function
    is_async_generator: bool = False

    @property
    def label(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


def _marker_of(annotation: Any, default: Any) -> tuple[Any, Any]:
    """Split ``Annotated[T, marker]`` / ``= marker`` into (T, marker or None)."""
    marker = None
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, InjectMarker | VariableMarker | DependsMarker):
                marker = extra
        if marker is not None:
            annotation = base
    if isinstance(default, InjectMarker | VariableMarker | DependsMarker):
        marker = default
    return annotation, marker


def _is_class(annotation: Any, cls: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, cls)


def read_signature(
    fn: Callable[..., Any], *, skip_first: bool = False, allow_model_params: bool = True
) -> Signature:
    """Classify every parameter of ``fn``; raise ``ToolDefinitionError`` for what can't work."""
    label = getattr(fn, "__qualname__", repr(fn))
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ToolDefinitionError(f"cannot read the signature of {label}: {exc}") from exc
    params: list[ModelParam] = []
    injections: list[Injection] = []
    parameters = list(sig.parameters.values())
    if skip_first and parameters:
        parameters = parameters[1:]
    for p in parameters:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"{label} takes {'*' if p.kind is inspect.Parameter.VAR_POSITIONAL else '**'}"
                f"{p.name}: tools need named parameters so the model knows what "
                "to send; replace it with explicit parameters"
            )
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"{label}: parameter {p.name!r} is positional-only; tools are called by keyword"
            )
        annotation, marker = _marker_of(hints.get(p.name, Any), p.default)
        if marker is None and _is_class(annotation, Context):
            injections.append(Injection(p.name, CONTEXT))
        elif marker is None and _is_class(annotation, ToolCall):
            injections.append(Injection(p.name, CALL))
        elif isinstance(marker, InjectMarker):
            default = marker.default
            if default is _NO_DEFAULT and p.default not in (inspect.Parameter.empty, marker):
                default = p.default  # `cache: Annotated[dict, Inject()] = None`
            injections.append(
                Injection(
                    p.name,
                    INJECT,
                    marker.key,
                    annotation,
                    default,
                    default_factory=marker.default_factory,
                )
            )
        elif isinstance(marker, VariableMarker):
            injections.append(
                Injection(p.name, VARIABLE, marker.name or p.name, annotation, marker.default)
            )
        elif isinstance(marker, DependsMarker):
            inner = read_signature(marker.fn, allow_model_params=False)
            injections.append(Injection(p.name, DEPENDS, marker.fn, annotation, depends=inner))
        elif not allow_model_params:
            raise ToolDefinitionError(
                f"{label}: parameter {p.name!r} is neither injected nor allowed here; annotate it "
                "with Context, Inject(...), Variable(...) or Depends(...)"
            )
        else:
            params.append(ModelParam(p.name, annotation, p.default))
    depends = [i.depends for i in injections if i.depends is not None]
    return Signature(
        fn=fn,
        is_generator=inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn),
        is_async_generator=inspect.isasyncgenfunction(fn),
        is_async=inspect.iscoroutinefunction(fn),
        params=tuple(params),
        injections=tuple(injections),
        has_depends=bool(depends),
        needs_cleanup=any(d.is_generator or d.needs_cleanup for d in depends),
    )


def _lookup_dependency(deps: Mapping[Any, Any], inj: Injection, owner: str) -> Any:
    if inj.key is not None:
        if inj.key in deps:
            return deps[inj.key]
    else:
        if isinstance(inj.annotation, type) and inj.annotation in deps:
            return deps[inj.annotation]
        if inj.name in deps:
            return deps[inj.name]
    if inj.default is not _NO_DEFAULT:
        return inj.default
    if inj.default_factory is not None:
        return inj.default_factory()
    wanted = (
        inj.key
        if inj.key is not None
        else f"{inj.name!r} or {getattr(inj.annotation, '__name__', inj.annotation)}"
    )
    raise MissingDependency(
        f"{owner} needs dependency {wanted!r} for parameter {inj.name!r}, but it was not provided; "
        f"pass it as Agent(..., dependencies={{...}}) or ask(..., dependencies={{...}})"
    )


async def resolve_injections(
    sig: Signature,
    context: Context,
    call: ToolCall | None,
    into: dict[str, Any],
    cache: dict[Any, Any] | None = None,
    exits: contextlib.AsyncExitStack | None = None,
) -> dict[str, Any]:
    """Fill ``into`` with the injected arguments of ``sig`` and return it. ``exits``: where a
    generator dependency's clean-up is kept (needed when ``sig.needs_cleanup``); the caller
    closes it when the call that used the values ends."""
    for inj in sig.injections:
        kind = inj.kind
        if kind == CONTEXT:
            into[inj.name] = context
        elif kind == CALL:
            into[inj.name] = call
        elif kind == INJECT:
            into[inj.name] = _lookup_dependency(context.dependencies, inj, sig.label)
        elif kind == VARIABLE:
            value = context.variables.get(inj.key, inj.default)
            if value is _NO_DEFAULT:
                raise MissingDependency(
                    f"{sig.label} needs conversation variable {inj.key!r}, which is not set; pass "
                    f"ask(..., variables={{{inj.key!r}: ...}}), set context.variables, or give "
                    "Variable(...) a default"
                )
            into[inj.name] = value
        else:
            if cache is None:
                cache = {}
            fn = inj.key
            if fn in cache:
                into[inj.name] = cache[fn]
                continue
            depends = inj.depends
            assert depends is not None
            kwargs = await resolve_injections(depends, context, call, {}, cache, exits)
            if depends.is_generator:
                if exits is None:
                    raise ToolDefinitionError(
                        f"{sig.label}: Depends({depends.label}) is a generator, which needs a "
                        "caller that runs its clean-up; pass an exit stack to resolve_injections"
                    )
                if depends.is_async_generator:
                    value = await exits.enter_async_context(
                        contextlib.asynccontextmanager(fn)(**kwargs)
                    )
                else:
                    value = exits.enter_context(contextlib.contextmanager(fn)(**kwargs))
            else:
                value = fn(**kwargs)
                if depends.is_async or inspect.isawaitable(value):
                    value = await value
            cache[fn] = value
            into[inj.name] = value
    return into
