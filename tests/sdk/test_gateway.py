"""``lava.gateway()`` and ``lava.gateway_stream()`` (the Node SDK's ``gateway``).

Against our own server over real HTTP (SQLite and PostgreSQL, sync and async) with the fake
provider upstream: seed-era billing of a connection per a product, metering with the merchant's
own provider key, a streamed answer. Through a recording transport: the token, URL, headers and
body are the Node SDK's, byte for byte. (The current API's customer/meter billing and the
``rewrite`` endpoint are in test_gateway_v2.py.)"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import serve_in_thread
from lava_server.testing.fake_provider import FakeProvider
from lavapayments import AsyncLava, AuthenticationError, Lava
from tests.conftest import MerchantKey
from tests.proxy.conftest import Billed, make_billed, proxy_settings, upstream_env

from .conftest import call

__all__ = ["proxy_settings", "upstream_env"]

CHAT_URL = "https://api.openai.com/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def server(proxy_settings: Settings, upstream_env: None, fake: FakeProvider) -> Iterator[str]:
    with serve_in_thread(create_app(proxy_settings), shutdown_timeout=5) as running:
        yield running.url


@pytest.fixture
async def billed(server: str, merchant: MerchantKey) -> Billed:
    return await make_billed(server, merchant)


@pytest.fixture(params=["sync", "async"])
async def lava(request: pytest.FixtureRequest, server: str, merchant: MerchantKey):
    if request.param == "sync":
        with Lava(merchant.secret_key, base_url=f"{server}/v1/", max_retries=0) as client:
            yield client
    else:
        async with AsyncLava(merchant.secret_key, base_url=f"{server}/v1/") as client:
            yield client


async def test_seed_era_billing_through_the_gateway(lava, billed, fake) -> None:
    before = await billed.balance()
    answer = await call(
        lava.gateway(
            CHAT_URL,
            connection_secret=billed.connection["connection_secret"],
            product_secret=billed.product["product_secret"],
            body=CHAT,
            headers={"Authorization": "Bearer ignored", "OpenAI-Beta": "x"},
        )
    )
    assert answer["object"] == "chat.completion" and answer["usage"]["total_tokens"] > 0
    assert [r["path"] for r in fake.requests] == ["/v1/chat/completions"]
    assert fake.requests[0]["api_key"] == "sk-managed-openai"  # not our token, not "ignored"
    [stored] = await billed.requests()
    assert stored["connection_id"] == billed.connection["connection_id"]
    record = await billed.request(stored["request_id"])
    assert Decimal(record["total_request_cost"]) > 0
    assert await billed.balance() < before


async def test_metering_with_your_own_provider_key(lava, billed, fake) -> None:
    answer = await call(lava.gateway(CHAT_URL, provider_key="sk-merchant-own", body=CHAT))
    assert answer["usage"]["total_tokens"] > 0
    assert fake.requests[0]["api_key"] == "sk-merchant-own"
    [stored] = await billed.requests(at_least=1)
    assert stored.get("connection_id") is None  # metered, nobody billed


async def test_a_streamed_answer(lava, billed, fake) -> None:
    secrets = {
        "connection_secret": billed.connection["connection_secret"],
        "product_secret": billed.product["product_secret"],
    }
    body = {**CHAT, "stream": True}
    if isinstance(lava, AsyncLava):
        async with lava.gateway_stream(CHAT_URL, body=body, **secrets) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line async for line in response.iter_lines()]
    else:
        with lava.gateway_stream(CHAT_URL, body=body, **secrets) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = list(response.iter_lines())
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]" and json.loads(data[0])["object"] == "chat.completion.chunk"
    [stored] = await billed.requests()
    assert Decimal((await billed.request(stored["request_id"]))["total_request_cost"]) > 0


async def test_errors(lava, billed, fake) -> None:
    with pytest.raises(ValueError, match="customer_id requires meter_slug"):
        await call(lava.gateway(CHAT_URL, customer_id="con_test_x", body=CHAT))
    with pytest.raises(ValueError, match="not both"):
        await call(lava.gateway(CHAT_URL, connection_secret="c", meter_slug="m", body=CHAT))
    with pytest.raises(AuthenticationError):
        await call(
            lava.gateway(CHAT_URL, connection_secret="cs_nope", product_secret="ps_nope", body=CHAT)
        )
    assert fake.requests == []


# -- the wire, through a recording transport ---------------------------------------------------


def _decode(request: httpx.Request) -> dict[str, object]:
    token = request.headers["authorization"].removeprefix("Bearer ")
    return json.loads(base64.b64decode(token))


def _raw_token(request: httpx.Request) -> bytes:
    return base64.b64decode(request.headers["authorization"].removeprefix("Bearer "))


async def test_the_wire_is_the_node_sdks(make_client) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    lava = make_client(handler, secret_key="aks_test_k")
    url = "https://api.anthropic.com/v1/messages?beta=true&x=a b"
    assert await call(lava.gateway(url, customer_id="con_1", meter_slug="chat", body={"a": 1}))
    # JSON.stringify({secret_key, customer_id, meter_slug, provider_key: undefined, ...})
    assert _raw_token(seen[-1]) == (
        b'{"secret_key":"aks_test_k","customer_id":"con_1","meter_slug":"chat"}'
    )
    # encodeURIComponent of the URL
    assert str(seen[-1].url) == (
        "http://lava.test/v1/forward?u=https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages"
        "%3Fbeta%3Dtrue%26x%3Da%20b"
    )
    assert seen[-1].method == "POST" and seen[-1].content == b'{"a":1}'
    assert seen[-1].headers["content-type"] == "application/json"
    assert "x-lava-api-version" not in seen[-1].headers  # only what the Node SDK sends

    await call(
        lava.gateway(
            "https://api.openai.com/v1/chat/completions",
            customer_id="con_1",
            meter_slug="chat",
            provider_key="sk-own",
            disable_billing=True,
            format="anthropic",
            body="raw text",
            headers={"authorization": "Bearer mine", "X-Trace": "1"},
        )
    )
    assert _raw_token(seen[-1]) == (
        b'{"secret_key":"aks_test_k","customer_id":"con_1","meter_slug":"chat",'
        b'"provider_key":"sk-own","disable_billing":true}'
    )
    assert str(seen[-1].url) == (
        "http://lava.test/v1/rewrite/anthropic/https://api.openai.com/v1/chat/completions"
    )
    assert seen[-1].content == b"raw text" and "content-type" not in seen[-1].headers
    assert seen[-1].headers["x-trace"] == "1"
    assert seen[-1].headers.get_list("authorization") == [
        "Bearer " + base64.b64encode(_raw_token(seen[-1])).decode()
    ]

    await call(lava.gateway(CHAT_URL, meter_slug="chat", disable_billing=True, method="GET"))
    assert _decode(seen[-1]) == {
        "secret_key": "aks_test_k",
        "customer_id": None,
        "meter_slug": "chat",
    }
    assert seen[-1].method == "GET" and seen[-1].content == b""

    await call(lava.gateway(CHAT_URL, provider_key="sk-own", body=[1, Decimal("0.10")]))
    assert _raw_token(seen[-1]) == b'{"secret_key":"aks_test_k","provider_key":"sk-own"}'
    assert seen[-1].content == b'[1,"0.10"]'

    await call(lava.gateway(CHAT_URL, body={"a": 1}, headers={"Content-Type": "text/plain"}))
    assert _raw_token(seen[-1]) == b'{"secret_key":"aks_test_k"}'
    assert seen[-1].headers.get_list("content-type") == ["text/plain"]
    assert len(seen) == 5  # one call each, never retried
