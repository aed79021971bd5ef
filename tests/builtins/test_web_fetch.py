"""``web_fetch``: pages as readable text from a loopback server (opened with the allow switch),
private addresses refused after DNS and on every redirect, limits hit cleanly, and each failure
reaching the model as a short tool error."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
from collections.abc import AsyncIterator

import pytest
from serving import uvicorn_serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from baton import Agent, ToolCallError
from baton.errors import ConfigError
from baton.testing import ScriptedModel, call
from baton.tools.builtins import web_fetch
from baton.tools.builtins.addresses import AddressGuard, BlockedAddress
from baton.tools.builtins.web_fetch import FetchFailed

PAGE = """<!doctype html><html><head><title>Release notes</title>
<style>body { color: red }</style><script>var secret = "tracking";</script></head>
<body><h1>Baton 1.0</h1><p>Faster <b>tools</b>, see <a href="/docs">the docs</a>.</p>
<ul><li>sandbox</li><li>web</li></ul></body></html>"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def to_loopback(request: Request) -> Response:
    port = request.url.port
    return RedirectResponse(f"http://127.0.0.1:{port}/secret", status_code=302)


async def secret(request: Request) -> Response:
    return Response("internal admin data", media_type="text/plain")


async def headers_seen(request: Request) -> Response:
    seen = f"authorization={request.headers.get('authorization')}"
    return Response(seen + f" key={request.headers.get('x-api-key')}", media_type="text/plain")


async def to_headers(request: Request) -> Response:
    return RedirectResponse("/headers", status_code=302)


async def to_headers_elsewhere(request: Request) -> Response:
    return RedirectResponse(f"http://127.0.0.1:{request.url.port}/headers", status_code=302)


async def loop(request: Request) -> Response:
    return RedirectResponse("/loop", status_code=302)


async def big(request: Request) -> Response:
    return Response("z" * 50_000, media_type="text/plain")


async def gzipped(request: Request) -> Response:
    body = gzip.compress(PAGE.encode())
    return Response(body, media_type="text/html", headers={"content-encoding": "gzip"})


async def image(request: Request) -> Response:
    return Response(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, media_type="image/png")


APP = Starlette(
    routes=[
        Route("/page", page),
        Route("/to-loopback", to_loopback),
        Route("/secret", secret),
        Route("/loop", loop),
        Route("/headers", headers_seen),
        Route("/to-headers", to_headers),
        Route("/to-headers-elsewhere", to_headers_elsewhere),
        Route("/big", big),
        Route("/image.png", image),
        Route("/gzipped", gzipped),
    ]
)


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with uvicorn_serving(APP) as url:
        yield url


async def test_a_loopback_server_is_refused_by_default(base: str) -> None:
    fetch = web_fetch()
    with pytest.raises(
        BlockedAddress, match=r"'127\.0\.0\.1' resolves to 127\.0\.0\.1, a loopback"
    ):
        await fetch(f"{base}/page")


async def test_the_refusal_reads_as_a_sentence() -> None:
    with pytest.raises(BlockedAddress, match=r"resolves to 0\.0\.0\.0, an unspecified address"):
        await web_fetch()("http://0.0.0.0:9/")


async def test_a_host_name_that_resolves_to_a_private_address_is_refused(base: str) -> None:
    fetch = web_fetch()
    port = base.rsplit(":", 1)[1]
    with pytest.raises(BlockedAddress, match=r"'localhost' resolves to .*loopback address"):
        await fetch(f"http://localhost:{port}/page")


async def test_allowed_loopback_pages_come_back_as_readable_text(base: str) -> None:
    text = await web_fetch(allow=["127.0.0.1"])(f"{base}/page")
    assert text.startswith(f"URL: {base}/page\nStatus: 200\nTitle: Release notes\n\n")
    assert "# Baton 1.0" in text
    assert "Faster **tools**, see [the docs](/docs)." in text
    assert "- sandbox\n- web" in text
    assert "tracking" not in text and "color: red" not in text
    cidr = await web_fetch(allow=["127.0.0.0/8"])(f"{base}/secret")
    assert cidr.endswith("\n\ninternal admin data")
    compressed = await web_fetch(allow=["127.0.0.1"])(f"{base}/gzipped")
    assert "# Baton 1.0" in compressed  # decoded before it is read


