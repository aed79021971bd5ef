"""Logging through the standard ``logging`` module, with secrets never written.

    logging.basicConfig(level=logging.INFO)
    agent = Agent("a", config=..., middleware=[LoggingMiddleware()])

One record per ask start and end, per model call (model, tokens, duration) and per tool call
(name, duration, ok or the error type), on the ``baton`` logger by default; failures at
``error_level``. Each record also carries its fields as ``record.baton`` (a dict) for structured
handlers. Content (prompts, answers, tool arguments and results) is logged only with
``include_content=True``.

Everything taken from the conversation or an error is passed through ``redact`` first: values
under keys like ``api_key``, ``authorization``, ``token``, ``secret`` or ``password``, bearer
tokens, and strings shaped like provider API keys are replaced by ``[REDACTED]``. Tracebacks are
not logged (their messages would bypass the redaction); ``SecretFilter`` redacts records other
code logs, tracebacks included. When the logger is disabled for ``level``, the middleware only
checks that and proceeds.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..events import ToolCallError
from ..redaction import REDACTED, SecretFilter, is_secret_key, redact, redact_text
from .base import Middleware, ProceedAsk, ProceedModel, ProceedTool

if TYPE_CHECKING:
    from ..context import Context
    from ..events import ModelResponse, ToolCall, ToolCallResult
    from ..models.base import ModelCall
    from ..reply import Reply

__all__ = [
    "REDACTED",
    "LoggingMiddleware",
    "SecretFilter",
    "is_secret_key",
    "redact",
    "redact_text",
]


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {redact_text(str(error))}"


class LoggingMiddleware(Middleware):
    """Log asks, model calls and tool calls through ``logging``, secrets redacted.

    ``logger`` is a ``logging.Logger`` or a logger name (default ``"baton"``); records go out at
    ``level``, failures at ``error_level``; ``include_content`` adds prompts, answers, tool
    arguments and results (redacted, and cut to ``max_content`` characters).
    """

    def __init__(
        self,
        logger: logging.Logger | str | None = None,
        *,
        level: int = logging.INFO,
        error_level: int = logging.WARNING,
        include_content: bool = False,
        max_content: int = 2000,
    ) -> None:
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or "baton")
        self.logger = logger
        self.level = level
        self.error_level = error_level
        self.include_content = include_content
        self.max_content = max_content
        self._threshold = min(level, error_level)

    def __repr__(self) -> str:
        return (
            f"LoggingMiddleware(logger={self.logger.name!r}, "
            f"level={logging.getLevelName(self.level)}, include_content={self.include_content})"
        )

    def _content(self, value: Any) -> Any:
        safe = redact(value)
        if isinstance(safe, str) and len(safe) > self.max_content:
            return safe[: self.max_content] + f"... ({len(safe)} characters)"
        return safe

    def _log(self, level: int, message: str, fields: dict[str, Any]) -> None:
        parts = " ".join(f"{k}={v}" for k, v in fields.items() if not isinstance(v, dict))
        self.logger.log(level, "%s %s", message, parts, extra={"baton": fields})

    async def around_ask(self, context: Context, proceed: ProceedAsk) -> Reply[Any]:
        if not self.logger.isEnabledFor(self._threshold):
            return await proceed()
        fields: dict[str, Any] = {
            "agent": context.agent_name,
            "conversation": context.conversation_id,
            "run": context.run_id,
        }
        if self.include_content:
            fields["prompt"] = repr(self._content(context.request.text))
        self._log(self.level, "ask started", fields)
        start = time.perf_counter()
        try:
            reply = await proceed()
        except BaseException as error:
            fields = {**fields, "duration": f"{time.perf_counter() - start:.3f}s"}
            fields.pop("prompt", None)
            fields["error"] = repr(_error_text(error))
            self._log(self.error_level, "ask failed", fields)
            raise
        usage = reply.usage
        fields = {
            "agent": context.agent_name,
            "conversation": context.conversation_id,
            "run": context.run_id,
            "duration": f"{time.perf_counter() - start:.3f}s",
            "requests": usage.requests,
            "tool_calls": usage.tool_calls,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost": f"{usage.cost:.6f}",
        }
        if self.include_content:
            fields["answer"] = repr(self._content(reply.text))
        self._log(self.level, "ask finished", fields)
        return reply

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        if not self.logger.isEnabledFor(self._threshold):
            return await proceed(call)
        config = context.model_config
        provider = call.provider or config.provider
        model = call.model or config.model_name
        start = time.perf_counter()
        try:
            response = await proceed(call)
        except BaseException as error:
            self._log(
                self.error_level,
                "model call failed",
                {
                    "agent": call.agent,
                    "run": call.run_id,
                    "model": f"{provider}:{model}",
                    "messages": len(call.messages),
                    "duration": f"{time.perf_counter() - start:.3f}s",
                    "error": repr(_error_text(error)),
                },
            )
            raise
        usage = response.usage
        fields: dict[str, Any] = {
            "agent": call.agent,
            "run": call.run_id,
            "model": f"{response.provider or provider}:{response.model or model}",
            "messages": len(call.messages),
            "duration": f"{time.perf_counter() - start:.3f}s",
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "finish": response.finish_reason,
            "tool_calls": len(response.tool_calls),
        }
        if self.include_content:
            fields["text"] = repr(self._content(response.text))
            if response.tool_calls:
                fields["calls"] = repr(
                    [(c.name, self._content(c.arguments)) for c in response.tool_calls]
                )
        self._log(self.level, "model call", fields)
        return response

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        if not self.logger.isEnabledFor(self._threshold):
            return await proceed(call)
        fields: dict[str, Any] = {
            "agent": context.agent_name,
            "run": context.run_id,
            "tool": call.name,
            "call_id": call.id,
        }
        if self.include_content:
            fields["arguments"] = repr(self._content(call.arguments))
        start = time.perf_counter()
        try:
            outcome = await proceed(call)
        except BaseException as error:
            fields["duration"] = f"{time.perf_counter() - start:.3f}s"
            fields["error"] = repr(_error_text(error))
            self._log(self.error_level, "tool call failed", fields)
            raise
        fields["duration"] = f"{time.perf_counter() - start:.3f}s"
        if isinstance(outcome, ToolCallError):
            fields["outcome"] = f"error ({outcome.error_type})"
            if self.include_content:
                fields["message"] = repr(self._content(outcome.message))
            self._log(self.error_level, "tool call", fields)
        else:
            fields["outcome"] = "ok"
            if self.include_content:
                fields["result"] = repr(self._content(outcome.content))
            self._log(self.level, "tool call", fields)
        return outcome
