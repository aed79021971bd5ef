"""Built-in middleware that guards an ask: usage limits, history limits, and logging with secrets
redacted."""

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from baton import (
    Agent,
    ConfigError,
    Event,
    MemoryHistory,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolCallError,
    ToolCallResult,
    Usage,
    tool,
)
from baton.errors import RateLimited, UsageLimitExceeded
from baton.events import RunFailed, RunStarted
from baton.middleware import HistoryLimit, LoggingMiddleware, RetryMiddleware, UsageLimits
from baton.middleware.logging import (
    REDACTED,
    SecretFilter,
    is_secret_key,
    redact,
    redact_text,
)
from baton.redaction import logger
from baton.testing import ScriptedModel, call
from tests.test_agent import assert_every_call_answered, kinds


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_response(*names: str, usage: Usage = Usage(1, 100, 20, cost=0.5)) -> ModelResponse:
    calls = tuple(ToolCall(f"c{i}", n, '{"a": 1, "b": 2}') for i, n in enumerate(names))
    return ModelResponse("", calls, usage)


# -- usage limits -----------------------------------------------------------------------------


async def test_request_limit_stops_before_the_call_over_it_and_keeps_the_work_done():
    history = MemoryHistory()
    model = ScriptedModel(call("add", a=1, b=2), "3")
    agent = Agent(
        "calc", config=model, tools=[add], middleware=[UsageLimits(requests=1)], history=history
    )

    with pytest.raises(UsageLimitExceeded) as caught:
        await agent.ask("1 + 2?", conversation_id="c")

    error = caught.value
    assert (error.limit, error.value, error.maximum) == ("requests", 1, 1)
    message = str(error)
    assert "requests=1" in message and "'calc'" in message
    assert "raise it" in message and "UsageLimits(requests=...)" in message
    assert model.calls_made == 1
    events = await history.load("c")
    assert kinds(events) == [RunStarted, ModelRequest, ModelResponse, ToolCallResult, RunFailed]
    assert events[-1].error_type == "UsageLimitExceeded"

    # the limit is per ask: the conversation goes on
    model.turns = (*model.turns, "fine")
    reply = await agent.ask("go on", conversation_id="c")
    assert reply.text == "3"


async def test_tool_call_limit_refuses_a_response_asking_for_more_than_are_left():
    history = MemoryHistory()
    model = ScriptedModel(call("add", a=1, b=2), [call("add", a=3, b=4), call("add", a=5, b=6)])
    agent = Agent(
        "a", config=model, tools=[add], middleware=[UsageLimits(tool_calls=2)], history=history
    )

    with pytest.raises(UsageLimitExceeded, match="tool_calls=2") as caught:
        await agent.ask("sums", conversation_id="c")

    assert (caught.value.limit, caught.value.value) == ("tool_calls", 3)
    events = await history.load("c")
    results = [e for e in events if isinstance(e, ToolCallResult)]
    errors = [e for e in events if isinstance(e, ToolCallError)]
    assert [r.content for r in results] == ["3"]  # the first round ran; none of the second did
    assert len(errors) == 2 and {e.error_type for e in errors} == {"Cancelled"}
    assert isinstance(events[-1], RunFailed)
    assert_every_call_answered(events)


@pytest.mark.parametrize(
    ("limits", "name", "value"),
    [
        ({"input_tokens": 100}, "input_tokens", 100),
        ({"output_tokens": 15}, "output_tokens", 20),
        ({"total_tokens": 120}, "total_tokens", 120),
        ({"cost": 0.25}, "cost", 0.5),
    ],
)
async def test_token_and_cost_limits_stop_the_ask_once_reached(
    limits: dict[str, Any], name: str, value: float
):
    history = MemoryHistory()
    model = ScriptedModel(tool_response("add"), "never")
    agent = Agent(
        "a", config=model, tools=[add], middleware=[UsageLimits(**limits)], history=history
    )

    with pytest.raises(UsageLimitExceeded) as caught:
        await agent.ask("hi", conversation_id="c")

    assert (caught.value.limit, caught.value.value, caught.value.maximum) == (
        name,
        value,
        limits[name],
    )
    assert f"{name}={limits[name]}" in str(caught.value)
    assert "before tool call 'add'" in str(caught.value)
    events = await history.load("c")
    assert kinds(events) == [RunStarted, ModelRequest, ModelResponse, ToolCallError, RunFailed]


