"""Which headers cross the proxy (`docs/forward-proxy.md`), both ways.

Upstream: an allowlist. Content negotiation, the client's user agent and the providers' own
protocol headers go; our token (in whatever header it came), cookies, hop-by-hop headers,
`accept-encoding` (we read the answer to meter it, so we ask for it uncompressed) and anything
else do not. Downstream: the provider's headers minus hop-by-hop ones, cookies set for the
provider's domain, headers our server writes itself (`date`, `server`) and any `x-lava-*` (ours
alone); `x-lava-request-id` is added by the request-context middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

FORWARDED_REQUEST_HEADERS: Final = frozenset(
    {
        b"content-type",
        b"accept",
        b"accept-language",
        b"user-agent",
        b"anthropic-version",
        b"anthropic-beta",
        b"openai-beta",
        b"x-goog-api-client",
    }
)

_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
DROPPED_RESPONSE_HEADERS: Final = _HOP_BY_HOP | {b"set-cookie", b"date", b"server", b"alt-svc"}


def upstream_headers(
    client_headers: Iterable[tuple[bytes, bytes]], auth: tuple[bytes, bytes]
) -> dict[str, str]:
    """The headers to send upstream: the allowed ones of the client, the provider key, and
    `accept-encoding: identity`."""
    out: dict[str, str] = {}
    for name, value in client_headers:
        if name in FORWARDED_REQUEST_HEADERS:
            out[name.decode("latin-1")] = value.decode("latin-1")
    out[auth[0].decode("latin-1")] = auth[1].decode("latin-1")
    out["accept-encoding"] = "identity"
    return out


def client_headers(
    upstream: Iterable[tuple[bytes, bytes]], *, keep_length: bool
) -> list[tuple[bytes, bytes]]:
    """The provider's response headers as relayed to the client (ASGI form, lower-case names).

    `keep_length=False` drops `content-length` too (the body is changed on the way)."""
    out: list[tuple[bytes, bytes]] = []
    for raw_name, value in upstream:
        name = raw_name.lower()
        if name in DROPPED_RESPONSE_HEADERS or name.startswith(b"x-lava-"):
            continue
        if name == b"content-length" and not keep_length:
            continue
        out.append((name, value))
    return out
