"""One database, both eras (`docs/current-api.md#plans`): plans made through
`/v1/subscription-configs` are read and changed through `/v1/plans` and the other way round;
subscriptions made or cancelled through either set of routes are the same objects; balances
agree and the ledger stays clean."""

from __future__ import annotations

from datetime import datetime

from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import billing_of, create_config
from tests.subscriptions.helpers import subscribe


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_plans_cross_the_eras(client, merchant):
    h = merchant.headers
    old = await create_config(client, h, amount="20", rollover="full", name="Old")
    plan_id = old["subscription_config_id"]
    seen = (await client.get(f"/v1/plans/{plan_id}", headers=h)).json()
    assert seen["period_amount"] == old["period_amount"] == "20.0000000000"
    assert seen["included_credit"] == "20.0000000000"
    assert (seen["billing_interval"], seen["rollover_type"], seen["bundle_rollover_type"]) == (
        "month",
        "full",
        "full",
    )
    changed = await client.patch(
        f"/v1/plans/{plan_id}",
        json={"name": "Renamed", "included_credit": "15", "rollover_type": "none"},
        headers=h,
    )
    assert changed.status_code == 200, changed.text
    configs = (await client.get("/v1/subscription-configs", headers=h)).json()
    [config] = [c for c in configs if c["subscription_config_id"] == plan_id]
    assert (config["name"], config["rollover_type"]) == ("Renamed", "none")
    # The seed era's PUT may change period_amount; a plan never grants more than it charges.
    put = await client.put(
        f"/v1/subscription-configs/{plan_id}", json={"period_amount": "10"}, headers=h
    )
    assert put.status_code == 200, put.text
    seen = (await client.get(f"/v1/plans/{plan_id}", headers=h)).json()
    assert (seen["period_amount"], seen["included_credit"]) == ("10.0000000000", "10.0000000000")

    new = (
        await client.post(
            "/v1/plans",
            json={"name": "New", "period_amount": "7.5", "billing_interval": "month"},
            headers=h,
        )
    ).json()
    configs = (await client.get("/v1/subscription-configs", headers=h)).json()
    [config] = [c for c in configs if c["subscription_config_id"] == new["plan_id"]]
    assert config["period_amount"] == "7.5000000000" and config["rollover_type"] == "none"
    # The Free plan is seen by the seed era too, and stays free and undeletable there.
    free = next(
        p for p in (await client.get("/v1/plans", headers=h)).json()["data"] if p["name"] == "Free"
    )
    configs = (await client.get("/v1/subscription-configs", headers=h)).json()
    assert free["plan_id"] in [c["subscription_config_id"] for c in configs]
    free_path = f"/v1/subscription-configs/{free['plan_id']}"
    assert_error(
        await client.put(free_path, json={"period_amount": "5"}, headers=h),
        400,
        "invalid_request",
        "period_amount",
    )
    assert_error(
        await client.delete(free_path, headers=h), 400, "invalid_request", "subscription_config_id"
    )
    deleted = await client.delete(f"/v1/subscription-configs/{new['plan_id']}", headers=h)
    assert deleted.status_code == 200
    assert_error(
        await client.get(f"/v1/plans/{new['plan_id']}", headers=h), 404, "not_found", "plan_id"
    )


async def test_subscriptions_cross_the_eras(client, merchant, db, clock):
    h = merchant.headers
    billing = billing_of(client)
    # Seed-era checkout -> the current API's subscription, same id.
    old = await subscribe(client, h, amount="20", rollover="full")
    sid = old["active_subscription_id"]
    [sub] = (await client.get("/v1/subscriptions", headers=h)).json()["data"]
    assert sub["subscription_id"] == sid
    assert sub["customer_id"] == old["connection_id"]
    assert sub["plan_id"] == old["subscription_config_id"]
    assert sub["credits"]["total_remaining"] == old["wallet"]["active_balance"] == "20.0000000000"
    assert sub["customer"]["phone"] == old["wallet"]["phone"]

    # Cancelled through the current route: the seed-era view shows it running until the end.
    assert (await client.delete(f"/v1/subscriptions/{sid}", headers=h)).json() == {"success": True}
    [seed] = (await client.get("/v1/active-subscriptions", headers=h)).json()
    assert seed["status"] == "active" and "cancelled_at" not in seed
    clock.now = at(seed["current_period_end"])
    await run_once(billing, clock.now)
    [seed] = (await client.get("/v1/active-subscriptions", headers=h)).json()
    assert seed["status"] == "cancelled" and seed["cancelled_at"] == seed["current_period_end"]
    [sub] = (
        await client.get("/v1/subscriptions", params={"status": "cancelled"}, headers=h)
    ).json()["data"]
    assert sub["cancelled_at"] == seed["cancelled_at"]

    # A free subscription made through the current route is a seed-era active subscription,
    # and the seed-era cancel schedules it the same way.
    free = next(
        p for p in (await client.get("/v1/plans", headers=h)).json()["data"] if p["name"] == "Free"
    )
    made = await client.post(
        "/v1/subscriptions",
        json={"customer_id": old["connection_id"], "plan_id": free["plan_id"]},
        headers=h,
    )
    assert made.status_code == 201, made.text
    new_id = made.json()["subscription"]["subscription_id"]
    seed_list = (await client.get("/v1/active-subscriptions", headers=h)).json()
    [seed] = [s for s in seed_list if s["active_subscription_id"] == new_id]
    assert seed["status"] == "active" and seed["connection_id"] == old["connection_id"]
    assert seed["subscription_config"]["period_amount"] == "0.0000000000"
    cancel = await client.delete(f"/v1/active-subscriptions/{new_id}", headers=h)
    assert cancel.json() == {"success": True}
    pending = (
        await client.get(f"/v1/customers/{old['connection_id']}/subscription", headers=h)
    ).json()["subscription"]
    assert pending["subscription_id"] == new_id
    assert pending["pending_change"] == {
        "type": "cancellation",
        "effective_at": pending["cycle_end_at"],
    }
    assert (await ledger_check(db)).problems == []
