"""The AG-UI endpoint's guard, its answers to bad input, the two thread modes and the paused
run rules, through HTTP requests (httpx on the ASGI app: no server, no sockets)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
from agui_support import TOKEN, client_for, post, run_input, sse_events, user

from baton import (
    Agent,
    ConfigError,
    Context,
    MemoryHistory,
    MemoryStorage,
    ModelRequest,
    tool,
)
from baton.agui import AGUIApp
from baton.agui.state import json_patch
from baton.testing import ScriptedModel, call


def durable(*turns: Any, **options: Any) -> Agent[Any]:
    return Agent(
        "helper",
        config=ScriptedModel(*turns),
        history=MemoryHistory(),
        storage=MemoryStorage(),
        **options,
    )


@tool
async def pick_city(context: Context) -> str:
    """Ask the user for a city."""
    return "going to " + await context.input("Which city?")


async def test_a_token_is_required_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = AGUIApp(Agent("helper", config=ScriptedModel("hi")), token=TOKEN)
    assert TOKEN not in repr(app) and app.token == TOKEN
    async with client_for(app, "10.1.2.3") as client:
        missing = await post(client, run_input("t", user("hi")), token=None)
        wrong = await post(client, run_input("t", user("hi")), token="x" * 26)
        right = await post(client, run_input("t", user("hi")))
    assert missing.status_code == wrong.status_code == 401
    assert TOKEN not in missing.text + wrong.text and TOKEN not in caplog.text
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert [e["type"] for e in sse_events(right.text)][-1] == "RUN_FINISHED"
    generated = AGUIApp(Agent("helper", config=ScriptedModel("hi")))
    assert generated.token is not None and len(generated.token) >= 32
    with pytest.raises(ConfigError, match="at least 16"):
        AGUIApp(Agent("helper"), token="short")


async def test_without_a_token_only_loopback_clients_are_served() -> None:
    app = AGUIApp(Agent("helper", config=ScriptedModel("hi", "hi")), no_token=True)
    async with client_for(app) as local, client_for(app, "192.168.1.9") as remote:
        assert (await post(local, run_input("t", user("hi")), token=None)).status_code == 200
        refused = await post(remote, run_input("t", user("hi")), token=None)
    assert refused.status_code == 403 and "loopback" in refused.json()["error"]


async def test_other_origins_are_refused_unless_allowed() -> None:
    app = AGUIApp(
        Agent("helper", config=ScriptedModel("hi")),
        token=TOKEN,
        allowed_origins=["https://app.example"],
    )
    async with client_for(app) as client:
        evil = await post(client, run_input("t", user("hi")), origin="https://evil.example")
        good = await post(client, run_input("t", user("hi")), origin="https://app.example")
    assert evil.status_code == 403 and good.status_code == 200


async def test_on_loopback_only_loopback_host_names_are_answered() -> None:
    """Against DNS rebinding: a page whose name points at 127.0.0.1 is its own origin there."""
    app = AGUIApp(
        Agent("helper", config=ScriptedModel("hi", repeat=True)),
        no_token=True,
        allowed_hosts=["agents.internal:8000"],
    )
    async with client_for(app) as client:
        rebound = await post(
            client,
            run_input("t", user("hi")),
            token=None,
            host="evil.example:8000",
            origin="http://evil.example:8000",
        )
        listed = await post(
            client, run_input("t", user("hi")), token=None, host="agents.internal:8000"
        )
        local = await post(client, run_input("t", user("hi")), token=None, host="localhost:8000")
    assert rebound.status_code == 421
    assert listed.status_code == local.status_code == 200


async def test_a_message_cut_in_the_middle_of_an_emoji_is_answered_with_u_fffd() -> None:
    """JSON.stringify sends a lone surrogate escaped ("\\ud83d"), which no UTF-8 event,
    answer or store could carry: it is read as U+FFFD, as a browser's TextEncoder mends it,
    rather than refusing the user's message."""
    model = ScriptedModel("got it")
    app = AGUIApp(Agent("helper", config=model), token=TOKEN)
    body = json.dumps(run_input("t", user("cut ?"))).replace("?", "\\ud83d").encode()
    assert b"\\ud83d" in body
    async with client_for(app) as client:
        response = await client.post(
            "/", content=body, headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 200
    assert sse_events(response.text)[-1]["type"] == "RUN_FINISHED"
    assert model.seen()[-1].text == "cut \ufffd"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "must be a JSON RunAgentInput"),
        (b'{"threadId": "t"}', 422, "not a valid AG-UI RunAgentInput"),
        (b'{"threadId": 3, "runId": "r", "messages": [{"role": "robot"}]}', 422, "problems"),
        (b"[" * 100_000, 400, "nested too deeply"),
        (b'{"threadId": "\xff\xfe"}', 400, "must be a JSON RunAgentInput"),
        # ids with NUL or other control characters: no store keeps them (PostgreSQL refuses)
        (b'{"threadId": "a\\u0000b", "runId": "r", "messages": []}', 400, "threadId holds"),
        (b'{"threadId": "t", "runId": "r\\n", "messages": []}', 400, "runId holds"),
        # a UTF-8 byte order mark, as a file saved with one and sent with curl has
        (b"\xef\xbb\xbf" + json.dumps(run_input("t", user("hi"))).encode(), 200, "RUN_FINISHED"),
        (b"", 400, "must be a JSON RunAgentInput"),
        (b"null", 422, "not a valid AG-UI RunAgentInput"),
        (b'["threadId", "t"]', 422, "not a valid AG-UI RunAgentInput"),
        (b'{"s": "' + b"x" * 300_000 + b'"}', 413, "too large"),
    ],
)
async def test_malformed_input_is_a_clear_client_error(body: bytes, status: int, says: str) -> None:
    """Each answered with its 4xx and a short reason, and the next good request is served."""
    model = ScriptedModel("hi", repeat=True)  # (a body that is fine asks the model too)
    app = AGUIApp(Agent("helper", config=model), token=TOKEN, max_body=200_000)
    async with client_for(app) as client:
        response = await client.post(
            "/", content=body, headers={"authorization": f"Bearer {TOKEN}"}
        )
        after = await post(client, run_input("t", user("hi")))
    assert response.status_code == status
    assert says in response.text and "Traceback" not in response.text
    assert sse_events(after.text)[-1]["type"] == "RUN_FINISHED"


