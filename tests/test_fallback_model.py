"""FallbackModel: the next model config answers when one fails with a retryable error."""

import pytest

from baton import Agent, ConfigError, ModelResponse
from baton.errors import ConnectionLost, InvalidRequest, ProviderUnavailable, RateLimited
from baton.events import ModelCallRetry, UsageReport
from baton.models import ModelSettings, register_provider
from baton.models.fallback import FallbackModel
from baton.testing import ScriptedModel
from tests.test_builtin_middleware import FakeTime, retrying


async def test_fallback_answers_from_the_second_model_on_a_retryable_failure():
    primary = ScriptedModel(RateLimited("quota"), model="primary")
    secondary = ScriptedModel("from the secondary", model="secondary")
    agent = Agent("a", config=FallbackModel(primary, secondary))

    async with agent.run("hi") as run:
        live = [e async for e in run]
        reply = await run.result()

    assert reply.text == "from the secondary"
    assert (primary.calls_made, secondary.calls_made) == (1, 1)
    response = reply.events[-3]
    assert isinstance(response, ModelResponse)
    assert (response.provider, response.model) == ("scripted", "secondary")
    report = reply.events[-2]
    assert isinstance(report, UsageReport)
    assert [line.model for line in report.breakdown] == ["secondary"]
    notices = [e for e in live if isinstance(e, ModelCallRetry)]
    assert len(notices) == 1 and notices[0].delay == 0
    assert "scripted:primary" in notices[0].message and "scripted:secondary" in notices[0].message
    assert not any(isinstance(e, ModelCallRetry) for e in reply.events)  # live only


async def test_fallback_does_not_hide_errors_another_model_would_not_fix():
    error = InvalidRequest("malformed")
    primary = ScriptedModel(error)
    secondary = ScriptedModel("never")
    agent = Agent("a", config=FallbackModel(primary, secondary))

    with pytest.raises(InvalidRequest) as caught:
        await agent.ask("hi")

    assert caught.value is error
    assert secondary.calls_made == 0


async def test_fallback_through_several_models_raises_the_last_error():
    last = ProviderUnavailable("all down")
    models = [
        ScriptedModel(RateLimited("a")),
        ScriptedModel(ConnectionLost("dropped")),
        ScriptedModel(last),
    ]
    agent = Agent("a", config=FallbackModel(*models))

    with pytest.raises(ProviderUnavailable) as caught:
        await agent.ask("hi")

    assert caught.value is last
    assert [m.calls_made for m in models] == [1, 1, 1]


async def test_fallback_on_chosen_errors_and_with_each_configs_own_settings():
    primary = ScriptedModel(InvalidRequest("this model can't"))
    secondary = ScriptedModel("ok")
    secondary.settings = ModelSettings(temperature=0.1, max_tokens=50)
    config = FallbackModel(primary, secondary, on=(InvalidRequest,))
    agent = Agent("a", config=config, settings=ModelSettings(max_tokens=10))

    assert (await agent.ask("hi")).text == "ok"
    seen = secondary.last_request.settings
    assert (seen.temperature, seen.max_tokens) == (0.1, 10)  # the agent's setting wins
    assert primary.last_request.settings.temperature is None


async def test_fallback_accepts_provider_shorthands_and_retry_wraps_the_whole_chain():
    made: dict[str, ScriptedModel] = {
        "one": ScriptedModel(RateLimited("busy"), "one answers", model="one"),
        "two": ScriptedModel(RateLimited("busy too"), model="two"),
    }
    register_provider("fallback-test", lambda name: made[name])
    config = FallbackModel("fallback-test:one", "fallback-test:two")
    assert repr(config) == "FallbackModel(scripted:one, scripted:two)"
    time = FakeTime()
    agent = Agent("a", config=config, middleware=[retrying(time)])

    reply = await agent.ask("hi")

    assert reply.text == "one answers"
    assert (made["one"].calls_made, made["two"].calls_made) == (2, 1)
    assert time.sleeps == [0.5]


def test_fallback_options_are_checked():
    with pytest.raises(ConfigError, match="on="):
        FallbackModel(ScriptedModel("a"), ScriptedModel("b"), on=("not a class",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="provider:model"):
        FallbackModel(ScriptedModel("a"), "no-colon")
