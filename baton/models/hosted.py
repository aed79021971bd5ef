"""Provider-hosted tools: tools the model's provider runs on its own side.

    from baton.tools.builtins import CodeInterpreter, WebSearch, web_search

    Agent("a", config="anthropic:claude-sonnet-4-5", tools=[WebSearch(), CodeInterpreter()])
    Agent("a", config="ollama:llama3", tools=[WebSearch(fallback=web_search("tavily"))])

They are listed with the function tools and mapped to each provider's own: OpenAI's Responses
API (``web_search``, ``code_interpreter``, ``file_search``), Anthropic (web search, code
execution), Gemini and Vertex (Google Search, code execution). A model whose provider lacks one
is a ``ConfigError`` naming the local alternative when the agent is built, unless the spec has a
``fallback`` (a local tool, toolkit or tool source), which the agent then offers instead.
``ScriptedModel`` accepts every kind (tests see them in ``model.requests[i].hosted``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError

if TYPE_CHECKING:
    from .base import ModelConfig

__all__ = [
    "CodeInterpreter",
    "FileSearch",
    "HostedTool",
    "WebSearch",
    "check_hosted",
    "resolve_hosted",
    "split_hosted",
]


@dataclass(frozen=True, slots=True)
class HostedTool:
    """A tool the provider runs. ``fallback``: what to offer instead on a provider without it."""

    kind: ClassVar[str] = ""
    local: ClassVar[str] = ""
    """The local tool that does the same job, named in errors."""
    fallback: Any = None


@dataclass(frozen=True, slots=True)
class WebSearch(HostedTool):
    """The provider's web search. ``max_uses``: searches per model call (Anthropic)."""

    kind: ClassVar[str] = "web_search"
    local: ClassVar[str] = "baton.tools.builtins.web_search(...)"
    max_uses: int | None = None


@dataclass(frozen=True, slots=True)
class CodeInterpreter(HostedTool):
    """The provider's sandboxed code execution."""

    kind: ClassVar[str] = "code_interpreter"
    local: ClassVar[str] = "baton.tools.builtins.code_execution()"


@dataclass(frozen=True, slots=True)
class FileSearch(HostedTool):
    """Search over the provider's vector stores (OpenAI's Responses API)."""

    kind: ClassVar[str] = "file_search"
    local: ClassVar[str] = "baton.tools.builtins.files(root=...) or a knowledge store"
    vector_store_ids: Sequence[str] = ()
    max_results: int | None = None

    def __post_init__(self) -> None:
        ids = self.vector_store_ids
        if isinstance(ids, str) or not ids:
            raise ConfigError("FileSearch(vector_store_ids=[...]) needs the ids of vector stores")
        object.__setattr__(self, "vector_store_ids", tuple(ids))  # hashable, like the rest


def split_hosted(items: Iterable[Any]) -> tuple[list[Any], tuple[HostedTool, ...]]:
    """Separate hosted tool specs from everything else given as ``tools=[...]``."""
    rest: list[Any] = []
    hosted: list[HostedTool] = []
    for item in items:
        (hosted if isinstance(item, HostedTool) else rest).append(item)
    return rest, tuple(hosted)


def resolve_hosted(
    hosted: tuple[HostedTool, ...], config: ModelConfig | None, where: str
) -> tuple[tuple[HostedTool, ...], list[Any]]:
    """The specs ``config``'s provider runs, and the fallbacks to offer as local tools instead
    of those it lacks; a ``ConfigError`` naming the local alternative for a spec with none."""
    if not hosted or config is None:
        return hosted, []
    kinds = [h.kind for h in hosted]
    repeated = {k for k in kinds if kinds.count(k) > 1}
    if repeated:
        raise ConfigError(f"{where} lists the hosted tool {sorted(repeated)[0]!r} twice")
    sent: list[HostedTool] = []
    fallbacks: list[Any] = []
    for spec in hosted:
        if config.supports_hosted(spec.kind):
            sent.append(spec)
        elif spec.fallback is not None:
            fallbacks.append(spec.fallback)
        else:
            raise ConfigError(
                f"{where}: {type(spec).__name__}() is not available on {config.provider} "
                f"({config.model_name}); use the local {spec.local} instead, or give it one to "
                f"fall back on: {type(spec).__name__}(fallback=...)"
            )
    return tuple(sent), fallbacks


def check_hosted(hosted: tuple[HostedTool, ...], config: ModelConfig, where: str) -> None:
    """A ``ConfigError`` unless ``config`` runs every one of ``hosted``: for a model given to
    one ask, which can't take a spec's ``fallback`` (chosen for the agent's own model when its
    tools were compiled) nor be sent a spec its provider would read as another tool."""
    for spec in hosted:
        if not config.supports_hosted(spec.kind):
            name = type(spec).__name__
            raise ConfigError(
                f"{where}: {name}() is not available on {config.provider} "
                f"({config.model_name}), the model given to this ask; a hosted tool's "
                f"fallback is chosen for the agent's own model, so give the agent this model "
                f"(Agent(..., config=...)) to use {name}(fallback=...), or use the local "
                f"{spec.local} instead"
            )
