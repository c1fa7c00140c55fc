"""Forward-call credentials (`docs/forward-proxy.md#tokens`): the forward token, where it travels,
and the key sent to the provider.

The token is the standard base64 of `{"secret_key", "connection_secret", "product_secret",
"provider_key"?}` (`lavapayments.forward_token`). It arrives in whichever header the client's SDK
puts its API key in: `Authorization: Bearer` (OpenAI-style SDKs and the current Anthropic SDK),
`x-api-key` (older Anthropic SDKs), `x-goog-api-key` or `?key=` (Google SDKs), `xi-api-key`
(ElevenLabs). Every one of them is dropped before forwarding (the upstream headers are an
allowlist, `proxy.headers`), and the provider key is sent the provider's way instead.

The seed era's three forms of token (it has `connection_secret` or `product_secret`):

- `billed`: connection and product secrets; the customer's wallet pays per the product.
- `billed without a product` (`product_secret` null, connection given): the merchant's default
  product, which charges no fee (the wallet pays the provider cost only).
- `metering only` (both secrets null, `provider_key` set): the call is forwarded with the
  merchant's own provider key and recorded for the merchant's usage, but it bills nobody: there
  is no wallet to debit, and the provider bills the merchant directly for its own key.

The current era's token (v2, `{"secret_key", "customer_id", "meter_slug", "provider_key",
"disable_billing"}`, any of them left out): a customer with a meter bills the customer; a meter
alone or nothing at all bills the merchant (`docs/forward-proxy.md#tokens`). A bare secret key
(`Bearer aks_...`) is a v2 token of the merchant.

Decoding is pure; checking the secrets against the database happens in `proxy.billing`, in the
same transaction that takes the hold (so a revoked connection stops working at once).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Final

from lava_server.api.auth import SECRET_KEY_PREFIXES
from lava_server.errors import InvalidCredentials, InvalidRequest
from lava_server.metering.forward import ForwardToken
from lava_server.proxy.upstream import DEFAULT_REGISTRY, Provider, provider_env_suffix
from lava_server.untrusted import parse_json

MAX_TOKEN_LENGTH: Final = 8192
MANAGED: Final = "managed"
UNMANAGED: Final = "unmanaged"

# Where a token may arrive, in the order they are looked at (the query's `key` comes from
# `resolve_forward`, which takes it out of the upstream query).
TOKEN_HEADERS: Final = (b"authorization", b"x-api-key", b"x-goog-api-key", b"xi-api-key")

# How each provider family expects its key.
_AUTH_HEADER: Final[Mapping[str, tuple[str, str]]] = {
    "openai-compatible": ("authorization", "Bearer "),
    "anthropic": ("x-api-key", ""),
    "google": ("x-goog-api-key", ""),
    "elevenlabs": ("xi-api-key", ""),
}


def find_token(headers: Mapping[bytes, bytes], query_key: str | None) -> str:
    """The forward token from the first carrier that has one; 401 when none does."""
    for name in TOKEN_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        value = raw.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, value = value.partition(" ")
            if scheme.lower() != "bearer":
                continue
            value = value.strip()
        if value:
            return value
    if query_key:
        return query_key.strip()
    raise InvalidCredentials(
        "Missing forward token: send it as the provider SDK's API key (Authorization: Bearer, "
        "x-api-key, x-goog-api-key, ?key= or xi-api-key).",
        param="Authorization",
    )


def _optional_str(data: Mapping[str, object], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidCredentials(
            f"The forward token's {field} must be a non-empty string or null.", param=field
        )
    return value


_SEED_FIELDS: Final = ("connection_secret", "product_secret")
_V2_FIELDS: Final = ("customer_id", "meter_slug", "disable_billing")


def decode_token(raw: str) -> ForwardToken:
    """Decode a forward token (standard base64, URL-safe and missing padding tolerated), or take
    a bare secret key as the merchant's own token."""
    if raw.startswith(SECRET_KEY_PREFIXES):
        return ForwardToken(
            secret_key=raw, connection_secret=None, product_secret=None, provider_key=None, v2=True
        )
    problem = InvalidCredentials(
        "The forward token could not be decoded: it must be the base64 of a JSON object "
        "(made by generate_forward_token).",
        param="Authorization",
    )
    if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii():
        raise problem
    padded = raw + "=" * (-len(raw) % 4)
    try:
        if "-" in raw or "_" in raw:
            decoded = base64.urlsafe_b64decode(padded)
        else:
            decoded = base64.b64decode(padded, validate=True)
        data = parse_json(decoded)  # depth-limited: anyone can send a token
    except (binascii.Error, ValueError):
        raise problem from None
    if not isinstance(data, dict):
        raise problem
    secret_key = data.get("secret_key")
    if not isinstance(secret_key, str) or not secret_key:
        raise InvalidCredentials("The forward token has no secret_key.", param="secret_key")
    seed = [name for name in _SEED_FIELDS if name in data]
    if not seed:
        return _decode_v2(data, secret_key)
    mixed = [name for name in _V2_FIELDS if name in data]
    if mixed:
        raise InvalidCredentials(
            f"The forward token mixes the seed era's {seed[0]} with the current era's "
            f"{mixed[0]}: use one form (generate_forward_token makes either).",
            param=mixed[0],
        )
    token = ForwardToken(
        secret_key=secret_key,
        connection_secret=_optional_str(data, "connection_secret"),
        product_secret=_optional_str(data, "product_secret"),
        provider_key=_optional_str(data, "provider_key"),
    )
    _check_provider_key(token.provider_key)
    if token.connection_secret is None:
        if token.product_secret is not None:
            raise InvalidCredentials(
                "The forward token has a product_secret but no connection_secret.",
                param="connection_secret",
            )
        if token.provider_key is None:
            raise InvalidCredentials(
                "A forward token without connection_secret is metering-only and needs a "
                "provider_key.",
                param="provider_key",
            )
    return token


