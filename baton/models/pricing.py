"""Optional prices, so that usage can state what it cost."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..events import Usage

__all__ = ["Price"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. Cached input tokens are billed at ``cached_input`` when given
    (else at ``input``); cache writes at ``cache_write`` when given (else at ``input``)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = usage.cache_read_tokens
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        write_rate = self.cache_write if self.cache_write is not None else self.input
        fresh = max(0, usage.input_tokens - cached - usage.cache_write_tokens)
        total = (
            fresh * self.input
            + cached * cached_rate
            + usage.cache_write_tokens * write_rate
            + usage.output_tokens * self.output
        )
        return total / 1_000_000

    def apply(self, usage: Usage) -> Usage:
        """``usage`` with its cost filled in."""
        return replace(usage, cost=self.cost(usage))
