"""``@tool``: plain typed functions as tools the model can call.

Everything derivable from the function (its JSON schema, argument validator and injection plan) is
computed once, here, when the tool is made.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from pydantic_core import to_json

from ..errors import ToolDefinitionError
from ..events import FileUrl, Media, Part, Text
from ..transcript import part_text
from .injection import CONTEXT, Injection, Signature, read_signature

if TYPE_CHECKING:
    from .schema import ArgsSchema, JsonArgs

__all__ = [
    "Tool",
    "ToolResult",
    "ToolSpec",
    "as_tool",
    "parts_content",
    "result_content",
    "to_content",
    "tool",
    "tool_parts",
]

_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What a model is told about a tool (providers turn it into their own format)."""

    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool = False


class ToolResult:
    """Return this from a tool to control what happens with its value.

    ``final=True`` ends the ask with ``value`` as its output (validated against the response
    schema, if any). ``content`` overrides what the model sees (default: ``value`` as text or
    JSON, or as media when it is an ``Image``, ``Audio``, ``Document`` or ``FileUrl``): a
    string, one part, or a list mixing strings and parts, e.g.
    ``ToolResult(content=["The chart:", Image(data=png)])``.
    """

    __slots__ = ("content", "final", "value")

    def __init__(
        self,
        value: Any = None,
        *,
        final: bool = False,
        content: str | Part | Sequence[str | Part] | None = None,
    ) -> None:
        self.value = value
        self.final = final
        self.content = content

    def __repr__(self) -> str:
        return f"ToolResult({self.value!r}, final={self.final})"


