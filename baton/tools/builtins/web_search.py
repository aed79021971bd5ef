"""``web_search(provider=...)``: one search tool over several search services.

    agent = Agent("researcher", tools=[web_search("tavily")])        # TAVILY_API_KEY
    agent = Agent("researcher", tools=[web_search(Brave())])         # BRAVE_API_KEY
    agent = Agent("researcher", tools=[web_search(SearXNG("http://searx.lan:8080"))])

Services: ``Tavily`` (``TAVILY_API_KEY``), ``Brave`` (``BRAVE_API_KEY`` or
``BRAVE_SEARCH_API_KEY``) and ``SearXNG`` (``SEARXNG_URL``, a self-hosted instance with the JSON
format enabled). ``web_search()`` without a provider takes the first one whose variable is set.
Keys are read when the tool is made (a missing one is a ``ConfigError`` naming the variable) and
never appear in reprs, errors or results. The model gets a numbered list: title, URL, snippet.
Needs httpx (the ``web`` extra).
"""

from __future__ import annotations

import html
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, MissingDependency
from ..tool import Tool

__all__ = [
    "Brave",
    "SearXNG",
    "SearchFailed",
    "SearchProvider",
    "SearchResult",
    "Tavily",
    "web_search",
]


_TAGS = re.compile(r"<[^>]{0,200}>")


class SearchFailed(Exception):
    """A search service that did not answer with results (the message says why, briefly)."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One search hit as the model reads it: the page's title, its URL and a snippet."""

    title: str
    url: str
    snippet: str


class SearchProvider(ABC):
    """A search service: builds its request and reads its answer."""

    name: str
    env: tuple[str, ...] = ()
    """Environment variables the service's key (or address) is read from, first set wins."""

    @abstractmethod
    async def search(self, client: Any, query: str, count: int) -> list[SearchResult]:
        """Up to ``count`` results for ``query``, with the httpx ``client`` given."""

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}()"

    def _from_env(self, given: str | None, what: str) -> str:
        if given:
            return given
        for variable in self.env:
            value = os.environ.get(variable)
            if value:
                return value
        raise ConfigError(
            f"{self.name} search needs {what}: set {' or '.join(self.env)}, or pass it to "
            f"{type(self).__name__}(...)"
        )


def _check(response: Any, service: str) -> Any:
    if response.status_code in (401, 403):
        raise SearchFailed(f"{service} refused the API key (HTTP {response.status_code})")
    if response.status_code == 429:
        raise SearchFailed(f"{service} is rate limiting searches (HTTP 429); try again later")
    if response.status_code >= 400:
        raise SearchFailed(f"{service} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise SearchFailed(f"{service} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise SearchFailed(f"{service} answered JSON that is not an object")
    return data


def _hits(value: Any) -> list[dict[str, Any]]:
    """The result objects of a list of them (anything else in an answer counts as none)."""
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    """One line of plain text (some services mark the matched words with HTML tags)."""
    if not value:
        return ""
    return " ".join(html.unescape(_TAGS.sub("", str(value))).split())


class Tavily(SearchProvider):
    """Tavily's search API (``TAVILY_API_KEY``)."""

    name = "Tavily"
    env = ("TAVILY_API_KEY",)

    def __init__(
        self, api_key: str | None = None, *, base_url: str = "https://api.tavily.com"
    ) -> None:
        self._key = self._from_env(api_key, "an API key")
        self.base_url = base_url.rstrip("/")

    async def search(self, client: Any, query: str, count: int) -> list[SearchResult]:
        response = await client.post(
            f"{self.base_url}/search",
            json={"query": query, "max_results": count},
            headers={"Authorization": f"Bearer {self._key}"},
        )
        data = _check(response, self.name)
        return [
            SearchResult(_text(r.get("title")), str(r.get("url", "")), _text(r.get("content")))
            for r in _hits(data.get("results"))
        ]


class Brave(SearchProvider):
    """The Brave Search API (``BRAVE_API_KEY`` or ``BRAVE_SEARCH_API_KEY``)."""

    name = "Brave"
    env = ("BRAVE_API_KEY", "BRAVE_SEARCH_API_KEY")

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = "https://api.search.brave.com/res/v1",
    ) -> None:
        self._key = self._from_env(api_key, "an API key")
        self.base_url = base_url.rstrip("/")

    async def search(self, client: Any, query: str, count: int) -> list[SearchResult]:
        response = await client.get(
            f"{self.base_url}/web/search",
            params={"q": query, "count": count},
            headers={"X-Subscription-Token": self._key, "Accept": "application/json"},
        )
        data = _check(response, self.name)
        web = data.get("web")
        return [
            SearchResult(_text(r.get("title")), str(r.get("url", "")), _text(r.get("description")))
            for r in _hits(web.get("results") if isinstance(web, dict) else None)
        ]


