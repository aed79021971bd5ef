"""msgspec, which the provider extras install to decode streamed events
(``baton/providers/_wire_chunks.py``): imported only once a client is made, and its absence
the provider's missing-extra ``ConfigError``, not an ``ImportError`` in the middle of an ask."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from baton.errors import ConfigError
from baton.providers._config import ProviderConfig

pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("google.genai")
pytest.importorskip("ollama")
pytest.importorskip("msgspec")


def test_importing_the_providers_and_making_configs_does_not_import_msgspec() -> None:
    code = (
        "import sys, baton.providers as p\n"
        "for name in p.__all__:\n"
        "    getattr(p, name)\n"
        "p.OpenAIConfig('m', api_key='k'); p.AnthropicConfig('m', api_key='k')\n"
        "p.GeminiConfig('m', api_key='k'); p.OllamaConfig('m')\n"
        "print('msgspec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def _config(name: str) -> ProviderConfig:
    from baton import providers

    if name == "ollama":
        return providers.OllamaConfig("m")
    made: Callable[..., ProviderConfig] = {
        "openai": providers.OpenAIConfig,
        "responses": providers.OpenAIResponsesConfig,
        "anthropic": providers.AnthropicConfig,
        "gemini": providers.GeminiConfig,
        "dashscope": providers.DashScopeConfig,
    }[name]
    return made("m", api_key="k")


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("openai", "openai"),
        ("responses", "openai"),
        ("anthropic", "anthropic"),
        ("gemini", "gemini"),
        ("ollama", "ollama"),
        ("dashscope", "dashscope"),
    ],
)
def test_a_missing_msgspec_is_the_extras_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, extra: str
) -> None:
    config = _config(name)
    monkeypatch.setitem(sys.modules, "msgspec", None)  # as if not installed
    with pytest.raises(ConfigError, match=rf"pip install 'baton-agents\[{extra}\]'.*msgspec"):
        config.create_client()