def to_content(value: Any) -> str:
    """The text a model sees for a tool's return value: strings as they are, the rest as JSON
    (media as a placeholder, never its bytes: see ``tool_parts``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Part):
        return part_text(value)
    try:
        return to_json(value, fallback=str).decode()
    except Exception:
        return str(value)


def tool_parts(value: Any) -> tuple[Part, ...] | None:
    """The parts a model is given for a tool's return value when it holds media: one media
    part, or a list or tuple of strings and parts with at least one media part. ``None`` for
    any other value (it is sent as text: ``to_content``)."""
    if isinstance(value, Media | FileUrl):
        return (value,)
    if not isinstance(value, list | tuple) or not value:
        return None
    if not all(isinstance(item, str | Part) for item in value):
        return None
    if not any(isinstance(item, Media | FileUrl) for item in value):
        return None
    return tuple(_as_part(item) for item in value)


def result_content(content: str | Part | Sequence[str | Part]) -> tuple[str, tuple[Part, ...]]:
    """A ``ToolResult``'s ``content`` as the text a model sees and, when it holds media, the
    parts (else ``()``)."""
    if isinstance(content, str):
        return content, ()
    items = [content] if isinstance(content, Part) else list(content)
    parts = tuple(_as_part(item) for item in items)
    text = parts_content(parts)
    return text, parts if any(isinstance(p, Media | FileUrl) for p in parts) else ()


def parts_content(parts: tuple[Part, ...]) -> str:
    """The text of a media result: its text parts and a placeholder for each media part."""
    return "\n".join(part_text(part) for part in parts)


def _as_part(item: Any) -> Part:
    """Media and text as they are; strings, data and anything else as text."""
    if isinstance(item, Media | FileUrl | Text):
        return item
    if isinstance(item, Part):
        return Text(part_text(item))
    return Text(to_content(item))


class Tool:
    """A function the model can call. Make one with ``@tool`` (or ``Tool(fn, ...)``)."""

    __slots__ = (
        "_schema",
        "_signature",
        "bound_to",
        "description",
        "function",
        "inline",
        "is_method",
        "name",
        "requires_approval",
        "sequential",
        "spec",
        "timeout",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        sequential: bool = False,
        inline: bool = False,
        strict: bool = False,
        requires_approval: bool = False,
    ) -> None:
        if not callable(function):
            raise ToolDefinitionError(f"@tool needs a function, got {function!r}")
        tool_name = name or getattr(function, "__name__", None) or type(function).__name__
        if not _NAME_PATTERN.match(tool_name):
            raise ToolDefinitionError(
                f"tool name {tool_name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
                "(set one with @tool(name=...))"
            )
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < float("inf")  # NaN fails this too
        ):
            raise ToolDefinitionError(
                f"tool {tool_name!r}: timeout must be a finite, positive number of seconds, "
                f"got {timeout!r}"
            )
        # The schema machinery (pydantic's validators, the docstring parser) loads with the
        # first tool made, not with ``import baton``.
        from .schema import ArgsSchema, parse_docstring

        params = list(inspect.signature(function).parameters)
        self.is_method = bool(params) and params[0] == "self"
        self._signature: Signature = read_signature(function, skip_first=self.is_method)
        doc, param_docs = parse_docstring(function)
        self._schema: ArgsSchema | JsonArgs = ArgsSchema(
            f"tool {tool_name!r}", self._signature.params, param_docs
        )
        self.function = function
        self.name = tool_name
        self.description = description if description is not None else doc
        self.timeout = timeout
        self.sequential = sequential
        self.inline = inline
        self.requires_approval = requires_approval
        self.spec = ToolSpec(tool_name, self.description, self._schema.json_schema, strict)
        self.bound_to: object | None = None

    @property
    def signature(self) -> Signature:
        return self._signature

    @classmethod
    def from_schema(
        cls,
        function: Callable[..., Awaitable[Any]],
        *,
        name: str,
        description: str,
        parameters: dict[str, Any],
        timeout: float | None = None,
        sequential: bool = False,
        requires_approval: bool = False,
        context: str | None = None,
    ) -> Tool:
        """A tool whose parameters are a JSON schema given as it is, not read from a signature
        (a remote tool's: an MCP server's, for one).

        ``function`` is async and takes the model's arguments as keywords (``**arguments``);
        with ``context`` set, it also gets the ask's ``Context`` as the keyword of that name
        (pick one no schema will use, e.g. ``"__context"``). The arguments must be a JSON
        object; checking them against ``parameters`` is left to whoever runs the call.
        """
        if context is not None and context in parameters.get("properties", {}):
            raise ToolDefinitionError(
                f"tool {name!r}: its context keyword {context!r} is also one of its parameters"
            )

        async def placeholder() -> None:  # gives __init__ a signature to read; replaced below
            return None

        made = cls(
            placeholder,
            name=name,
            description=description,
            timeout=timeout,
            sequential=sequential,
            requires_approval=requires_approval,
        )
        made.function = function
        injections = () if context is None else (Injection(context, CONTEXT),)
        made._signature = Signature(
            fn=function, is_async=True, params=(), injections=injections, has_depends=False
        )
        from .schema import JsonArgs  # loaded by the placeholder tool above

        made._schema = JsonArgs(parameters)
        made.spec = ToolSpec(name, description, parameters)
        return made

    @property
    def schema(self) -> ArgsSchema | JsonArgs:
        return self._schema

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""
        return self._schema.json_schema

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (tools stay usable as plain functions)."""
        if self.bound_to is not None:
            return self.function(self.bound_to, *args, **kwargs)
        return self.function(*args, **kwargs)

    def __get__(self, instance: object | None, owner: type | None = None) -> Tool:
        if instance is None or not self.is_method:
            return self
        bound = copy.copy(self)
        bound.bound_to = instance
        return bound

    def with_name(self, name: str) -> Tool:
        """A copy of this tool under another name (e.g. a toolkit prefix)."""
        if not _NAME_PATTERN.match(name):
            raise ToolDefinitionError(
                f"tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-'"
            )
        renamed = copy.copy(self)
        renamed.name = name
        renamed.spec = ToolSpec(name, self.spec.description, self.spec.parameters, self.spec.strict)
        return renamed

    def with_function(self, function: Callable[..., Any]) -> Tool:
        """A copy of this tool, shown to the model as before (name, description, parameters,
        the same argument validation, timeout and approval), whose calls run ``function``
        instead (``agent.override(tools=...)`` in tests).

        ``function`` (sync or async, or a ``Tool``) gets the validated arguments by keyword:
        it takes the tool's parameters by name, or ``**kwargs`` for all of them, and may ask
        for injected values (``Context``, ``Inject``, ...) like a tool. A function that
        can't take the tool's arguments is a ``ToolDefinitionError`` (a ``ConfigError``).
        """
        if isinstance(function, Tool):
            signature, bound_to, fn = function.signature, function.bound_to, function.function
            takes_all = False
        elif not callable(function):
            raise ToolDefinitionError(
                f"tool {self.name!r} can be replaced by a function, got {function!r}"
            )
        else:
            fn, bound_to = function, None
            takes_all = any(
                p.kind is inspect.Parameter.VAR_KEYWORD
                for p in inspect.signature(function).parameters.values()
            )
            if takes_all:  # `def fake(**arguments)`: every argument, nothing injected
                signature = Signature(
                    fn=function,
                    is_async=inspect.iscoroutinefunction(function),
                    params=(),
                    injections=(),
                    has_depends=False,
                )
            else:
                signature = read_signature(function)
        label = getattr(fn, "__qualname__", repr(fn))
        if signature.is_generator:
            raise ToolDefinitionError(
                f"{label}, the replacement for tool {self.name!r}, is a generator function; "
                "return the value instead"
            )
        wanted = set(self._schema.names)  # the model-filled parameters (a schema tool: its own)
        given = {p.name for p in signature.params}
        required = {p.name for p in signature.params if p.default is inspect.Parameter.empty}
        if not takes_all and (wanted - given or required - wanted):
            raise ToolDefinitionError(
                f"{label}, the replacement for tool {self.name!r}, must take the tool's "
                f"parameters ({', '.join(sorted(wanted)) or 'none'}) by name, or **kwargs; "
                f"it takes ({', '.join(p.name for p in signature.params) or 'none'})"
            )
        replaced = copy.copy(self)
        replaced.function = fn
        replaced._signature = signature
        replaced.bound_to = bound_to
        replaced.is_method = False
        return replaced

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    sequential: bool = False,
    inline: bool = False,
    strict: bool = False,
    requires_approval: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    sequential: bool = False,
    inline: bool = False,
    strict: bool = False,
    requires_approval: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool from a typed function, sync or async.

    The model sees the function's name, docstring and parameters (types from the annotations,
    descriptions from the docstring's Google, NumPy or Sphinx parameter section). Parameters
    annotated ``Context``/``ToolCall`` or marked ``Inject``/``Variable``/``Depends`` are injected.

    Options: ``timeout`` (seconds; Python cannot kill a thread, so a sync tool that outlives it
    runs on in an abandoned thread: see ``baton.tools.threads``), ``sequential`` (never run
    alongside other tool calls), ``inline`` (run a sync function on the event loop instead of a
    worker thread: only for quick, non-blocking functions; no timeout can interrupt it),
    ``strict`` (ask providers for strict schemas),
    ``requires_approval`` (each call waits for a human's approval first: see ``baton.hitl``).
    """

    def make(fn: Callable[..., Any]) -> Tool:
        return Tool(
            fn,
            name=name,
            description=description,
            timeout=timeout,
            sequential=sequential,
            inline=inline,
            strict=strict,
            requires_approval=requires_approval,
        )

    if function is not None:
        return make(function)
    return make


def as_tool(item: Tool | Callable[..., Any]) -> Tool:
    """A ``Tool`` for ``item``: tools pass through, plain functions are wrapped."""
    return item if isinstance(item, Tool) else Tool(item)


AsyncToolFunction = Callable[..., Awaitable[Any]]