async def test_limits_not_reached_change_nothing():
    model = ScriptedModel(tool_response("add"), "3")
    limits = UsageLimits(
        requests=2, tool_calls=1, input_tokens=101, output_tokens=21, total_tokens=121, cost=0.51
    )
    agent = Agent("a", config=model, tools=[add], middleware=[limits])

    reply = await agent.ask("hi")

    assert reply.text == "3" and reply.usage.requests == 2
    assert repr(limits).startswith("UsageLimits(requests=2, tool_calls=1, input_tokens=101")


async def test_retries_inside_a_request_limit_count_as_one_request():
    model = ScriptedModel(RateLimited("busy"), "ok")

    async def no_wait(seconds: float) -> None:
        return None

    agent = Agent(
        "a", config=model, middleware=[UsageLimits(requests=1), RetryMiddleware(sleep=no_wait)]
    )

    assert (await agent.ask("hi")).text == "ok"


@pytest.mark.parametrize(
    "options", [{"requests": 0}, {"tool_calls": -1}, {"cost": 0}, {"input_tokens": 1.5}]
)
def test_usage_limit_options_are_checked(options: dict[str, Any]):
    with pytest.raises(ConfigError, match="UsageLimits"):
        UsageLimits(**options)


# -- history limits ---------------------------------------------------------------------------


def assert_whole_steps(messages: Sequence[Event]) -> None:
    """No tool result without the response that called it, and no call left unanswered."""
    called: set[str] = set()
    for event in messages:
        if isinstance(event, ModelResponse):
            called |= {c.id for c in event.tool_calls}
        elif isinstance(event, ToolCallResult | ToolCallError):
            assert event.call_id in called, f"{event} was sent without its ModelResponse"
    assert_every_call_answered(messages)


def visible(messages: Sequence[Event]) -> list[Event]:
    return [e for e in messages if isinstance(e, ModelRequest | ModelResponse | ToolCallResult)]


async def test_history_limit_by_events_keeps_the_first_request_and_whole_steps():
    rounds = [[call("add", a=i, b=1), call("add", a=i, b=2)] for i in range(6)]
    model = ScriptedModel(*rounds, "done")
    agent = Agent(
        "a", config=model, tools=[add], middleware=[HistoryLimit(max_events=5)], max_turns=10
    )

    reply = await agent.ask("the task")

    assert reply.text == "done"
    assert len(reply.events) == 2 + 6 * 3 + 1 + 2  # stored history untouched
    for request in model.requests:
        sent = visible(request.messages)
        assert isinstance(sent[0], ModelRequest) and sent[0].text == "the task"
        assert len(sent) <= 5
        assert_whole_steps(sent)
    last = list(model.last_request.messages)
    assert kinds(visible(last)) == [ModelRequest, ModelResponse, ToolCallResult, ToolCallResult]
    assert last[1].tool_calls[0].arguments == '{"a":5,"b":1}'


async def test_history_limit_by_tokens_and_the_current_asks_request_is_kept():
    model = ScriptedModel(
        call("add", a=1, b=2), "three " * 50, call("add", a=1, b=2), "again", per_conversation=False
    )
    agent = Agent("a", config=model, tools=[add], middleware=[HistoryLimit(max_tokens=60)])

    reply = await agent.ask("first task")
    await reply.ask("second task")

    last = list(model.last_request.messages)
    requests = [e.text for e in last if isinstance(e, ModelRequest)]
    assert requests == ["first task", "second task"]
    assert not any(isinstance(e, ModelResponse) and e.text.startswith("three") for e in last)
    assert_whole_steps(last)
    from baton.harness.tokens import events_tokens

    assert events_tokens(last) <= 60


