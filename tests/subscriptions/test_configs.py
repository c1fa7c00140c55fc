"""`subscription-configs` and `active-subscriptions` (`docs/checkout-and-wallets.md`)."""

from __future__ import annotations

from datetime import datetime

import pytest

from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import billing_of, create_config, succeeded_charges
from tests.subscriptions.helpers import subscribe


async def test_create_list_update_delete(client, merchant, live_merchant):
    created = await create_config(client, merchant.headers, amount="19.99", rollover="full")
    assert created["subscription_config_id"].startswith("sc_test_")
    assert created == {
        "subscription_config_id": created["subscription_config_id"],
        "merchant_id": merchant.merchant_id,
        "name": "Pro",
        "period_amount": "19.9900000000",
        "rollover_type": "full",
        "created_at": created["created_at"],
    }
    other = await create_config(client, merchant.headers, name="Basic")
    listed = await client.get("/v1/subscription-configs", headers=merchant.headers)
    assert listed.status_code == 200
    assert listed.json() == [other, created]  # a bare array, newest first
    assert (
        await client.get("/v1/subscription-configs", headers=live_merchant.headers)
    ).json() == []

    updated = await client.put(
        f"/v1/subscription-configs/{created['subscription_config_id']}",
        json={"period_amount": "25"},
        headers=merchant.headers,
    )
    assert updated.status_code == 200
    assert updated.json() == {**created, "period_amount": "25.0000000000"}
    renamed = await client.put(
        f"/v1/subscription-configs/{created['subscription_config_id']}",
        json={"name": "Pro+", "rollover_type": "none"},
        headers=merchant.headers,
    )
    assert renamed.json() == {
        **created,
        "name": "Pro+",
        "period_amount": "25.0000000000",
        "rollover_type": "none",
    }

    deleted = await client.delete(
        f"/v1/subscription-configs/{other['subscription_config_id']}", headers=merchant.headers
    )
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    remaining = (await client.get("/v1/subscription-configs", headers=merchant.headers)).json()
    assert [c["subscription_config_id"] for c in remaining] == [created["subscription_config_id"]]
    assert_error(
        await client.delete(
            f"/v1/subscription-configs/{other['subscription_config_id']}", headers=merchant.headers
        ),
        404,
        "not_found",
    )
    assert_error(
        await client.put(
            f"/v1/subscription-configs/{created['subscription_config_id']}",
            json={"name": "x"},
            headers=live_merchant.headers,
        ),
        404,
        "not_found",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"period_amount": "0"}, "period_amount"),
        ({"period_amount": "-5"}, "period_amount"),
        ({"period_amount": "10000.01"}, "period_amount"),
        ({"period_amount": "9.999"}, "period_amount"),
        ({"period_amount": 10}, "period_amount"),
        ({"period_amount": 9.5}, "period_amount"),
        ({"period_amount": "1e2"}, "period_amount"),
        ({"rollover_type": "partial"}, "rollover_type"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"color": "red"}, "color"),
    ],
)
async def test_bad_configs_name_the_field(client, merchant, body, param):
    full = {"name": "Pro", "period_amount": "10", "rollover_type": "none", **body}
    assert_error(
        await client.post("/v1/subscription-configs", json=full, headers=merchant.headers),
        400,
        "invalid_request",
        param,
    )
    config = await create_config(client, merchant.headers)
    assert_error(
        await client.put(
            f"/v1/subscription-configs/{config['subscription_config_id']}",
            json=body,
            headers=merchant.headers,
        ),
        400,
        "invalid_request",
        param,
    )


async def test_missing_fields(client, merchant):
    response = await client.post(
        "/v1/subscription-configs", json={"name": "Pro"}, headers=merchant.headers
    )
    assert_error(response, 400, "invalid_request", "period_amount")


async def test_config_in_use_cannot_be_deleted(client, merchant, clock):
    config = await create_config(client, merchant.headers)
    subscription = await subscribe(client, merchant.headers, config=config)
    path = f"/v1/subscription-configs/{config['subscription_config_id']}"
    assert_error(
        await client.delete(path, headers=merchant.headers),
        409,
        "conflict",
        "subscription_config_id",
    )
    cancel = await client.delete(
        f"/v1/active-subscriptions/{subscription['active_subscription_id']}",
        headers=merchant.headers,
    )
    assert cancel.json() == {"success": True}
    # A cancellation takes effect at the end of the cycle
    # (docs/checkout-and-wallets.md#subscriptions-and-period-credit): until then the plan is
    # still in use.
    assert (await client.delete(path, headers=merchant.headers)).status_code == 409
    clock.advance(days=32)
    await run_once(billing_of(client), clock.now)
    assert (await client.delete(path, headers=merchant.headers)).status_code == 200
    # The cancelled subscription still shows its plan.
    listed = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()
    assert listed[0]["subscription_config"] == config


async def test_active_subscription_shape_and_cancel(client, merchant, live_merchant, clock):
    subscription = await subscribe(client, merchant.headers, amount="20")
    assert set(subscription) >= {
        "active_subscription_id",
        "wallet_id",
        "subscription_config_id",
        "started_at",
        "billing_anchor",
        "status",
        "created_at",
        "subscription_config",
        "wallet",
    }
    assert subscription["active_subscription_id"].startswith("as_test_")
    assert subscription["status"] == "active" and "cancelled_at" not in subscription
    assert subscription["billing_anchor"] == clock.now.day
    assert subscription["wallet"] == {
        "wallet_id": subscription["wallet_id"],
        "phone": "+14155550100",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "active_balance": "20.0000000000",
        "created_at": subscription["wallet"]["created_at"],
    }
    assert (
        await client.get("/v1/active-subscriptions", headers=live_merchant.headers)
    ).json() == []
    path = f"/v1/active-subscriptions/{subscription['active_subscription_id']}"
    assert_error(await client.delete(path, headers=live_merchant.headers), 404, "not_found")
    clock.advance(days=3)
    for _ in range(2):  # cancelling twice is fine
        response = await client.delete(path, headers=merchant.headers)
        assert response.status_code == 200 and response.json() == {"success": True}
    # Cancelled at the end of the cycle, active until then
    # (docs/checkout-and-wallets.md#subscriptions-and-period-credit).
    pending = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert pending["status"] == "active" and "cancelled_at" not in pending
    assert pending["wallet"]["active_balance"] == "20.0000000000"  # until the period's end
    clock.now = datetime.fromisoformat(pending["current_period_end"].replace("Z", "+00:00"))
    await run_once(billing_of(client), clock.now)
    cancelled = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] == pending["current_period_end"]
    assert cancelled["wallet"]["active_balance"] == "0.0000000000"  # its credit ended with it
    assert_error(
        await client.delete("/v1/active-subscriptions/as_test_nope", headers=merchant.headers),
        404,
        "not_found",
    )
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1
