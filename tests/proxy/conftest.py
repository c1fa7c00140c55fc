"""Fixtures of the forward-proxy tests: the fake provider and our server, both over real HTTP.

The fake provider runs once per module in a thread; every provider family is mapped to it with
`LAVA_UPSTREAM_<PROVIDER>`. Each test gets its own `lava` app (on SQLite and on PostgreSQL) served
by uvicorn on a free port, a sandbox merchant, a funded connection and a product.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from lava_server.app import create_app
from lava_server.proxy.upstream import DEFAULT_REGISTRY, provider_env_suffix
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_provider import FakeProvider
from lavapayments.forward_token import encode_forward_token
from tests.conftest import MerchantKey
from tests.metering.helpers import make_connection, make_product

MANAGED_OPENAI_KEY = "sk-managed-openai"


@pytest.fixture
def upstream_env(monkeypatch: pytest.MonkeyPatch, fake_server: ServerThread) -> None:
    """Every provider mapped to the fake; a managed key for OpenAI only."""
    import os

    for name in list(os.environ):
        if name.startswith(("LAVA_UPSTREAM_", "LAVA_PROVIDER_KEY_")):
            monkeypatch.delenv(name)
    for provider in DEFAULT_REGISTRY:
        monkeypatch.setenv(f"LAVA_UPSTREAM_{provider_env_suffix(provider.name)}", fake_server.url)
    monkeypatch.setenv("LAVA_PROVIDER_KEY_OPENAI", MANAGED_OPENAI_KEY)


@pytest.fixture
def proxy_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"upstream_first_byte_timeout": 3.0, "upstream_idle_timeout": 1.0}
    )


@pytest.fixture
def lava(
    proxy_settings: Settings, upstream_env: None, fake: FakeProvider
) -> Iterator[ServerThread]:
    """Our server over real HTTP (its own database engine, in the server's event loop)."""
    with serve_in_thread(create_app(proxy_settings), shutdown_timeout=5) as server:
        yield server


@dataclass
class Billed:
    """A merchant, a product and a funded connection, and the forward token billing them."""

    merchant: MerchantKey
    product: dict[str, Any]
    connection: dict[str, Any]
    token: str
    base: str  # our server, e.g. http://127.0.0.1:PORT

    def forward_url(self, provider_url: str) -> str:
        return f"{self.base}/v1/forward?u={provider_url}"

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base + "/v1/", headers=self.merchant.headers, timeout=30
        )

    async def balance(self) -> Decimal:
        async with self.api() as http:
            response = await http.get(f"connections/{self.connection['connection_id']}")
        return Decimal(response.json()["wallet"]["balance"])

    async def request(self, request_id: str, *, settled: bool = True) -> dict[str, Any]:
        """The stored request; by default once it is settled (a bill is written just after
        the answer is complete; a call that took no hold, metering only, has no row before)."""
        deadline = time.monotonic() + 5
        async with self.api() as http:
            while True:
                response = await http.get(f"requests/{request_id}")
                if response.status_code == 404 and settled and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                    continue
                assert response.status_code == 200, response.text
                body = dict(response.json())
                if not settled or body["status"] != "pending" or time.monotonic() > deadline:
                    return body
                await asyncio.sleep(0.01)

    async def requests(self, *, settled: bool = True, at_least: int = 0) -> list[dict[str, Any]]:
        """The stored requests, newest first; by default once none is pending (as `request`),
        and once there are `at_least` (a metering-only call has no row before its answer)."""
        deadline = time.monotonic() + 5
        async with self.api() as http:
            while True:
                response = await http.get("requests", params={"limit": "100"})
                found = list(response.json()["data"])
                pending = any(stored["status"] == "pending" for stored in found)
                waiting = (settled and pending) or len(found) < at_least
                if not waiting or time.monotonic() > deadline:
                    return found
                await asyncio.sleep(0.01)


async def make_billed(
    base: str, merchant: MerchantKey, balance: str = "10", **product_fields: Any
) -> Billed:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        product = await make_product(http, merchant.headers, **product_fields)
        connection = await make_connection(http, merchant.headers, balance=balance)
    token = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
    )
    return Billed(merchant, product, connection, token, base)


@pytest.fixture
async def billed(lava: ServerThread, merchant: MerchantKey) -> Billed:
    return await make_billed(lava.url, merchant)
