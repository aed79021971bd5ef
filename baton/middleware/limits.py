"""Usage limits: stop an ask that has used too much.

    agent = Agent("a", config=..., middleware=[UsageLimits(requests=10, total_tokens=50_000)])

Limits apply to each ask (its running usage, ``context.usage``, sub-agents' usage included) and
are checked before every model call and every tool call. An ask that reached one stops with
``UsageLimitExceeded``, which names the limit, the value reached and how to raise it; the events
recorded so far stay in the conversation's history, closed by ``RunFailed``.

- ``requests``: model calls the ask may make; the call that would exceed it is not made;
- ``tool_calls``: tool calls the ask may run; a response asking for more than are left is
  refused before any of its calls runs;
- ``input_tokens``, ``output_tokens``, ``total_tokens``, ``cost`` (USD): a call's usage is
  only known once it is made, so the ask stops before its next call (or tool call) once its
  running total has reached the limit. The call that crosses a limit completes and is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError, UsageLimitExceeded
from .base import Middleware, ProceedModel, ProceedTool

if TYPE_CHECKING:
    from ..context import Context, UsageCounter
    from ..events import ModelResponse, ToolCall, ToolCallError, ToolCallResult
    from ..models.base import ModelCall

__all__ = ["UsageLimits"]


def _check(name: str, value: float | None, minimum: float, kind: type | tuple[type, ...]) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        raise ConfigError(f"UsageLimits({name}=...) must be a number >= {minimum}, got {value!r}")


class UsageLimits(Middleware):
    """Per-ask limits on requests, tool calls, tokens and cost (``None``: no limit).

    Checks read the ask's usage counter directly, so an idle limit costs a few comparisons.
    """

    def __init__(
        self,
        *,
        requests: int | None = None,
        tool_calls: int | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
        cost: float | None = None,
    ) -> None:
        _check("requests", requests, 1, int)
        _check("tool_calls", tool_calls, 0, int)
        _check("input_tokens", input_tokens, 1, int)
        _check("output_tokens", output_tokens, 1, int)
        _check("total_tokens", total_tokens, 1, int)
        _check("cost", cost, 0, (int, float))
        if cost is not None and cost <= 0:
            raise ConfigError(f"UsageLimits(cost=...) must be more than 0 USD, got {cost!r}")
        self.requests = requests
        self.tool_calls = tool_calls
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.total_tokens = total_tokens
        self.cost = cost
        # Bounds for a quick "nothing reached" test: no token limit is reached while input and
        # output tokens are each below the smallest token limit (total's halved, as it is
        # their sum), nor the cost limit while the cost is below it.
        token_limits = [n for n in (input_tokens, output_tokens) if n is not None]
        if total_tokens is not None:
            token_limits.append(total_tokens // 2)
        self._token_floor = min(token_limits, default=2**63)
        self._cost_floor = cost if cost is not None else float("inf")

    def __repr__(self) -> str:
        set_ = {
            k: v
            for k, v in (
                ("requests", self.requests),
                ("tool_calls", self.tool_calls),
                ("input_tokens", self.input_tokens),
                ("output_tokens", self.output_tokens),
                ("total_tokens", self.total_tokens),
                ("cost", self.cost),
            )
            if v is not None
        }
        return f"UsageLimits({', '.join(f'{k}={v!r}' for k, v in set_.items())})"

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        counter = context.usage_counter
        limit = self.requests
        if limit is not None and counter.requests >= limit:
            raise self._exceeded(
                context,
                "requests",
                counter.requests,
                limit,
                f"made {counter.requests} model requests, the most it may make",
            )
        floor = self._token_floor
        if (
            counter.input_tokens >= floor
            or counter.output_tokens >= floor
            or counter.cost >= self._cost_floor
        ):
            self._check_tokens(context, counter, "a model call")
        return await proceed(call)

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        counter = context.usage_counter
        limit = self.tool_calls
        # The loop counts a response's tool calls before running them: a response that asks
        # for more than are left is refused as a whole.
        if limit is not None and counter.tool_calls > limit:
            raise self._exceeded(
                context,
                "tool_calls",
                counter.tool_calls,
                limit,
                f"asked for {counter.tool_calls} tool calls, more than the {limit} it may run",
            )
        floor = self._token_floor
        if (
            counter.input_tokens >= floor
            or counter.output_tokens >= floor
            or counter.cost >= self._cost_floor
        ):
            self._check_tokens(context, counter, f"tool call {call.name!r}")
        return await proceed(call)

    def _check_tokens(self, context: Context, counter: UsageCounter, before: str) -> None:
        limit: float | None = self.input_tokens
        if limit is not None and counter.input_tokens >= limit:
            self._over(context, "input_tokens", counter.input_tokens, limit, "input tokens", before)
        limit = self.output_tokens
        if limit is not None and counter.output_tokens >= limit:
            self._over(
                context, "output_tokens", counter.output_tokens, limit, "output tokens", before
            )
        limit = self.total_tokens
        if limit is not None and counter.input_tokens + counter.output_tokens >= limit:
            total = counter.input_tokens + counter.output_tokens
            self._over(context, "total_tokens", total, limit, "tokens in all", before)
        limit = self.cost
        if limit is not None and counter.cost >= limit:
            self._over(context, "cost", counter.cost, limit, "USD", before)

    def _over(
        self, context: Context, name: str, value: float, limit: float, unit: str, before: str
    ) -> None:
        shown = f"{value:.4f}" if name == "cost" else f"{value}"
        raise self._exceeded(
            context,
            name,
            value,
            limit,
            f"used {shown} {unit}, reaching its limit, and was stopped before {before}",
        )

    @staticmethod
    def _exceeded(
        context: Context, name: str, value: float, limit: float, what: str
    ) -> UsageLimitExceeded:
        return UsageLimitExceeded(
            f"usage limit {name}={limit} reached: agent {context.agent_name!r}'s ask {what}. "
            f"The events so far are kept in the conversation. To allow more, raise it: "
            f"UsageLimits({name}=...) with a higher value (or None for no limit).",
            limit=name,
            value=value,
            maximum=limit,
        )