async def test_a_redirect_to_a_loopback_address_is_refused(base: str) -> None:
    """``localhost`` is allowed by name (standing in for a public host); its redirect to
    127.0.0.1 is checked again and refused."""
    port = base.rsplit(":", 1)[1]
    fetch = web_fetch(allow=["localhost"])
    assert "Release notes" in await fetch(f"http://localhost:{port}/page")
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1.*loopback"):
        await fetch(f"http://localhost:{port}/to-loopback")
    followed = await web_fetch(allow=["localhost", "127.0.0.1"])(
        f"http://localhost:{port}/to-loopback"
    )
    assert followed.startswith(f"URL: http://127.0.0.1:{port}/secret\nStatus: 200")


async def test_the_given_headers_go_to_the_first_origin_only(base: str) -> None:
    """Headers such as an API key follow same-origin redirects, but a redirect to another
    host does not carry them there."""
    port = base.rsplit(":", 1)[1]
    fetch = web_fetch(
        allow=["localhost", "127.0.0.1"],
        headers={"Authorization": "Bearer s3cret-token", "X-Api-Key": "k3y"},
    )
    same = await fetch(f"http://localhost:{port}/to-headers")
    assert same.endswith("authorization=Bearer s3cret-token key=k3y")
    elsewhere = await fetch(f"http://localhost:{port}/to-headers-elsewhere")
    assert elsewhere.startswith(f"URL: http://127.0.0.1:{port}/headers")
    assert elsewhere.endswith("authorization=None key=None")


async def test_limits_are_hit_cleanly(base: str) -> None:
    small = web_fetch(allow=["127.0.0.1"], max_bytes=1000, max_chars=100)
    cut = await small(f"{base}/big")
    assert "Note: the page was cut at the download limit; the text was cut at 100 characters" in cut
    assert cut.endswith("\n\n" + "z" * 100)
    with pytest.raises(FetchFailed, match="redirected more than 3 times"):
        await web_fetch(allow=["127.0.0.1"], max_redirects=3)(f"{base}/loop")
    with pytest.raises(FetchFailed, match="image/png, not text"):
        await web_fetch(allow=["127.0.0.1"])(f"{base}/image.png")
    with pytest.raises(FetchFailed, match="only http and https"):
        await web_fetch()("file:///etc/passwd")


async def test_a_server_that_never_answers_hits_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        fetch = web_fetch(allow=["127.0.0.1"], timeout=0.5)
        with pytest.raises(FetchFailed, match=r"did not answer within 0\.5 seconds"):
            await fetch(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        # IPv6 addresses that carry an IPv4 one are judged by it
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 (well-known prefix)
        ("64:ff9b:1::7f00:1", "private"),  # NAT64 (local-use prefix: not global)
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4
        ("::7f00:1", "loopback"),  # IPv4-compatible (deprecated)
        ("64:ff9b::5db8:d822", None),  # NAT64 of a public address
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_the_guard_knows_private_addresses(address: str, kind: str | None) -> None:
    why = AddressGuard().refusal("host.example", ipaddress.ip_address(address))
    if kind is None:
        assert why is None
    else:
        assert why is not None and f", {'an' if kind[0] in 'aeiou' else 'a'} {kind} address" in why


def test_bad_allow_entries_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="list of host names"):
        web_fetch(allow="localhost")
    with pytest.raises(ConfigError, match="neither a host name"):
        web_fetch(allow=["10.0.0.0/33"])


async def test_failures_reach_the_model_as_short_tool_errors(base: str) -> None:
    agent = Agent(
        "researcher",
        config=ScriptedModel(call("web_fetch", url=f"{base}/secret"), "ok"),
        tools=[web_fetch()],
    )
    reply = await agent.ask("read it")
    [error] = [e for e in reply.events if isinstance(e, ToolCallError)]
    assert error.message.startswith(
        "Tool 'web_fetch' failed: BlockedAddress: '127.0.0.1' resolves to 127.0.0.1, a "
        "loopback address"
    )
    assert "internal admin data" not in error.message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://", "fetching http:// failed"),
        ("http://[::1", "invalid URL"),
        ("//no-scheme.example", "only http and https"),
    ],
)
async def test_malformed_urls_are_fetch_failures(url: str, problem: str) -> None:
    with pytest.raises(FetchFailed, match=problem):
        await web_fetch()(url)
