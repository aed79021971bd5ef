"""Selector: a model picks the next speaker (structured output); no repeats by default; a
candidate function; bad choices asked again; a fallback that never picks an excluded member."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from baton import Agent
from baton.errors import ConfigError
from baton.teams import MaxTurns, Selector, SpeakerChoice, SpeakerSelected, TeamState
from baton.testing import ScriptedModel


def pick(name: str, reason: str = "") -> str:
    return json.dumps({"speaker": name, "reason": reason})


def crew(*names: str) -> list[Agent[str]]:
    return [
        Agent(n, config=ScriptedModel(f"{n} speaks", repeat=True), description=f"the {n}")
        for n in names
    ]


def selected(reply: Any) -> list[tuple[str, str]]:
    return [(e.member, e.reason) for e in reply.events if isinstance(e, SpeakerSelected)]


async def test_the_model_picks_each_speaker_with_its_reason() -> None:
    selector = ScriptedModel(pick("coder", "code first"), pick("tester", "now test"))
    team = Selector(crew("planner", "coder", "tester"), selector, termination=MaxTurns(2))
    reply = await team.ask("Build a parser.")
    assert selected(reply) == [("coder", "code first"), ("tester", "now test")]
    # The selector read the roles, the conversation and the candidates.
    prompt = selector.requests[1].messages[-1].text  # type: ignore[attr-defined]
    assert "- coder: the coder" in prompt and "[coder] coder speaks" in prompt
    assert "Candidates: planner, tester" in prompt  # coder just spoke: excluded
    assert "selector-selector" in reply.usage_by_member
    assert reply.usage.requests == 4  # two member turns and two selections


async def test_the_first_speaker_is_chosen_knowing_the_task() -> None:
    selector = ScriptedModel(pick("b"), pick("a"), pick("b"), pick("a"))
    team = Selector(crew("a", "b", "c"), selector, termination=MaxTurns(2))
    first = await team.ask("Fix the login bug.")
    await first.ask("Now test the signup.")

    def conversation(i: int) -> list[str]:
        prompt = selector.requests[i].messages[-1].text  # type: ignore[attr-defined]
        return prompt.split("Conversation (latest last):\n")[1].split("\n\n")[0].splitlines()

    # The task is recorded in the first member's run, after the choice: it was not shown.
    assert conversation(0) == ["[user] Fix the login bug."]
    assert conversation(1) == ["[user] Fix the login bug.", "[b] b speaks"]
    assert conversation(2)[-1] == "[user] Now test the signup."


async def test_an_invalid_choice_is_asked_again() -> None:
    selector = ScriptedModel(pick("nobody"), "not json", pick("tester", "ok"), repeat=True)
    team = Selector(crew("coder", "tester"), selector, termination=MaxTurns(1))
    reply = await team.ask("go")
    assert selected(reply) == [("tester", "ok")]
    last_prompt = selector.requests[-1].messages[-1].text  # type: ignore[attr-defined]
    assert "'nobody' is not one of the candidates" in last_prompt
    assert "no valid choice (an answer that is not the JSON asked for)" in last_prompt
    assert selector.calls_made == 3
    # Each selection call carries a run id of its own, made from the ask's: unique across
    # attempts, turns, asks and processes (the team's id is random per ask).
    again = await team.ask("go")  # the script starts over: three calls more
    ids = [c.run_id for c in selector.requests]
    assert len(set(ids)) == len(ids) == 6
    assert all(i.startswith(f"{reply.run_id}-") for i in ids[:3])
    assert all(i.startswith(f"{again.run_id}-") for i in ids[3:])


@pytest.mark.parametrize(
    "answer",
    [
        '{"speaker": "tester"}',  # no reason: the default one
        '{"reason": "why not", "speaker": "tester", "confidence": 0.9}',  # an extra key
        '```json\n{"speaker": "tester", "reason": "fenced"}\n```',
        '  {"speaker": "tester", "reason": "\\u00e9t\\u00e9"}  ',  # escapes, whitespace
        '{"speaker": "coder", "speaker": "tester"}',  # a repeated key: the last one
        '{"speaker": "nobody", "reason": "?"}',  # valid, but no candidate
        '{"speaker": "tester", "reason": null}',  # not a string: no valid choice
        '{"speaker": 3}',
        '{"reason": "no speaker"}',
        '["tester"]',
        '"tester"',
        "tester",
        '{"speaker": "tester"',  # cut short
        '{"speaker": "tester"} and more',
        "",
    ],
)
async def test_an_answer_is_read_as_the_speaker_choice_model_reads_it(answer: str) -> None:
    # Whatever the shape, the team takes what SpeakerChoice validation makes of the answer:
    # its speaker and reason, or a failed selection (asked again, then the fallback).
    body = answer.strip().removeprefix("```json").removesuffix("```")
    try:
        expected: SpeakerChoice | None = SpeakerChoice.model_validate_json(body)
    except ValidationError:
        expected = None
    selector = ScriptedModel(answer, repeat=True)
    team = Selector(crew("coder", "tester"), selector, termination=MaxTurns(1))
    reply = await team.ask("go")
    [(member, reason)] = selected(reply)
    if expected is None:
        assert selector.calls_made == 3
        assert "no valid choice" in reason and member == "coder"
    elif expected.speaker == "tester":
        assert (member, reason) == ("tester", expected.reason or "chosen by the selector")
        assert selector.calls_made == 1
    else:  # a speaker who is no candidate
        assert f"{expected.speaker!r} is not one of the candidates" in reason


async def test_the_fallback_never_picks_the_speaker_it_just_excluded() -> None:
    # The model insists on the previous speaker every time (AutoGen's livelock).
    selector = ScriptedModel(pick("a"), pick("a"), pick("a"), pick("a"), repeat=True)
    team = Selector(crew("a", "b", "c"), selector, termination=MaxTurns(4))
    reply = await team.ask("go")
    members = [m for m, _ in selected(reply)]
    # After a, every answer names a: the fallback takes the next in order after a (b); after
    # b, the model's a is valid again.
    assert members == ["a", "b", "a", "b"]
    reasons = [r for _, r in selected(reply)]
    assert "fallback after 3 failed selections" in reasons[1]
    assert "fallback" in reasons[3] and "fallback" not in reasons[2]


async def test_a_candidate_function_narrows_the_choice() -> None:
    def only_reviewers(state: TeamState) -> list[str]:
        return ["reviewer"] if state.turns else ["writer", "reviewer"]

    selector = ScriptedModel(pick("writer"))
    team = Selector(
        crew("writer", "reviewer"),
        selector,
        candidates=only_reviewers,
        termination=MaxTurns(3),
        allow_repeat=True,
    )
    reply = await team.ask("go")
    assert [m for m, _ in selected(reply)] == ["writer", "reviewer", "reviewer"]
    assert selector.calls_made == 1  # one candidate is chosen without asking

    bad = Selector(crew("a", "b"), selector, candidates=lambda s: ["zed"], termination=MaxTurns(1))
    with pytest.raises(ConfigError, match="candidate function"):
        await bad.ask("go")
    # A generator's names are shown, and which of them is no member.
    made = Selector(
        crew("a", "b"), selector, candidates=lambda s: (n for n in ("a", "zed")), allow_repeat=True
    )
    with pytest.raises(ConfigError, match=r"returned \['a', 'zed'\] \('zed' no member\)"):
        await made.ask("go")


async def test_a_candidate_function_is_checked_and_may_return_one_name() -> None:
    with pytest.raises(ConfigError, match="candidates= takes a function"):
        Selector(crew("a", "b"), ScriptedModel(), candidates=["a"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"candidates= takes .*<lambda>\(\) is not"):
        Selector(crew("a", "b"), ScriptedModel(), candidates=lambda: ["a"])  # type: ignore[arg-type,misc]
    with pytest.raises(ConfigError, match="window= takes"):
        Selector(crew("a", "b"), ScriptedModel(), window="5")  # type: ignore[arg-type]
    # One name alone is that member, not its letters.
    team = Selector(
        crew("ab", "cd"), ScriptedModel(), candidates=lambda s: "cd", termination=MaxTurns(1)
    )
    reply = await team.ask("go")
    assert selected(reply) == [("cd", "the only candidate")]
    none = Selector(crew("a", "b"), ScriptedModel(), candidates=lambda s: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="candidate function returned None"):
        await none.ask("go")


async def test_allow_repeat_and_one_member() -> None:
    with pytest.raises(ConfigError, match="allow_repeat"):
        Selector(crew("solo"), ScriptedModel())
    selector = ScriptedModel(pick("solo"), repeat=True)
    reply = await Selector(crew("solo"), selector, allow_repeat=True, termination=MaxTurns(2)).ask(
        "go"
    )
    assert [m for m, _ in selected(reply)] == ["solo", "solo"]


async def test_the_selector_resumes_after_the_previous_speaker() -> None:
    selector = ScriptedModel(pick("b"), pick("b"), pick("a"))
    team = Selector(crew("a", "b"), selector, termination=MaxTurns(1))
    first = await team.ask("one")
    second = await first.ask("two")  # b spoke last: excluded, so the choice of b falls back
    assert [m for m, _ in selected(second)] == ["b", "a"]


async def test_a_candidate_list_of_the_previous_speaker_alone_is_taken_as_given() -> None:
    selector = ScriptedModel()  # never asked: one candidate each time
    team = Selector(
        crew("a", "b"), selector, candidates=lambda state: ["a"], termination=MaxTurns(2)
    )
    reply = await team.ask("go")
    assert [m for m, _ in selected(reply)] == ["a", "a"]  # no livelock, no model call
    assert selector.calls_made == 0


async def test_a_selector_model_that_fails_fails_the_ask() -> None:
    from baton.errors import AuthenticationFailed

    selector = ScriptedModel(AuthenticationFailed("bad key"))
    team = Selector(crew("a", "b"), selector, termination=MaxTurns(1))
    with pytest.raises(AuthenticationFailed):
        await team.ask("go")
