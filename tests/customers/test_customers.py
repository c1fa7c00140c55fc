"""`/v1/customers` (the current API) over the same connections as `/v1/connections`, on both
databases: shapes of the 11.2.0 SDK's `RestCustomer`, reference ids, null clearing, deletion,
the outbox events, and objects crossing between the eras."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from lava_server.db.models import WebhookOutbox
from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import DETAILS, billing_of
from tests.subscriptions.helpers import subscribe

CONTACT_KEYS = {"phone", "email", "first_name", "last_name"}


async def outbox_types(db, object_id):
    async with db.read() as session:
        rows = await session.execute(
            select(WebhookOutbox.type).where(WebhookOutbox.object_id == object_id)
        )
        return sorted(row[0] for row in rows)


async def test_create_retrieve_update_delete(client, merchant, db):
    created = await client.post(
        "/v1/customers",
        json={
            "reference_id": "user-1",
            "email": "ada@example.com",
            "phone": "+15551234567",
            "name": "Ada King Lovelace",
            "metadata": {"plan": "pro", "seats": 3},
        },
        headers=merchant.headers,
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["customer_id"].startswith("con_test_")
    assert customer["reference_id"] == "user-1"
    assert customer["contact"] == {
        "phone": "+15551234567",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "King Lovelace",
    }
    assert customer["subscription"] is None
    assert customer["metadata"] == {"plan": "pro", "seats": 3}
    assert customer["created_at"].endswith("Z")
    path = f"/v1/customers/{customer['customer_id']}"
    assert (await client.get(path, headers=merchant.headers)).json() == customer
    # The reference id stands for the customer id.
    assert (await client.get("/v1/customers/user-1", headers=merchant.headers)).json() == customer

    updated = await client.patch(
        path, json={"email": None, "name": "Ada", "metadata": None}, headers=merchant.headers
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["contact"] == {
        "phone": "+15551234567",
        "email": "",
        "first_name": "Ada",
        "last_name": "",
    }
    assert body["metadata"] is None
    assert body["reference_id"] == "user-1"  # left out: stays
    cleared = (
        await client.patch(path, json={"reference_id": None}, headers=merchant.headers)
    ).json()
    assert cleared["reference_id"] is None
    assert (await client.get(path, headers=merchant.headers)).json() == cleared

    deleted = await client.delete(path, headers=merchant.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True}
    assert_error(await client.get(path, headers=merchant.headers), 404, "not_found", "customer_id")
    assert_error(
        await client.get(f"/v1/connections/{customer['customer_id']}", headers=merchant.headers),
        404,
        "not_found",
        "connection_id",
    )
    assert await outbox_types(db, customer["customer_id"]) == [
        "customer.created",
        "customer.deleted",
    ]


async def test_create_is_idempotent_on_reference_id(client, merchant, live_merchant):
    first = await client.post(
        "/v1/customers", json={"reference_id": "r-1", "name": "A"}, headers=merchant.headers
    )
    again = await client.post(
        "/v1/customers", json={"reference_id": "r-1", "name": "B"}, headers=merchant.headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = await client.post(
        "/v1/customers", json={"reference_id": "r-1"}, headers=live_merchant.headers
    )
    assert other.json()["customer_id"] != first.json()["customer_id"]
    second = (
        await client.post("/v1/customers", json={"reference_id": "r-2"}, headers=merchant.headers)
    ).json()
    taken = await client.patch(
        f"/v1/customers/{second['customer_id']}",
        json={"reference_id": "r-1"},
        headers=merchant.headers,
    )
    assert_error(taken, 409, "conflict", "reference_id")
    # Another merchant never sees it.
    assert_error(
        await client.get(
            f"/v1/customers/{first.json()['customer_id']}", headers=live_merchant.headers
        ),
        404,
        "not_found",
        "customer_id",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"reference_id": "con_test_x"}, "reference_id"),
        ({"reference_id": ""}, "reference_id"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"metadata": "x"}, "metadata"),
        ({"metadata": {"k": "v" * 9000}}, "metadata"),
        ({"nickname": "x"}, "nickname"),
        ({"name": "x" * 256}, "name"),  # a first name longer than its column (a 500 once)
        ({"name": "Ada " + "x" * 256}, "name"),
    ],
)
async def test_bad_input_names_the_field(client, merchant, body, param):
    error = assert_error(
        await client.post("/v1/customers", json=body, headers=merchant.headers),
        400,
        "invalid_request",
    )
    assert param in (error.get("param") or ""), error


async def test_list_pages_with_cursor_and_limit(client, merchant):
    ids = [
        (await client.post("/v1/customers", json={}, headers=merchant.headers)).json()[
            "customer_id"
        ]
        for _ in range(3)
    ]
    first = (await client.get("/v1/customers?limit=2", headers=merchant.headers)).json()
    assert [c["customer_id"] for c in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    rest = (
        await client.get(
            f"/v1/customers?limit=2&cursor={first['next_cursor']}", headers=merchant.headers
        )
    ).json()
    assert [c["customer_id"] for c in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False and "next_cursor" not in rest
    assert_error(
        await client.get("/v1/customers?limit=0", headers=merchant.headers),
        400,
        "invalid_request",
        "limit",
    )
    assert_error(
        await client.get("/v1/customers?cursor=prd_test_x", headers=merchant.headers),
        400,
        "invalid_request",
        "cursor",
    )


async def test_a_checkout_connection_is_a_customer_with_its_subscription(
    client, merchant, db, clock
):
    active = await subscribe(client, merchant.headers, amount="20", rollover="full")
    customer_id = active["connection_id"]
    customer = (await client.get(f"/v1/customers/{customer_id}", headers=merchant.headers)).json()
    assert customer["contact"]["phone"] == DETAILS["phone"].replace(" ", "")
    assert customer["subscription"] == {
        "subscription_id": active["active_subscription_id"],
        "plan_id": active["subscription_config_id"],
        "name": active["subscription_config"]["name"],
        "status": "active",
    }
    answer = await client.get(f"/v1/customers/{customer_id}/subscription", headers=merchant.headers)
    assert answer.status_code == 200, answer.text
    subscription = answer.json()["subscription"]
    assert subscription["subscription_id"] == active["active_subscription_id"]
    assert subscription["plan_id"] == active["subscription_config_id"]
    assert subscription["status"] == "active"
    assert subscription["auto_top_up_bundle_id"] is None
    assert subscription["cancelled_at"] is None
    assert subscription["pending_change"] is None
    assert subscription["cycle_start_at"] == active["current_period_start"]
    assert subscription["cycle_end_at"] == active["current_period_end"]
    assert subscription["plan"]["period_amount"] == "20.0000000000"
    assert subscription["plan"]["included_credit"] == "20.0000000000"
    assert subscription["plan"]["billing_interval"] == "month"
    assert subscription["plan"]["rollover_type"] == "full"
    assert subscription["credits"] == {
        "total_remaining": "20.0000000000",
        "cycle_remaining": "20.0000000000",
        "bundle_remaining": "0.0000000000",
    }
    # Cancelled through the seed-era route: it runs to the end of its cycle with the
    # cancellation pending, then no subscription runs any more.
    cancel = await client.delete(
        f"/v1/active-subscriptions/{active['active_subscription_id']}", headers=merchant.headers
    )
    assert cancel.status_code == 200, cancel.text
    pending = (
        await client.get(f"/v1/customers/{customer_id}/subscription", headers=merchant.headers)
    ).json()["subscription"]
    assert pending["status"] == "active"
    assert pending["pending_change"] == {
        "type": "cancellation",
        "effective_at": pending["cycle_end_at"],
    }
    clock.now = datetime.fromisoformat(pending["cycle_end_at"].replace("Z", "+00:00"))
    await run_once(billing_of(client), clock.now)
    after = await client.get(f"/v1/customers/{customer_id}/subscription", headers=merchant.headers)
    assert after.json() == {"subscription": None}
    listed = (await client.get("/v1/customers", headers=merchant.headers)).json()["data"]
    assert [c["subscription"] for c in listed if c["customer_id"] == customer_id] == [None]


async def test_customers_made_either_way_cross_the_eras(client, merchant, db):
    # Seed era -> current era.
    old = (
        await client.post(
            "/v1/test_helpers/connections",
            json={"balance": "5", "reference_id": "old-1", "email": "o@example.com"},
            headers=merchant.headers,
        )
    ).json()
    seen = (
        await client.get(f"/v1/customers/{old['connection_id']}", headers=merchant.headers)
    ).json()
    assert seen["reference_id"] == "old-1"
    assert seen["contact"]["email"] == "o@example.com"
    assert seen["connection_secret"] == old["connection_secret"]
    changed = await client.patch(
        f"/v1/customers/{old['connection_id']}",
        json={"metadata": {"tier": "gold"}},
        headers=merchant.headers,
    )
    assert changed.json()["metadata"] == {"tier": "gold"}
    assert (
        await client.delete(f"/v1/customers/{old['connection_id']}", headers=merchant.headers)
    ).json() == {"success": True}
    assert (
        await client.get(f"/v1/connections/{old['connection_id']}", headers=merchant.headers)
    ).status_code == 404
    assert await outbox_types(db, old["connection_id"]) == ["customer.created", "customer.deleted"]

    # Current era -> seed era: a zero wallet of its own, its secret works on the old routes.
    new = (
        await client.post(
            "/v1/customers",
            json={"reference_id": "new-1", "phone": "+15550001111"},
            headers=merchant.headers,
        )
    ).json()
    connection = (
        await client.get(f"/v1/connections/{new['customer_id']}", headers=merchant.headers)
    ).json()
    assert connection["connection_secret"] == new["connection_secret"]
    assert connection["reference_id"] == "new-1"
    assert connection["wallet"]["balance"] == "0.0000000000"
    assert connection["wallet"]["phone"] == ""  # a merchant's word does not reach the wallet
    listed = (
        await client.get("/v1/connections?reference_id=new-1", headers=merchant.headers)
    ).json()
    assert [c["connection_id"] for c in listed["data"]] == [new["customer_id"]]
    funded = await client.post(
        f"/v1/test_helpers/connections/{new['customer_id']}/fund",
        json={"amount": "3"},
        headers=merchant.headers,
    )
    assert funded.json()["wallet"]["balance"] == "3.0000000000"
    gone = await client.delete(f"/v1/connections/{new['customer_id']}", headers=merchant.headers)
    assert gone.status_code == 200
    assert_error(
        await client.get("/v1/customers/new-1", headers=merchant.headers), 404, "not_found"
    )
    assert await outbox_types(db, new["customer_id"]) == ["customer.created", "customer.deleted"]


async def test_concurrent_creates_with_one_reference_make_one_customer(client, merchant, db):
    import asyncio

    answers = await asyncio.gather(
        *(
            client.post("/v1/customers", json={"reference_id": "race"}, headers=merchant.headers)
            for _ in range(8)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["customer_id"] for a in answers}) == 1
    listed = (
        await client.get("/v1/connections?reference_id=race", headers=merchant.headers)
    ).json()
    assert len(listed["data"]) == 1
