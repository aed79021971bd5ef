"""Who may call an AG-UI endpoint: a bearer token (compared in constant time), or, with
``no_token=True`` for development, loopback clients only; browsers only from the page's own
origin or one allowed; and, on a loopback address, only requests naming a loopback host
(against DNS rebinding: a page whose name was re-pointed at 127.0.0.1 would otherwise count
as the endpoint's own origin). The token never appears in a repr, a log line or an error."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import MutableMapping, Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ["Guard", "is_loopback"]


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


class Guard:
    """The checks every request passes before the endpoint reads it."""

    __slots__ = ("_token", "allowed_hosts", "allowed_origins")

    def __init__(
        self,
        token: str | None,
        no_token: bool,
        allowed_origins: Sequence[str],
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if no_token and token is not None:
            raise ConfigError("give either token=... or no_token=True, not both")
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ConfigError(
                "the bearer token must be a string of at least 16 characters; leave it out "
                "to have one generated (app.token)"
            )
        self._token: bytes | None = (
            None if no_token else (token or secrets.token_urlsafe(32)).encode()
        )
        self.allowed_origins = tuple(o.rstrip("/") for o in allowed_origins)
        self.allowed_hosts = tuple(allowed_hosts)

    @property
    def token(self) -> str | None:
        return self._token.decode() if self._token is not None else None

    def __repr__(self) -> str:
        return "no token, loopback clients only" if self._token is None else "token required"

    def refusal(self, scope: MutableMapping[str, Any]) -> tuple[int, str] | None:
        """(status, reason) when the request is refused, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        server = scope.get("server")
        if server is not None and is_loopback(str(server[0])):
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host.split("]")[0]
            if not is_loopback(name) and host not in self.allowed_hosts:
                return 421, "this endpoint does not answer to that Host"
        origin = headers.get("origin")
        if origin is not None:
            origin = origin.rstrip("/")
            own = (f"http://{host}", f"https://{host}")
            if origin not in own and origin not in self.allowed_origins:
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
