"""ask_sync through a real SDK client: every blocking call runs on one loop of Baton's own
(``baton.sync``), so a config makes one client, reused across calls and closed at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from test_openai_chat import completion
from wire import WireServer

from baton import Agent, ConfigError, tool
from baton.providers.openai import OpenAIConfig
from baton.testing import ScriptedModel, call


def sdk_config(wire: WireServer) -> OpenAIConfig:
    return OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
    )


def test_ask_sync_reuses_one_sdk_client_across_calls(wire: WireServer) -> None:
    for text in ("one", "two", "three", "four", "five"):
        wire.reply_json(completion(text))
    cfg = sdk_config(wire)
    agent = Agent("a", config=cfg)
    first = agent.ask_sync("1")
    client = cfg.__dict__["_baton_client"][1]
    second = first.ask_sync("2")
    rest = [agent.ask_sync(str(n)).text for n in (3, 4, 5)]
    assert [first.text, second.text, *rest] == ["one", "two", "three", "four", "five"]
    assert cfg.__dict__["_baton_client"][1] is client  # one client (one pool) for all five


def test_a_program_of_ask_sync_calls_exits_without_unclosed_transports(wire: WireServer) -> None:
    for text in ("one", "two", "three"):
        wire.reply_json(completion(text))
    program = textwrap.dedent(
        f"""
        import gc, warnings
        warnings.simplefilter("always", ResourceWarning)
        from baton import Agent
        from baton.providers.openai import OpenAIConfig
        cfg = OpenAIConfig("gpt-test", api_key="sk-test", base_url="{wire.url}/v1",
                           max_retries=0, stream=False)
        agent = Agent("a", config=cfg)
        print([agent.ask_sync(str(n)).text for n in range(3)])
        """
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", program], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['one', 'two', 'three']"
    assert "unclosed" not in done.stderr.lower(), done.stderr


def test_ask_sync_from_code_on_the_blocking_loop_is_a_config_error() -> None:
    """An inline tool runs on the loop ask_sync waits on: a blocking call there would wait for
    itself, so it is refused (the tool's error names the fix)."""
    inner = Agent("inner", config=ScriptedModel("never"))

    @tool(inline=True)
    def nested() -> str:
        """Ask another agent, blocking."""
        return inner.ask_sync("hi").text

    agent = Agent("outer", config=ScriptedModel(call("nested"), "done"), tools=[nested])
    with pytest.raises(ConfigError, match=r"await agent\.ask"):
        agent.ask_sync("go")
