"""Sequential: steps in order, each starting fresh with a carryover (last answer, a model's
summary, or a function), all in one conversation."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Agent
from baton.errors import ConfigError
from baton.events import ModelRequest, RunStarted
from baton.teams import MaxTurns, RoundRobin, Sequential, Turn
from baton.testing import ScriptedModel


def step(name: str, text: str) -> tuple[Agent[str], ScriptedModel]:
    model = ScriptedModel(text, repeat=True)
    return Agent(name, config=model), model


async def test_each_step_starts_fresh_with_the_last_answer(valid_history: Any) -> None:
    r, r_model = step("researcher", "green tea has catechins")
    w, w_model = step("writer", "An article.")
    e, e_model = step("editor", "An edited article.")
    reply = await Sequential([r, w, e]).ask("Green tea")
    assert reply.text == "An edited article." and reply.termination == "sequence done"
    events = list(reply.events)
    valid_history(events)
    assert [x.agent for x in events if isinstance(x, RunStarted)] == [
        "researcher",
        "writer",
        "editor",
    ]
    # The writer saw one request: the task and the researcher's answer, nothing else.
    assert w_model.seen() == [
        (
            "user",
            "user",
            "Green tea\n\nCarried over from the earlier steps:\n"
            "[researcher] green tea has catechins",
        )
    ]
    assert len(e_model.seen()) == 1 and "[writer] An article." in e_model.seen()[0].text
    assert len([x for x in events if isinstance(x, ModelRequest)]) == 3
    # reply.ask runs the sequence again on a new task.
    again = await reply.ask("Black tea")
    assert [x.agent for x in again.events if isinstance(x, RunStarted)][3:] == [
        "researcher",
        "writer",
        "editor",
    ]
    assert r_model.seen() == [("user", "user", "Black tea")]


async def test_summary_and_function_carryovers() -> None:
    summarizer = ScriptedModel("they found catechins", "they found catechins and wrote it up")
    r, _ = step("researcher", "catechins")
    w, _ = step("writer", "article")
    e, e_model = step("editor", "edited")
    reply = await Sequential([r, w, e], carryover="summary", summary_model=summarizer).ask("tea")
    assert "[researcher] catechins" in summarizer.requests[-1].messages[-1].text  # type: ignore[attr-defined]
    assert "they found catechins and wrote it up" in e_model.seen()[0].text
    assert reply.usage.requests == 3 + 2  # three steps and two summaries
    assert reply.usage_by_member["sequential-summarizer"].requests == 2  # the parts add up

    async def joined(turns: list[Turn]) -> str:
        return " + ".join(t.member for t in turns)

    r2, _ = step("researcher", "x")
    w2, _ = step("writer", "y")
    e2, e2_model = step("editor", "z")
    await Sequential([r2, w2, e2], carryover=joined).ask("tea")
    assert e2_model.seen()[0].text.endswith("researcher + writer")


async def test_a_team_as_a_step() -> None:
    inner = RoundRobin(
        [Agent("a", config=ScriptedModel("a1")), Agent("b", config=ScriptedModel("b1"))],
        name="pair",
        termination=MaxTurns(2),
    )
    e, e_model = step("editor", "done")
    reply = await Sequential([inner, e]).ask("task")
    assert reply.text == "done"
    assert e_model.seen()[0].text.endswith("[pair] b1")


def test_bad_sequences() -> None:
    a, _ = step("a", "x")
    with pytest.raises(ConfigError, match="summary_model"):
        Sequential([a], carryover="summary")
    with pytest.raises(ConfigError, match="carryover"):
        Sequential([a], carryover="everything")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"function of the earlier turns.*<lambda>\(\) is not"):
        Sequential([a], carryover=lambda: "x")  # type: ignore[arg-type,misc]
    with pytest.raises(ConfigError, match="max_turns"):
        Sequential([a, Agent("b", config=ScriptedModel("y"))], max_turns=1)
