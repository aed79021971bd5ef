"""The dev server over HTTP (httpx): the token gate in front of every page and API request (and
the Host and Origin checks it shares with every endpoint Baton serves), the JSON API, and the
timeline's event stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from devui_agents import calculator
from devui_support import HERE, baton_dev, bearer, named_events, run_input
from serving import uvicorn_serving

from baton import Agent
from baton.devui import DevApp
from baton.errors import ConfigError
from baton.testing import ScriptedModel


def client(app: DevApp, host: str = "127.0.0.1:8000") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/index.html"),
        ("GET", "/static/app.js"),
        ("GET", "/api/info"),
        ("GET", "/api/conversations"),
        ("GET", "/api/conversations/c1/events"),
        ("GET", "/api/conversations/c1/timeline"),
        ("GET", "/api/conversations/c1/request?index=0"),
        ("GET", "/api/conversations/c1/watch"),
        ("POST", "/agui/"),
        ("GET", "/no/such/page"),
    ],
)
async def test_every_request_without_the_token_is_refused(method: str, path: str) -> None:
    app = DevApp(calculator())
    async with client(app) as http:
        response = await http.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401
        assert "token" in response.text
        assert app.token not in response.text
        wrong = await http.request(method, path, headers={"authorization": "Bearer " + "x" * 43})
        assert wrong.status_code == 401
        cookie = {"cookie": f"baton_dev_8000={'y' * 43}"}
        assert (await http.request(method, path, headers=cookie)).status_code == 401


async def test_the_printed_url_sets_the_cookie_and_the_cookie_opens_everything() -> None:
    app = DevApp(calculator())
    async with client(app) as http:
        opened = await http.get(f"/?token={app.token}")
        assert opened.status_code == 303
        assert opened.headers["location"] == "/"
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"baton_dev_8000={app.token};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        http.cookies.clear()  # (httpx kept it: each request below says what it sends)
        # the token in a query opens only the page (an API URL with it is refused)
        assert (await http.get(f"/api/info?token={app.token}")).status_code == 401
        jar = {"cookie": f"baton_dev_8000={app.token}"}
        page = await http.get("/", headers=jar)
        assert page.status_code == 200 and "<title>baton dev</title>" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = await http.get("/static/app.js", headers=jar)
        assert script.status_code == 200 and script.headers["content-type"].startswith(
            "text/javascript"
        )
        assert (await http.get("/static/../app.py", headers=jar)).status_code == 404
        info = (await http.get("/api/info", headers=jar)).json()
        assert info["agent"] == "calculator" and info["tools"] == ["add"]
        # another port's cookie is another server's
        other = {"cookie": f"baton_dev_9000={app.token}"}
        assert (await http.get("/api/info", headers=other)).status_code == 401


async def test_host_and_origin_are_checked_as_for_every_served_endpoint() -> None:
    app = DevApp(calculator())
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        own_host = base.removeprefix("http://")
        # DNS rebinding: a page whose name now points at 127.0.0.1 is not answered
        rebinding = await http.get("/api/info", headers={**bearer(app), "host": "evil.example"})
        assert rebinding.status_code == 421
        page = await http.get(f"/?token={app.token}", headers={"host": "evil.example"})
        assert page.status_code == 421 and "set-cookie" not in page.headers
        assert (await http.get("/api/info", headers=bearer(app))).status_code == 200
        foreign = await http.post(
            "/agui/",
            json=run_input("t", "hi"),
            headers={**bearer(app), "origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
        own = await http.post(
            "/agui/",
            json=run_input("t", "hi"),
            headers={**bearer(app), "origin": f"http://{own_host}"},
        )
        assert own.status_code == 200


async def test_the_api_lists_conversations_and_serves_their_events_and_requests() -> None:
    agent = calculator()
    app = DevApp(agent)
    async with client(app) as http:
        headers = bearer(app)
        assert (await http.get("/api/conversations", headers=headers)).json()["conversations"] == []
        chat = await http.post("/agui/", json=run_input("conv-1", "2 + 3?"), headers=headers)
        assert chat.status_code == 200 and "RUN_FINISHED" in chat.text
        listed = (await http.get("/api/conversations", headers=headers)).json()
        assert listed == {"conversations": ["conv-1"], "listed": True}
        snapshot = (await http.get("/api/conversations/conv-1/events", headers=headers)).json()
        types = [e["event"]["type"] for e in snapshot["entries"]]
        assert types == [
            "RunStarted",
            "ModelRequest",
            "ModelResponse",
            "ToolCallResult",
            "ModelResponse",
            "UsageReport",
            "RunFinished",
        ]
        assert [e["index"] for e in snapshot["entries"]] == list(range(7))
        assert snapshot["interrupts"] == []
        # the model call the first response answered, as this server made it
        made = (await http.get("/api/conversations/conv-1/request?index=2", headers=headers)).json()
        assert made["exact"] is True and made["instructions"] == "You add numbers."
        assert [m["role"] for m in made["messages"]] == ["user"]
        assert made["tools"][0]["name"] == "add" and made["settings"]["stream"] is True
        second = (
            await http.get("/api/conversations/conv-1/request?index=4", headers=headers)
        ).json()
        assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
        bad = await http.get("/api/conversations/conv-1/request?index=3", headers=headers)
        assert bad.status_code == 404
        assert (
            await http.get("/api/conversations/conv-1/request", headers=headers)
        ).status_code == 400

    # a server that did not make the call rebuilds it from the stored conversation
    other = DevApp(agent)
    async with client(other) as http:
        rebuilt = await http.get("/api/conversations/conv-1/request?index=4", headers=bearer(other))
        body = rebuilt.json()
        assert body["exact"] is False
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool"]


@pytest.mark.parametrize("index", ["", "-1", "x", "%C2%B2", "1.0"])
async def test_a_request_index_that_is_not_a_number_is_a_400(index: str) -> None:
    """A "²" (``%C2%B2``) passes ``str.isdigit`` but not ``int``: a 400 too, never a 500."""
    app = DevApp(calculator())
    async with client(app) as http:
        path = f"/api/conversations/c1/request?index={index}"
        response = await http.get(path, headers=bearer(app))
        assert response.status_code == 400 and "?index=N" in response.json()["error"]
        assert (await http.get("/api/info", headers=bearer(app))).status_code == 200


@pytest.mark.parametrize(
    "token", ["é" * 20, " padded-token-0123456789 ", "tab\tseparated-token-0123"], ids=repr
)
def test_a_token_no_client_could_send_is_a_config_error(token: str) -> None:
    """Header values are ASCII and trimmed: such a token would never match (and the page's
    ``?token=`` with accents was a 500). Every served endpoint shares the rule."""
    with pytest.raises(ConfigError, match="printable ASCII with no space at either end") as no:
        DevApp(calculator(), token=token)
    assert token not in str(no.value)


async def test_a_token_with_spaces_inside_is_sent_and_matches() -> None:
    # (Only the ends of a header's value are trimmed: "correct horse battery staple" arrives.)
    app = DevApp(calculator(), token="correct horse battery staple")
    async with client(app) as http:
        right = await http.get("/api/info", headers=bearer(app))
        wrong = await http.get("/api/info", headers={"authorization": "Bearer correct horse"})
    assert (right.status_code, wrong.status_code) == (200, 401)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def history_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each URL ``baton dev --history`` takes, fresh for the test, and the Redis prefix."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
    return str(request.getfixturevalue(f"{request.param}_url")), "baton:"


async def test_each_history_baton_dev_takes_is_listed_and_read(
    history_url: tuple[str, str],
) -> None:
    from baton.devui.serve import open_stores

    url, prefix = history_url
    stores = open_stores(url, prefix)
    assert (stores.redis is not None) == url.startswith("redis")
    try:
        agent = calculator(stores.history, stores.storage)
        await agent.ask("2 + 3?", conversation_id="stored-1")
        await agent.ask("2 + 3?", conversation_id="stored-2")
        app = DevApp(agent)
        async with client(app) as http:
            listed = (await http.get("/api/conversations", headers=bearer(app))).json()
            assert sorted(listed["conversations"]) == ["stored-1", "stored-2"]
            read = await http.get("/api/conversations/stored-2/events", headers=bearer(app))
            entries = read.json()["entries"]
            assert entries[-1]["event"]["type"] == "RunFinished"
            assert entries[-1]["event"]["text"] == "Still 5."
    finally:
        if stores.close is not None:
            await stores.close()


async def test_the_timeline_streams_each_event_once_with_durations() -> None:
    app = DevApp(calculator())
    async with uvicorn_serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        headers = bearer(app)
        first = await http.post("/agui/", json=run_input("conv-t", "2 + 3?"), headers=headers)
        assert first.status_code == 200
        entries: list[dict[str, Any]] = []
        async with http.stream(
            "GET", "/api/conversations/conv-t/timeline", headers=headers
        ) as stream:
            async for name, data in named_events(stream.aiter_lines()):
                if name == "snapshot":
                    assert len(data["entries"]) == 7
                    # the next ask, while this stream is open
                    second = await http.post(
                        "/agui/", json=run_input("conv-t", "again?"), headers=headers
                    )
                    assert second.status_code == 200
                else:
                    entries.append(data)
                    if data["event"]["type"] == "RunFinished":
                        break
        types = [e["event"]["type"] for e in entries]
        assert types[0] == "RunStarted" and types.count("RunStarted") == 1
        assert "TextChunk" in types  # live-only events too
        stored = [e["index"] for e in entries if e["index"] is not None]
        assert stored == list(range(7, 7 + len(stored)))  # the new ones, each once, in order
        response = next(e for e in entries if e["event"]["type"] == "ModelResponse")
        assert response["duration"] >= 0 and response["at"] > 0
        chunks = "".join(e["event"]["text"] for e in entries if e["event"]["type"] == "TextChunk")
        assert chunks == "Still 5."


async def test_watching_needs_a_redis_stream() -> None:
    app = DevApp(calculator())
    async with client(app) as http:
        refused = await http.get("/api/conversations/c/watch", headers=bearer(app))
        assert refused.status_code == 404 and "--redis" in refused.json()["error"]


def test_an_agent_without_history_and_storage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="history= and storage="):
        DevApp(Agent("bare", config=ScriptedModel("hi")))


def test_baton_dev_prints_the_url_with_the_token_and_serves_it(tmp_path: Path) -> None:
    with baton_dev("devui_agents:calculator", "--no-browser") as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "baton dev: calculator at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].strip()
        base, _, token = url.partition("/?token=")
        assert len(token) >= 32
        assert httpx.get(f"{base}/api/info").status_code == 401
        opened = httpx.get(url)
        assert opened.status_code == 303 and opened.headers["set-cookie"].startswith("baton_dev_")
        auth = {"authorization": f"Bearer {token}"}
        info = httpx.get(f"{base}/api/info", headers=auth)
        assert info.json()["history"] == "MemoryHistory"
        # Ctrl-C stops the server even while a page holds a timeline stream open
        with httpx.stream("GET", f"{base}/api/conversations/c/timeline", headers=auth) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: snapshot"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0


def baton_dev_with_history(url: str) -> subprocess.CompletedProcess[str]:
    """``baton dev`` with ``--history url``, which is expected to stop at once."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "baton.cli",
            "dev",
            "devui_agents:calculator",
            "--no-browser",
            "--history",
            url,
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_baton_dev_refuses_a_history_url_it_cannot_use() -> None:
    done = baton_dev_with_history("mongodb://x")
    assert done.returncode == 2
    assert "--history takes" in done.stderr


