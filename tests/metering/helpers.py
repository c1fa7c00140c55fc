"""Helpers for tests that meter usage through the real API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx


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