def _check_provider_key(key: str | None) -> None:
    if key is not None and not (key.isascii() and key.isprintable() and key == key.strip()):
        raise InvalidCredentials(
            "The forward token's provider_key must be printable ASCII without spaces around it.",
            param="provider_key",
        )


def _decode_v2(data: Mapping[str, object], secret_key: str) -> ForwardToken:
    """The current era's token: who pays follows from `customer_id` and `meter_slug`."""
    disable = data.get("disable_billing")
    if disable is not None and not isinstance(disable, bool):
        raise InvalidCredentials(
            "The forward token's disable_billing must be true, false or null.",
            param="disable_billing",
        )
    token = ForwardToken(
        secret_key=secret_key,
        connection_secret=None,
        product_secret=None,
        provider_key=_optional_str(data, "provider_key"),
        v2=True,
        customer_id=_optional_str(data, "customer_id"),
        meter_slug=_optional_str(data, "meter_slug"),
        disable_billing=disable is True,
    )
    _check_provider_key(token.provider_key)
    if token.customer_id is not None and token.meter_slug is None:
        raise InvalidRequest(
            "The forward token has a customer_id but no meter_slug: customer billing needs both "
            "(leave both out for merchant billing).",
            param="meter_slug",
        )
    return token


class ProviderKeys:
    """The operator's managed provider keys, from `LAVA_PROVIDER_KEY_<PROVIDER>` (the same
    `<PROVIDER>` spelling as `LAVA_UPSTREAM_<PROVIDER>`: `OPENAI`, `GOOGLE_OPENAI_COMPATIBLE`)."""

    def __init__(self, by_env_suffix: Mapping[str, str]) -> None:
        """`by_env_suffix`: `Settings.prefixed_env("PROVIDER_KEY")` (lower-cased suffixes)."""
        self._keys: dict[str, str] = {}
        known: dict[str, str] = {}
        for provider in DEFAULT_REGISTRY:
            known[provider_env_suffix(provider.name).lower()] = provider.name
            known[provider.name.lower()] = provider.name
        for suffix, key in by_env_suffix.items():
            name = known.get(suffix.lower())
            if name is None:
                raise ValueError(f"LAVA_PROVIDER_KEY_{suffix.upper()}: unknown provider {suffix!r}")
            self._keys[name] = key.strip()

    def get(self, provider: str) -> str | None:
        return self._keys.get(provider)

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(self._keys)


def provider_key_for(
    token: ForwardToken, provider: Provider, managed: ProviderKeys
) -> tuple[str, str]:
    """(key, provider_key_type): the token's own key (`unmanaged`), else the operator's
    (`managed`), else 400 naming the provider."""
    if token.provider_key is not None:
        return token.provider_key, UNMANAGED
    key = managed.get(provider.name)
    if key:
        return key, MANAGED
    raise InvalidRequest(
        f"No provider key for {provider.name}: put one in the forward token (provider_key) or "
        f"configure LAVA_PROVIDER_KEY_{provider_env_suffix(provider.name)} on the server.",
        param="provider_key",
    )


def auth_header(family: str, key: str) -> tuple[bytes, bytes]:
    """The header carrying `key` the way the provider family expects it."""
    name, prefix = _AUTH_HEADER.get(family, _AUTH_HEADER["openai-compatible"])
    return name.encode(), (prefix + key).encode("latin-1")
