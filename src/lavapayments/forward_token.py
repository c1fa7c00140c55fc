"""Forward tokens: the credential a provider SDK sends to Lava's forward endpoint.

A token is the standard base64 of the compact JSON object ``{"secret_key", "connection_secret",
"product_secret", "provider_key"}`` in that key order, byte for byte what the Node SDK's
``generateForwardToken`` makes (``Buffer.from(JSON.stringify(...)).toString("base64")``).
"""

from __future__ import annotations

import base64
import json
import re

__all__ = ["encode_forward_token"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_forward_token(
    *,
    secret_key: str,
    connection_secret: str | None,
    product_secret: str | None,
    provider_key: str | None = None,
) -> str:
    """Encode a forward token.

    Either both ``connection_secret`` and ``product_secret`` are given (billing a customer's
    wallet; ``provider_key`` optionally brings the merchant's own provider key), or both are
    ``None`` and ``provider_key`` is given (metering only: encoded with JSON ``null`` secrets).

    Raises:
        ValueError: for any other combination.
    """
    if (connection_secret is None) != (product_secret is None):
        raise ValueError("connection_secret and product_secret must be given together")
    if connection_secret is None and provider_key is None:
        raise ValueError(
            "provider_key is required when connection_secret and product_secret are None"
        )
    token: dict[str, str | None] = {
        "secret_key": secret_key,
        "connection_secret": connection_secret,
        "product_secret": product_secret,
    }
    if provider_key is not None:
        token["provider_key"] = provider_key
    # JSON.stringify: no spaces, non-ASCII as UTF-8, lone surrogates as lowercase \u escapes.
    text = json.dumps(token, separators=(",", ":"), ensure_ascii=False)
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
