"""Client configuration: environment fallbacks, base URL inference, with_options, closing,
lazy resources, providers, logging and secret redaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import get_type_hints

import httpx
import pytest

import lavapayments
from lavapayments import AsyncLava, Lava, LavaError, Providers
from lavapayments._logs import logger, setup_logging
from lavapayments.providers import PROVIDER_BASE_URLS

from . import payloads
from .conftest import call

Client = Lava | AsyncLava
CLIENTS = [Lava, AsyncLava]

SEED_PROVIDERS = [
    "openai", "anthropic", "mistral", "deepseek", "xai", "google", "googleOpenaiCompatible",
    "kluster", "inference", "groq", "novita", "vercel", "together", "hyperbolic", "elevenlabs",
    "sambanova", "deepinfra", "cohere", "parasail", "nebius", "fireworks", "cerebras", "targon",
    "gmicloud", "chutes", "baseten",
]  # fmt: skip


@pytest.mark.parametrize("client_class", CLIENTS)
def test_missing_secret_key_is_a_clear_error(client_class: type[Client]) -> None:
    with pytest.raises(LavaError, match="LAVA_SECRET_KEY"):
        client_class()
    with pytest.raises(LavaError):
        client_class("")


@pytest.mark.parametrize("client_class", CLIENTS)
def test_environment_fallbacks(client_class: type[Client], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAVA_SECRET_KEY", "aks_live_fromenv")
    client = client_class()
    assert client.secret_key == "aks_live_fromenv"
    assert client.base_url == "https://api.lavapayments.com/v1/"

    monkeypatch.setenv("LAVA_BASE_URL", "http://127.0.0.1:8787/v1")
    client = client_class("aks_test_explicit")
    assert client.secret_key == "aks_test_explicit"  # an explicit key wins
    assert client.base_url == "http://127.0.0.1:8787/v1/"  # the env URL, with its slash

    assert client_class(base_url="https://other.example/v1/").base_url == (
        "https://other.example/v1/"
    )  # an explicit URL wins

    monkeypatch.setenv("LAVA_BASE_URL", "")
    assert client_class("aks_test_x").base_url == "https://sandbox-api.lavapayments.com/v1/"


@pytest.mark.parametrize("client_class", CLIENTS)
@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("aks_test_abc", "https://sandbox-api.lavapayments.com/v1/"),
        ("aks_live_abc", "https://api.lavapayments.com/v1/"),
        ("something_else", "https://api.lavapayments.com/v1/"),
    ],
)
def test_base_url_inferred_from_the_key(client_class: type[Client], key: str, url: str) -> None:
    assert client_class(key).base_url == url


def test_defaults() -> None:
    client = Lava("aks_test_abc")
    assert client.api_version == "2025-04-28.v1"
    assert client.timeout == 60
    assert client.max_retries == 2
    with pytest.raises(ValueError):
        Lava("aks_test_abc", max_retries=-1)


async def test_api_version_option_is_sent(make_client: Callable[..., Client]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    client = make_client(handler, api_version="2025-04-21.v1")
    await call(client.subscriptions.list_configs())
    assert seen[0].headers["x-lava-api-version"] == "2025-04-21.v1"


@pytest.mark.parametrize("client_class", CLIENTS)
def test_with_options_shares_the_pool(client_class: type[Client]) -> None:
    client = client_class("aks_test_abc", timeout=30, max_retries=5)
    copy = client.with_options(timeout=5, max_retries=0, api_version="2025-04-21.v1")
    assert type(copy) is client_class
    assert copy._client is client._client
    assert (copy.timeout, copy.max_retries, copy.api_version) == (5, 0, "2025-04-21.v1")
    assert (client.timeout, client.max_retries, client.api_version) == (30, 5, "2025-04-28.v1")
    assert copy.secret_key == client.secret_key
    assert copy.base_url == client.base_url
    assert copy.with_options(timeout=None).timeout is None


@pytest.mark.parametrize("client_class", CLIENTS)
def test_with_options_new_key_reinfers_an_inferred_url(client_class: type[Client]) -> None:
    inferred = client_class("aks_test_abc")
    assert inferred.with_options(secret_key="aks_live_abc").base_url == (
        "https://api.lavapayments.com/v1/"
    )
    explicit = client_class("aks_test_abc", base_url="http://127.0.0.1:8787/v1/")
    assert explicit.with_options(secret_key="aks_live_abc").base_url == (
        "http://127.0.0.1:8787/v1/"
    )


def test_sync_close_and_context_manager() -> None:
    client = Lava("aks_test_abc")
    copy = client.with_options(timeout=1)
    copy.close()
    assert not client.is_closed  # a copy leaves the shared pool open
    with client as entered:
        assert entered is client
    assert client.is_closed and copy.is_closed


async def test_async_close_and_context_manager() -> None:
    client = AsyncLava("aks_test_abc")
    copy = client.with_options(timeout=1)
    await copy.close()
    assert not client.is_closed
    async with client as entered:
        assert entered is client
    assert client.is_closed


def test_own_http_client_is_used() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=payloads.connection(connection_id="con_mine"))

    http_client = httpx.Client(transport=httpx.MockTransport(handler))
    client = Lava("aks_test_abc", http_client=http_client)
    assert client.connections.retrieve("con_mine").connection_id == "con_mine"


@pytest.mark.parametrize("client_class", CLIENTS)
def test_resources_are_created_lazily_once(client_class: type[Client]) -> None:
    client = client_class("aks_test_abc")
    names = ["checkout_sessions", "connections", "requests", "usage", "subscriptions", "providers"]
    assert not set(names) & set(vars(client))
    for name in names:
        assert getattr(client, name) is getattr(client, name)


@pytest.mark.parametrize("client_class", CLIENTS)
def test_providers(client_class: type[Client]) -> None:
    assert list(PROVIDER_BASE_URLS) == SEED_PROVIDERS
    client = client_class("aks_test_abc", base_url="http://127.0.0.1:8787/v1")
    providers = client.providers
    assert isinstance(providers, Providers)
    assert providers.openai == "http://127.0.0.1:8787/v1/forward?u=https://api.openai.com/v1"
    assert providers.anthropic == "http://127.0.0.1:8787/v1/forward?u=https://api.anthropic.com/v1"
    assert providers.google_openai_compatible == (
        "http://127.0.0.1:8787/v1/forward?u=https://generativelanguage.googleapis.com/v1beta/openai"
    )
    assert list(providers.to_dict()) == SEED_PROVIDERS
    for name, url in PROVIDER_BASE_URLS.items():
        assert providers.to_dict()[name] == f"{client.base_url}forward?u={url}"
    # Every provider is a declared, typed attribute (so a type checker knows it).
    declared = get_type_hints(Providers)
    snake = {"googleOpenaiCompatible": "google_openai_compatible"}
    assert list(declared) == [snake.get(n, n) for n in SEED_PROVIDERS]
    for name, url in providers.to_dict().items():
        assert getattr(providers, snake.get(name, name)) == url


def test_live_providers_use_the_live_url() -> None:
    assert Lava("aks_live_abc").providers.groq == (
        "https://api.lavapayments.com/v1/forward?u=https://api.groq.com/openai/v1"
    )


@pytest.mark.parametrize("client_class", CLIENTS)
def test_repr_hides_the_key(client_class: type[Client]) -> None:
    client = client_class("aks_live_verysecret", base_url="http://x/v1/")
    assert "verysecret" not in repr(client)
    assert "aks_live_***" in repr(client)
    assert "verysecret" not in repr(client.with_options(secret_key="aks_test_other"))
    assert "***" in repr(client_class("plainsecretvalue"))
    assert "plainsecretvalue" not in repr(client_class("plainsecretvalue"))


@pytest.fixture
def restore_logger() -> object:
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.mark.usefixtures("restore_logger")
def test_lava_log_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAVA_LOG", "debug")
    setup_logging()
    assert logger.level == logging.DEBUG
    assert logger.handlers


@pytest.mark.usefixtures("restore_logger")
async def test_logs_never_carry_the_secret(
    make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    key = "aks_test_logsecret42"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500,
            json={"echo": key},
            headers={"x-lava-request-id": "req_log"},
        )

    client = make_client(handler, secret_key=key, max_retries=1)
    with (
        caplog.at_level(logging.DEBUG, logger="lavapayments"),
        pytest.raises(lavapayments.InternalServerError),
    ):
        await call(client.connections.list(reference_id=key))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Request: GET http://lava.test/v1/connections" in text
    assert "req_log" in text
    assert "Retrying" in text
    assert key not in text
    assert "aks_test_***" in text  # the query value, redacted
    assert "'authorization': '***'" in text
