"""`POST /v1/checkout_sessions` names its customer either way (`docs/current-api.md#shared-routes`):
`connection_id` or `customer_id`, each an id or the merchant's `reference_id`, on both
databases; the session stores and answers the customer's id."""

from __future__ import annotations

from tests.api.test_api_base import assert_error
from tests.checkout.helpers import ORIGIN
from tests.metering.helpers import make_connection


async def test_a_topup_session_finds_its_customer_by_id_or_reference(client, merchant):
    customer = await make_connection(
        client, merchant.headers, reference_id="shop-7", phone="+14155550100"
    )
    con = customer["connection_id"]

    async def create(**names: str):
        return await client.post(
            "/v1/checkout_sessions",
            json={"checkout_mode": "topup", "origin_url": ORIGIN, **names},
            headers=merchant.headers,
        )

    for names in (
        {"connection_id": "shop-7"},
        {"customer_id": "shop-7"},
        {"customer_id": con},
        {"customer_id": con, "connection_id": con},
    ):
        response = await create(**names)
        assert response.status_code == 201, (names, response.text)
        body = response.json()
        assert body["connection_id"] == body["customer_id"] == con, names
        fetched = await client.get(
            f"/v1/checkout_sessions/{body['checkout_session_id']}", headers=merchant.headers
        )
        assert fetched.json()["connection_id"] == con

    assert_error(await create(customer_id="nobody"), 404, "not_found", "customer_id")
    assert_error(await create(connection_id="nobody"), 404, "not_found", "connection_id")
    clash = assert_error(
        await create(customer_id=con, connection_id="shop-7"), 400, "invalid_request", "customer_id"
    )
    assert "connection_id" in clash["message"]
    onboarding = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "onboarding", "origin_url": ORIGIN, "customer_id": "shop-7"},
        headers=merchant.headers,
    )
    assert_error(onboarding, 400, "invalid_request", "customer_id")
    listed = await client.get("/v1/checkout_sessions", headers=merchant.headers)
    assert len(listed.json()["data"]) == 4
