"""Baton's A2AApp against the a2a-sdk's own Python client, over JSON-RPC and HTTP+JSON,
streaming and not: answers, conversations continued by context, input-required rounds,
cancels, any replica, and the bearer token."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a_support import (
    GATES,
    TOKEN,
    a2a_client,
    approval_script,
    make_agent,
    send,
    streamed_hello,
    user_message,
)
from serving import uvicorn_serving

from baton.a2a import A2AApp
from baton.backends.sql import SQLHistory, SQLStorage
from baton.errors import ConfigError
from baton.events import ModelRequest, RunFailed
from baton.history import MemoryHistory, MemoryStorage
from baton.testing import call

COMPLETED = TaskState.TASK_STATE_COMPLETED
INPUT = TaskState.TASK_STATE_INPUT_REQUIRED
BINDINGS = ["JSONRPC", "HTTP+JSON"]


async def test_the_card_describes_the_agent_and_its_token() -> None:
    app = A2AApp(make_agent("hi"), token=TOKEN)
    async with uvicorn_serving(app) as base, httpx.AsyncClient() as http:
        card = (await http.get(f"{base}/.well-known/agent-card.json")).json()
    assert card["name"] == "files" and card["description"] == "Looks after files."
    assert {s["id"] for s in card["skills"]} == {"delete", "city", "wait"}
    assert card["capabilities"]["streaming"] is True
    assert {i["protocolBinding"] for i in card["supportedInterfaces"]} == set(BINDINGS)
    assert card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "bearer"
    assert TOKEN not in repr(app) and TOKEN not in str(card)


@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
@pytest.mark.parametrize("binding", BINDINGS)
async def test_a_context_is_one_conversation(binding: str, streaming: bool) -> None:
    agent = make_agent(*streamed_hello(), "second answer")
    async with (
        uvicorn_serving(A2AApp(agent, token=TOKEN)) as base,
        a2a_client(base, binding=binding, streaming=streaming) as client,
    ):
        first = await send(client, user_message("hi"))
        assert first.state == COMPLETED and first.text == "Hello there"
        if streaming:  # the answer arrived piece by piece, before the task completed
            assert first.chunks == ["Hel", "lo ", "there"]
            assert first.kinds[-1] == "status_update"
        second = await send(client, user_message("and again?", context_id=first.context_id))
        assert second.text == "second answer" and second.task_id != first.task_id
        task = await client.get_task(GetTaskRequest(id=second.task_id))
        assert task.status.state == COMPLETED and task.context_id == first.context_id
        assert task.artifacts[0].parts[0].text == "second answer"
    stored = await agent.history.load(first.context_id)  # type: ignore[union-attr]
    asked = [e.text for e in stored if isinstance(e, ModelRequest)]
    assert asked == ["hi", "and again?"]  # the client never resent the first message


@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
@pytest.mark.parametrize("binding", BINDINGS)
async def test_an_approval_is_an_input_required_round(
    binding: str, streaming: bool, valid_history: object
) -> None:
    agent = make_agent(*approval_script())
    async with (
        uvicorn_serving(A2AApp(agent, token=TOKEN)) as base,
        a2a_client(base, binding=binding, streaming=streaming) as client,
    ):
        asked = await send(client, user_message("delete a.txt"))
        assert asked.state == INPUT and "'delete'" in asked.text
        assert asked.status_data[0]["requests"][0]["kind"] == "approval"
        again = await send(
            client,
            user_message("maybe", context_id=asked.context_id, task_id=asked.task_id),
        )
        assert again.state == INPUT and again.text.startswith("That doesn't answer")
        done = await send(
            client,
            user_message(
                data={"approved": True, "reason": "fine"},
                context_id=asked.context_id,
                task_id=asked.task_id,
            ),
        )
        assert done.state == COMPLETED and done.text == "done"
    events = await agent.history.load(asked.context_id)  # type: ignore[union-attr]
    valid_history(events)  # type: ignore[operator]
    assert any(getattr(e, "content", None) == "deleted a.txt" for e in events)


async def test_a_question_is_answered_in_plain_text_and_no_denies() -> None:
    agent = make_agent(call("city"), "sunny", call("delete", path="b"), "kept it")
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("weather?"))
        assert asked.state == INPUT and asked.text == "Which city?"
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        assert (await send(client, user_message("Paris", **ids))).text == "sunny"
        denied = await send(client, user_message("delete b", context_id=asked.context_id))
        ids = {"context_id": denied.context_id, "task_id": denied.task_id}
        assert (await send(client, user_message("No.", **ids))).text == "kept it"
    events = await agent.history.load(asked.context_id)  # type: ignore[union-attr]
    assert any(getattr(e, "content", None) == "weather in Paris" for e in events)
    assert any("denied" in getattr(e, "message", "") for e in events)


async def _running(client: object, context_id: str = "") -> tuple[str, str, asyncio.Task[object]]:
    """Start a task that waits on a gate; return (task id, context id, the stream's task)
    once the tool is running."""
    from a2a.types.a2a_pb2 import SendMessageRequest

    seen: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def stream() -> list[object]:
        out = []
        request = SendMessageRequest(message=user_message("wait", context_id=context_id))
        async for r in client.send_message(request):  # type: ignore[attr-defined]
            out.append(r)
            update = r.status_update
            if r.HasField("status_update") and "baton" in update.metadata:
                await seen.put((update.task_id, update.context_id))
        return out

    reader = asyncio.create_task(stream())
    task_id, ctx = await asyncio.wait_for(seen.get(), 10)
    return task_id, ctx, reader


@pytest.mark.parametrize("binding", BINDINGS)
async def test_cancel_stops_the_run_and_the_context_goes_on(
    binding: str, valid_history: object
) -> None:
    agent = make_agent(call("wait", gate=f"never-{binding}"), "unused", "after")
    async with (
        uvicorn_serving(A2AApp(agent, token=TOKEN)) as base,
        a2a_client(base, binding=binding) as client,
    ):
        task_id, ctx, reader = await _running(client)
        cancelled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        await asyncio.wait_for(reader, 10)
        events = await agent.history.load(ctx)  # type: ignore[union-attr]
        valid_history(events)  # type: ignore[operator]
        assert isinstance(events[-1], RunFailed) and events[-1].error_type == "Cancelled"
        after = await send(client, user_message("still there?", context_id=ctx))
        assert after.state == COMPLETED


async def test_cancel_a_task_waiting_for_input(valid_history: object) -> None:
    agent = make_agent(*approval_script(), "next")
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("delete a.txt"))
        cancelled = await client.cancel_task(CancelTaskRequest(id=asked.task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        events = await agent.history.load(asked.context_id)  # type: ignore[union-attr]
        valid_history(events)  # type: ignore[operator]
        assert not any(getattr(e, "content", None) == "deleted a.txt" for e in events)
        # The paused run is closed: the context takes new messages.
        after = await send(client, user_message("next?", context_id=asked.context_id))
        assert after.state == COMPLETED


async def test_a_new_message_while_a_task_waits_is_rejected() -> None:
    agent = make_agent(*approval_script())
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base, a2a_client(base) as client:
        asked = await send(client, user_message("delete a.txt"))
        other = await send(client, user_message("hello?", context_id=asked.context_id))
        assert other.state == TaskState.TASK_STATE_REJECTED
        assert asked.task_id in other.text


async def test_subscribe_to_a_running_task() -> None:
    agent = make_agent(call("wait", gate="subscribe"), "opened it")
    GATES.pop("subscribe", None)
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base, a2a_client(base) as client:
        task_id, _, reader = await _running(client)
        watched = [
            r async for r in _open_gate_while(client.subscribe(SubscribeToTaskRequest(id=task_id)))
        ]
        await asyncio.wait_for(reader, 10)
    assert watched[0].HasField("task")  # the task as it stands, then what happens next
    assert watched[-1].status_update.status.state == COMPLETED


async def _open_gate_while(responses: object) -> object:
    async for r in responses:  # type: ignore[attr-defined]
        GATES.setdefault("subscribe", asyncio.Event()).set()
        yield r


async def test_any_replica_answers_a_paused_task(tmp_path: Path, valid_history: object) -> None:
    # Two apps (two replicas) over one SQLite database: paused on one, answered on the other.
    sqlite_url = f"sqlite:///{tmp_path / 'baton.db'}"
    first = make_agent(
        *approval_script(), history=SQLHistory(sqlite_url), storage=SQLStorage(sqlite_url)
    )
    # The second replica's model goes on where the first one's stopped (one model, two places).
    second = make_agent("done", history=SQLHistory(sqlite_url), storage=SQLStorage(sqlite_url))
    async with (
        uvicorn_serving(A2AApp(first, token=TOKEN)) as one,
        uvicorn_serving(A2AApp(second, token=TOKEN)) as two,
        a2a_client(one) as a,
        a2a_client(two, binding="HTTP+JSON") as b,
    ):
        asked = await send(a, user_message("delete a.txt"))
        assert asked.state == INPUT
        seen = await b.get_task(GetTaskRequest(id=asked.task_id))
        assert seen.status.state == INPUT
        ids = {"context_id": asked.context_id, "task_id": asked.task_id}
        done = await send(b, user_message("yes", **ids))
        assert done.state == COMPLETED and done.text == "done"
    events = await second.history.load(asked.context_id)  # type: ignore[union-attr]
    valid_history(events)  # type: ignore[operator]
    assert any(getattr(e, "content", None) == "deleted a.txt" for e in events)


async def test_a_token_is_required_unless_loopback_development() -> None:
    app = A2AApp(make_agent("hi"), token=TOKEN)
    async with uvicorn_serving(app) as base, httpx.AsyncClient() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
        missing = await http.post(f"{base}/", json=body)
        wrong = await http.post(f"{base}/", json=body, headers={"Authorization": "Bearer nope"})
        assert missing.status_code == wrong.status_code == 401
        assert "WWW-Authenticate" in missing.headers and TOKEN not in missing.text
        rest = await http.get(f"{base}/tasks/x")
        assert rest.status_code == 401
    # Without a token, only loopback clients are served.
    open_app = A2AApp(make_agent("hi"), no_token=True)
    card = await _asgi_get(open_app, "10.1.2.3")
    assert card == 403
    assert await _asgi_get(open_app, "127.0.0.1") != 403
    generated = A2AApp(make_agent("hi"))
    assert generated.token and len(generated.token) >= 32


@pytest.mark.parametrize("path", ["/", "/message:send"], ids=["JSONRPC", "HTTP+JSON"])
async def test_a_body_over_max_body_is_refused_and_the_server_goes_on(path: str) -> None:
    app = A2AApp(make_agent("still here"), token=TOKEN, max_body=4096)
    big = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"x": "y" * 5000}}

    async def chunked() -> AsyncIterator[bytes]:  # no content-length: counted as read
        for _ in range(10):
            yield b"y" * 1000

    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        for refused in (
            await http.post(path, json=big, headers=auth),
            await http.post(path, content=chunked(), headers=auth),
        ):
            assert refused.status_code == 413
            assert refused.text == "the request body is larger than 4096 bytes"
        async with a2a_client(base) as client:
            assert (await send(client, user_message("hi"))).text == "still here"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 5000, "nested too deeply"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "\xff"}}', "not JSON"),
    ],
    ids=["deep", "not UTF-8"],
)
async def test_json_rpc_the_sdk_cannot_parse_is_a_parse_error(
    body: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As JSON-RPC answers a body it can't read (-32700), not the SDK's internal error with
    Python's exception text and a traceback in the log per request."""
    app = A2AApp(make_agent("still here"), token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        answer = await http.post("/", content=body, headers=headers)
        async with a2a_client(base) as client:
            assert (await send(client, user_message("hi"))).text == "still here"
    assert answer.status_code == 200
    error = answer.json()["error"]
    assert error["code"] == -32700 and says in error["message"]
    assert "Traceback" not in caplog.text


async def test_a_json_rpc_lone_surrogate_is_left_to_the_sdk_which_keeps_the_id() -> None:
    """Valid JSON whose text is cut in the middle of an emoji: invalid params answered with
    the request's id (not a parse error, which has none)."""
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "cut ?"}]}
    request = {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": {"message": message}}
    body = json.dumps(request).replace("?", "\\ud83d").encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "A2A-Version": "1.0"}
    app = A2AApp(make_agent("x"), token=TOKEN)
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        answer = (await http.post("/", content=body, headers=headers)).json()
    assert answer["id"] == 7 and answer["error"]["code"] == -32602


