"""What an agent and an ask take: their keyword options (typed), and an ask's input made into
parts (``as_parts``), with the checks that turn a wrong value into a ``ConfigError``."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypedDict, cast

from pydantic_core import PydanticSerializationError, to_jsonable_python

from .errors import ConfigError
from .events import Data, Part, Text
from .history import History, Storage
from .hooks import ContextPolicy, Middleware, Observer
from .humans import HumanHandler, HumanRelay
from .models.base import ModelConfig, ModelSettings
from .stream import Stream
from .tools.threads import ToolThreads
from .tools.tool import Tool

__all__ = [
    "AGENT_OPTION_NAMES",
    "ASK_OPTION_NAMES",
    "AgentOptions",
    "AskOptions",
    "PromptInput",
    "as_parts",
    "check_ask_options",
    "check_hitl",
    "check_mapping",
    "check_one_argument",
    "check_positive",
    "check_threads",
    "check_timeout",
    "check_tool_list",
    "unknown_option",
]


PromptInput = str | Part | Sequence[str | Part] | Any
"""What an ask takes: text, an input part, a list of them, or any JSON-able value (see
``Agent.ask``)."""


class AskOptions(TypedDict, total=False):
    """Per-ask options; each adds to (never silently replaces) the agent's own."""

    tools: Iterable[Any]
    response_schema: Any
    dependencies: Mapping[Any, Any]
    variables: Mapping[str, Any]
    max_turns: int
    output_retries: int
    tool_concurrency: int
    tool_timeout: float | None
    tool_threads: ToolThreads | None
    settings: ModelSettings
    config: ModelConfig | str
    stream: Stream
    conversation_id: str
    middleware: Sequence[Middleware]
    policies: Sequence[ContextPolicy]
    observers: Sequence[Observer]
    suspend_on_human: bool
    wait_busy: float | None
    relay: HumanRelay
    raise_tool_errors: bool


def as_parts(prompt: PromptInput) -> tuple[Part, ...]:
    """An ask's input as parts: text becomes ``Text``, parts stay, and any other value (a dict,
    a dataclass, a pydantic model, a number, a list of such) becomes one ``Data`` part, which
    the model receives as JSON. A list mixing text or parts with values converts each item."""
    if isinstance(prompt, str):
        return (Text(prompt),)
    if isinstance(prompt, Part):
        return (prompt,)
    if isinstance(prompt, list | tuple) and any(isinstance(i, str | Part) for i in prompt):
        return tuple(
            Text(i) if isinstance(i, str) else i if isinstance(i, Part) else as_data(i)
            for i in prompt
        )
    return (as_data(prompt),)


def as_data(value: object) -> Data:
    if value is None or isinstance(value, bytes | bytearray):
        kind = "None" if value is None else "bytes"
        raise ConfigError(
            f"an ask takes text, input parts (Text, Image, Document, ...) or JSON-able data, "
            f"got {kind}; for a file use Image/Audio/Document(data=..., media_type=...)"
        )
    try:
        return Data(to_jsonable_python(value))
    except PydanticSerializationError as exc:
        raise ConfigError(
            f"an ask's input {type(value).__name__} can't be sent as JSON ({exc}); pass text, "
            "input parts, or data made of dicts, lists, numbers, dataclasses or pydantic models"
        ) from None


ASK_OPTION_NAMES: frozenset[str] = AskOptions.__optional_keys__ | AskOptions.__required_keys__

_MODEL_SETTINGS = frozenset(f.name for f in dataclasses.fields(ModelSettings)) - {"extra"}

# Names users of other libraries reach for, and what Baton calls them.
_SPELLED_ELSEWHERE = {
    "model": "config",
    "instructions": "prompt (the agent's instructions)",
    "system_prompt": "prompt (the agent's instructions)",
    "output_type": "response_schema",
    "result_type": "response_schema",
    "deps": "dependencies",
    "message_history": "conversation_id (a stored conversation) or reply.ask(...)",
}


def check_ask_options(options: Mapping[str, Any], where: str = "an ask") -> None:
    """A ``ConfigError`` for an option an ask does not take (an ask would otherwise run as if
    it had not been given: a mistyped ``conversation_id`` starts a new conversation), naming
    the nearest option or where the setting goes. Cheap for the usual ask: a set comparison."""
    if not options.keys() <= ASK_OPTION_NAMES:
        raise unknown_option(sorted(options.keys() - ASK_OPTION_NAMES)[0], ASK_OPTION_NAMES, where)
    variables = options.get("variables")
    if variables is not None and not isinstance(variables, Mapping):
        check_mapping("variables", variables)  # raises, naming what a dict would be


def unknown_option(
    name: str, known: Collection[str], where: str, *, takes_settings: bool = True
) -> ConfigError:
    """The error for an option ``where`` does not take, naming what was likely meant: the
    nearest of ``known``, or (``takes_settings``: an agent or its ask) the model setting or
    Baton's name for another library's option."""
    return ConfigError(f"{where} has no option {name}={_hint(name, known, takes_settings)}")


def _hint(name: str, known: Collection[str], takes_settings: bool) -> str:
    if takes_settings and name in _MODEL_SETTINGS:
        return f"; it is a model setting: settings=ModelSettings({name}=...)"
    if takes_settings and name in _SPELLED_ELSEWHERE:
        return f"; Baton calls it {_SPELLED_ELSEWHERE[name]}"
    import difflib  # only for the error

    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"; did you mean {close[0]}=?"
    setting = difflib.get_close_matches(name, _MODEL_SETTINGS, n=1) if takes_settings else []
    if setting:
        return f"; did you mean the model setting settings=ModelSettings({setting[0]}=...)?"
    return f" (its options: {', '.join(sorted(known))})"


