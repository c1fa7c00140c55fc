"""Requests and usage across the eras (`docs/current-api.md#requests-and-usage`), on both
databases: usage reported with the seed era's names is read with the current API's and the
reverse, on customers and meters made through either era's routes; the balances, the usage sums
and `lava ledger check` agree."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tests.e2e.servers import lava_cli
from tests.metering.helpers import balance_of, make_connection, make_product

START = datetime.now(timezone.utc).date().isoformat()


async def test_reported_in_one_era_read_in_the_other(client, merchant, database_url):
    h = merchant.headers
    # The seed era's objects: a product and a funded connection with a reference.
    product = await make_product(client, h, name="Seed Product")
    connection = await make_connection(client, h, balance="5", reference_id="seed-ref")
    # The current era's: a meter and a customer (funded through the sandbox helper).
    meter = (
        await client.post(
            "/v1/meters",
            json={
                "name": "New Meter",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "3"}],
            },
            headers=h,
        )
    ).json()
    customer = (
        await client.post("/v1/customers", json={"reference_id": "new-ref"}, headers=h)
    ).json()
    funded = await client.post(
        f"/v1/test_helpers/connections/{customer['customer_id']}/fund",
        json={"amount": "5"},
        headers=h,
    )
    assert funded.status_code == 200, funded.text

    async def post(body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/v1/requests", json=body, headers=h)
        assert response.status_code == 201, response.text
        return dict(response.json())

    # Seed-era names on the current era's objects (their secrets are our extension fields)...
    old_names = await post(
        {
            "request_id": "old-names",
            "connection_secret": customer["connection_secret"],
            "product_secret": meter["product_secret"],
            "input_tokens": 1000,
            "output_tokens": 1000,
        }
    )
    # ... and current names on the seed era's objects.
    new_names = await post(
        {
            "request_id": "new-names",
            "customer_id": "seed-ref",
            "meter_slug": product["meter_slug"],
            "input_tokens": 4000,
            "output_tokens": 1000,
        }
    )
    assert old_names["customer_id"] == customer["customer_id"]
    assert old_names["meter_id"] == meter["meter_id"]
    assert old_names["charge"]["amount"] == old_names["fee"]["amount"] == "0.0060000000"
    assert new_names["connection_id"] == connection["connection_id"]
    assert new_names["product_id"] == product["product_id"]
    assert new_names["charge"]["amount"] == "0.0100000000"

    async def listed(**query: str) -> list[str]:
        response = await client.get("/v1/requests", params=query, headers=h)
        assert response.status_code == 200, response.text
        return [r["request_id"] for r in response.json()["data"]]

    # Read with the other era's names.
    assert await listed(customer_id="new-ref", meter_id=meter["meter_id"]) == ["old-names"]
    assert await listed(customer_id=customer["customer_id"]) == ["old-names"]
    assert await listed(
        connection_id=connection["connection_id"], product_id=product["product_id"]
    ) == ["new-names"]
    assert await listed(connection_id="seed-ref") == ["new-names"]
    for request in (old_names, new_names):
        fetched = await client.get(f"/v1/requests/{request['request_id']}", headers=h)
        assert fetched.json() == request

    async def usage(**query: str) -> dict[str, Any]:
        response = await client.get("/v1/usage", params={"start": START, **query}, headers=h)
        assert response.status_code == 200, response.text
        return dict(response.json()["totals"])

    by_new = await usage(customer_id="new-ref")
    assert by_new == await usage(connection_id=customer["customer_id"])
    by_old = await usage(
        connection_id=connection["connection_id"], product_id=product["product_id"]
    )
    assert by_old == await usage(customer_id="seed-ref", meter_id=product["product_id"])
    assert (by_new["total_requests"], by_old["total_requests"]) == (1, 1)
    assert by_new["total_charge"] == old_names["charge"]["amount"]
    assert by_old["total_charge"] == new_names["charge"]["amount"]

    # Balances: each wallet paid what its request says, and the sums say the same.
    new_balance = await balance_of(client, h, customer["customer_id"])
    old_balance = await balance_of(client, h, connection["connection_id"])
    assert new_balance == Decimal(5) - Decimal(old_names["total_wallet_cost"])
    assert old_balance == Decimal(5) - Decimal(new_names["total_wallet_cost"])
    everything = await usage()
    assert Decimal(everything["total_wallet_cost"]) == Decimal(10) - new_balance - old_balance
    assert Decimal(everything["total_charge"]) == Decimal("0.016")

    # The operator's ledger check finds nothing wrong.
    result = lava_cli("ledger", "check", "--json", "--database-url", database_url)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["problems"] == [], result.stdout + result.stderr
