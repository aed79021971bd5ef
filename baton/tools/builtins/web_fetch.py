"""``web_fetch()``: a tool that fetches a URL with httpx and returns readable text.

    agent = Agent("researcher", tools=[web_fetch()])
    agent = Agent("intranet", tools=[web_fetch(allow=["wiki.internal", "10.20.0.0/16"])])

HTML becomes markdown-like text (``markdownify``, after scripts, styles and the like are
dropped); other text types come back as they are, binary types are refused. Private, loopback
and link-local addresses are refused unless allowed (see ``addresses``), checked on the address
actually connected to, for the URL and for every redirect. Limits: ``max_bytes`` downloaded
(the rest is not read), ``max_chars`` returned, ``timeout`` seconds for the whole fetch,
``max_redirects``. Needs the ``web`` extra: ``pip install 'baton-agents[web]'``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from typing import Any

from ...errors import ConfigError, MissingDependency
from ..tool import Tool
from .addresses import AddressGuard, BlockedAddress

__all__ = ["BlockedAddress", "FetchFailed", "fetch_text", "html_to_text", "web_fetch"]

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "+json",
    "+xml",
)
_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "canvas", "head")
_USER_AGENT = "Baton-web_fetch/0.1 (+https://pypi.org/project/baton-agents/)"


class FetchFailed(Exception):
    """A fetch that could not give the model a page (the message says why, briefly)."""


def require_web_extra() -> None:
    try:
        import httpx  # noqa: F401
        import markdownify  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(
            f"web_fetch needs httpx and markdownify: pip install 'baton-agents[web]' ({exc})"
        ) from None


def html_to_text(html: str) -> tuple[str, str]:
    """The title and the markdown-like text of an HTML page."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(list(_DROPPED_TAGS)):
        tag.decompose()
    text = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return title, re.sub(r"\n{3,}", "\n\n", text).strip()


async def fetch_text(
    url: str,
    guard: AddressGuard,
    *,
    max_bytes: int = 2_000_000,
    max_chars: int = 40_000,
    timeout: float = 20.0,  # noqa: ASYNC109
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
) -> str:
    """Fetch ``url`` (following up to ``max_redirects`` redirects, each checked by ``guard``)
    and return a short header and the page as readable text; ``FetchFailed`` or
    ``BlockedAddress`` say why not."""
    import httpx

    from .web_transport import GuardedTransport

    client = httpx.AsyncClient(
        transport=GuardedTransport(guard),
        follow_redirects=False,
        headers={"User-Agent": _USER_AGENT},
        trust_env=False,  # no proxy from the environment: it would make the guard moot
    )
    try:
        async with client, asyncio.timeout(timeout):
            return await _follow(client, url, max_bytes, max_chars, max_redirects, headers or {})
    except TimeoutError:
        raise FetchFailed(f"{url} did not answer within {timeout:g} seconds") from None
    except httpx.TimeoutException:
        raise FetchFailed(f"{url} did not answer within {timeout:g} seconds") from None
    except httpx.InvalidURL as exc:
        raise FetchFailed(f"invalid URL {url!r}: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching {url} failed: {exc}") from None


async def _follow(
    client: Any,
    url: str,
    max_bytes: int,
    max_chars: int,
    max_redirects: int,
    headers: dict[str, str],
) -> str:
    import httpx

    current = httpx.URL(url)
    origin = _origin(current)
    for hop in range(max_redirects + 1):
        if current.scheme not in ("http", "https"):
            raise FetchFailed(f"only http and https URLs can be fetched, not {str(current)!r}")
        # The caller's headers (an API key, a cookie) are for the URL's own origin: a redirect
        # elsewhere does not carry them there.
        sent = headers if _origin(current) == origin else None
        async with client.stream("GET", current, headers=sent) as response:
            if response.is_redirect and "location" in response.headers:
                if hop == max_redirects:
                    raise FetchFailed(f"{url} redirected more than {max_redirects} times")
                current = current.join(response.headers["location"])
                continue
            body = bytearray()
            async for chunk in response.aiter_bytes():  # decoded: the limit counts real text
                body += chunk
                if len(body) >= max_bytes:
                    break
            truncated = len(body) >= max_bytes
            return _render(response, bytes(body[:max_bytes]), truncated, max_chars)
    raise AssertionError("unreachable")


def _origin(url: Any) -> tuple[str, str, int | None]:
    """The scheme, host and port of an ``httpx.URL`` (the default port made explicit)."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _render(response: Any, body: bytes, truncated: bool, max_chars: int) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not any(t in content_type for t in _TEXT_TYPES):
        raise FetchFailed(
            f"{response.url} is {content_type}, not text; only HTML and text pages can be read"
        )
    encoding = response.charset_encoding or "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    title = ""
    if content_type in ("text/html", "application/xhtml+xml") or (
        not content_type and "<html" in text[:1000].lower()
    ):
        title, text = html_to_text(text)
    notes = []
    if truncated:
        notes.append("the page was cut at the download limit")
    if len(text) > max_chars:
        text = text[:max_chars]
        notes.append(f"the text was cut at {max_chars} characters")
    head = [f"URL: {response.url}", f"Status: {response.status_code}"]
    if title:
        head.append(f"Title: {title}")
    if notes:
        head.append(f"Note: {'; '.join(notes)}")
    return "\n".join(head) + "\n\n" + text


def web_fetch(
    *,
    allow: Iterable[str] = (),
    max_bytes: int = 2_000_000,
    max_chars: int = 40_000,
    timeout: float = 20.0,
    max_redirects: int = 5,
    headers: dict[str, str] | None = None,
    name: str = "web_fetch",
) -> Tool:
    """A tool that fetches a web page and returns it as readable text (see the module docs).

    ``allow``: host names, addresses or CIDR ranges that may be private (everything public is
    allowed); ``headers``: sent with every request to the URL's origin (scheme, host and port),
    and not to another one a redirect leads to; never shown to the model.
    """
    require_web_extra()
    guard = AddressGuard(allow)
    for label, value in (("max_bytes", max_bytes), ("max_chars", max_chars)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"web_fetch({label}=...) must be a positive integer, got {value!r}")
    if not 0 < timeout < float("inf"):
        raise ConfigError(f"web_fetch(timeout=...) must be a positive number, got {timeout!r}")
    if max_redirects < 0:
        raise ConfigError(f"web_fetch(max_redirects=...) cannot be negative, got {max_redirects}")

    async def fetch(url: str) -> str:
        """Fetch a web page (http or https) and read it as text.

        Args:
            url: The address of the page.
        """
        return await fetch_text(
            url,
            guard,
            max_bytes=max_bytes,
            max_chars=max_chars,
            timeout=timeout,
            max_redirects=max_redirects,
            headers=headers,
        )

    return Tool(fetch, name=name)