def check_tool_list(tools: object, where: str = "tools") -> tuple[Any, ...]:
    """``tools=`` as a tuple: a list (or other iterable) of tools, toolkits and tool sources.
    One tool or function given alone (``tools=add``) is refused with the spelling."""
    if type(tools) is list or type(tools) is tuple:  # the usual spelling: nothing to check
        return tuple(tools)
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        # A tool or function alone is named in the example (a tool source's name may be a
        # command's, not a variable's).
        shown = tools.name if isinstance(tools, Tool) else getattr(tools, "__name__", None)
        example = f"[{shown}]" if isinstance(shown, str) and shown.isidentifier() else "[...]"
        raise ConfigError(
            f"{where}= takes a list of tools, toolkits or tool sources, e.g. {where}={example}; "
            f"got {type(tools).__name__}"
        )
    return tuple(tools)


def check_mapping(name: str, value: object) -> dict[Any, Any]:
    """A dict of ``value`` (``None``: empty), or a ``ConfigError`` for anything not a mapping."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name}= takes a dict (e.g. {name}={{'user_id': 42}}), got {type(value).__name__}"
        )
    return dict(value)


def check_hitl(handler: object) -> HumanHandler | None:
    """``hitl=``: ``None`` or a function taking ``(request, context)``."""
    if handler is None:
        return None
    if not callable(handler):
        raise ConfigError(
            "hitl= takes a function (request, context) -> answer, sync or async, got "
            f"{type(handler).__name__}"
        )
    if not _takes(handler, 2):
        raise ConfigError(
            f"hitl= handler {getattr(handler, '__qualname__', handler)!r} must take two "
            "arguments, (request, context): it is called with the HumanInputRequest or "
            "ApprovalRequest and the ask's Context"
        )
    return cast(HumanHandler, handler)


def check_one_argument(function: object, problem: str) -> None:
    """A ``ConfigError`` (``problem``, then what was given) unless ``function`` is callable
    with one positional argument: found when it is given, not when first called. A callable
    whose signature can't be read (a builtin) is taken as given."""
    if not callable(function):
        raise ConfigError(f"{problem}, got {function!r:.80}")
    if not _takes(function, 1):
        name = getattr(function, "__qualname__", type(function).__name__)
        signature = _called_signature(function)
        shown = "" if signature is None else _bare(signature)
        raise ConfigError(f"{problem}; {name}{shown} is not")


def _bare(signature: inspect.Signature) -> str:
    """A signature as its parameters alone, ``(state, limit)`` (annotations left out)."""
    return str(
        signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
    )


def _takes(function: Callable[..., Any], count: int) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments (``True`` when
    its signature can't be read: a builtin, an odd ``__signature__``)."""
    signature = _called_signature(function)
    if signature is None:
        return True
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def _called_signature(function: Callable[..., Any]) -> inspect.Signature | None:
    """The signature of what is called: a decorator's wrapper, not what it wraps (unless the
    wrapper takes anything, ``*args`` and ``**kwargs``, and passes it on); ``None`` when it
    can't be read."""
    try:
        signature = inspect.signature(function, follow_wrapped=False)
        kinds = {p.kind for p in signature.parameters.values()}
        if kinds == {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}:
            signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return signature


def check_positive(name: str, value: int, minimum: int = 1) -> int:
    """``value`` if it is an integer of at least ``minimum``, else a ``ConfigError``."""
    if not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


def check_timeout(value: float | None) -> float | None:
    """A tool timeout: ``None`` or a finite, positive number of seconds."""
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")  # NaN fails this too
    ):
        raise ConfigError(
            f"tool_timeout must be a finite, positive number of seconds, got {value!r}"
        )
    return value


def check_threads(value: ToolThreads | None) -> ToolThreads | None:
    """A thread pool for sync tools (``ToolThreads``) or ``None``."""
    if value is not None and not isinstance(value, ToolThreads):
        raise ConfigError(
            "tool_threads takes a thread pool for sync tools, e.g. tool_threads=ToolThreads(8) "
            f"(from baton.tools import ToolThreads), got {value!r}"
        )
    return value


def check_settings(value: object, where: str = "settings") -> ModelSettings | None:
    """``ModelSettings`` or ``None``; a dict (the usual slip) is refused with the spelling."""
    if value is None or isinstance(value, ModelSettings):
        return value
    hint = ""
    if isinstance(value, Mapping):
        fields = ", ".join(f"{key}={item!r}" for key, item in value.items())
        hint = f": write {where}=ModelSettings({fields}) (from baton import ModelSettings)"
    raise ConfigError(f"{where} takes a ModelSettings, got {type(value).__name__}{hint}")


class AgentOptions(TypedDict, total=False):
    """The keyword options of ``Agent(...)`` besides ``response_schema`` (see ``Agent``)."""

    config: ModelConfig | str | None
    tools: Iterable[Any]
    output_retries: int
    dependencies: Mapping[Any, Any] | None
    variables: Mapping[str, Any] | None
    max_turns: int
    tool_concurrency: int
    tool_timeout: float | None
    tool_threads: ToolThreads | None
    settings: ModelSettings | None
    history: History | None
    description: str | None
    middleware: Sequence[Middleware]
    policies: Sequence[ContextPolicy]
    observers: Sequence[Observer]
    hitl: HumanHandler | None
    storage: Storage | None
    suspend_on_human: bool
    raise_tool_errors: bool


# Everything Agent(...) takes by keyword (its options and response_schema).
AGENT_OPTION_NAMES: frozenset[str] = (
    AgentOptions.__optional_keys__ | AgentOptions.__required_keys__ | {"response_schema"}
)