async def test_history_limit_below_one_step_still_sends_the_request_and_the_latest_step():
    model = ScriptedModel(
        call("add", a=1, b=2), [call("add", a=3, b=4), call("add", a=5, b=6)], "done"
    )
    agent = Agent("a", config=model, tools=[add], middleware=[HistoryLimit(max_events=1)])

    assert (await agent.ask("go")).text == "done"

    last = list(model.last_request.messages)
    assert kinds(visible(last)) == [ModelRequest, ModelResponse, ToolCallResult, ToolCallResult]
    assert_whole_steps(last)


async def test_history_under_its_limits_is_passed_through_as_is():
    model = ScriptedModel(call("add", a=1, b=2), "3")
    agent = Agent(
        "a", config=model, tools=[add], middleware=[HistoryLimit(max_events=50, max_tokens=10_000)]
    )

    reply = await agent.ask("hi")

    assert list(model.last_request.messages) == list(reply.events[:4])


def test_history_limit_options_are_checked():
    for options in ({}, {"max_events": 0}, {"max_tokens": "10"}):
        with pytest.raises(ConfigError, match="HistoryLimit"):
            HistoryLimit(**options)  # type: ignore[arg-type]


# -- logging ----------------------------------------------------------------------------------

SECRETS = (
    "hunter2-plain-secret",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
    "abc.def.ghi-bearer",
    "s3cr3t-password",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
)


@tool
def fetch(url: str, api_key: str) -> str:
    """Fetch a URL with an API key."""
    return f"fetched {url}; sent Authorization: Bearer {SECRETS[2]}"


@tool
def login(user: str, password: str) -> str:
    """Log in."""
    raise PermissionError(f"login failed for {user} with password={password}")


async def test_logging_writes_calls_and_never_a_secret(caplog: pytest.LogCaptureFixture):
    model = ScriptedModel(
        [
            call("fetch", url="https://x.test/?key=" + SECRETS[4], api_key=SECRETS[0]),
            call("login", user="ann", password=SECRETS[3]),
        ],
        f"done, your key {SECRETS[1]} works",
    )
    logger = logging.getLogger("baton.test.logging")
    agent = Agent(
        "a",
        config=model,
        tools=[fetch, login],
        middleware=[LoggingMiddleware(logger, include_content=True)],
    )

    with caplog.at_level(logging.DEBUG, logger=logger.name):
        await agent.ask(f"use my key {SECRETS[1]} please")

    messages = [r.getMessage().split(" ", 2)[:2] for r in caplog.records]
    assert [" ".join(m) for m in messages] == [
        "ask started",
        "model call",
        "tool call",
        "tool call",
        "model call",
        "ask finished",
    ]
    dump = caplog.text + repr([getattr(r, "baton", None) for r in caplog.records])
    for secret in SECRETS:
        assert secret not in dump
    assert REDACTED in dump
    model_call = caplog.records[1].baton
    assert model_call["model"] == "scripted:scripted" and model_call["input_tokens"] > 0
    outcomes = {r.baton["tool"]: r.baton["outcome"] for r in caplog.records[2:4]}
    assert outcomes == {"fetch": "ok", "login": "error (PermissionError)"}
    assert caplog.records[3].levelno == logging.WARNING


async def test_secret_filter_redacts_what_other_code_logs_tracebacks_included(
    caplog: pytest.LogCaptureFixture,
):
    # At DEBUG, baton.tools logs a failing tool's traceback, whose message holds the password.
    model = ScriptedModel(call("login", user="ann", password=SECRETS[3]), "no")
    agent = Agent("a", config=model, tools=[login])
    caplog.handler.addFilter(SecretFilter())

    with caplog.at_level(logging.DEBUG, logger="baton.tools"):
        await agent.ask("log in")

    assert "PermissionError" in caplog.text and "Traceback" in caplog.text
    assert SECRETS[3] not in caplog.text
    logging.getLogger("baton.x").warning("token=%s", "abc-123")
    assert "abc-123" not in caplog.text and f"token={REDACTED}" in caplog.text


async def test_failing_tools_are_logged_without_their_message_at_info(
    caplog: pytest.LogCaptureFixture,
):
    model = ScriptedModel(call("login", user="ann", password=SECRETS[3]), "no")
    agent = Agent("a", config=model, tools=[login])
    with caplog.at_level(logging.INFO, logger="baton.tools"):
        await agent.ask("log in")
    assert "PermissionError" in caplog.text
    assert SECRETS[3] not in caplog.text and "Traceback" not in caplog.text


