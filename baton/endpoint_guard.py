"""Who may call an endpoint Baton serves over HTTP (MCP, A2A, AG-UI): the checks every request
passes before the endpoint reads it, in this order.

1. ``Host`` (DNS rebinding): an endpoint reached on a loopback address answers only to loopback
   host names (``localhost``, ``127.0.0.1``, ``[::1]``) and those in ``allowed_hosts`` (421
   otherwise): a page whose name was re-pointed at 127.0.0.1 would else count as the
   endpoint's own origin. Elsewhere, a list of ``allowed_hosts`` is the only names answered.
2. ``Origin``: a browser page may call the endpoint only from its own origin or one in
   ``allowed_origins`` (403 otherwise). Requests without an ``Origin`` (every non-browser
   client) pass.
3. The bearer token (``Authorization: Bearer ...``), compared in constant time (401 when missing
   or wrong). With ``no_token=True`` there is none, and only loopback clients are served (403
   otherwise): that mode is for development on one machine.

Patterns in ``allowed_hosts`` and ``allowed_origins`` match exactly, or with any port when they
end in ``:*``. The token never appears in a repr, a log line or an error message.

Then the body: ``read_body`` (an endpoint of ours) and ``buffer_body`` (an SDK's routes) read
it no further than the endpoint's limit, so an oversized one is refused (413), never held;
``parse_json`` reads an endpoint's JSON body, refusing what no answer or store could carry.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

from pydantic_core import from_json

from .errors import ConfigError

__all__ = ["EndpointGuard", "check_port", "host_and_port", "is_loopback", "parse_json"]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class _StreamedRequest(Protocol):
    """What ``read_body`` needs of a request (a Starlette ``Request`` has it)."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    def stream(self) -> AsyncIterator[bytes]: ...


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or ``localhost``, no port) is this machine's loopback."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_CREDENTIALS = (b"authorization", b"cookie")


_BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which JSON parsers don't skip


class LoneSurrogate(ValueError):
    """A JSON body holding a lone surrogate escape (``"\\ud83d"``: half a character, as
    ``JSON.stringify`` sends a string cut in the middle of an emoji): valid JSON, but a string
    no UTF-8 answer, log or store could hold."""


def host_and_port(http: str, option: str = "--http") -> tuple[str, int]:
    """The host and port of a command line's ``HOST:PORT`` (``[::1]:8000`` for IPv6), or a
    ``ConfigError`` naming ``option`` for anything else, a port beyond 65535 included."""
    host, _, port = http.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ConfigError(f"{option} takes HOST:PORT, e.g. 127.0.0.1:8000, not {http!r}")
    return host, check_port(port, f"{option} {http}")


def check_port(port: object, where: str) -> int:
    """``port`` as a TCP port number (digits, as an environment variable gives them, are
    read), or a ``ConfigError`` starting with ``where``."""
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"{where}: a port is 0-65535 (0 picks a free one)")
    return port


def parse_json(body: bytes, *, mend_surrogates: bool = False) -> Any:
    """The JSON value of a request ``body`` (after a UTF-8 byte order mark, if any), or a
    ``ValueError`` whose message says what is wrong with it: not UTF-8 JSON, nested too
    deeply (a few hundred levels of ``[``), or (``LoneSurrogate``) a lone surrogate escape.
    With ``mend_surrogates=True`` such an escape becomes U+FFFD instead, as a browser's
    ``TextEncoder`` mends it."""
    if body.startswith(_BOM):  # a file saved with one and sent as it is (curl --data-binary)
        body = body[len(_BOM) :]
    try:
        return from_json(body)
    except ValueError as exc:
        if str(exc).startswith("recursion limit exceeded"):
            raise ValueError("the body's JSON is nested too deeply to read") from None
        problem = f"the body is not JSON ({exc})"
    # Only on this error's path: a strict UTF-8 read (so only escapes can make surrogates),
    # each string mended once, noting whether any was.
    found = [False]
    try:
        mended = _mend(json.loads(body.decode("utf-8")), found)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        raise ValueError(problem) from None
    if not found[0]:
        raise ValueError(problem)
    if not mend_surrogates:
        raise LoneSurrogate(
            "the body holds a lone surrogate escape (half a character, such as a string cut in "
            "the middle of an emoji), which no UTF-8 text can hold"
        )
    return mended


_SURROGATE = re.compile("[\ud800-\udfff]")


