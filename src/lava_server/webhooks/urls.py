"""Which receiver URLs an endpoint may have (`docs/webhooks.md#endpoints`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from lava_server.addresses import check_host, is_ip_literal
from lava_server.errors import InvalidRequest

_LOOPBACK_NAMES = frozenset({"localhost"})


def check_url(url: str, *, livemode: bool, allow_http: bool, field: str = "url") -> str:
    """The URL, or a 400 naming `field`: live endpoints are `https://` to a public host;
    `allow_http` lets sandbox ones use `http://` to a loopback address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(f"{field} is not a valid URL.", param=field) from None
    if not url.isascii() or any(c.isspace() for c in url):
        raise InvalidRequest(f"{field} must be ASCII without spaces.", param=field)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidRequest(f"{field} must be an https:// URL with a host.", param=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(f"{field} must not contain credentials.", param=field)
    if parts.fragment:
        raise InvalidRequest(f"{field} must not have a #fragment.", param=field)
    loopback_ok = allow_http and not livemode
    is_loopback = host in _LOOPBACK_NAMES or (
        is_ip_literal(host)
        and check_host(host, allow_loopback=True) is None
        and check_host(host) is not None
    )
    if parts.scheme == "http" and not (loopback_ok and is_loopback):
        raise InvalidRequest(
            f"{field} must be https://"
            + (
                ""
                if livemode
                else " (plain http:// to a loopback address needs LAVA_WEBHOOKS_ALLOW_HTTP=true)"
            )
            + ".",
            param=field,
        )
    if host in _LOOPBACK_NAMES and not loopback_ok:
        raise InvalidRequest(f"{field} must not point to a loopback address.", param=field)
    reason = check_host(host, allow_loopback=loopback_ok)
    if reason is not None:
        raise InvalidRequest(f"{field} must not point to {reason}.", param=field)
    if port == 0:
        raise InvalidRequest(f"{field} has no valid port.", param=field)
    return url
