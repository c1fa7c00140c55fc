"""`/v1/requests` and `/v1/usage` with both eras' names (`docs/current-api.md#requests-and-usage`),
on both databases: a report names its customer and meter either way (or both ways, agreeing),
answers the union of both eras' fields, and is the same report however it is named."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from lava_server.wallets.service import check as ledger_check
from tests.api.test_api_base import assert_error
from tests.metering.helpers import balance_of, make_connection, make_product, report

COUNTS = {"input_tokens": 500, "output_tokens": 200}
TODAY = datetime.now(timezone.utc).date().isoformat()


async def _setup(client, merchant) -> tuple[dict[str, Any], dict[str, Any]]:
    product = await make_product(client, merchant.headers, name="Chat Meter")
    connection = await make_connection(
        client, merchant.headers, balance="1", reference_id="user-42"
    )
    return product, connection


async def test_a_report_by_customer_id_and_meter_slug_answers_both_eras(client, merchant, db):
    product, connection = await _setup(client, merchant)
    assert product["meter_slug"] == "chat-meter"
    response = await client.post(
        "/v1/requests",
        json={
            "request_id": "r-1",
            "customer_id": connection["connection_id"],
            "meter_slug": "chat-meter",
            **COUNTS,
        },
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["customer_id"] == body["connection_id"] == connection["connection_id"]
    assert body["meter_id"] == body["product_id"] == product["product_id"]
    assert body["cost"] == body["model_usage"]["total_cost"] == "0.0000000000"
    fee = body["fee"]
    assert fee["token_basis"] == "input+output"
    assert body["charge"] == {
        "amount": "0.0014000000",
        "rate_type": "fixed",
        "breakdown": fee["breakdown"],
    }
    assert fee["amount"] == "0.0014000000"
    assert body["service_charge"] == {"amount": "0.0000266000", "payer": "wallet"}
    assert body["total_wallet_cost"] == "0.0014266000"
    assert body["provider_key_type"] == "unmanaged"
    fetched = await client.get("/v1/requests/r-1", headers=merchant.headers)
    assert fetched.json() == body
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        "0.9985734000"
    )

    # The same report under the seed era's names is a retry: 200, the first answer, no charge.
    again = await report(client, merchant.headers, connection, product, "r-1", **COUNTS)
    assert again.status_code == 200, again.text
    assert again.json() == body
    # ... and under any other names for the same customer and meter.
    for names in (
        {"connection_id": "user-42", "meter_id": product["product_id"]},
        {"customer_id": "user-42", "product_id": product["product_id"]},
        {"customer_id": connection["connection_id"], "meter_slug": product["product_id"]},
    ):
        retry = await client.post(
            "/v1/requests", json={"request_id": "r-1", **names, **COUNTS}, headers=merchant.headers
        )
        assert (retry.status_code, retry.json()) == (200, body), names
    # Other counts under a new name are another report: 409.
    changed = await client.post(
        "/v1/requests",
        json={"request_id": "r-1", "customer_id": "user-42", "meter_slug": "chat-meter"},
        headers=merchant.headers,
    )
    assert_error(changed, 409, "conflict", "request_id")
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(
        "0.9985734000"
    )
    assert (await ledger_check(db)).problems == []


async def test_a_seed_era_report_is_retried_with_the_current_names(client, merchant):
    product, connection = await _setup(client, merchant)
    first = await report(client, merchant.headers, connection, product, "old-1", **COUNTS)
    assert first.status_code == 201
    retry = await client.post(
        "/v1/requests",
        json={
            "request_id": "old-1",
            "customer_id": "user-42",
            "meter_slug": "chat-meter",
            **COUNTS,
        },
        headers=merchant.headers,
    )
    assert (retry.status_code, retry.json()) == (200, first.json())


@pytest.mark.parametrize(
    ("names", "status", "param"),
    [
        ({"meter_slug": "chat-meter"}, 400, "customer_id"),
        ({"customer_id": "user-42"}, 400, "meter_slug"),
        ({"customer_id": "user-42", "connection_id": "user-43", "meter_slug": "x"}, 400, None),
        ({"customer_id": "user-42", "meter_id": "prd_a", "product_id": "prd_b"}, 400, "meter_id"),
        ({"customer_id": "nobody", "meter_slug": "chat-meter"}, 404, "customer_id"),
        ({"connection_id": "con_test_nope", "meter_slug": "chat-meter"}, 404, "connection_id"),
        ({"customer_id": "user-42", "meter_slug": "no-such-meter"}, 404, "meter_slug"),
        ({"customer_id": "user-42", "meter_id": "prd_test_nope"}, 404, "meter_id"),
        ({"customer_id": "", "meter_slug": "chat-meter"}, 400, "customer_id"),
    ],
)
async def test_names_that_find_nothing_or_disagree(client, merchant, names, status, param):
    _, connection = await _setup(client, merchant)
    response = await client.post(
        "/v1/requests", json={"request_id": "bad", **names, **COUNTS}, headers=merchant.headers
    )
    error = assert_error(response, status, "invalid_request" if status == 400 else "not_found")
    if param is not None:
        assert error["param"] == param
    if "connection_id" in names and "customer_id" in names:
        assert "customer_id" in error["message"] and "connection_id" in error["message"]
    assert (await client.get("/v1/requests", headers=merchant.headers)).json()["data"] == []
    assert await balance_of(client, merchant.headers, connection["connection_id"]) == Decimal(1)


async def test_two_names_of_different_objects_are_a_400_naming_them(client, merchant, db):
    from lava_server.merchants import service as merchants

    product, connection = await _setup(client, merchant)
    other_product = await make_product(client, merchant.headers, name="Other")
    other_connection = await make_connection(client, merchant.headers)
    cases = [
        (
            {"connection_secret": other_connection["connection_secret"], "customer_id": "user-42"},
            "customer_id",
        ),
        (
            {"product_secret": other_product["product_secret"], "meter_slug": "chat-meter"},
            "meter_slug",
        ),
        (
            {"meter_slug": "chat-meter", "meter_id": other_product["product_id"]},
            "meter_id",
        ),
    ]
    for names, param in cases:
        body = {
            "request_id": "both",
            "connection_secret": connection["connection_secret"],
            "product_secret": product["product_secret"],
            **names,
            **COUNTS,
        }
        response = await client.post("/v1/requests", json=body, headers=merchant.headers)
        error = assert_error(response, 400, "invalid_request", param)
        assert "different" in error["message"]
    # Another merchant's customer and meter are not found by id.
    other = await merchants.create_merchant(db, "Other", livemode=False)
    other_headers = {"Authorization": f"Bearer {other.secret_key}"}
    theirs = await client.post(
        "/v1/requests",
        json={"request_id": "x", "customer_id": connection["connection_id"], "meter_slug": "y"},
        headers=other_headers,
    )
    assert_error(theirs, 404, "not_found", "customer_id")
    assert (await client.get("/v1/requests", headers=merchant.headers)).json()["data"] == []


async def test_list_and_usage_filters_by_either_name_and_by_reference(client, merchant):
    product, connection = await _setup(client, merchant)
    other_product = await make_product(client, merchant.headers, name="Other")
    other = await make_connection(client, merchant.headers)
    await report(client, merchant.headers, connection, product, "a", **COUNTS)
    await report(client, merchant.headers, connection, other_product, "b", input_tokens=1000)
    await report(client, merchant.headers, other, product, "c", input_tokens=1000)

    async def ids(**query: str) -> list[str]:
        response = await client.get("/v1/requests", params=query, headers=merchant.headers)
        assert response.status_code == 200, response.text
        return [r["request_id"] for r in response.json()["data"]]

    con = connection["connection_id"]
    assert await ids(customer_id=con) == await ids(connection_id=con) == ["b", "a"]
    assert await ids(customer_id="user-42") == ["b", "a"]
    assert await ids(customer_id="nobody") == []
    assert await ids(meter_id=product["product_id"]) == ["c", "a"]
    assert await ids(customer_id="user-42", meter_id=product["product_id"]) == ["a"]
    assert await ids(customer_id=con, connection_id=con, product_id=product["product_id"]) == ["a"]
    clash = await client.get(
        "/v1/requests",
        params={"customer_id": con, "connection_id": "user-42"},
        headers=merchant.headers,
    )
    assert_error(clash, 400, "invalid_request", "customer_id")

    async def usage(**query: str) -> dict[str, Any]:
        response = await client.get(
            "/v1/usage", params={"start": TODAY, **query}, headers=merchant.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["totals"])

    everything = await usage()
    assert everything["total_requests"] == 3
    assert everything["total_cost"] == everything["total_usage_cost"]
    assert everything["total_charge"] == everything["total_fee_amount"] == "0.0054000000"
    mine = await usage(customer_id="user-42")
    assert mine == await usage(connection_id=con)
    assert (mine["total_requests"], mine["total_charge"]) == (2, "0.0034000000")
    assert (await usage(customer_id="user-42", meter_id=product["product_id"]))[
        "total_requests"
    ] == 1
    assert (await usage(customer_id="nobody"))["total_requests"] == 0
    day = (await client.get("/v1/usage", params={"start": TODAY}, headers=merchant.headers)).json()[
        "items"
    ][-1]
    assert day["total_charge"] == day["total_fee_amount"]
    clash = await client.get(
        "/v1/usage",
        params={"start": TODAY, "meter_id": product["product_id"], "product_id": "prd_x"},
        headers=merchant.headers,
    )
    assert_error(clash, 400, "invalid_request", "meter_id")


async def test_retries_after_the_customer_is_deleted(client, merchant):
    """A seed-era retry is answered by its secrets, as before; a retry naming the customer by
    id or reference must find it."""
    product, connection = await _setup(client, merchant)
    first = await report(client, merchant.headers, connection, product, "kept", **COUNTS)
    assert first.status_code == 201
    await client.delete(f"/v1/connections/{connection['connection_id']}", headers=merchant.headers)
    again = await report(client, merchant.headers, connection, product, "kept", **COUNTS)
    assert (again.status_code, again.json()) == (200, first.json())
    by_id = await client.post(
        "/v1/requests",
        json={
            "request_id": "kept",
            "customer_id": connection["connection_id"],
            "meter_slug": "chat-meter",
            **COUNTS,
        },
        headers=merchant.headers,
    )
    assert_error(by_id, 404, "not_found", "customer_id")
