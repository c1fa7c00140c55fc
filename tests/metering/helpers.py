"""Helpers for tests that meter usage through the real API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from lava_server.metering.forward import Call, ForwardBilling
from lava_server.model_prices.book import PriceBook
from lava_server.proxy.credentials import decode_token
from lava_server.proxy.usage import make_usage
from lavapayments.forward_token import encode_forward_token


async def make_product(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}], **fields}
    response = await client.post("/v1/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_connection(
    client: httpx.AsyncClient, headers: dict[str, str], balance: str = "10", **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/test_helpers/connections", json={"balance": balance, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def balance_of(
    client: httpx.AsyncClient, headers: dict[str, str], connection_id: str
) -> Decimal:
    response = await client.get(f"/v1/connections/{connection_id}", headers=headers)
    assert response.status_code == 200, response.text
    return Decimal(response.json()["wallet"]["balance"])


async def report(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connection: dict[str, Any],
    product: dict[str, Any],
    request_id: str,
    **counts: Any,
) -> httpx.Response:
    body = {
        "request_id": request_id,
        "connection_secret": connection["connection_secret"],
        "product_secret": product["product_secret"],
        **counts,
    }
    return await client.post("/v1/requests", json=body, headers=headers)


async def forward_billing(client, db, settings, merchant, balance: str):
    """A product, a connection funded with `balance` and a `ForwardBilling` (the forward
    proxy's money, in process); with `call(n)`, `hold(n)` and `settle(reservation)` for
    chat calls of gpt-4o-mini (1,000 + 1,000 tokens at worst, 500,000 input tokens billed)."""
    product = await make_product(client, merchant.headers)
    connection = await make_connection(client, merchant.headers, balance=balance)
    token = decode_token(
        encode_forward_token(
            secret_key=merchant.secret_key,
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
        )
    )
    prices = PriceBook()
    billing = ForwardBilling(db, settings, prices)
    model = "gpt-4o-mini"
    pricing = prices.lookup("openai", model)
    worst = make_usage(input_tokens=1000, output_tokens=1000, estimated=True)
    route = "POST /v1/chat/completions"

    async def hold(n: int):
        call = Call(f"call-{n}", "openai", "managed", route, model, pricing, {}, worst)
        return await billing.reserve(token, call)

    async def settle(reservation) -> Decimal:
        usage = make_usage(input_tokens=500_000, output_tokens=0, model=model)
        priced = await billing.settle(reservation, usage, status="completed")
        assert priced is not None
        return priced.total_wallet_cost

    async def call(n: int) -> Decimal:
        return await settle(await hold(n))

    return billing, connection, product, call, hold, settle
