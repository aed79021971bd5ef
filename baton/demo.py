"""The demo agent: two tools, a structured answer, and a script for running with no provider.

Everything here is ordinary Baton code; ``baton demo`` (in ``cli.py``) runs it and draws its
events in the terminal.
"""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel, Field

from .agent import Agent
from .errors import AuthenticationFailed, ConfigError
from .models.base import ModelConfig
from .models.registry import resolve_config
from .testing import ScriptedModel, call, chunks, reasoning
from .tools.tool import tool

__all__ = ["WalkAdvice", "build_agent", "choose_model"]

# Keys that, once provider adapters are installed, let the demo use a real model.
PROVIDER_KEYS = {
    "OPENAI_API_KEY": "openai:gpt-5-mini",
    "ANTHROPIC_API_KEY": "anthropic:claude-haiku-4-5",
    "GEMINI_API_KEY": "gemini:gemini-2.5-flash",
}

_WEATHER = {
    "lisbon": (21.5, 0.0, "sunny"),
    "oslo": (8.0, 3.2, "light rain"),
    "tokyo": (17.0, 0.4, "cloudy"),
}


class CityWeather(BaseModel):
    city: str
    celsius: float
    fahrenheit: float
    conditions: str


class WalkAdvice(BaseModel):
    """The demo's structured answer."""

    best_city: str = Field(description="The city best suited for a walk today")
    reason: str
    cities: list[CityWeather]


@tool
async def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city.

    Args:
        city: The city's name, e.g. "Lisbon".
    """
    await asyncio.sleep(0.15)  # stands in for a network call, so the parallel calls show
    celsius, rain_mm, conditions = _WEATHER.get(city.lower(), (15.0, 0.0, "unknown"))
    return {"city": city, "celsius": celsius, "rain_mm": rain_mm, "conditions": conditions}


@tool(inline=True)
def to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from Celsius to Fahrenheit.

    Args:
        celsius: Degrees Celsius.
    """
    return round(celsius * 9 / 5 + 32, 1)


QUESTION = "Compare the weather in Lisbon and Oslo right now: where should I go for a walk?"

PROMPT = (
    "You help people plan walks. Use the tools to look up each city's weather and to convert "
    "temperatures, then recommend one city."
)


def scripted_model() -> ScriptedModel:
    """Canned answers that exercise every part of the loop: streamed text and reasoning,
    parallel tool calls, and a structured answer streamed as JSON."""
    answer = (
        '{"best_city": "Lisbon", "reason": "Sunny and 21.5 °C with no rain, while Oslo is '
        '8 °C with light rain.", "cities": ['
        '{"city": "Lisbon", "celsius": 21.5, "fahrenheit": 70.7, "conditions": "sunny"}, '
        '{"city": "Oslo", "celsius": 8.0, "fahrenheit": 46.4, "conditions": "light rain"}]}'
    )
    return ScriptedModel(
        chunks(
            reasoning("Two cities to compare: I'll fetch both forecasts at once. "),
            "Let me check ",
            "the weather ",
            "in both cities.",
            call("get_weather", city="Lisbon"),
            call("get_weather", city="Oslo"),
        ),
        chunks(
            "Converting ",
            "to Fahrenheit too.",
            call("to_fahrenheit", celsius=21.5),
            call("to_fahrenheit", celsius=8.0),
        ),
        chunks(*[answer[i : i + 12] for i in range(0, len(answer), 12)]),
        model="scripted-demo",
    )


def choose_model(requested: str | None = None) -> tuple[ModelConfig, str]:
    """The model to run on, and a sentence saying plainly which one and why.

    A model the user names (``--model``) is used or refused (``ConfigError``, saying why): the
    demo never answers a named model's question with canned text. Without one, the first
    provider whose key is set and whose SDK is installed, else the scripted model."""
    if requested:
        try:
            return _usable(requested), f"Running on {requested}."
        except (ConfigError, AuthenticationFailed) as exc:
            raise ConfigError(f"can't run the demo on {requested}: {exc}") from None
    candidates = [model for key, model in PROVIDER_KEYS.items() if os.environ.get(key)]
    problems: list[str] = []
    for shorthand in candidates:
        try:
            return _usable(shorthand), f"Running on {shorthand}."
        except (ConfigError, AuthenticationFailed) as exc:
            problems.append(f"{shorthand}: {exc}")
    reason = "No provider key is set" if not problems else "; ".join(problems)
    return scripted_model(), (
        f"{reason}. Running on Baton's SCRIPTED model: canned, offline answers, no network, "
        "no cost."
    )


def _usable(shorthand: str) -> ModelConfig:
    """The config ``shorthand`` names, its client made: a missing SDK or key fails here."""
    config = resolve_config(shorthand)
    config.client()
    return config


def build_agent(config: ModelConfig) -> Agent[WalkAdvice]:
    return Agent(
        "walk-planner",
        PROMPT,
        config=config,  # <- the one line to change for a real model, e.g. "openai:gpt-5"
        tools=[get_weather, to_fahrenheit],
        response_schema=WalkAdvice,
    )
