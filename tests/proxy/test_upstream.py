"""Upstream URLs of /v1/forward (docs/forward-proxy.md): forms, real clients, mapping, refusals."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import anthropic
import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lava_server.proxy.upstream import (
    DEFAULT_REGISTRY,
    MAX_U_LENGTH,
    HostNotAllowedError,
    InvalidUpstreamURLError,
    IPLiteralNotAllowedError,
    MissingUpstreamURLError,
    PathNotAllowedError,
    PathTraversalError,
    PortNotAllowedError,
    SchemeNotAllowedError,
    UpstreamURLError,
    UpstreamURLTooLongError,
    UserinfoNotAllowedError,
    normalize_origin,
    origins_from_env,
    provider_env_suffix,
    provider_for_origin,
    providers_for_origin,
    resolve_forward,
    resolve_upstream,
    split_forward_query,
)
from lavapayments.providers import PROVIDER_BASE_URLS, PROVIDER_FAMILIES

SEED_ORDER = [
    *("openai", "anthropic", "mistral", "deepseek", "xai", "google", "googleOpenaiCompatible"),
    *("kluster", "inference", "groq", "novita", "vercel", "together", "hyperbolic"),
    *("elevenlabs", "sambanova", "deepinfra", "cohere", "parasail", "nebius", "fireworks"),
    *("cerebras", "targon", "gmicloud", "chutes", "baseten"),
]


# ------------------------------------------------------------------------------ the registry


def test_registry_has_the_seed_providers_in_order() -> None:
    assert list(PROVIDER_BASE_URLS) == SEED_ORDER
    assert list(PROVIDER_FAMILIES) == SEED_ORDER
    assert DEFAULT_REGISTRY.names == tuple(SEED_ORDER)
    assert PROVIDER_BASE_URLS["openai"] == "https://api.openai.com/v1"
    assert PROVIDER_BASE_URLS["anthropic"] == "https://api.anthropic.com/v1"
    assert PROVIDER_BASE_URLS["google"] == "https://generativelanguage.googleapis.com/v1beta"
    assert PROVIDER_FAMILIES["anthropic"] == "anthropic"
    assert PROVIDER_FAMILIES["google"] == "google"
    assert PROVIDER_FAMILIES["googleOpenaiCompatible"] == "openai-compatible"


@pytest.mark.parametrize("name", SEED_ORDER)
def test_every_provider_base_url_resolves_to_itself(name: str) -> None:
    base = PROVIDER_BASE_URLS[name]
    t = resolve_upstream(base + "/chat/completions")
    assert t.provider_name == name
    assert t.public_url == base + "/chat/completions"
    assert t.url == t.public_url
    assert not t.mapped


def test_provider_for_origin() -> None:
    assert provider_for_origin("https://api.openai.com").name == "openai"  # type: ignore[union-attr]
    assert provider_for_origin("HTTPS://API.OpenAI.com:443/").name == "openai"  # type: ignore[union-attr]
    assert [p.name for p in providers_for_origin("https://generativelanguage.googleapis.com")] == [
        "google",
        "googleOpenaiCompatible",
    ]
    assert provider_for_origin("https://generativelanguage.googleapis.com").name == "google"  # type: ignore[union-attr]
    assert provider_for_origin("http://api.openai.com") is None
    assert provider_for_origin("https://api.openai.com:8443") is None
    assert provider_for_origin("https://evil.com") is None
    assert provider_for_origin("not a url") is None


# --------------------------------------------------------------------------- the spec's forms

OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize(
    ("raw_query", "path", "provider", "public_url"),
    [
        # URL-encoded u
        (
            "u=https%3A%2F%2Fapi.openai.com%2Fv1%2Fchat%2Fcompletions",
            "",
            "openai",
            OPENAI_CHAT,
        ),
        # raw u
        ("u=https://api.openai.com/v1/chat/completions", "", "openai", OPENAI_CHAT),
        # path after forward/ appended to u
        ("u=https://api.openai.com/v1", "/chat/completions", "openai", OPENAI_CHAT),
        ("u=https%3A%2F%2Fapi.openai.com%2Fv1", "/chat/completions", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com/v1/", "/chat/completions", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com/v1", "chat/completions", "openai", OPENAI_CHAT),
        # the openai client: "/" after forward, API path glued to u
        ("u=https://api.openai.com/v1chat/completions", "/", "openai", OPENAI_CHAT),
        # the anthropic client, base without /v1, and with providers.anthropic (repeated /v1)
        (
            "u=https://api.anthropic.com/v1/messages",
            "",
            "anthropic",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "u=https://api.anthropic.com/v1/v1/messages",
            "",
            "anthropic",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "u=https://api.anthropic.com",
            "/v1/messages",
            "anthropic",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "u=https://api.anthropic.com/v1",
            "/v1/messages",
            "anthropic",
            "https://api.anthropic.com/v1/messages",
        ),
        # query parameters that are not ours go upstream; ours do not
        (
            "u=https://api.openai.com/v1/files&limit=2&purpose=batch&metadata=%7B%7D&key=tok",
            "",
            "openai",
            "https://api.openai.com/v1/files?limit=2&purpose=batch",
        ),
        (
            "u=https%3A%2F%2Fapi.openai.com%2Fv1files&limit=2",
            "/",
            "openai",
            "https://api.openai.com/v1/files?limit=2",
        ),
        # a "?" inside a raw u stays in u; the next "&" starts an upstream parameter
        (
            "u=https://api.openai.com/v1/models?after=m1&limit=2",
            "",
            "openai",
            "https://api.openai.com/v1/models?after=m1&limit=2",
        ),
        (
            "u=https://api.openai.com/v1?x=1",
            "/models",
            "openai",
            "https://api.openai.com/v1/models?x=1",
        ),
        # Google: native and OpenAI-compatible share an origin; the longest base wins
        (
            "u=https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash"
            ":streamGenerateContent?alt=sse&key=tok",
            "",
            "google",
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash"
            ":streamGenerateContent?alt=sse",
        ),
        (
            "u=https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
            "",
            "googleOpenaiCompatible",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        (
            "u=https://generativelanguage.googleapis.com/v1beta/openaichat/completions",
            "/",
            "googleOpenaiCompatible",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        (
            "u=https://generativelanguage.googleapis.com/v1beta/openai",
            "/chat/completions",
            "googleOpenaiCompatible",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
        ),
        # other registry shapes
        (
            "u=https://api.groq.com/openai/v1chat/completions",
            "/",
            "groq",
            "https://api.groq.com/openai/v1/chat/completions",
        ),
        (
            "u=https://api.cohere.ai/compatibility/v1",
            "/chat/completions",
            "cohere",
            "https://api.cohere.ai/compatibility/v1/chat/completions",
        ),
        (
            "u=https://api.elevenlabs.io/v1/text-to-speech/voice1",
            "",
            "elevenlabs",
            "https://api.elevenlabs.io/v1/text-to-speech/voice1",
        ),
        # normalisations: case of scheme/host, default port, harmless dot segments, %2e
        ("u=HTTPS://API.OpenAI.COM/v1/chat/completions", "", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com:443/v1/chat/completions", "", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com/v1/models/../chat/completions", "", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com/v1/./chat/completions", "", "openai", OPENAI_CHAT),
        ("u=https://api.openai.com/v1/x/%2e%2e/chat/completions", "", "openai", OPENAI_CHAT),
        # the path keeps its case and its escapes; odd printable characters get encoded
        (
            "u=" + quote("https://api.openai.com/v1/Files/A%20B", safe=""),
            "",
            "openai",
            "https://api.openai.com/v1/Files/A%20B",
        ),
        (
            'u=https://api.openai.com/v1/x&f={"a":1}',
            "",
            "openai",
            "https://api.openai.com/v1/x?f=%7B%22a%22:1%7D",
        ),
        # "+" in a raw u is kept as "+"
        (
            "u=https://api.openai.com/v1/x?q=a+b",
            "",
            "openai",
            "https://api.openai.com/v1/x?q=a+b",
        ),
    ],
)
def test_forward_forms(raw_query: str, path: str, provider: str, public_url: str) -> None:
    t = resolve_forward(raw_query, path)
    assert t.provider_name == provider
    assert t.public_url == public_url
    assert t.url == public_url


def test_our_parameters_are_taken_out_and_reported() -> None:
    t = resolve_forward(
        "u=https://api.openai.com/v1/models&key=ab%2Bc%3D%3D&metadata=%7B%22a%22%3A%22b+c%22%7D"
    )
    assert t.public_url == "https://api.openai.com/v1/models"
    assert t.key == "ab+c=="
    assert t.metadata == '{"a":"b c"}'
    # inside an encoded u (Google-style ?key= glued by a client) they are ours too
    inner = quote(
        "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key=t+k&alt=sse",
        safe="",
    )
    t = resolve_forward(f"u={inner}")
    assert t.public_url.endswith("/v1beta/models/g:generateContent?alt=sse")
    assert t.key == "t+k"
    assert t.query == "alt=sse"
    # the same key twice is fine, two different ones are not
    assert resolve_forward(f"u={inner}&key=t%2Bk").key == "t+k"
    with pytest.raises(InvalidUpstreamURLError) as e:
        resolve_forward(f"u={inner}&key=other")
    assert e.value.param == "key"


def test_split_forward_query() -> None:
    fq = split_forward_query("a=1&u=https%3A%2F%2Fapi.openai.com%2Fv1&&metadata=%7B%7D&b=%20x")
    assert fq.u == "https://api.openai.com/v1"
    assert fq.metadata == "{}"
    assert fq.key is None
    assert fq.upstream_query == "a=1&b=%20x"
    assert split_forward_query("").u is None


# ----------------------------------------------------------------------------- real clients


def _upstream_of_request(raw_path: str) -> str:
    path, _, query = raw_path.partition("?")
    assert path.startswith("/v1/forward")
    return resolve_forward(query, path[len("/v1/forward") :]).public_url


def _anthropic_http_client(handler: Callable[[Any], Any]) -> Any:
    # anthropic >= 2 runs on httpx2; older releases on httpx.
    mod = importlib.import_module(anthropic.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
    return mod.Client(transport=mod.MockTransport(handler))


@pytest.mark.parametrize(
    "u",
    [
        "https://api.openai.com/v1",
        "https%3A%2F%2Fapi.openai.com%2Fv1",
        "https://api.openai.com/v1/",
    ],
)
def test_real_openai_client(u: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"object": "list", "data": []})

    client = openai.OpenAI(
        base_url=f"http://lava.test/v1/forward?u={u}",
        api_key="tok",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    # the fake answers are not completions; only the requests matter
    with contextlib.suppress(openai.OpenAIError, ValueError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    client.models.list()
    client.files.list(limit=2, purpose="batch")
    assert [_upstream_of_request(p) for p in seen] == [
        OPENAI_CHAT,
        "https://api.openai.com/v1/models",
        "https://api.openai.com/v1/files?limit=2&purpose=batch",
    ]


async def test_real_async_openai_client() -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"object": "list", "data": []})

    client = openai.AsyncOpenAI(
        base_url="http://lava.test/v1/forward?u=https://api.openai.com/v1",
        api_key="tok",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    with contextlib.suppress(openai.OpenAIError, ValueError):
        await client.embeddings.create(model="m", input="hi")
    assert seen == ["/v1/forward/?u=https://api.openai.com/v1embeddings"]
    assert _upstream_of_request(seen[0]) == "https://api.openai.com/v1/embeddings"


@pytest.mark.parametrize("u", ["https://api.anthropic.com", "https://api.anthropic.com/v1"])
def test_real_anthropic_client(u: str) -> None:
    seen: list[str] = []

    def handler(request: Any) -> Any:
        seen.append(request.url.raw_path.decode())
        mod = importlib.import_module(type(request).__module__.split(".")[0])
        body = {"data": [], "has_more": False, "first_id": None, "last_id": None}
        return mod.Response(200, json=body)

    client = anthropic.Anthropic(
        base_url=f"http://lava.test/v1/forward?u={u}",
        api_key="tok",
        max_retries=0,
        http_client=_anthropic_http_client(handler),
    )
    with contextlib.suppress(anthropic.AnthropicError, ValueError):
        client.messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    client.models.list(limit=2)
    assert [_upstream_of_request(p) for p in seen] == [
        "https://api.anthropic.com/v1/messages",
        "https://api.anthropic.com/v1/models?limit=2",
    ]


# ---------------------------------------------------------------------------- origin mapping


def test_origin_mapping_replaces_scheme_host_port_only() -> None:
    origins = {"openai": "http://127.0.0.1:9100"}
    t = resolve_forward("u=https://api.openai.com/v1/files&limit=2", origins=origins)
    assert t.public_url == "https://api.openai.com/v1/files?limit=2"
    assert t.url == "http://127.0.0.1:9100/v1/files?limit=2"
    assert t.mapped
    # other providers are untouched, including the one sharing an origin with a mapped one
    t = resolve_forward("u=https://api.anthropic.com/v1/messages", origins=origins)
    assert t.url == "https://api.anthropic.com/v1/messages"
    g = {"google": "http://localhost:9200/"}
    native = resolve_forward("u=https://generativelanguage.googleapis.com/v1beta/models", origins=g)
    assert native.url == "http://localhost:9200/v1beta/models"
    compat = resolve_forward(
        "u=https://generativelanguage.googleapis.com/v1beta/openai/models", origins=g
    )
    assert compat.url == compat.public_url


def test_allowlist_is_checked_before_the_mapping() -> None:
    origins = {"openai": "http://127.0.0.1:9100"}
    # the mapped origin itself is not a valid u: the check is on the public URL
    with pytest.raises(SchemeNotAllowedError):
        resolve_forward("u=http://127.0.0.1:9100/v1/chat/completions", origins=origins)
    with pytest.raises(PortNotAllowedError):
        resolve_forward("u=https://127.0.0.1:9100/v1/chat/completions", origins=origins)
    with pytest.raises(HostNotAllowedError):
        resolve_forward("u=https://evil.com/v1/chat/completions", origins=origins)


def test_origins_from_env() -> None:
    env = {
        "LAVA_UPSTREAM_OPENAI": "http://127.0.0.1:9100",
        "LAVA_UPSTREAM_GOOGLE_OPENAI_COMPATIBLE": "HTTP://LocalHost:9300/",
        "LAVA_UPSTREAM_ANTHROPIC": "https://proxy.internal:443",
        "LAVA_UPSTREAM_GROQ": "",
        "PATH": "/usr/bin",
    }
    assert origins_from_env(env) == {
        "openai": "http://127.0.0.1:9100",
        "googleOpenaiCompatible": "http://localhost:9300",
        "anthropic": "https://proxy.internal",
    }
    assert origins_from_env({"LAVA_UPSTREAM_GOOGLEOPENAICOMPATIBLE": "http://h:1"}) == {
        "googleOpenaiCompatible": "http://h:1"
    }
    assert provider_env_suffix("googleOpenaiCompatible") == "GOOGLE_OPENAI_COMPATIBLE"
    with pytest.raises(ValueError, match="unknown provider"):
        origins_from_env({"LAVA_UPSTREAM_OPENIA": "http://127.0.0.1:9100"})


@pytest.mark.parametrize(
    "bad",
    [
        "127.0.0.1:9100",
        "ftp://h",
        "http://u:p@h:1",
        "http://h:1/path",
        "http://h?x=1",
        "http://:1",
        "http://h:99999",
    ],
)
def test_normalize_origin_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(bad)


def test_normalize_origin() -> None:
    assert normalize_origin("http://[::1]:9100") == "http://[::1]:9100"
    assert normalize_origin("http://h:80") == "http://h"


# ---------------------------------------------------------------------------- hostile values

LONG = "https://api.openai.com/v1/" + "a" * MAX_U_LENGTH

HOSTILE: list[tuple[str, type[UpstreamURLError]]] = [
    # missing / empty / not a URL
    ("", MissingUpstreamURLError),
    ("api.openai.com/v1/chat/completions", InvalidUpstreamURLError),
    ("//api.openai.com/v1/chat/completions", InvalidUpstreamURLError),
    ("https:/api.openai.com/v1", InvalidUpstreamURLError),
    ("https:api.openai.com/v1", InvalidUpstreamURLError),
    ("https:///api.openai.com/v1", InvalidUpstreamURLError),
    ("https%3A%2F%2Fapi.openai.com%2Fv1", InvalidUpstreamURLError),  # double-encoded
    (LONG, UpstreamURLTooLongError),
    # scheme
    ("http://api.openai.com/v1/chat/completions", SchemeNotAllowedError),
    ("HTTP://api.openai.com/v1", SchemeNotAllowedError),
    ("ftp://api.openai.com/v1", SchemeNotAllowedError),
    ("file:///etc/passwd", SchemeNotAllowedError),
    ("javascript:alert(1)", SchemeNotAllowedError),
    ("wss://api.openai.com/v1/realtime", SchemeNotAllowedError),
    ("gopher://127.0.0.1:6379/_INFO", SchemeNotAllowedError),
    # other hosts, lookalikes
    ("https://evil.com/v1/chat/completions", HostNotAllowedError),
    ("https://api.openai.com.evil.com/v1/chat/completions", HostNotAllowedError),
    ("https://api-openai.com/v1/chat/completions", HostNotAllowedError),
    ("https://openai.com/v1/chat/completions", HostNotAllowedError),
    ("https://xapi.openai.com/v1", HostNotAllowedError),
    ("https://api.openai.com./v1/chat/completions", HostNotAllowedError),
    ("https://api.openai.com../v1", HostNotAllowedError),
    ("https://аpi.openai.com/v1/chat/completions", HostNotAllowedError),  # Cyrillic "а"
    ("https://api。openai。com/v1", HostNotAllowedError),  # ideographic full stops
    ("https://xn--pi-7ld.openai.com/v1/chat/completions", HostNotAllowedError),  # punycode
    ("https://api.openai.com%2eevil.com/v1", HostNotAllowedError),
    ("https://localhost/v1", HostNotAllowedError),
    ("https://metadata.google.internal/computeMetadata/v1", HostNotAllowedError),
    ("https://evil.com?https://api.openai.com/v1", HostNotAllowedError),
    ("https://evil.com/https://api.openai.com/v1", HostNotAllowedError),
    ("https://api.openai.com.127.0.0.1.nip.io/v1", HostNotAllowedError),
    # userinfo
    ("https://api.openai.com@evil.com/v1/chat/completions", UserinfoNotAllowedError),
    ("https://user:pw@api.openai.com/v1/chat/completions", UserinfoNotAllowedError),
    ("https://api.openai.com:443@evil.com/v1", UserinfoNotAllowedError),
    ("https://@api.openai.com/v1", UserinfoNotAllowedError),
    # IP literals in any spelling
    ("https://127.0.0.1/v1/chat/completions", IPLiteralNotAllowedError),
    ("https://169.254.169.254/latest/meta-data", IPLiteralNotAllowedError),
    ("https://2130706433/v1", IPLiteralNotAllowedError),  # decimal
    ("https://0177.0.0.1/v1", IPLiteralNotAllowedError),  # octal
    ("https://0x7f000001/v1", IPLiteralNotAllowedError),  # hex
    ("https://0x7f.0.0.1/v1", IPLiteralNotAllowedError),
    ("https://127.1/v1", IPLiteralNotAllowedError),  # short form
    ("https://[::1]/v1", IPLiteralNotAllowedError),
    ("https://[::ffff:127.0.0.1]/v1", IPLiteralNotAllowedError),  # IPv4-mapped IPv6
    ("https://[::ffff:7f00:1]/v1", IPLiteralNotAllowedError),
    ("https://[fe80::1%25eth0]/v1", IPLiteralNotAllowedError),
    ("https://::1/v1", IPLiteralNotAllowedError),
    # ports
    ("https://api.openai.com:8443/v1/chat/completions", PortNotAllowedError),
    ("https://api.openai.com:80/v1", PortNotAllowedError),
    ("https://api.openai.com:/v1", PortNotAllowedError),
    ("https://api.openai.com:0443/v1", PortNotAllowedError),
    ("https://api.openai.com:443:80/v1", PortNotAllowedError),
    ("https://api.openai.com:evil.com/v1", PortNotAllowedError),
    # forbidden characters: backslash, whitespace, controls, CRLF, fragments, non-ASCII path
    ("https://api.openai.com\\@evil.com/v1", InvalidUpstreamURLError),
    ("https:\\\\evil.com\\v1", InvalidUpstreamURLError),
    ("https://api.openai.com/v1\\..\\..\\x", InvalidUpstreamURLError),
    (" https://api.openai.com/v1/chat/completions", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/chat/completions ", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/chat\t/completions", InvalidUpstreamURLError),
    ("https://api.openai.com\t.evil.com/v1", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x\r\nHost: evil.com", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x\nX-Injected: 1", InvalidUpstreamURLError),
    ("https://api.openai.com\x00.evil.com/v1", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x\x7f", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x\u2028y", InvalidUpstreamURLError),
    ("https://api.openai.com\u200b/v1", InvalidUpstreamURLError),  # zero-width space
    ("https://api.openai.com\u00a0/v1", InvalidUpstreamURLError),  # no-break space
    ("https://api.openai.com/v1/chat/completions#frag", InvalidUpstreamURLError),
    ("https://evil.com#@api.openai.com/v1", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/é", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/%zz", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x?y=%", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/..%2f..%2fx", InvalidUpstreamURLError),  # encoded slash
    ("https://api.openai.com/v1/..%5c..%5cx", InvalidUpstreamURLError),  # encoded backslash
    ("https://api.openai.com/v1/x%00", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x%0d%0aHost:%20evil", InvalidUpstreamURLError),
    ("https://api.openai.com/v1/x?u=https://evil.com", InvalidUpstreamURLError),  # u twice
    # paths outside the provider's base path, traversal
    ("https://api.openai.com", PathNotAllowedError),
    ("https://api.openai.com/", PathNotAllowedError),
    ("https://api.openai.com/v2/chat/completions", PathNotAllowedError),
    ("https://api.openai.com/V1/chat/completions", PathNotAllowedError),
    ("https://api.anthropic.com?beta=true", PathNotAllowedError),
    ("https://api.openai.com/../v1/chat/completions", PathNotAllowedError),
    ("https://api.elevenlabs.io/v2/voices", PathNotAllowedError),
    ("https://api.openai.com/v1/../../x", PathTraversalError),
    ("https://api.openai.com/v1/..", PathTraversalError),
    ("https://api.openai.com/v1..", PathTraversalError),  # glued form + ".."
    ("https://api.openai.com/v1/%2e%2e/%2e%2e/admin", PathTraversalError),
    ("https://api.openai.com/v1/.%2E/x", PathTraversalError),
    ("https://api.openai.com/v1/chat/../../../etc/passwd", PathTraversalError),
    (
        "https://generativelanguage.googleapis.com/v1beta/openai/../models/g:generateContent",
        PathTraversalError,
    ),
    ("https://api.groq.com/openai/v1/../../v2/x", PathTraversalError),
]


@pytest.mark.parametrize(("u", "error"), HOSTILE, ids=[repr(u)[:80] for u, _ in HOSTILE])
def test_hostile_u_is_refused(u: str, error: type[UpstreamURLError]) -> None:
    with pytest.raises(error) as exc_info:
        resolve_upstream(u, origins={"openai": "http://127.0.0.1:9100"})
    err = exc_info.value
    assert type(err) is error  # the precise kind, not a parent class
    assert err.code == "invalid_request"
    assert err.status_code == 400
    assert err.param == "u"
    assert err.message and "\n" not in err.message and "\r" not in err.message


@pytest.mark.parametrize(
    ("raw_query", "path", "error"),
    [
        ("", "", MissingUpstreamURLError),
        ("u=", "/chat/completions", MissingUpstreamURLError),
        ("model=x", "", MissingUpstreamURLError),
        ("u=https://api.openai.com/v1&u=https://evil.com", "", InvalidUpstreamURLError),
        ("u=https%3A%2F%2Fevil.com%2Fv1", "", HostNotAllowedError),
        ("u=https%3A%2F%2Fapi.openai.com%40evil.com%2Fv1", "", UserinfoNotAllowedError),
        ("u=https%3A%2F%2Fapi.openai.com%2Fv1%0D%0AX%3A1", "", InvalidUpstreamURLError),
        ("u=https%3A%2F%2Fapi.openai.com%2Fv1%23x", "", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1", "/../../x", PathTraversalError),
        ("u=https://api.openai.com/v1", "/%2e%2e/%2e%2e/x", PathTraversalError),
        ("u=https://api.openai.com/v1", "/x\\y", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1", "/x y", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1", "/x?y", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1&a=b c", "/x", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1&a=%zz", "/x", InvalidUpstreamURLError),
        ("u=https://api.openai.com/v1/x&" + "a" * 8200, "", UpstreamURLTooLongError),
    ],
)
def test_hostile_forward_requests_are_refused(
    raw_query: str, path: str, error: type[UpstreamURLError]
) -> None:
    with pytest.raises(error):
        resolve_forward(raw_query, path)


def test_hostile_list_is_long_enough() -> None:
    assert len(HOSTILE) >= 30
    assert {e for _, e in HOSTILE} >= {
        MissingUpstreamURLError,
        InvalidUpstreamURLError,
        UpstreamURLTooLongError,
        SchemeNotAllowedError,
        HostNotAllowedError,
        UserinfoNotAllowedError,
        IPLiteralNotAllowedError,
        PortNotAllowedError,
        PathNotAllowedError,
        PathTraversalError,
    }


# ------------------------------------------------------------------------------- invariant

_TRICKY = st.sampled_from(
    [
        "/",
        ".",
        "..",
        "%2e",
        "%2F",
        "%",
        "?",
        "&",
        "#",
        "@",
        ":",
        "\\",
        " ",
        "\t",
        "\r\n",
        "v1",
        "chat",
        "u=",
        "key=",
        "evil.com",
        "443",
        "%40",
        "é",
        "\x00",
        "[",
        "]",
        "+",
        ";",
        "//",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.sampled_from(
        [*PROVIDER_BASE_URLS.values(), "https://api.openai.com", "https://api.anthropic.com"]
    ),
    tail=st.lists(_TRICKY, max_size=8).map("".join),
    path=st.lists(_TRICKY, max_size=4).map("".join),
)
def test_any_accepted_url_stays_on_the_provider(prefix: str, tail: str, path: str) -> None:
    try:
        t = resolve_upstream(prefix + tail, path=path)
    except UpstreamURLError:
        return
    parsed = httpx.URL(t.public_url)
    assert parsed.scheme == "https"
    assert parsed.host == t.provider.host
    assert parsed.port is None
    assert parsed.userinfo == b""
    assert parsed.fragment == ""
    assert t.public_url.startswith(t.provider.origin + t.provider.base_path)
    assert t.path == t.provider.base_path or t.path.startswith(t.provider.base_path + "/")
    assert "/../" not in t.path + "/" and "/./" not in t.path + "/"
    assert t.url == t.public_url
