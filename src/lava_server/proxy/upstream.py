"""Finding, validating and mapping the upstream URL of a forward call (``docs/forward-proxy.md``).

Pure functions, no I/O. The route hands over what it received; this module answers with the
provider, the public URL (always ``https://<registered host><path under the provider's base
path>[?query]``) and the URL to actually send to (the public one, or the same path and query on the
operator's origin for that provider, ``LAVA_UPSTREAM_<PROVIDER>``). Anything outside the registry
raises an :class:`UpstreamURLError` subclass; the route turns it into a 400 ``invalid_request``
with ``param`` = ``error.param`` (``u`` except for a duplicated ``key``/``metadata``).

Typical use in the route::

    target = resolve_forward(
        request.scope["query_string"].decode("latin-1"),  # raw, not decoded
        path=raw_path_after_forward,                        # "", "/", "/chat/completions"
        origins=settings.upstream_origins,                  # from origins_from_env()
    )

The forms accepted (``u`` given URL-encoded or raw, both work):

- ``forward?u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%2Fcompletions``
- ``forward?u=https://api.openai.com/v1/chat/completions``
- ``forward/chat/completions?u=https://api.openai.com/v1``: the path after ``forward/`` is appended
  to the path of ``u`` (before ``u``'s own query), with exactly one ``/`` between them.
- ``forward/?u=https://api.openai.com/v1chat/completions`` (the ``openai`` client): the longest
  registered base URL that is a string prefix is the provider; a ``/`` is inserted after it when
  what follows starts with neither ``/`` nor ``?``.
- ``forward?u=https://api.anthropic.com/v1/v1/messages`` (the ``anthropic`` client with
  ``providers.anthropic``): a repetition of the base's own path right after it is dropped once.
- Query parameters other than ``u``, ``metadata`` and ``key`` go upstream, after ``u``'s own
  query; ``key``/``metadata`` found inside ``u``'s query are ours too (stripped, reported).

Judgement calls (all deliberate, tested):

- Scheme and host are case-insensitive and normalised to lower case (``HTTPS://API.OpenAI.com``
  is accepted as ``https://api.openai.com``); the path keeps its case.
- Port: none, or exactly ``:443`` (dropped). Any other port, an empty port, ``:0443``: refused.
- A trailing dot in the host (``api.openai.com.``) is refused, not normalised: it changes the
  ``Host`` header and TLS name the provider sees.
- Any non-ASCII character is refused (IDN/homoglyph hosts; clients percent-encode paths anyway);
  so are whitespace, control characters, backslashes, fragments (``#``) and bad ``%`` escapes.
- ``u`` is percent-decoded exactly once and ``+`` is kept as ``+`` (a URL never holds a space;
  base64 forward tokens in ``key`` hold ``+``). ``metadata`` is form-decoded (``+`` = space).
- The path must stay under the matched provider's base path. Dot segments (also ``%2e``) are
  resolved (RFC 3986 5.2.4) and the result must still be under that same base path;
  ``%2F``/``%5C`` and encoded control characters in the path are refused (servers disagree on
  them). So ``https://api.elevenlabs.io/v2/...`` is refused: only ``/v1`` is registered.
- Printable characters that are not valid raw in a URL (``" < > [ ] { } | ^ `` and backtick) are
  percent-encoded, so the public URL is always a clean RFC 3986 URL.
- ``u`` longer than :data:`MAX_U_LENGTH`, or an upstream URL longer than
  :data:`MAX_UPSTREAM_URL_LENGTH`: refused. ``u`` given twice: refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from lava_server.addresses import IPV6ISH_RE, is_ip_literal
from lavapayments.providers import PROVIDER_BASE_URLS, PROVIDER_FAMILIES, ProviderFamily

__all__ = [
    "DEFAULT_REGISTRY",
    "MAX_UPSTREAM_URL_LENGTH",
    "MAX_U_LENGTH",
    "UPSTREAM_ENV_PREFIX",
    "ForwardQuery",
    "HostNotAllowedError",
    "IPLiteralNotAllowedError",
    "InvalidUpstreamURLError",
    "MissingUpstreamURLError",
    "PathNotAllowedError",
    "PathTraversalError",
    "PortNotAllowedError",
    "Provider",
    "ProviderRegistry",
    "SchemeNotAllowedError",
    "UpstreamTarget",
    "UpstreamURLError",
    "UpstreamURLTooLongError",
    "UserinfoNotAllowedError",
    "normalize_origin",
    "origins_from_env",
    "provider_env_suffix",
    "provider_for_origin",
    "providers_for_origin",
    "resolve_forward",
    "resolve_upstream",
    "split_forward_query",
]

MAX_U_LENGTH: Final = 4096
"""Longest ``u`` accepted (after decoding)."""
MAX_UPSTREAM_URL_LENGTH: Final = 8192
"""Longest public upstream URL accepted (``u`` + path after ``forward/`` + extra query)."""
UPSTREAM_ENV_PREFIX: Final = "LAVA_UPSTREAM_"

# --------------------------------------------------------------------------------------- errors


class UpstreamURLError(ValueError):
    """``u`` (or the forward path/query) cannot be sent upstream. 400 ``invalid_request``."""

    code: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, message: str, *, param: str = "u") -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class MissingUpstreamURLError(UpstreamURLError):
    """No ``u``, or an empty one."""


class InvalidUpstreamURLError(UpstreamURLError):
    """Not a well-formed absolute URL, or forbidden characters (control, space, ``\\``, ``#``)."""


class UpstreamURLTooLongError(InvalidUpstreamURLError):
    """``u``, or the whole upstream URL, longer than its limit."""


class SchemeNotAllowedError(UpstreamURLError):
    """Anything but ``https``."""


class UserinfoNotAllowedError(UpstreamURLError):
    """``user:password@`` (or any ``@``) in the authority."""


class IPLiteralNotAllowedError(UpstreamURLError):
    """An IP address as host, in any spelling (dotted, decimal, octal, hex, IPv6, mapped)."""


class PortNotAllowedError(UpstreamURLError):
    """An explicit port other than ``:443``."""


class HostNotAllowedError(UpstreamURLError):
    """A host that is not a registered provider's (lookalikes, trailing dot, non-ASCII)."""


class PathNotAllowedError(UpstreamURLError):
    """A provider host, but a path outside every registered base path of that host."""


class PathTraversalError(PathNotAllowedError):
    """Dot segments that leave the provider's base path."""


# ------------------------------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class Provider:
    """One entry of the provider registry."""

    name: str
    base_url: str  # as registered, e.g. "https://api.openai.com/v1"
    origin: str  # "https://api.openai.com"
    host: str  # "api.openai.com"
    base_path: str  # "/v1" (never ends with "/")
    family: ProviderFamily


class ProviderRegistry:
    """The allowed upstreams: provider name -> base URL, looked up by host/origin."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self._by_name: dict[str, Provider] = {}
        by_host: dict[str, list[Provider]] = {}
        for p in providers:
            if p.name in self._by_name:
                raise ValueError(f"duplicate provider {p.name!r}")
            self._by_name[p.name] = p
            by_host.setdefault(p.host, []).append(p)
        # Longest base path first: the first prefix match is the longest one.
        self._by_host: dict[str, tuple[Provider, ...]] = {
            host: tuple(sorted(ps, key=lambda p: len(p.base_path), reverse=True))
            for host, ps in by_host.items()
        }
        self._in_order: dict[str, tuple[Provider, ...]] = {
            host: tuple(ps) for host, ps in by_host.items()
        }

    @classmethod
    def from_base_urls(
        cls,
        base_urls: Mapping[str, str],
        families: Mapping[str, ProviderFamily] | None = None,
    ) -> ProviderRegistry:
        providers = []
        for name, base_url in base_urls.items():
            parts = urlsplit(base_url)
            if (
                parts.scheme != "https"
                or not parts.hostname
                or parts.hostname != parts.netloc
                or parts.query
                or parts.fragment
            ):
                raise ValueError(f"provider {name!r}: bad base URL {base_url!r}")
            host = parts.hostname
            base_path = parts.path.rstrip("/")
            family: ProviderFamily = (families or {}).get(name, "openai-compatible")
            providers.append(
                Provider(
                    name=name,
                    base_url=base_url,
                    origin=f"https://{host}",
                    host=host,
                    base_path=base_path,
                    family=family,
                )
            )
        return cls(providers)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Provider:
        """The provider called ``name`` (``KeyError`` if unknown)."""
        return self._by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def providers_for_host(self, host: str) -> tuple[Provider, ...]:
        """Providers served by ``host`` (exact, lower case), longest base path first."""
        return self._by_host.get(host, ())

    def providers_for_origin(self, origin: str) -> tuple[Provider, ...]:
        """Providers whose public origin is ``origin``, in registry order.

        ``origin`` is compared after normalisation (case, ``:443``, trailing ``/``); only
        ``https`` origins can match. Google's origin serves two providers.
        """
        parts = _split_origin(origin)
        if parts is None or parts[0] != "https" or parts[2] not in (None, 443):
            return ()
        return self._in_order.get(parts[1], ())

    def provider_for_origin(self, origin: str) -> Provider | None:
        """The first registered provider of ``origin`` (e.g. ``google`` before
        ``googleOpenaiCompatible``), or ``None`` if the origin is not a provider's."""
        ps = self.providers_for_origin(origin)
        return ps[0] if ps else None

    def match(self, host: str, path: str) -> tuple[Provider, str] | None:
        """The provider whose base path is the longest string prefix of ``path`` on ``host``,
        and the rest of ``path`` after it."""
        for p in self._by_host.get(host, ()):
            if path.startswith(p.base_path):
                return p, path[len(p.base_path) :]
        return None


DEFAULT_REGISTRY: Final = ProviderRegistry.from_base_urls(PROVIDER_BASE_URLS, PROVIDER_FAMILIES)
"""The seed's providers (``lavapayments.providers``)."""


def providers_for_origin(
    origin: str, registry: ProviderRegistry = DEFAULT_REGISTRY
) -> tuple[Provider, ...]:
    return registry.providers_for_origin(origin)


def provider_for_origin(
    origin: str, registry: ProviderRegistry = DEFAULT_REGISTRY
) -> Provider | None:
    return registry.provider_for_origin(origin)


# ------------------------------------------------------------------------- origin mapping (config)


def _split_origin(origin: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        return None
    return parts.scheme, parts.hostname.lower(), port


def normalize_origin(origin: str) -> str:
    """Validate an operator origin (``http(s)://host[:port]``, no path, query or credentials)
    and return it normalised (lower-case scheme/host, no default port, no trailing ``/``).

    IP literals are fine here: this is trusted configuration (``http://127.0.0.1:9100``).
    Raises ``ValueError`` for anything else.
    """
    parts = _split_origin(origin)
    if parts is None:
        raise ValueError(
            f"invalid upstream origin {origin!r}: expected http(s)://host[:port] with no path"
        )
    scheme, host, port = parts
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("https", 443), ("http", 80)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def provider_env_suffix(name: str) -> str:
    """``googleOpenaiCompatible`` -> ``GOOGLE_OPENAI_COMPATIBLE``, ``openai`` -> ``OPENAI``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def origins_from_env(
    environ: Mapping[str, str],
    registry: ProviderRegistry = DEFAULT_REGISTRY,
    prefix: str = UPSTREAM_ENV_PREFIX,
) -> dict[str, str]:
    """Provider -> origin from ``LAVA_UPSTREAM_<PROVIDER>`` variables.

    ``<PROVIDER>`` is :func:`provider_env_suffix` of the name, or the name upper-cased
    (``GOOGLE_OPENAI_COMPATIBLE`` or ``GOOGLEOPENAICOMPATIBLE``). An unknown provider or a bad
    origin raises ``ValueError``: a typo must not silently send traffic to the real provider.
    Empty values are ignored.
    """
    suffixes: dict[str, str] = {}
    for name in registry.names:
        suffixes[provider_env_suffix(name)] = name
        suffixes[name.upper()] = name
    out: dict[str, str] = {}
    for key, value in environ.items():
        if not key.upper().startswith(prefix) or not value.strip():
            continue
        suffix = key[len(prefix) :].upper()
        provider = suffixes.get(suffix)
        if provider is None:
            raise ValueError(f"{key}: unknown provider {suffix!r}")
        try:
            out[provider] = normalize_origin(value)
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from None
    return out


# --------------------------------------------------------------------------------- the query


@dataclass(frozen=True, slots=True)
class ForwardQuery:
    """The query string of a forward call, split into our parameters and the upstream's."""

    u: str | None  # decoded once, "+" kept
    key: str | None  # decoded once, "+" kept (base64 tokens)
    metadata: str | None  # form-decoded
    upstream_query: str  # the other parameters, raw (still encoded), "&"-joined, no "?"


def _param_name(piece: str) -> str:
    return unquote_plus(piece.split("=", 1)[0])


def _param_value(piece: str) -> str:
    return piece.split("=", 1)[1] if "=" in piece else ""


def _only(values: list[str], param: str) -> str | None:
    if not values:
        return None
    if len(set(values)) > 1:
        raise InvalidUpstreamURLError(f"{param!r} is given more than once", param=param)
    return values[0]


def split_forward_query(raw_query: str) -> ForwardQuery:
    """Split a raw (still URL-encoded) query string: ``u``, ``key``, ``metadata`` and the rest.

    ``u`` may be given URL-encoded or raw; in the raw form a ``?`` in it stays part of it while
    each ``&`` starts a new parameter (which then belongs upstream). ``u`` twice: refused.
    """
    us: list[str] = []
    keys: list[str] = []
    metas: list[str] = []
    rest: list[str] = []
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name = _param_name(piece)
        if name == "u":
            us.append(unquote(_param_value(piece)))
        elif name == "key":
            keys.append(unquote(_param_value(piece)))
        elif name == "metadata":
            metas.append(unquote_plus(_param_value(piece)))
        else:
            rest.append(piece)
    if len(us) > 1:
        raise InvalidUpstreamURLError("'u' is given more than once")
    return ForwardQuery(
        u=us[0] if us else None,
        key=_only(keys, "key"),
        metadata=_only(metas, "metadata"),
        upstream_query="&".join(rest),
    )


# ---------------------------------------------------------------------------------- resolution


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where a forward call goes."""

    provider: Provider
    public_url: str  # validated: https://<provider host><path>[?query]
    url: str  # what to send to: public_url, or path+query on the operator's origin
    path: str  # normalised path, under provider.base_path
    query: str  # upstream query (encoded, no "?"), ours removed
    key: str | None = None  # a `key` parameter found (outer query or inside u), stripped
    metadata: str | None = None  # a `metadata` parameter found, stripped

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def mapped(self) -> bool:
        """True when an operator origin replaces the provider's public one."""
        return self.url != self.public_url


_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_FORBIDDEN_RE: Final = re.compile(r"[\x00-\x20\x7f-\x9f\\#]")  # controls, space, C1, "\", "#"
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_ESCAPE_RE: Final = re.compile(r"%2[eE]")
_BAD_PATH_ESCAPE_RE: Final = re.compile(r"%(?:2[fF]|5[cC]|[01][0-9A-Fa-f]|7[fF])")
# RFC 3986 pchar minus "%" handling: these stay as they are, everything else printable is encoded.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE: Final = _PATH_SAFE + "?"


def _check_chars(value: str, what: str, *, ascii_only: bool = True) -> None:
    m = _FORBIDDEN_RE.search(value)
    if m:
        ch = m.group()
        label = {"\\": "a backslash", "#": "a fragment ('#')"}.get(
            ch, "whitespace or a control character"
        )
        raise InvalidUpstreamURLError(f"{what} contains {label} ({ch!r})")
    if value.isascii():
        return
    for ch in value:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise InvalidUpstreamURLError(
                f"{what} contains whitespace or an invisible character ({ch!r})"
            )
    if ascii_only:
        raise InvalidUpstreamURLError(f"{what} contains non-ASCII characters; percent-encode them")


def _check_escapes(value: str, what: str) -> None:
    if _BAD_ESCAPE_RE.search(value):
        raise InvalidUpstreamURLError(f"{what} contains a malformed percent-escape")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 for an absolute path."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for seg in segments:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments and segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _has_dot_segment(path: str) -> bool:
    return any(seg in (".", "..") for seg in path.split("/"))


def _parse_authority(authority: str) -> str:
    """Validate the authority of ``u``; returns the lower-case host."""
    if not authority:
        raise InvalidUpstreamURLError("u has no host")
    if "@" in authority:
        raise UserinfoNotAllowedError("u must not contain credentials (userinfo '...@')")
    if not authority.isascii():
        raise HostNotAllowedError("u's host contains non-ASCII characters (lookalike host?)")
    if (
        "[" in authority
        or "]" in authority
        or (authority.count(":") > 1 and IPV6ISH_RE.fullmatch(authority))
    ):
        raise IPLiteralNotAllowedError("u's host must be a provider's hostname, not an IP address")
    host, sep, port = authority.partition(":")
    if sep and port != "443":
        raise PortNotAllowedError(
            f"u must not carry a port other than the default (got {port[:16]!r})"
        )
    host = host.lower()
    if not host:
        raise InvalidUpstreamURLError("u has no host")
    if host.endswith("."):
        raise HostNotAllowedError(f"host {host[:100]!r} has a trailing dot; drop it")
    if is_ip_literal(host):
        raise IPLiteralNotAllowedError("u's host must be a provider's hostname, not an IP address")
    return host


def _split_pieces(query: str) -> list[str]:
    return [p for p in query.split("&") if p]


def resolve_upstream(
    u: str | None,
    *,
    path: str = "",
    query: str = "",
    origins: Mapping[str, str] | None = None,
    registry: ProviderRegistry = DEFAULT_REGISTRY,
    key: str | None = None,
    metadata: str | None = None,
) -> UpstreamTarget:
    """Resolve a forward call's upstream.

    - ``u``: the value of the ``u`` parameter, already percent-decoded once (as
      :func:`split_forward_query` or the framework's query parser gives it).
    - ``path``: the path after ``/v1/forward`` as received (``""``, ``"/"``,
      ``"/chat/completions"``), still percent-encoded.
    - ``query``: the query parameters that are not ours, raw (encoded), ``&``-joined, no ``?``.
    - ``origins``: provider name -> operator origin (``http://127.0.0.1:9100``), applied after
      the allowlist check: scheme, host and port replaced, path and query kept.
    - ``key``/``metadata``: values already taken from the outer query, merged with any found
      inside ``u``'s query (two different values: refused).

    Raises an :class:`UpstreamURLError` subclass when the call must not be forwarded.
    """
    if not u:
        raise MissingUpstreamURLError(
            "u is required: the provider URL, e.g. ?u=https://api.openai.com/v1/chat/completions"
        )
    if len(u) > MAX_U_LENGTH:
        raise UpstreamURLTooLongError(f"u is longer than {MAX_U_LENGTH} characters")
    _check_chars(u, "u", ascii_only=False)  # a non-ASCII host is a host error, see below
    m = _SCHEME_RE.match(u)
    if m is None:
        raise InvalidUpstreamURLError(
            "u must be an absolute https URL, e.g. https://api.openai.com/v1"
        )
    scheme = m.group(1).lower()
    if scheme != "https":
        raise SchemeNotAllowedError(f"u must use https (got {scheme[:16]!r})")
    after = u[m.end() :]
    if not after.startswith("//"):
        raise InvalidUpstreamURLError("u must be an absolute https URL (https://host/...)")
    after = after[2:]
    cut = len(after)
    for sep in "/?":
        i = after.find(sep)
        if i != -1 and i < cut:
            cut = i
    host = _parse_authority(after[:cut])
    rest = after[cut:]

    candidates = registry.providers_for_host(host)
    if not candidates:
        raise HostNotAllowedError(f"host {host[:100]!r} is not a registered provider")

    _check_chars(rest, "u")
    u_path, _, u_query = rest.partition("?")
    if path:
        _check_chars(path, "the path after /v1/forward")
        if "?" in path:
            raise InvalidUpstreamURLError("the path after /v1/forward must not contain '?'")
        extra = path.lstrip("/")
        if extra:
            u_path = u_path + ("" if u_path.endswith("/") else "/") + extra
    if query:
        _check_chars(query, "the query")

    matched = registry.match(host, u_path)
    if matched is None:
        bases = ", ".join(sorted({p.base_url for p in candidates}))
        raise PathNotAllowedError(f"u must start with a registered provider base URL ({bases})")
    provider, remainder = matched
    base = provider.base_path
    if remainder and not remainder.startswith("/"):
        remainder = "/" + remainder  # the openai client's "…/v1chat/completions"
    if base and (remainder == base or remainder.startswith(base + "/")):
        remainder = remainder[len(base) :]  # the anthropic client's "…/v1/v1/messages"
    new_path = base + remainder or "/"

    _check_escapes(new_path, "u's path")
    new_path = _DOT_ESCAPE_RE.sub(".", new_path)
    if _BAD_PATH_ESCAPE_RE.search(new_path):
        raise InvalidUpstreamURLError(
            "u's path must not contain an encoded '/', '\\' or control character"
        )
    if _has_dot_segment(new_path):
        new_path = _remove_dot_segments(new_path)
        if not (new_path == base or new_path.startswith(base + "/")):
            raise PathTraversalError(f"u's path must stay under {provider.base_url}")
    new_path = quote(new_path, safe=_PATH_SAFE)

    # The upstream query: u's own, then the other parameters; ours are taken out.
    pieces: list[str] = []
    keys = [key] if key is not None else []
    metas = [metadata] if metadata is not None else []
    for piece in _split_pieces(u_query) + _split_pieces(query):
        name = _param_name(piece)
        if name == "u":
            raise InvalidUpstreamURLError("'u' is given more than once")
        if name == "key":
            keys.append(unquote(_param_value(piece)))
        elif name == "metadata":
            metas.append(unquote_plus(_param_value(piece)))
        else:
            pieces.append(piece)
    new_query = quote("&".join(pieces), safe=_QUERY_SAFE)
    _check_escapes(new_query, "the query")

    tail = new_path + ("?" + new_query if new_query else "")
    public_url = provider.origin + tail
    if len(public_url) > MAX_UPSTREAM_URL_LENGTH:
        raise UpstreamURLTooLongError(
            f"the upstream URL is longer than {MAX_UPSTREAM_URL_LENGTH} characters"
        )
    url = public_url
    if origins:
        mapped = origins.get(provider.name)
        if mapped:
            url = normalize_origin(mapped) + tail
    return UpstreamTarget(
        provider=provider,
        public_url=public_url,
        url=url,
        path=new_path,
        query=new_query,
        key=_only(keys, "key"),
        metadata=_only(metas, "metadata"),
    )


def resolve_forward(
    raw_query: str,
    path: str = "",
    *,
    origins: Mapping[str, str] | None = None,
    registry: ProviderRegistry = DEFAULT_REGISTRY,
) -> UpstreamTarget:
    """:func:`split_forward_query` then :func:`resolve_upstream`: the route's one call.

    ``raw_query`` is the query string exactly as received (``scope["query_string"]``, not
    decoded); ``path`` is the path after ``/v1/forward``.
    """
    fq = split_forward_query(raw_query)
    return resolve_upstream(
        fq.u,
        path=path,
        query=fq.upstream_query,
        origins=origins,
        registry=registry,
        key=fq.key,
        metadata=fq.metadata,
    )
