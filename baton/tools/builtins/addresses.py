"""Which network addresses a web tool may connect to: public ones, plus an explicit allow-list.

Private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16, fe80::/10:
cloud metadata services live there), shared (100.64/10), multicast, reserved and unspecified
addresses are refused, whatever name leads to them (IPv6 addresses that carry an IPv4 one,
IPv4-mapped, NAT64, 6to4 or IPv4-compatible, are judged by the IPv4 address too): the check
runs on the addresses a host name resolves to, at the moment of connecting (the web tools'
network backend connects to the very address it checked, so a DNS answer that changes between
check and use cannot slip through: see ``web_transport``), and so again for every redirect.
``AddressGuard(allow=[...])`` opens host names, addresses or CIDR ranges.
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
        checked: IPAddress = mapped if mapped is not None else address
        if any(checked in network for network in self.networks):
            return None
        kind = _kind(checked)
        embedded = _embedded_ipv4(checked) if kind is None else None
        if embedded is not None:
            if any(embedded in network for network in self.networks):
                return None
            kind, checked = _kind(embedded), embedded
        if kind is None:
            return None
        return (
            f"{host!r} resolves to {checked}, {_article(kind)} {kind} address; web tools refuse "
            "those unless they are allowed (allow=[...] of host names, addresses or CIDR ranges)"
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


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local use, not global
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (NAT64, 6to4, IPv4-compatible), if any: a
    gateway on the way may turn a connection to it into one to that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


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
    if address.is_private or not address.is_global or address in _NAT64_LOCAL:
        return "private"
    return None