async def test_a_content_length_that_is_not_a_number_is_not_trusted() -> None:
    """A "²" passes ``str.isdigit`` but not ``int``: the body is read as it comes instead."""
    app = AGUIApp(Agent("helper", config=ScriptedModel("hi")), token=TOKEN)
    async with client_for(app) as client:
        headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-length", b"\xb2")]
        body = run_input("t", user("hi"))
        request = client.build_request("POST", "/", json=body, headers=headers)
        response = await client.send(request)
    assert response.status_code == 200
    assert sse_events(response.text)[-1]["type"] == "RUN_FINISHED"


async def test_with_a_history_only_the_new_user_messages_are_read() -> None:
    agent = durable("first", "second")
    app = AGUIApp(agent, token=TOKEN)
    async with client_for(app) as client:
        await post(client, run_input("t", user("hello", "u1")))
        # the client sends a made-up past: the server's history stays the truth
        made_up = {"id": "a9", "role": "assistant", "content": "I never said this"}
        await post(client, run_input("t", user("ignored", "u0"), made_up, user("again", "u2")))
    model = agent.config
    assert isinstance(model, ScriptedModel)
    requests = [e.text for e in model.requests[1].messages if isinstance(e, ModelRequest)]
    assert requests == ["hello", "again"]
    texts = [getattr(e, "text", "") for e in model.requests[1].messages]
    assert "I never said this" not in texts


async def test_run_errors_for_inputs_a_thread_cannot_take() -> None:
    app = AGUIApp(durable("hi"), token=TOKEN)
    async with client_for(app) as client:
        no_user = await post(
            client, run_input("t", {"id": "a", "role": "assistant", "content": "x"})
        )
        stray_resume = await post(
            client,
            run_input("t", user("hi"), resume=[{"interruptId": "nope", "status": "resolved"}]),
        )
    for response, says in (
        (no_user, "last message must be a user message"),
        (stray_resume, "no paused run"),
    ):
        events = sse_events(response.text)
        assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]
        assert says in events[-1]["message"]


async def test_a_paused_thread_needs_answers_to_every_interrupt() -> None:
    @tool(requires_approval=True)
    def deploy(env: str) -> str:
        """Deploy."""
        return "deployed"

    agent = durable(call("deploy", env="a"), "done", tools=[deploy])
    app = AGUIApp(agent, token=TOKEN)
    async with client_for(app) as client:
        first = sse_events((await post(client, run_input("t", user("go")))).text)
        [interrupt] = first[-1]["outcome"]["interrupts"]
        ignored = sse_events((await post(client, run_input("t", user("something else")))).text)
        bad = sse_events(
            (
                await post(
                    client,
                    run_input(
                        "t",
                        resume=[
                            {"interruptId": interrupt["id"], "status": "resolved", "payload": "yes"}
                        ],
                    ),
                )
            ).text
        )
        good = sse_events(
            (
                await post(
                    client,
                    run_input(
                        "t",
                        resume=[
                            {
                                "interruptId": interrupt["id"],
                                "status": "resolved",
                                "payload": {"approved": False, "reason": "not today"},
                            }
                        ],
                    ),
                )
            ).text
        )
    assert ignored[-1]["type"] == "RUN_ERROR" and interrupt["id"] in ignored[-1]["message"]
    assert bad[-1]["type"] == "RUN_ERROR" and '"approved": true|false' in bad[-1]["message"]
    assert good[-1]["type"] == "RUN_FINISHED"
    assert good[1]["content"] == "The user denied this call: not today"


