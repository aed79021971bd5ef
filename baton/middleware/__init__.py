"""Middleware: the hook system and the built-ins.

Order is explicit: ``middleware=[a, b]`` means ``a`` wraps ``b`` (``a`` sees a call first and
its result last), and an agent's middleware wraps the ask's. A sensible order for the built-ins,
outermost first::

    [UsageLimits(...), RetryMiddleware(), LoggingMiddleware(), HistoryLimit(...), limiter]

usage limits stop an ask before a call is tried at all; logging inside the retries logs each
attempt (and the ask's start and end wherever it is); each attempt waits for the rate limiter,
which sees, and estimates, the call as trimmed by the history limit.
For falling back to another model on failure, see ``baton.models.fallback.FallbackModel``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import Chains, Middleware
    from .history_limits import HistoryLimit
    from .limits import UsageLimits
    from .logging import LoggingMiddleware, SecretFilter, redact, redact_text
    from .ratelimit import Limiter, RateLimit, RateLimiter, TokenBucket
    from .retry import Retries, RetryMiddleware

__all__ = [
    "Chains",
    "HistoryLimit",
    "Limiter",
    "LoggingMiddleware",
    "Middleware",
    "RateLimit",
    "RateLimiter",
    "Retries",
    "RetryMiddleware",
    "SecretFilter",
    "TokenBucket",
    "UsageLimits",
    "redact",
    "redact_text",
]

# Each built-in loads when first named: the core needs only ``base`` (``import baton`` would
# otherwise load every built-in, and through the history limit's token counting, the harness).
_MODULES = {
    "Chains": "base",
    "Middleware": "base",
    "HistoryLimit": "history_limits",
    "UsageLimits": "limits",
    "LoggingMiddleware": "logging",
    "SecretFilter": "logging",
    "redact": "logging",
    "redact_text": "logging",
    "Limiter": "ratelimit",
    "RateLimit": "ratelimit",
    "RateLimiter": "ratelimit",
    "TokenBucket": "ratelimit",
    "Retries": "retry",
    "RetryMiddleware": "retry",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
