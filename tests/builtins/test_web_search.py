"""``web_search``: each service's wire format, spoken by a loopback server; keys from their
usual environment variables, never shown; failures as short tool errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from serving import uvicorn_serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from baton import Agent, ToolCallError
from baton.errors import ConfigError
from baton.testing import ScriptedModel, call
from baton.tools.builtins import Brave, SearchFailed, SearXNG, Tavily, web_search

KEY = "sk-test-0123456789abcdef"
seen: list[dict[str, Any]] = []


async def tavily(request: Request) -> Response:
    body = await request.json()
    seen.append({"auth": request.headers.get("authorization"), **body})
    if request.headers.get("authorization") != f"Bearer {KEY}":
        return JSONResponse({"detail": {"error": "Unauthorized"}}, status_code=401)
    return JSONResponse(
        {
            "query": body["query"],
            "results": [
                {
                    "title": "Baton docs",
                    "url": "https://baton.dev",
                    "content": "Agents.",
                    "score": 0.9,
                },
                {"title": "Baton repo", "url": "https://github.com/x/baton", "content": "Code."},
            ],
        }
    )


async def brave(request: Request) -> Response:
    seen.append({"token": request.headers.get("x-subscription-token"), **request.query_params})
    return JSONResponse(
        {
            "type": "search",
            "web": {
                "results": [
                    {
                        "title": "Brave hit",
                        "url": "https://b.example",
                        "description": "A <strong>hit</strong> &amp; more.",
                    }
                ]
            },
        }
    )


async def searx(request: Request) -> Response:
    seen.append(dict(request.query_params))
    if request.query_params.get("format") != "json":
        return Response("html", status_code=403)
    results = [{"title": f"r{i}", "url": f"https://s.example/{i}", "content": ""} for i in range(9)]
    return JSONResponse({"query": request.query_params["q"], "results": results})


async def odd(request: Request) -> Response:
    """Answers of the right content type but an unexpected shape, as a broken proxy or a
    changed API might send them (the path picks one)."""
    shapes: dict[str, Any] = {
        "list": [1, 2],
        "web-list": {"web": [1]},
        "results-object": {"results": {"title": "x"}},
    }
    return JSONResponse(shapes[request.path_params["shape"]])


APP = Starlette(
    routes=[
        Route("/odd/{shape}/search", odd, methods=["GET", "POST"]),
        Route("/odd/{shape}/web/search", odd),
        Route("/tavily/search", tavily, methods=["POST"]),
        Route("/brave/web/search", brave),
        Route("/searx/search", searx),
    ]
)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    seen.clear()
    async with uvicorn_serving(APP) as url:
        yield url


async def test_tavily_with_the_key_from_its_environment_variable(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAVILY_API_KEY", KEY)
    search = web_search(Tavily(base_url=f"{base}/tavily"), max_results=3)
    text = await search("baton agents")
    assert text == (
        "1. Baton docs\n   https://baton.dev\n   Agents.\n"
        "2. Baton repo\n   https://github.com/x/baton\n   Code."
    )
    assert seen == [{"auth": f"Bearer {KEY}", "query": "baton agents", "max_results": 3}]


async def test_brave_and_searxng_speak_their_own_formats(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", KEY)
    brave_text = await web_search(Brave(base_url=f"{base}/brave"))("q1", count=2)
    assert brave_text == "1. Brave hit\n   https://b.example\n   A hit & more."
    assert seen[-1] == {"token": KEY, "q": "q1", "count": "2"}
    monkeypatch.setenv("SEARXNG_URL", f"{base}/searx")
    searx_text = await web_search("searxng", max_results=2)("q2")
    assert searx_text == "1. r0\n   https://s.example/0\n2. r1\n   https://s.example/1"
    assert seen[-1] == {"q": "q2", "format": "json"}


def test_the_first_configured_service_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TAVILY_API_KEY", "BRAVE_API_KEY", "BRAVE_SEARCH_API_KEY", "SEARXNG_URL"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigError, match="set one of TAVILY_API_KEY, BRAVE_API_KEY"):
        web_search()
    monkeypatch.setenv("SEARXNG_URL", "http://127.0.0.1:9")
    assert web_search().description == "Search the web (with SearXNG)."
    with pytest.raises(ConfigError, match="set TAVILY_API_KEY"):
        web_search("tavily")
    with pytest.raises(ConfigError, match="unknown search provider 'bing'"):
        web_search("bing")


async def test_a_refused_key_is_a_short_tool_error_without_the_key(base: str) -> None:
    wrong = "sk-wrong-key-should-never-show"
    agent = Agent(
        "researcher",
        config=ScriptedModel(call("web_search", query="x"), "ok"),
        tools=[web_search(Tavily(wrong, base_url=f"{base}/tavily"))],
    )
    reply = await agent.ask("search")
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert error.message == (
        "Tool 'web_search' failed: SearchFailed: Tavily refused the API key (HTTP 401)"
    )
    assert wrong not in repr(Tavily(wrong)) and wrong not in str(reply.events)


async def test_an_unreachable_service_is_a_short_error() -> None:
    search = web_search(SearXNG("http://127.0.0.1:9"))
    with pytest.raises(SearchFailed, match=r"SearXNG could not be reached \(ConnectError\)"):
        await search("x")


async def test_answers_of_an_unexpected_shape_are_short_errors_or_no_results(base: str) -> None:
    with pytest.raises(SearchFailed, match="Tavily answered JSON that is not an object"):
        await web_search(Tavily(KEY, base_url=f"{base}/odd/list"))("x")
    assert await web_search(Brave(KEY, base_url=f"{base}/odd/web-list"))("x") == (
        "No results for 'x'."
    )
    assert await web_search(SearXNG(f"{base}/odd/results-object"))("x") == "No results for 'x'."
