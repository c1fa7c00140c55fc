"""Forward tokens: the credential a provider SDK sends to Lava's forward endpoint.

A token is the standard base64 of a compact JSON object, byte for byte what the Node SDK's
``generateForwardToken`` makes (``Buffer.from(JSON.stringify(...)).toString("base64")``). Two
forms (``docs/forward-proxy.md#tokens`` of the server):

- the current one (v2), ``{"secret_key", "customer_id", "meter_slug", "provider_key",
  "disable_billing"}`` in that order: an option left out is left out of the JSON, ``None`` is
  written as JSON ``null`` (as JavaScript drops ``undefined`` and keeps ``null``);
- the seed era's, ``{"secret_key", "connection_secret", "product_secret", "provider_key"}``: made
  whenever ``connection_secret`` or ``product_secret`` is given (even as ``None``).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Final, overload

__all__ = ["UNSET", "encode_forward_token", "generate_forward_token"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Unset:
    """An option not given (JavaScript's ``undefined``): left out of the token."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()


@overload
def encode_forward_token(
    *,
    secret_key: str,
    connection_secret: str | None,
    product_secret: str | None,
    provider_key: str | None = None,
) -> str: ...


@overload
def encode_forward_token(
    *,
    secret_key: str,
    customer_id: str | _Unset | None = UNSET,
    meter_slug: str | _Unset | None = UNSET,
    provider_key: str | _Unset | None = UNSET,
    disable_billing: bool | _Unset | None = UNSET,
) -> str: ...


def encode_forward_token(
    *,
    secret_key: str,
    connection_secret: str | _Unset | None = UNSET,
    product_secret: str | _Unset | None = UNSET,
    customer_id: str | _Unset | None = UNSET,
    meter_slug: str | _Unset | None = UNSET,
    provider_key: str | _Unset | None = UNSET,
    disable_billing: bool | _Unset | None = UNSET,
) -> str:
    """Encode a forward token.

    Current form (v2): ``customer_id`` with ``meter_slug`` bills the customer under the meter
    (``disable_billing=True``: recorded on the customer, charged to nobody); ``meter_slug``
    alone (``customer_id=None``, as the Node SDK's ``gateway()`` sends) bills the merchant,
    attributed to the meter; neither bills the merchant. ``provider_key`` brings the merchant's
    own provider key.

    Seed-era form: both ``connection_secret`` and ``product_secret`` (billing a customer's wallet;
    ``provider_key`` optionally brings the merchant's own provider key), or both ``None`` with a
    ``provider_key`` (metering only: encoded with JSON ``null`` secrets).

    Raises:
        ValueError: a ``customer_id`` without ``meter_slug``, options of both forms, or a seed-era
            combination other than the two above.
    """
    seed = not (isinstance(connection_secret, _Unset) and isinstance(product_secret, _Unset))
    token: dict[str, str | bool | None]
    if seed:
        given = [
            name
            for name, value in (
                ("customer_id", customer_id),
                ("meter_slug", meter_slug),
                ("disable_billing", disable_billing),
            )
            if not isinstance(value, _Unset)
        ]
        if given:
            raise ValueError(
                f"{given[0]} belongs to the current token form, connection_secret and "
                "product_secret to the seed era's: give one form's options"
            )
        connection = None if isinstance(connection_secret, _Unset) else connection_secret
        product = None if isinstance(product_secret, _Unset) else product_secret
        key = None if isinstance(provider_key, _Unset) else provider_key
        if (connection is None) != (product is None):
            raise ValueError("connection_secret and product_secret must be given together")
        if connection is None and key is None:
            raise ValueError(
                "provider_key is required when connection_secret and product_secret are None"
            )
        token = {
            "secret_key": secret_key,
            "connection_secret": connection,
            "product_secret": product,
        }
        if key is not None:
            token["provider_key"] = key
    else:
        if isinstance(customer_id, str) and not isinstance(meter_slug, str):
            raise ValueError(
                "customer_id requires meter_slug: give both for customer billing, or neither "
                "for merchant billing"
            )
        token = {"secret_key": secret_key}
        for name, value in (
            ("customer_id", customer_id),
            ("meter_slug", meter_slug),
            ("provider_key", provider_key),
            ("disable_billing", disable_billing),
        ):
            if not isinstance(value, _Unset):
                token[name] = value
    # JSON.stringify: no spaces, non-ASCII as UTF-8, lone surrogates as lowercase \u escapes.
    text = json.dumps(token, separators=(",", ":"), ensure_ascii=False)
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


generate_forward_token = encode_forward_token
"""The name the SDK's clients use (``Lava.generate_forward_token``), as a function of its own."""