def test_baton_dev_refuses_a_history_it_cannot_reach_before_serving() -> None:
    """An unreachable store is said at start, not found out as errors in the open page."""
    done = baton_dev_with_history("redis://:s3cret-pass@127.0.0.1:1/0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ConfigError: --history cannot be used: " in done.stderr
    assert "could not use Redis" in done.stderr
    assert "s3cret-pass" not in done.stderr and "baton dev:" not in done.stdout


async def test_a_model_call_shows_the_body_its_provider_client_builds() -> None:
    pytest.importorskip("openai")
    from baton.devui.requests import made_call
    from baton.events import ModelRequest, RunStarted, Text
    from baton.history import HistoryView
    from baton.models.base import ModelCall, ModelSettings
    from baton.providers import OpenAIConfig
    from baton.tools.tool import ToolSpec

    config = OpenAIConfig("gpt-4o-mini", api_key="sk-test-not-a-key", base_url="http://127.0.0.1:9")
    events = [RunStarted("r", "a", "c"), ModelRequest((Text("hi"),))]
    spec = ToolSpec("add", "Add two numbers.", {"type": "object", "properties": {}})
    call = ModelCall(
        "a",
        "c",
        "r",
        "Be brief.",
        HistoryView(events),
        (spec,),
        None,
        ModelSettings(temperature=0.2),
        "openai",
        "gpt-4o-mini",
    )
    try:
        shown = made_call(call, config, 0.25)
    finally:
        await config.aclose()
    assert shown["wire"]["model"] == "gpt-4o-mini"
    assert shown["wire"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert shown["wire"]["tools"][0]["function"]["name"] == "add"
    assert shown["wire"]["temperature"] == 0.2
    assert "sk-test-not-a-key" not in json.dumps(shown)
    assert shown["duration"] == 0.25 and shown["settings"]["temperature"] == 0.2


def test_baton_dev_opens_the_browser_on_the_url_with_the_token() -> None:
    # Python's webbrowser runs $BROWSER (%s: the URL) before any browser it finds; this one
    # writes the URL it was opened on to the output it shares with the server.
    browser = f"{sys.executable} -c 'import sys; print(\"opened\", sys.argv[1], flush=True)' %s"
    with baton_dev("devui_agents:calculator", env={**os.environ, "BROWSER": browser}) as process:
        assert process.stdout is not None
        url = process.stdout.readline().split(" at ", 1)[1].strip()
        lines = [process.stdout.readline().strip() for _ in range(2)]
        assert f"opened {url}" in lines, lines
        assert httpx.get(url).status_code == 303


async def test_a_conversation_whose_id_holds_a_slash_can_be_opened() -> None:
    """The page sends ids percent-encoded (``team%2Fa``); the server decodes the path before
    routing, so the id's '/' must not end it."""
    agent = calculator()
    await agent.ask("2 + 3?", conversation_id="team/a")
    app = DevApp(agent)
    async with client(app) as http:
        events = await http.get("/api/conversations/team%2Fa/events", headers=bearer(app))
        assert events.status_code == 200 and events.json()["conversation"] == "team/a"
        assert events.json()["entries"][0]["event"]["type"] == "RunStarted"
        response = next(
            e["index"] for e in events.json()["entries"] if e["event"]["type"] == "ModelResponse"
        )
        request = await http.get(
            f"/api/conversations/team%2Fa/request?index={response}", headers=bearer(app)
        )
        assert request.status_code == 200 and request.json()["exact"] is False