class SearXNG(SearchProvider):
    """A SearXNG instance (``SEARXNG_URL``) with the JSON output format enabled."""

    name = "SearXNG"
    env = ("SEARXNG_URL",)

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = self._from_env(base_url, "the address of an instance").rstrip("/")

    async def search(self, client: Any, query: str, count: int) -> list[SearchResult]:
        response = await client.get(
            f"{self.base_url}/search", params={"q": query, "format": "json"}
        )
        if response.status_code == 403:
            raise SearchFailed(
                "SearXNG refused the JSON format (HTTP 403): enable 'json' under search.formats "
                "in the instance's settings.yml"
            )
        data = _check(response, self.name)
        return [
            SearchResult(_text(r.get("title")), str(r.get("url", "")), _text(r.get("content")))
            for r in _hits(data.get("results"))[:count]
        ]


PROVIDERS: dict[str, type[SearchProvider]] = {"tavily": Tavily, "brave": Brave, "searxng": SearXNG}


def _pick(provider: SearchProvider | str | None) -> SearchProvider:
    if isinstance(provider, SearchProvider):
        return provider
    if isinstance(provider, str):
        try:
            return PROVIDERS[provider.lower()]()
        except KeyError:
            raise ConfigError(
                f"unknown search provider {provider!r}: use one of {', '.join(PROVIDERS)}, or a "
                "SearchProvider"
            ) from None
    if provider is not None:
        raise ConfigError(
            f"web_search(provider=...) takes a name or a SearchProvider, got {provider!r}"
        )
    for kind in PROVIDERS.values():
        if any(os.environ.get(variable) for variable in kind.env):
            return kind()
    variables = ", ".join(v for kind in PROVIDERS.values() for v in kind.env)
    raise ConfigError(
        f"web_search() found no search service configured: set one of {variables}, or pass "
        "provider=..."
    )


def web_search(
    provider: SearchProvider | str | None = None,
    *,
    max_results: int = 5,
    timeout: float = 15.0,
    name: str = "web_search",
) -> Tool:
    """A tool that searches the web with ``provider`` (a ``SearchProvider``, or ``"tavily"``,
    ``"brave"``, ``"searxng"``; default: the first configured in the environment)."""
    try:
        import httpx
    except ImportError as exc:
        raise MissingDependency(
            f"web_search needs httpx: pip install 'baton-agents[web]' ({exc})"
        ) from None
    service = _pick(provider)
    if isinstance(max_results, bool) or not 1 <= max_results <= 20:
        raise ConfigError(f"web_search(max_results=...) must be 1 to 20, got {max_results!r}")

    async def search(query: str, count: int = max_results) -> str:
        """Search the web; returns titles, addresses and snippets of the best results.

        Args:
            query: What to search for.
            count: How many results to return (1-20).
        """
        if not query.strip():
            raise ValueError("the query is empty")
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            try:
                found = await service.search(client, query, max(1, min(count, 20)))
            except httpx.TimeoutException:
                raise SearchFailed(f"{service.name} did not answer within {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise SearchFailed(
                    f"{service.name} could not be reached ({type(exc).__name__})"
                ) from None
        if not found:
            return f"No results for {query!r}."
        return "\n".join(
            f"{i}. {r.title}\n   {r.url}" + (f"\n   {r.snippet}" if r.snippet else "")
            for i, r in enumerate(found, 1)
        )

    return Tool(search, name=name, description=f"Search the web (with {service.name}).")
