"""Where a rewrite call goes: `rewrite/{format}/{provider URL}` read into the client's shape, the
provider's shape and the provider URL to forward to (`docs/forward-proxy.md#rewrite`). Pure, no I/O.

The provider URL comes raw in the path, as the Node SDK's `gateway()` writes it, in any of these
forms: `https://api.anthropic.com/v1/messages`, `api.anthropic.com/v1/messages` (https implied),
`https:/api.anthropic.com/v1/messages` (a proxy collapsed the double slash) or percent-encoded.
A client SDK whose base URL is the rewrite URL appends its own API path: one trailing
`/v1/chat/completions`, `/chat/completions` or `/v1/messages` is taken off, and a URL that is then
only the provider's base (`https://api.openai.com/v1`, `https://api.anthropic.com`) gets the chat
endpoint of the provider's shape. The result is checked by the forward proxy's own rules
(`proxy.upstream`): registered hosts only, https, no credentials, and so on.

The gateway doors (`proxy.rewrite.gateway`) have no provider URL: `target_for_model` picks the
provider from the model name, the one home of that rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

from lava_server.errors import InvalidRequest
from lava_server.model_prices.book import PriceBook
from lava_server.proxy.upstream import (
    DEFAULT_REGISTRY,
    Provider,
    ProviderRegistry,
    UpstreamURLError,
    resolve_upstream,
)
from lava_server.proxy.usage import detect_api

Shape = Literal["openai", "anthropic"]

CLIENT_FORMATS: Final = ("openai", "anthropic", "google", "bedrock")
TRANSLATED: Final[tuple[Shape, ...]] = ("openai", "anthropic")
_CLIENT_SUFFIXES: Final = ("/v1/chat/completions", "/chat/completions", "/v1/messages")
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):/+")
_ENCODED_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*%3[Aa]", re.ASCII)
# The chat endpoint of each shape, under the provider's base path.
_ENDPOINT: Final[dict[Shape, str]] = {"openai": "/chat/completions", "anthropic": "/messages"}
_CHAT_API: Final[dict[Shape, str]] = {
    "openai": "chat_completions",
    "anthropic": "anthropic_messages",
}


@dataclass(frozen=True, slots=True)
class RewriteTarget:
    client: Shape  # the shape the client sends and expects back
    provider: Shape  # the shape the provider speaks
    provider_name: str  # e.g. "anthropic", "groq"
    url: str  # the public provider URL, https://host/path (no query): the forward's `u`

    @property
    def translated(self) -> bool:
        return self.client != self.provider


def _shape_of(family: str) -> Shape | None:
    if family == "anthropic":
        return "anthropic"
    if family == "openai-compatible":
        return "openai"
    return None


def parse_rewrite_path(raw: str, *, registry: ProviderRegistry = DEFAULT_REGISTRY) -> RewriteTarget:
    """`raw`: the request path after `/v1/rewrite/`, still percent-encoded:
    `{format}/{provider URL}`. 400 naming `format` or `url` when it cannot be served."""
    fmt, sep, url = raw.partition("/")
    fmt = unquote(fmt)
    if fmt not in CLIENT_FORMATS:
        raise InvalidRequest(
            f"Unknown rewrite format {fmt[:40]!r}: the path is rewrite/{{format}}/{{provider URL}} "
            f"with format one of {', '.join(CLIENT_FORMATS)}.",
            param="format",
        )
    if fmt not in TRANSLATED:
        raise InvalidRequest(
            f"The rewrite format {fmt!r} is not supported yet: only "
            f"{' and '.join(TRANSLATED)} clients can be translated; use /v1/forward to send "
            f"{fmt} calls unchanged.",
            param="format",
        )
    client: Shape = "openai" if fmt == "openai" else "anthropic"
    if not sep or not url.strip("/"):
        raise InvalidRequest(
            f"rewrite/{fmt}/ needs the provider URL after the format, e.g. "
            f"rewrite/{fmt}/https://api.anthropic.com/v1/messages.",
            param="url",
        )
    if _ENCODED_SCHEME_RE.match(url):
        url = unquote(url)
    m = _SCHEME_RE.match(url)
    url = f"{m.group(1)}://{url[m.end() :]}" if m else "https://" + url.lstrip("/")
    scheme_end = url.index("://") + 3
    slash = url.find("/", scheme_end)
    origin, path = (url, "") if slash == -1 else (url[:slash], url[slash:])
    for suffix in _CLIENT_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    try:
        if path.strip("/") == "":
            # Only the host: the provider is the host's first registered one, at its base path.
            host = origin[scheme_end:].lower()
            if host.endswith(":443"):
                host = host[:-4]
            candidates = registry.providers_for_origin("https://" + host)
            path = candidates[0].base_path if candidates else "/"
        found = resolve_upstream(origin + path, registry=registry)
    except UpstreamURLError as error:
        message = f"The provider URL is refused: {error.message}."
        raise InvalidRequest(message, param="url") from None
    provider = found.provider
    shape = _shape_of(provider.family)
    if shape is None:
        raise InvalidRequest(
            f"Rewriting to {provider.name} ({provider.family} shape) is not supported yet: only "
            "OpenAI-compatible and Anthropic providers can be reached through rewrite.",
            param="url",
        )
    final_path = found.path
    if final_path.rstrip("/") == provider.base_path:
        final_path = provider.base_path + _ENDPOINT[shape]
    if client != shape and detect_api(provider.family, final_path) != _CHAT_API[shape]:
        raise InvalidRequest(
            f"rewrite/{fmt}/ translates chat calls only: {final_path} is not the "
            f"{provider.name} chat endpoint ({provider.base_path}{_ENDPOINT[shape]}).",
            param="url",
        )
    return RewriteTarget(
        client=client,
        provider=shape,
        provider_name=provider.name,
        url=provider.origin + final_path,
    )


# ------------------------------------------------------------------ the gateway's model rule

GATEWAY_PREFERENCE: Final = ("openai", "anthropic")
"""Who serves a model that several providers price: these first, then the registry's order."""


def gateway_providers(registry: ProviderRegistry = DEFAULT_REGISTRY) -> tuple[Provider, ...]:
    """The providers the gateway doors can reach (OpenAI-compatible or Anthropic chat APIs), in
    the order the model rule tries them: :data:`GATEWAY_PREFERENCE`, then the registry's order."""
    reachable = [p for p in registry if _shape_of(p.family) is not None]
    first = [p for name in GATEWAY_PREFERENCE for p in reachable if p.name == name]
    return (*first, *(p for p in reachable if p.name not in GATEWAY_PREFERENCE))


def target_for_model(
    client: Shape, model: str, prices: PriceBook, providers: tuple[Provider, ...]
) -> RewriteTarget | None:
    """The gateway doors' model rule (`docs/forward-proxy.md#gateway`): the first of
    `providers` (:func:`gateway_providers`) that prices `model` itself, at its chat endpoint;
    None when none does (a price for any provider, `"*"`, names no provider)."""
    for provider in providers:
        if prices.has_own_price(provider.name, model):
            shape = _shape_of(provider.family)
            assert shape is not None  # gateway_providers keeps only these
            return RewriteTarget(
                client=client,
                provider=shape,
                provider_name=provider.name,
                url=provider.origin + provider.base_path + _ENDPOINT[shape],
            )
    return None
