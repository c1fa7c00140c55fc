"""The pure parts of ``lava.gateway()`` (the Node SDK's ``gateway``): the forward token, the URL
and the body of one call to a provider through Lava."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias
from urllib.parse import quote

from .forward_token import UNSET, encode_forward_token

__all__ = ["GatewayFormat", "gateway_body", "gateway_token", "gateway_url"]

GatewayFormat: TypeAlias = Literal["openai", "anthropic", "google", "bedrock"]

# encodeURIComponent leaves these unescaped (besides letters, digits and "-_.~").
_URI_COMPONENT_SAFE = "!*'()"


def _forward_token_v2(
    secret_key: str,
    *,
    customer_id: str | None,
    meter_slug: str | None,
    provider_key: str | None,
    disable_billing: bool | None,
) -> str:
    """The current API's forward token as the Node SDK 11.x's ``gateway()`` asks for it: a
    customer with a meter bills the customer; a meter alone is sent with ``customer_id: null``
    (merchant-billed, attributed to the meter) and without ``disable_billing``; neither bills
    the merchant. Options left ``None`` are left out, as JavaScript's ``undefined`` is."""
    if customer_id is not None and meter_slug is not None:
        return encode_forward_token(
            secret_key=secret_key,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=UNSET if provider_key is None else provider_key,
            disable_billing=UNSET if disable_billing is None else disable_billing,
        )
    if meter_slug is not None:
        return encode_forward_token(
            secret_key=secret_key,
            customer_id=None,
            meter_slug=meter_slug,
            provider_key=UNSET if provider_key is None else provider_key,
        )
    return encode_forward_token(
        secret_key=secret_key, provider_key=UNSET if provider_key is None else provider_key
    )


def gateway_token(
    secret_key: str,
    *,
    customer_id: str | None,
    meter_slug: str | None,
    provider_key: str | None,
    disable_billing: bool | None,
    connection_secret: str | None,
    product_secret: str | None,
) -> str:
    """The forward token of one gateway call.

    ``customer_id`` with ``meter_slug`` bills the customer per the meter; ``meter_slug`` alone
    meters without a customer; neither bills the merchant. ``connection_secret`` (with
    ``product_secret``, our extension) makes a seed-era token instead, billing a connection's
    wallet per a product.

    Raises:
        ValueError: ``customer_id`` without ``meter_slug``, or both kinds of billing at once.
    """
    if connection_secret is not None or product_secret is not None:
        if customer_id is not None or meter_slug is not None or disable_billing is not None:
            raise ValueError(
                "gateway(): give either connection_secret/product_secret (seed-era billing) "
                "or customer_id/meter_slug, not both."
            )
        return encode_forward_token(
            secret_key=secret_key,
            connection_secret=connection_secret,
            product_secret=product_secret,
            provider_key=provider_key,
        )
    if customer_id is not None and meter_slug is None:
        raise ValueError(
            "gateway(): customer_id requires meter_slug. Provide both for customer billing, "
            "or omit both for merchant billing."
        )
    return _forward_token_v2(
        secret_key,
        customer_id=customer_id,
        meter_slug=meter_slug,
        provider_key=provider_key,
        disable_billing=disable_billing,
    )


def gateway_url(base_url: str, url: str, format: GatewayFormat | None) -> str:
    """``rewrite/{format}/{url}`` when a format is given (the URL as it is), else
    ``forward?u=`` and the URL escaped as ``encodeURIComponent`` does."""
    if format is not None:
        return f"{base_url}rewrite/{format}/{url}"
    return f"{base_url}forward?u={quote(url, safe=_URI_COMPONENT_SAFE)}"


def gateway_body(
    body: object,
    headers: Mapping[str, str] | None,
    token: str,
    encode_json: Callable[[object], bytes],
) -> tuple[bytes | None, dict[str, str]]:
    """The body to send and the headers to send it with.

    Text and bytes go as they are, ``None`` sends no body, anything else (a dict, a list) is
    sent as JSON with ``Content-Type: application/json`` unless the caller set a content type.
    The caller's ``Authorization`` is replaced by the forward token.
    """
    sent = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
    sent["Authorization"] = f"Bearer {token}"
    if body is None:
        return None, sent
    if isinstance(body, str):
        return body.encode("utf-8"), sent
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), sent
    if isinstance(body, bool):
        return (b"true" if body else b"false"), sent
    if isinstance(body, int | float):
        return str(body).encode("ascii"), sent
    if not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    return encode_json(body), sent
