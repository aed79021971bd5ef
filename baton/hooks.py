"""The hook points features plug into: ``Middleware`` (around the ask, each model call, each
tool call and each human-input request), ``ContextPolicy`` (what one model call sees) and
``Observer`` (every event, inline), and the composition of middleware into chains.

These are core contracts: the loop calls them and knows nothing of any implementation
(``baton.middleware``, ``baton.harness`` and ``baton.hitl`` hold the built-in ones).

Middleware. Each hook is an ``async def around_...(…, proceed)`` that may act before and after
calling ``proceed`` (or not call it at all):

- ``around_ask(context, proceed)``: the whole ask; ``proceed()`` returns the ``Reply``;
- ``around_model_call(call, context, proceed)``: each model call; ``proceed(call)`` returns the
  ``ModelResponse``;
- ``around_tool_call(call, context, proceed)``: each tool call; ``proceed(call)`` returns its
  ``ToolCallResult`` or ``ToolCallError``;
- ``around_human_input(request, context, proceed)``: each request for human input
  (``HumanInputRequest``) or approval (``ApprovalRequest``); ``proceed(request)`` returns the
  ``HumanMessage`` that answers it.

Order: ``middleware=[a, b]`` means ``a`` wraps ``b``: ``a`` sees a call first and its result
last. The agent's middleware wraps the ask's (``ask(..., middleware=[...])``). A chain is
composed once per agent (and per distinct per-ask list), and a hook a middleware doesn't override
costs nothing.

Hook objects are shared by every conversation of an agent, so they keep per-conversation state
in ``context.state(self, factory)``, never on ``self``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from .context import Context
    from .events import (
        ApprovalRequest,
        Event,
        HumanInputRequest,
        HumanMessage,
        ModelResponse,
        ObserverAlert,
        ToolCall,
        ToolCallError,
        ToolCallResult,
    )
    from .models.base import ModelCall
    from .reply import Reply

__all__ = ["Chains", "ContextPolicy", "Middleware", "Observer"]

T = TypeVar("T")

ProceedAsk = Callable[[], Awaitable["Reply[Any]"]]
ProceedModel = Callable[["ModelCall"], Awaitable["ModelResponse"]]
ProceedTool = Callable[["ToolCall"], Awaitable["ToolCallResult | ToolCallError"]]
ProceedInput = Callable[["HumanInputRequest | ApprovalRequest"], Awaitable["HumanMessage"]]

AskHandler = Callable[["Context", ProceedAsk], Awaitable["Reply[Any]"]]
ModelHandler = Callable[["ModelCall", "Context"], Awaitable["ModelResponse"]]
ToolHandler = Callable[["ToolCall", "Context"], Awaitable["ToolCallResult | ToolCallError"]]
InputHandler = Callable[
    ["HumanInputRequest | ApprovalRequest", "Context"], Awaitable["HumanMessage"]
]


class Middleware:
    """Base class: override any of the ``around_*`` hooks (the defaults just proceed).

    ``inherited = True`` (a class attribute) gives the middleware to the sub-agents an ask
    runs (``as_tool``, ``run_subtasks``) as well, unless they have it already: ``Telemetry``
    is, so a sub-agent's spans nest under its parent's without a ``Telemetry`` of its own."""

    inherited: ClassVar[bool] = False

    async def around_ask(self, context: Context, proceed: ProceedAsk) -> Reply[Any]:
        return await proceed()

    async def around_model_call(
        self, call: ModelCall, context: Context, proceed: ProceedModel
    ) -> ModelResponse:
        return await proceed(call)

    async def around_tool_call(
        self, call: ToolCall, context: Context, proceed: ProceedTool
    ) -> ToolCallResult | ToolCallError:
        return await proceed(call)

    async def around_human_input(
        self,
        request: HumanInputRequest | ApprovalRequest,
        context: Context,
        proceed: ProceedInput,
    ) -> HumanMessage:
        return await proceed(request)


def _check_middleware(candidate: object) -> None:
    if not isinstance(candidate, Middleware):
        from .errors import ConfigError

        raise ConfigError(
            "middleware must be instances of a baton.middleware.Middleware subclass, "
            f"got {candidate!r}"
        )


def _overrides(middleware: Middleware, hook: str) -> bool:
    return getattr(type(middleware), hook) is not getattr(Middleware, hook)


def _wrap_model(mw: Middleware, inner: ModelHandler) -> ModelHandler:
    async def handler(call: ModelCall, context: Context) -> ModelResponse:
        return await mw.around_model_call(call, context, lambda c: inner(c, context))

    return handler


def _wrap_tool(mw: Middleware, inner: ToolHandler) -> ToolHandler:
    async def handler(call: ToolCall, context: Context) -> ToolCallResult | ToolCallError:
        return await mw.around_tool_call(call, context, lambda c: inner(c, context))

    return handler


def _wrap_input(mw: Middleware, inner: InputHandler) -> InputHandler:
    async def handler(
        request: HumanInputRequest | ApprovalRequest, context: Context
    ) -> HumanMessage:
        return await mw.around_human_input(request, context, lambda r: inner(r, context))

    return handler


def _wrap_ask(mw: Middleware, inner: AskHandler) -> AskHandler:
    async def handler(context: Context, proceed: ProceedAsk) -> Reply[Any]:
        return await mw.around_ask(context, lambda: inner(context, proceed))

    return handler


async def _ask_terminal(context: Context, proceed: ProceedAsk) -> Reply[Any]:
    return await proceed()


class Chains:
    """The composed hook chains of one middleware list (built once, reused by every ask)."""

    __slots__ = ("ask", "human_input", "middleware", "model", "tool")

    def __init__(
        self,
        middleware: Sequence[Middleware],
        model: ModelHandler,
        tool: ToolHandler,
        human_input: InputHandler,
    ) -> None:
        for mw in middleware:
            _check_middleware(mw)
        self.middleware = tuple(middleware)
        self.model = self._compose(model, "around_model_call", _wrap_model)
        self.tool = self._compose(tool, "around_tool_call", _wrap_tool)
        self.human_input = self._compose(human_input, "around_human_input", _wrap_input)
        self.ask: AskHandler | None = None
        if any(_overrides(mw, "around_ask") for mw in self.middleware):
            terminal: AskHandler = _ask_terminal
            self.ask = self._compose(terminal, "around_ask", _wrap_ask)

    def _compose(self, terminal: T, hook: str, wrap: Callable[[Middleware, T], T]) -> T:
        handler = terminal
        for mw in reversed(self.middleware):
            if _overrides(mw, hook):
                handler = wrap(mw, handler)
        return handler


class ContextPolicy:
    """Changes what one model call sees, never the stored history: override ``apply`` to
    return the ``ModelCall`` to make (a window of the events, extra instructions...)."""

    async def apply(self, call: ModelCall, context: Context) -> ModelCall:
        return call


class Observer:
    """Watches every event of an ask: override ``observe``. It is called inline for every
    event, so keep it quick; a returned ``ObserverAlert`` is recorded (a fatal one halts the ask
    cleanly)."""

    name: str = "observer"

    def observe(self, event: Event, context: Context) -> ObserverAlert | None:
        return None
