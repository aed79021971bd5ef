"""Alibaba Cloud Model Studio (DashScope): Qwen and the other models it serves.

Why the OpenAI-compatible mode and not the ``dashscope`` SDK: DashScope documents an
OpenAI-compatible Chat Completions endpoint (``/compatible-mode/v1``) that covers everything
Baton needs at parity: SSE streaming with ``stream_options.include_usage``, function tools
(``tool_calls`` deltas), ``response_format`` (``json_schema`` on the models that support it,
``native_output=False`` for the others), images as ``image_url`` (data URLs included), reasoning
streamed as ``reasoning_content`` and switched on by ``enable_thinking`` (with
``thinking_budget``), and usage in the OpenAI shape. The ``dashscope`` SDK would need a second
adapter for the same features: its own message and tool formats, separate text and multimodal
APIs (``AioGeneration`` / ``AioMultiModalConversation``), ``incremental_output`` streaming, and
errors returned as status fields rather than raised. So ``DashScopeConfig`` is an
``OpenAIConfig`` with DashScope's endpoint, key and names, and its client is the Chat
Completions client with the few request differences below; the ``dashscope`` extra installs
``openai``.

Request differences from OpenAI: ``max_tokens`` instead of ``max_completion_tokens``; reasoning
is requested with ``enable_thinking`` (and ``thinking_budget``) in the body instead of
``reasoning_effort`` (``"minimal"`` turns thinking off; a budget of 0 does too). Values given
in ``extra`` (sent in the body) win over these.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from ..models.base import ModelCall, ModelClient
from .openai import OpenAIChatClient, OpenAIConfig

__all__ = [
    "DASHSCOPE_BASE_URL",
    "DASHSCOPE_INTL_BASE_URL",
    "DashScopeChatClient",
    "DashScopeConfig",
]

DASHSCOPE_BASE_URL = "https://dashscope.aliyuncs.com/compatible-mode/v1"
DASHSCOPE_INTL_BASE_URL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"


@dataclass(eq=False)
class DashScopeConfig(OpenAIConfig):
    """A model on Alibaba Cloud Model Studio (DashScope), e.g. ``DashScopeConfig("qwen-plus")``.
    ``DASHSCOPE_API_KEY`` is read when ``api_key`` is not given. ``international=True`` uses the
    Singapore endpoint (keys are per region); ``base_url`` overrides both."""

    _: KW_ONLY
    international: bool = False

    provider_name: ClassVar[str] = "dashscope"
    env_keys: ClassVar[tuple[str, ...]] = ("DASHSCOPE_API_KEY",)
    extra_name: ClassVar[str] = "dashscope"

    def __post_init__(self) -> None:
        if self.base_url is None:
            self.base_url = DASHSCOPE_INTL_BASE_URL if self.international else DASHSCOPE_BASE_URL
        super().__post_init__()

    def create_client(self) -> ModelClient:
        return DashScopeChatClient(self)


class DashScopeChatClient(OpenAIChatClient):
    """Chat Completions against DashScope's compatible mode."""

    def build_request(self, call: ModelCall) -> dict[str, Any]:
        request = super().build_request(call)
        settings = call.settings
        request.pop("reasoning_effort", None)
        if "max_completion_tokens" in request:
            request["max_tokens"] = request.pop("max_completion_tokens")
        body: dict[str, Any] = {}
        if settings.thinking_budget is not None:
            body["enable_thinking"] = settings.thinking_budget > 0
            if settings.thinking_budget > 0:
                body["thinking_budget"] = settings.thinking_budget
        elif settings.reasoning_effort is not None:
            body["enable_thinking"] = settings.reasoning_effort != "minimal"
        if body:
            request["extra_body"] = {**body, **request.get("extra_body", {})}
        return request
