"""What an ``MCPServer`` takes besides where the server is (``ServerOptions``), and the check
of it: every setting read once, a ``ConfigError`` naming the one that is wrong."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..models.base import ModelConfig

__all__ = ["ServerOptions", "Settings", "read_options"]

_NAME = re.compile(r"^[A-Za-z0-9_-]*$")
_LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class ServerOptions(TypedDict, total=False):
    """What every ``MCPServer`` maker takes besides where the server is.

    ``name`` labels the server in errors and events. ``timeout`` (seconds) bounds each tool
    call; ``connect_timeout`` (default 30) bounds opening a session (starting the server, the
    handshake) and each of the server's listings. ``include`` / ``exclude`` pick the server's
    tools by their names; ``prefix`` goes in front of each name the model sees (``"git_"``:
    ``git_status``; a name providers refuse, such as ``files.read``, is shown as
    ``files_read``). ``reconnect`` is how many more times a session that fails to open is tried
    (waiting 0.2 s, 0.4 s, ... between tries) before the call fails (a missing command, a
    process that exits before its first handshake and a refused token fail at once).
    ``resource_tools=True`` gives the model two more tools, ``list_resources`` and
    ``read_resource`` (prefixed too).
    ``elicitation`` (on by default) lets the server ask the ask's human for input;
    ``sampling`` is a model config that answers the server's sampling requests (off unless
    given). ``log_level`` (default ``"info"``) is the least severe log message a server on
    the 2026 protocol sends (older ones send what they like); ``None`` asks for none.
    """

    name: str
    timeout: float | None
    connect_timeout: float
    include: Collection[str] | None
    exclude: Collection[str]
    prefix: str
    reconnect: int
    resource_tools: bool
    elicitation: bool
    sampling: ModelConfig | None
    log_level: str | None


@dataclass(frozen=True, slots=True)
class Settings:
    """``ServerOptions`` checked, with their defaults."""

    name: str
    timeout: float | None
    connect_timeout: float | None
    include: frozenset[str] | None
    exclude: frozenset[str]
    prefix: str
    reconnect: int
    resource_tools: bool
    elicitation: bool
    sampling: ModelConfig | None
    log_level: str | None


def read_options(options: Mapping[str, Any]) -> Settings:
    """``options`` (a ``ServerOptions``) checked; a ``ConfigError`` for one that is wrong."""
    unknown = set(options) - set(ServerOptions.__annotations__)
    if unknown:
        raise ConfigError(
            f"MCPServer got unknown options {sorted(unknown)}; it takes "
            f"{', '.join(ServerOptions.__annotations__)}"
        )
    prefix = options.get("prefix", "")
    if not isinstance(prefix, str) or not _NAME.match(prefix):
        raise ConfigError(
            f"MCPServer prefix may hold letters, digits, '_' and '-' only, got {prefix!r}"
        )
    reconnect = options.get("reconnect", 3)
    if isinstance(reconnect, bool) or not isinstance(reconnect, int):
        raise ConfigError(f"MCPServer reconnect must be a whole number, got {reconnect!r}")
    if reconnect < 0:
        raise ConfigError(f"MCPServer reconnect can't be negative, got {reconnect}")
    sampling = options.get("sampling")
    if sampling is not None:
        from ..models.base import ModelConfig

        if not isinstance(sampling, ModelConfig):
            raise ConfigError(
                f"MCPServer sampling takes a model config (OpenAIConfig(...), ...), got "
                f"{sampling!r}"
            )
    log_level = options.get("log_level", "info")
    if log_level is not None and log_level not in _LOG_LEVELS:
        raise ConfigError(
            f"MCPServer log_level is one of {', '.join(_LOG_LEVELS)} or None, got {log_level!r}"
        )
    return Settings(
        name=options.get("name") or "mcp",
        timeout=_positive("timeout", options.get("timeout")),
        connect_timeout=_positive("connect_timeout", options.get("connect_timeout", 30.0)),
        include=_names("include", options.get("include")),
        exclude=_names("exclude", options.get("exclude", ())) or frozenset(),
        prefix=prefix,
        reconnect=reconnect,
        resource_tools=bool(options.get("resource_tools", False)),
        elicitation=bool(options.get("elicitation", True)),
        sampling=sampling,
        log_level=log_level,
    )


def _positive(what: str, value: float | None) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"MCPServer {what} must be a positive number, got {value!r}")
    if value is not None and not value > 0:
        raise ConfigError(f"MCPServer {what} must be a positive number, got {value!r}")
    return value


def _names(what: str, value: Collection[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"MCPServer {what} takes a list of tool names, got {value!r}")
    return frozenset(value)