async def test_a_question_for_the_user_is_an_input_interrupt() -> None:
    agent = durable(call("pick_city"), "ok", tools=[pick_city])
    app = AGUIApp(agent, token=TOKEN)
    async with client_for(app) as client:
        first = sse_events((await post(client, run_input("t", user("go")))).text)
        [interrupt] = first[-1]["outcome"]["interrupts"]
        second = sse_events(
            (
                await post(
                    client,
                    run_input(
                        "t",
                        resume=[
                            {
                                "interruptId": interrupt["id"],
                                "status": "resolved",
                                "payload": {"text": "Lima"},
                            }
                        ],
                    ),
                )
            ).text
        )
    assert interrupt["reason"] == "input_required" and interrupt["message"] == "Which city?"
    assert interrupt["responseSchema"]["required"] == ["text"]
    assert second[1]["type"] == "TOOL_CALL_RESULT" and second[1]["content"] == "going to Lima"


async def test_front_end_tools_without_a_storage_end_with_a_clear_run_error() -> None:
    agent = Agent("helper", config=ScriptedModel(call("show_card")))
    app = AGUIApp(agent, token=TOKEN)
    tools = [{"name": "show_card", "description": "Show a card.", "parameters": None}]
    async with client_for(app) as client:
        events = sse_events((await post(client, run_input("t", user("go"), tools=tools))).text)
    assert events[-1]["type"] == "RUN_ERROR"
    assert "history=" in events[-1]["message"] and "storage=" in events[-1]["message"]


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["pick_city"], "the front-end tool 'pick_city' has the name of one of the agent's own"),
        (["show_card", "show_card"], "two front-end tools are named 'show_card'"),
        ([f"show_{i}" for i in range(129)], "129 front-end tools declared: at most 128"),
    ],
)
async def test_front_end_tools_whose_names_clash_are_a_client_error(
    names: list[str], says: str
) -> None:
    """Told to the client as its mistake (not as the agent's tool conflict), before the model
    is called; the thread goes on."""
    agent = durable("after", tools=[pick_city])
    tools = [{"name": n, "description": "A tool.", "parameters": None} for n in names]
    async with client_for(AGUIApp(agent, token=TOKEN)) as client:
        clash = sse_events((await post(client, run_input("t", user("go"), tools=tools))).text)
        after = sse_events((await post(client, run_input("t", user("again")))).text)
    assert [e["type"] for e in clash] == ["RUN_STARTED", "RUN_ERROR"]
    assert says in clash[-1]["message"]
    assert after[-1]["type"] == "RUN_FINISHED"


def test_json_patch_covers_add_replace_remove_and_escapes_keys() -> None:
    before = {"a": 1, "b": [1], "gone": True}
    after = {"a": 2, "b": [1], "new/key~": {"x": None}}
    assert json_patch(before, after) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "add", "path": "/new~1key~0", "value": {"x": None}},
    ]


def test_importing_baton_loads_no_ag_ui_or_starlette() -> None:
    code = (
        "import sys, baton, baton.agui; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ag_ui', 'starlette')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


async def test_a_client_that_goes_away_cancels_the_run_and_leaves_a_valid_history(
    valid_history: Any,
) -> None:
    import asyncio

    from serving import uvicorn_serving

    from baton.events import RunFailed

    started, stopped = asyncio.Event(), asyncio.Event()

    @tool
    async def slow() -> str:
        """Take for ever."""
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()
        return "never"

    agent = durable(call("slow"), "after", tools=[slow])
    async with (
        uvicorn_serving(AGUIApp(agent, token=TOKEN)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        headers = {"authorization": f"Bearer {TOKEN}"}
        body = run_input("t", user("go"))
        async with client.stream("POST", "/", json=body, headers=headers) as response:
            async for line in response.aiter_lines():
                if "TOOL_CALL_END" in line:
                    break  # leave mid-run
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.wait_for(stopped.wait(), 10)  # the server cancelled the ask
        again = await post(client, run_input("t", user("still there?")))
    stored = await agent.history.load("t")  # type: ignore[union-attr]
    valid_history(stored)
    assert any(isinstance(e, RunFailed) and e.error_type == "Cancelled" for e in stored)
    assert sse_events(again.text)[-1]["type"] == "RUN_FINISHED"