def _mend(value: Any, found: list[bool]) -> Any:
    """``value`` with every lone surrogate in its strings made U+FFFD (``found[0]`` set when
    there was one)."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            found[0] = True
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [_mend(item, found) for item in value]
    if isinstance(value, dict):
        return {_mend(key, found): _mend(item, found) for key, item in value.items()}
    return value


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port (IPv6 brackets taken off)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _matches(value: str, patterns: Sequence[str]) -> bool:
    """``value`` equals a pattern, or starts like a ``base:*`` pattern (any port)."""
    return any(
        value == pattern or (pattern.endswith(":*") and value.startswith(pattern[:-1]))
        for pattern in patterns
    )


class EndpointGuard:
    """The checks of one endpoint (see the module docs). ``token=None`` generates one (read it
    from ``.token``); ``no_token=True`` serves loopback clients without one."""

    __slots__ = ("_token", "allowed_hosts", "allowed_origins", "realm")

    def __init__(
        self,
        token: str | None = None,
        *,
        no_token: bool = False,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        realm: str = "baton",
    ) -> None:
        if no_token and token is not None:
            raise ConfigError("give either token=... or no_token=True, not both")
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ConfigError(
                "the bearer token must be a string of at least 16 characters; leave it out "
                "to have one generated (app.token)"
            )
        # What a client can send: printable ASCII (a header's value is trimmed at its ends,
        # so inner spaces are kept and outer ones never arrive).
        if token is not None and (
            token != token.strip() or not all(" " <= c <= "~" for c in token)
        ):
            raise ConfigError(
                "the bearer token must be printable ASCII with no space at either end (it is "
                "sent as Authorization: Bearer <token>); secrets.token_urlsafe(32) makes a "
                "good one"
            )
        self._token: bytes | None = (
            None if no_token else (token or secrets.token_urlsafe(32)).encode()
        )
        self.allowed_origins = tuple(o.rstrip("/") for o in allowed_origins)
        self.allowed_hosts = tuple(allowed_hosts)
        self.realm = realm

    @property
    def token(self) -> str | None:
        """The bearer token clients must send (None with ``no_token=True``)."""
        return self._token.decode() if self._token is not None else None

    def __repr__(self) -> str:
        return "no token, loopback clients only" if self._token is None else "token required"

    def refusal(self, scope: Mapping[str, Any]) -> tuple[int, str] | None:
        """(status, reason) when the HTTP request of ``scope`` is refused, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        server = scope.get("server")
        on_loopback = server is not None and is_loopback(str(server[0]))
        # On loopback: loopback names and the allowed ones; elsewhere: the allowed ones when
        # there is a list, else any (a public server is reached by whatever name it has).
        if not (self.allowed_hosts and _matches(host, self.allowed_hosts)):
            if on_loopback and not is_loopback(_host_name(host)):
                return 421, "this endpoint does not answer to that Host"
            if self.allowed_hosts and not on_loopback:
                return 421, "this endpoint does not answer to that Host"
        origin = headers.get("origin")
        if origin is not None:
            origin = origin.rstrip("/")
            own = (f"http://{host}", f"https://{host}")
            if origin not in own and not _matches(origin, self.allowed_origins):
                return 403, "requests from that Origin are not allowed"
        if self._token is None:
            client = scope.get("client")
            if client is None or not is_loopback(str(client[0])):
                return 403, "this endpoint runs without a token and serves loopback clients only"
            return None
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), self._token
        ):
            return 401, "a valid bearer token is required (Authorization: Bearer <token>)"
        return None

    @staticmethod
    def without_credentials(scope: Mapping[str, Any]) -> dict[str, Any]:
        """``scope`` without its ``Authorization`` and ``Cookie`` headers: for an SDK's app
        behind the guard, which has read them (an SDK may copy every header into what it
        logs)."""
        kept = [(k, v) for k, v in scope["headers"] if k.lower() not in _CREDENTIALS]
        return {**scope, "headers": kept}

    async def admit(self, scope: Mapping[str, Any], send: Send, *, as_json: bool = False) -> bool:
        """Whether the request of ``scope`` may go on to the endpoint. A refused HTTP request
        is answered here (see ``refuse``); other scopes (lifespan, ...) are not checked."""
        if scope["type"] != "http":
            return True
        refusal = self.refusal(scope)
        if refusal is None:
            return True
        await self.refuse(refusal, send, as_json=as_json)
        return False

    async def refuse(
        self,
        refusal: tuple[int, str],
        send: Send,
        *,
        as_json: bool = False,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """Answer a refused request: its status, and the reason as plain text (or, with
        ``as_json``, as ``{"error": reason}``), with ``headers`` added."""
        status, reason = refusal
        if as_json:
            body = json.dumps({"error": reason}, separators=(",", ":")).encode()
            kind = b"application/json"
        else:
            body, kind = reason.encode(), b"text/plain; charset=utf-8"
        sent = [(b"content-type", kind), *headers]
        if status == 401:
            sent.append((b"www-authenticate", f'Bearer realm="{self.realm}"'.encode()))
        sent.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": sent})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def buffer_body(
        scope: Mapping[str, Any], receive: Receive, limit: int
    ) -> tuple[bytes, Receive] | None:
        """For an app that reads the body itself (an SDK's routes): the request's body, read
        here in full, and a ``receive`` that gives it, then the rest of the connection's
        messages; or None when the body is larger than ``limit`` bytes (refused on its declared
        length, and otherwise read no further than the limit, whatever is sent)."""
        declared = ""
        for key, value in scope["headers"]:
            if key.lower() == b"content-length":
                declared = value.decode("latin-1")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: the app is told so
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = b"".join(chunks)
                message = {"type": "http.request", "body": body, "more_body": False}
                break
        pending = [message]

        async def replayed() -> MutableMapping[str, Any]:
            return pending.pop() if pending else await receive()

        return body, replayed

    @staticmethod
    async def read_body(request: _StreamedRequest, limit: int) -> bytes | None:
        """The request's body, or None when it is larger than ``limit`` bytes: refused on its
        declared length, and otherwise read no further than the limit, whatever is sent."""
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
