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