async def test_mounted_in_another_app_the_card_is_public_and_bodies_are_checked() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    parent = Starlette(routes=[Mount("/a2a", app=A2AApp(make_agent("x"), token=TOKEN))])
    transport = httpx.ASGITransport(app=parent, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://agents.example") as http:
        card = await http.get("/a2a/.well-known/agent-card.json")
        deep = await http.post(
            "/a2a/", content=b"[" * 5000, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert card.status_code == 200 and card.json()["name"]
    assert deep.json()["error"]["code"] == -32700


@pytest.mark.parametrize("parts", [[{"text": ""}], [{"futurePart": {"x": 1}}]], ids=str)
async def test_a_message_with_nothing_to_ask_is_rejected(parts: list[dict[str, Any]]) -> None:
    """Empty text, or only parts of kinds this server does not know (the SDK drops unknown
    fields): the task is rejected saying so, no run starts, and the context goes on."""
    agent = make_agent("answered")
    message = {"messageId": "m1", "role": "ROLE_USER", "parts": parts, "contextId": "c1"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    headers = {"Authorization": f"Bearer {TOKEN}", "A2A-Version": "1.0"}
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            task = (await http.post("/", json=body, headers=headers)).json()["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_REJECTED"
        assert "nothing to ask" in task["status"]["message"]["parts"][0]["text"]
        async with a2a_client(base) as client:
            after = await send(client, user_message("hi", context_id="c1"))
    assert after.state == COMPLETED and after.text == "answered"
    stored = await agent.history.load("c1")  # type: ignore[union-attr]
    assert [e.text for e in stored if isinstance(e, ModelRequest)] == ["hi"]


async def test_the_token_never_reaches_the_sdk_or_its_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The a2a-sdk copies every request header into its call context and logs that at DEBUG:
    the guard, having read the token, keeps it (and cookies) from the SDK."""
    caplog.set_level(logging.DEBUG)
    async with (
        uvicorn_serving(A2AApp(make_agent("hi"), token=TOKEN)) as base,
        a2a_client(base) as client,
    ):
        assert (await send(client, user_message("hi"))).state == COMPLETED
    assert "call_context" in caplog.text  # the SDK's line with the headers was logged
    assert TOKEN not in caplog.text


async def _asgi_get(app: A2AApp, client_host: str) -> int:
    transport = httpx.ASGITransport(app=app, client=(client_host, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
        return (await http.get("/tasks/nothing")).status_code


def test_bad_configuration_is_a_config_error() -> None:
    from baton import Agent
    from baton.hitl import ApprovalPolicy
    from baton.testing import ScriptedModel

    with pytest.raises(ConfigError, match="history= and storage="):
        A2AApp(Agent("a", config=ScriptedModel("x")))
    waits = Agent(
        "a",
        config=ScriptedModel("x"),
        middleware=[ApprovalPolicy()],
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )
    with pytest.raises(ConfigError, match="suspend=True"):
        A2AApp(waits)
    with pytest.raises(ConfigError, match="16 characters"):
        A2AApp(make_agent("x"), token="short")
    with pytest.raises(ConfigError, match="not both"):
        A2AApp(make_agent("x"), token=TOKEN, no_token=True)
    with pytest.raises(ConfigError, match="max_body must be a positive number of bytes"):
        A2AApp(make_agent("x"), max_body=0)


def test_importing_baton_does_not_import_the_sdk() -> None:
    import subprocess
    import sys

    code = "import baton, baton.a2a, sys; print(any(m.split('.')[0] == 'a2a' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_data_and_file_parts_become_the_asks_input() -> None:
    from a2a.types.a2a_pb2 import ListTasksRequest, Part

    from baton.events import Data, FileUrl, Image, Text

    agent = make_agent("got it", "again")
    async with uvicorn_serving(A2AApp(agent, token=TOKEN)) as base, a2a_client(base) as client:
        message = user_message("look", data={"city": "Paris"})
        message.parts.append(Part(url="https://example.com/cat.png", media_type="image/png"))
        message.parts.append(Part(url="https://example.com/notes.bin"))
        first = await send(client, message)
        await send(client, user_message("more", context_id=first.context_id))
        listed = await client.list_tasks(ListTasksRequest(context_id=first.context_id))
    assert len(listed.tasks) == 2
    stored = await agent.history.load(first.context_id)  # type: ignore[union-attr]
    request = next(e for e in stored if isinstance(e, ModelRequest))
    text, data, image, other = request.parts
    assert text == Text("look")
    assert isinstance(data, Data) and data.value == {"city": "Paris"}
    assert isinstance(image, Image) and image.url == "https://example.com/cat.png"
    assert isinstance(other, FileUrl)
