"""Middleware: the hook system and the built-ins.

Order is explicit: ``middleware=[a, b]`` means ``a`` wraps ``b`` (``a`` sees a call first and
its result last), and an agent's middleware wraps the ask's. A sensible order for the built-ins,
outermost first::

    [LoggingMiddleware(), UsageLimits(...), RetryMiddleware(), HistoryLimit(...), limiter]

logging sees every attempt's outcome once; usage limits stop an ask before any retry starts;
each retry waits for the rate limiter again, which estimates the tokens of the trimmed call.
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
