"""Secrets out of text: what errors, events and logs say is passed through ``redact_text`` (or
``redact`` for structured values) before anyone reads it.

Values under keys like ``api_key``, ``authorization``, ``token``, ``secret`` or ``password``,
bearer tokens, and strings shaped like provider API keys become ``[REDACTED]``. Provider errors
(an error body that echoes the key), ``RunFailed`` messages and sub-tasks' failures use it, and
so does ``LoggingMiddleware``; every logger of Baton's own (``logger(name)``) redacts what it
emits, message and traceback alike.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "SecretFilter", "is_secret_key", "logger", "redact", "redact_text"]

REDACTED = "[REDACTED]"

_SECRET_WORDS = (
    r"api[-_ ]?key|apikey|secret|password|passwd|authorization|credential|cookie|"
    r"private[-_]?key|signature|token(?!s|_count|izer)"
)
_KEY = r"[\w.-]*(?:" + _SECRET_WORDS + r")[\w.-]*"
# `key: value`, `key=value`, `"key": "value"`, `Authorization: Bearer value`, `?key=value`.
_ASSIGNMENT = (
    r"(?P<key>[\"']?(?:" + _KEY + r"|(?<=[?&])key)[\"']?\s*[:=]\s*)"
    r"(?P<value>(?:bearer|basic|token)\s+[^\s,;'\"}\]]+|\"[^\"]*\"|'[^']*'|[^\s,;&'\"}\]]+)"
)
# Secrets recognisable by their shape, wherever they appear.
_SHAPES = (
    r"\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI, Anthropic (sk-ant-...), DashScope
    r"|\bAIza[0-9A-Za-z_-]{30,}"  # Google API keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"  # JWTs
)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """One of the patterns above, compiled on first use: redaction runs on errors and log
    records, and compiling all three cost ``import baton`` about 2 ms."""
    return re.compile(pattern, re.IGNORECASE)


_MAX_DEPTH = 20


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``Authorization``, ``access_token``,
    ``client_secret``, ``password``...; not ``max_tokens`` or ``input_tokens``)."""
    return isinstance(key, str) and _compiled(_SECRET_WORDS).search(key) is not None


def _mask_assignment(match: re.Match[str]) -> str:
    value = match["value"]
    if value[:1] in "\"'":
        return f"{match['key']}{value[0]}{REDACTED}{value[0]}"
    return f"{match['key']}{REDACTED}"


def redact_text(text: str) -> str:
    """``text`` with secrets replaced by ``[REDACTED]``: values assigned to secret-named keys
    (``api_key=...``, ``"token": "..."``, ``Authorization: Bearer ...``) and strings shaped
    like API keys and bearer tokens."""
    text = _compiled(_ASSIGNMENT).sub(_mask_assignment, text)
    return _compiled(_SHAPES).sub(REDACTED, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` safe to log: mappings keep their keys but secret-named keys lose
    their values; strings go through ``redact_text`` (a JSON object or array inside a string is
    redacted as data); other objects become their redacted ``repr``."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if _depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                data = json.loads(stripped)
            except ValueError:
                pass
            else:
                return json.dumps(redact(data, _depth + 1), ensure_ascii=False)
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED if is_secret_key(k) else redact(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    return redact_text(repr(value))


class SecretFilter(logging.Filter):
    """A ``logging.Filter`` that redacts whole records (message, arguments and traceback text)
    on their way out. Baton's own loggers carry one (see ``logger``); attach one to a handler,
    ``handler.addFilter(SecretFilter())``, to cover every logger that handler serves."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters use this cached text instead of formatting the exception again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = SecretFilter()


def logger(name: str) -> logging.Logger:
    """The logger ``name`` with secrets redacted from what it emits (Baton's modules log only
    through these)."""
    found = logging.getLogger(name)
    if _FILTER not in found.filters:
        found.addFilter(_FILTER)
    return found
