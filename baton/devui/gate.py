"""Who may open the dev page and call its API: the holder of the server's token.

``baton dev`` prints the page's URL with the token (``/?token=...``). Opening it sets the token
as a cookie (``HttpOnly``: the page's scripts never see it; ``SameSite=Strict``: no other site's
page sends it) and redirects to the bare URL, so the token leaves the address bar and history.
From then on the browser sends the cookie with every request; other clients may send the token
as ``Authorization: Bearer ...``. Every request then passes the checks every endpoint Baton
serves shares (``baton.endpoint_guard``: the ``Host`` against DNS rebinding, the ``Origin``,
the token in constant time); without the token it is a 401, page and API alike.

The cookie's name carries the port: cookies are shared by every port of a host, and two dev
servers on one machine must not log each other out.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from ..endpoint_guard import EndpointGuard

__all__ = ["TokenGate", "cookie_name"]

_PAGE_PATHS = ("/", "/index.html")


def cookie_name(port: int | None) -> str:
    """The token cookie's name for a server on ``port``."""
    return f"baton_dev_{port}" if port else "baton_dev"


class TokenGate:
    """The ASGI gate in front of the dev app (see the module docs)."""

    __slots__ = ("app", "guard")

    def __init__(self, app: Any, guard: EndpointGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.guard.token or ""
        server = scope.get("server")
        name = cookie_name(server[1] if server else None)
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        given, from_query = _given_token(scope, headers, name)
        if given is not None:
            headers = [(k, v) for k, v in headers if k.lower() != b"authorization"]
            headers.append((b"authorization", b"Bearer " + given.encode("latin-1", "replace")))
        checked = {**scope, "headers": headers}
        refusal = self.guard.refusal(checked)
        if refusal is not None:
            await _refuse(self.guard, refusal, send)
            return
        if from_query and hmac.compare_digest(given or "", token):
            await _set_cookie_and_redirect(send, name, token, scope.get("root_path", ""))
            return
        await self.app(checked, receive, send)


def _given_token(
    scope: Mapping[str, Any], headers: list[tuple[bytes, bytes]], name: str
) -> tuple[str | None, bool]:
    """The token a request carries: in the page's query (the printed URL), as a bearer
    header, or in the cookie; and whether it came in the query."""
    if scope.get("method") == "GET" and scope.get("path") in _PAGE_PATHS:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0], True
    for key, _ in headers:
        if key.lower() == b"authorization":
            return None, False  # the guard reads it as it is
    for key, value in headers:
        if key.lower() == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                continue
            if name in jar:
                return jar[name].value, False
    return None, False


async def _refuse(guard: EndpointGuard, refusal: tuple[int, str], send: Any) -> None:
    status, reason = refusal
    if status == 401:
        reason = (
            "the dev server needs its token: open the URL `baton dev` printed (it ends in "
            "?token=...)"
        )
    await guard.refuse((status, reason), send, headers=[(b"cache-control", b"no-store")])


async def _set_cookie_and_redirect(send: Any, name: str, token: str, root: str) -> None:
    cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", (root or "").encode() + b"/"),
                (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
