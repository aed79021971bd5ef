"""Successive ask_sync calls (each with its own event loop) through a real SDK client."""

from test_openai_chat import completion
from wire import WireServer

from baton import Agent
from baton.providers.openai import OpenAIConfig


def test_ask_sync_repeatedly_with_a_real_sdk_client(wire: WireServer) -> None:
    # Each ask_sync runs its own event loop; the config must not reuse a pool bound to a closed
    # loop.
    for text in ("one", "two", "three"):
        wire.reply_json(completion(text))
    cfg = OpenAIConfig(
        "gpt-test", api_key="sk-test", base_url=f"{wire.url}/v1", max_retries=0, stream=False
    )
    agent = Agent("a", config=cfg)
    first = agent.ask_sync("1")
    second = first.ask_sync("2")
    third = agent.ask_sync("3")
    assert [first.text, second.text, third.text] == ["one", "two", "three"]
