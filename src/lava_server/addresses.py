"""Which network addresses the server may call on a merchant's or a client's behalf.

Shared by the forward proxy (its upstream URLs) and webhooks (receivers' URLs): a host that is
an IP address in any spelling is recognised (`is_ip_literal`), an address that is not public
(loopback, private, link-local, carrier-grade NAT, multicast, reserved, the cloud metadata
addresses) is refused (`refusal`), and `GuardedResolver` applies that rule to the addresses a
name resolves to, when connecting, so that a name that points inside cannot be used either.
Redirects are never followed by these clients (a redirect would be a second, unchecked URL).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any, Final

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

_IPV4_PART_RE: Final = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
IPV6ISH_RE: Final = re.compile(r"[0-9A-Fa-f:.%]+")  # an unbracketed IPv6 address

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services (also refused as link-local or private; named for the message).
METADATA: Final = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


def is_ip_literal(host: str) -> bool:
    """WHATWG's rule: a host whose last label is a number is an IPv4 address in some spelling
    (``127.0.0.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``); plus anything ``ipaddress``
    parses."""
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels.pop()
    if labels and _IPV4_PART_RE.fullmatch(labels[-1]):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def refusal(address: Address, *, allow_loopback: bool = False) -> str | None:
    """Why the server must not connect to `address` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


class AddressRefused(OSError):
    """Every address of a host is one the server must not call."""


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then drops the addresses `refusal` refuses; with none left the
    connection fails (`AddressRefused`). Checked at connect time, on what the name resolves to
    then, so a name re-pointed after it was accepted gains nothing."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self.allow_loopback = allow_loopback
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        reasons: list[str] = []
        for result in found:
            reason = refusal(
                ipaddress.ip_address(result["host"]), allow_loopback=self.allow_loopback
            )
            if reason is None:
                allowed.append(result)
            else:
                reasons.append(reason)
        if not allowed:
            raise AddressRefused(f"{host} resolves to {reasons[0] if reasons else 'nothing'}")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def check_host(host: str, *, allow_loopback: bool = False) -> str | None:
    """Why an IP-literal host must not be called (None: it may, or it is a name, which is
    checked when connecting)."""
    try:
        address: Any = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "an IP address in an unusual spelling" if is_ip_literal(host) else None
    return refusal(address, allow_loopback=allow_loopback)