async def test_logging_without_content_logs_no_content(caplog: pytest.LogCaptureFixture):
    model = ScriptedModel(call("fetch", url="https://x.test", api_key="k"), "the answer")
    agent = Agent("a", config=model, tools=[fetch], middleware=[LoggingMiddleware("baton.t2")])

    with caplog.at_level(logging.INFO, logger="baton.t2"):
        await agent.ask("the question")

    assert len(caplog.records) == 5
    assert "the question" not in caplog.text and "the answer" not in caplog.text
    assert "x.test" not in caplog.text


async def test_logging_a_failed_call_redacts_the_error(caplog: pytest.LogCaptureFixture):
    model = ScriptedModel(RateLimited(f"bad key {SECRETS[1]}"))
    agent = Agent("a", config=model, middleware=[LoggingMiddleware("baton.t3")])

    with caplog.at_level(logging.INFO, logger="baton.t3"), pytest.raises(RateLimited):
        await agent.ask("hi")

    assert [r.getMessage().split(" ")[:2] for r in caplog.records][1:] == [
        ["model", "call"],
        ["ask", "failed"],
    ]
    assert SECRETS[1] not in caplog.text and "RateLimited" in caplog.text


async def test_disabled_logging_writes_nothing(caplog: pytest.LogCaptureFixture):
    agent = Agent(
        "a",
        config=ScriptedModel("hi"),
        middleware=[LoggingMiddleware("baton.t4", level=logging.DEBUG)],
    )
    with caplog.at_level(logging.WARNING, logger="baton.t4"):
        assert (await agent.ask("hi")).text == "hi"
    assert caplog.records == []


def test_redact_masks_secret_keys_and_secret_shaped_strings():
    data = {
        "api_key": "plain",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "accept": "json"},
        "max_tokens": 10,
        "input_tokens": 5,
        "access_token": "t",
        "client_secret": "s",
        "items": [{"password": "p"}, "Bearer abcdefghijkl"],
    }
    assert redact(data) == {
        "api_key": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "accept": "json"},
        "max_tokens": 10,
        "input_tokens": 5,
        "access_token": REDACTED,
        "client_secret": REDACTED,
        "items": [{"password": REDACTED}, REDACTED],
    }
    assert redact('{"api_key": "abc123", "city": "Paris"}') == (
        f'{{"api_key": "{REDACTED}", "city": "Paris"}}'
    )
    assert is_secret_key("Authorization") and not is_secret_key("max_tokens")
    for text, kept in [
        ("GET /v1?api_key=abc123&page=2", "page=2"),
        ("https://g.test/models?key=AIzaSyA1234567890abcdefghijklmnopqrstu", "g.test"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "Authorization"),
        ("{'x-api-key': 'abc', 'user': 'ann'}", "'user': 'ann'"),
        ("token=abc, tokens=12", "tokens=12"),
        ("key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA here", "here"),
        ("password: hunter2", "password"),
    ]:
        safe = redact_text(text)
        assert REDACTED in safe and kept in safe, safe
        for secret in ("abc123", "AIza", "eyJ", "'abc'", "token=abc", "sk-ant", "hunter2"):
            assert secret not in safe, (text, safe)
    assert redact_text("nothing secret here: 5 tokens") == "nothing secret here: 5 tokens"


def test_baton_loggers_redact_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10, point 9: a log line of Baton's own never carries a key, in its message, its
    arguments or the traceback of the exception it logs."""
    key = "sk-proj-" + "A1b2C3d4" * 4
    log = logger("baton.test-redaction")
    with caplog.at_level(logging.INFO, logger="baton.test-redaction"):
        log.info("calling with api_key=%s", key)
        try:
            raise RuntimeError(f"Incorrect API key provided: {key}")
        except RuntimeError:
            log.exception("the provider refused")
    text = caplog.text + "".join(logging.Formatter().format(record) for record in caplog.records)
    assert "the provider refused" in text and "RuntimeError" in text
    assert key not in text and REDACTED in text
    assert logger("baton.test-redaction").filters.count(logger("baton.x").filters[0]) == 1
