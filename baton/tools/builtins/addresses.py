"""Which network addresses a web tool may connect to: public ones, plus an explicit allow-list.

Private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16, fe80::/10:
cloud metadata services live there), shared (100.64/10), multicast, reserved and unspecified
addresses are refused, whatever name leads to them: the check runs on the addresses a host name
resolves to, at the moment of connecting (the web tools' network backend connects to the very
address it checked, so a DNS answer that changes between check and use cannot slip through: see
``web_transport``), and so again
for every redirect. ``AddressGuard(allow=[...])`` opens host names, addresses or CIDR ranges.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

from ...errors import ConfigError

__all__ = ["AddressGuard", "BlockedAddress"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddress(PermissionError):
    """A connection to an address the web tools may not open."""


class AddressGuard:
    """Decides whether a host (and the addresses it resolves to) may be connected to."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        if isinstance(allow, str):
            raise ConfigError("allow=... takes a list of host names, addresses or CIDR ranges")
        self.hosts: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in allow:
            text = entry.strip().lower().rstrip(".")
            if not text:
                raise ConfigError("allow=... has an empty entry")
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if "/" in text or any(c in text for c in " :@"):
                    raise ConfigError(
                        f"allow=... entry {entry!r} is neither a host name, an address nor a "
                        "CIDR range"
                    ) from None
                self.hosts.add(text)

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why connecting to ``address`` (resolved from ``host``) is refused, or ``None``."""
        if host.lower().rstrip(".") in self.hosts:
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        checked = mapped if mapped is not None else address
        if any(checked in network for network in self.networks):
            return None
        kind = _kind(checked)
        if kind is None:
            return None
        return (
            f"{host!r} resolves to {checked}, a {kind} address; web tools refuse those unless "
            "they are allowed (allow=[...] of host names, addresses or CIDR ranges)"
        )

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host`` it may connect to; ``BlockedAddress`` if any is refused
        (a name with one private address among public ones is refused as a whole)."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except socket.gaierror as exc:
                raise OSError(f"could not resolve {host!r}: {exc.strerror}") from None
            addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0]) for i in infos))
        for address in addresses:
            why = self.refusal(host, address)
            if why is not None:
                raise BlockedAddress(why)
        return addresses


def _kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or ``None`` for a public one."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private or not address.is_global:
        return "private"
    return None
