"""Record a model's exchange once, replay it with no model at all (issue 11, point 20)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from baton import Agent, ConfigError, tool
from baton.events import TextChunk
from baton.replay import Cassette, ReplayMismatch
from baton.testing import ScriptedModel, call, chunks


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def weather_agent(config: Cassette, prompt: str = "Be brief.") -> Agent:
    return Agent("weather", prompt, config=config, tools=[get_weather])


async def test_a_recorded_exchange_replays_without_the_model(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "weather.json"
    real = ScriptedModel(call("get_weather", city="Oslo"), chunks("Oslo ", "is sunny"))
    recorded = await weather_agent(Cassette(path, config=real)).ask("Weather in Oslo?")
    assert real.calls_made == 2 and path.exists()
    assert [e["request"]["tools"] for e in json.loads(path.read_text())] == [["get_weather"]] * 2

    replaying = Cassette(path)  # no config: nothing but the file
    async with weather_agent(replaying).run("Weather in Oslo?") as run:
        streamed = [e.text async for e in run if isinstance(e, TextChunk)]
        replayed = await run.result()
    assert replayed.text == recorded.text == "Oslo is sunny"
    assert streamed == ["Oslo ", "is sunny"]
    assert [type(e) for e in replayed.events] == [type(e) for e in recorded.events]
    assert (replaying.provider, replaying.model_name) == ("scripted", "scripted")


async def test_a_changed_request_is_a_mismatch_naming_what_differs(tmp_path: Path) -> None:
    path = tmp_path / "weather.json"
    real = ScriptedModel(call("get_weather", city="Oslo"), "sunny")
    await weather_agent(Cassette(path, config=real)).ask("Weather in Oslo?")

    with pytest.raises(ReplayMismatch, match=r"call 1 differs .* at \.instructions"):
        await weather_agent(Cassette(path), prompt="Be very brief.").ask("Weather in Oslo?")
    with pytest.raises(ReplayMismatch, match=r"call 1 differs .*messages\[0\]"):
        await weather_agent(Cassette(path)).ask("Weather in Rome?")
    more = Agent("weather", "Be brief.", config=Cassette(path), tools=[get_weather])
    reply = await more.ask("Weather in Oslo?")
    with pytest.raises(ReplayMismatch, match="call 3 was not recorded"):
        await reply.ask("And tomorrow?")


def test_replaying_a_cassette_that_was_never_recorded_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has not been recorded yet"):
        Cassette(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="does not exist"):
        Cassette(tmp_path / "missing.json", mode="replay")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        Cassette(broken)


async def test_a_cancelled_call_is_not_recorded_and_errors_replay_as_their_own_class(
    tmp_path: Path,
) -> None:
    from baton.errors import RateLimited

    path = tmp_path / "errors.json"
    gate = asyncio.Event()

    async def never(_: object) -> str:
        await gate.wait()
        return "never"

    cassette = Cassette(path, config=ScriptedModel(never, RateLimited("quota")))
    agent = Agent("a", config=cassette)
    asking = asyncio.create_task(agent.ask("one"))
    await asyncio.sleep(0)
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    with pytest.raises(RateLimited):
        await agent.ask("two")
    assert [list(e) for e in json.loads(path.read_text())] == [
        ["provider", "model", "request", "chunks", "error"]
    ]  # only the call that ended
    with pytest.raises(RateLimited, match="replayed"):
        await Agent("a", config=Cassette(path)).ask("two")
