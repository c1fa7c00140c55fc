"""Plans, credit bundles and subscriptions of the current API (`docs/current-api.md#plans`)
over real HTTP on both databases: shapes, validation, the Free plan, end-of-cycle cancellation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import billing_of

PRO = {
    "name": "Pro",
    "period_amount": "25",
    "billing_interval": "month",
    "included_credit": "20",
    "credit_bundles": [
        {"name": "Small", "cost": "5", "credit_amount": "5"},
        {"name": "Large", "cost": "20", "credit_amount": "22.50"},
    ],
    "default_auto_top_up_bundle_index": 1,
}


async def make_plan(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> Any:
    response = await client.post("/v1/plans", json={**PRO, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_customer(client: httpx.AsyncClient, headers: dict[str, str], ref: str) -> Any:
    response = await client.post(
        "/v1/customers", json={"reference_id": ref, "name": "Ada Lovelace"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def free_plan(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    plans = (await client.get("/v1/plans", params={"limit": 100}, headers=headers)).json()
    [free] = [p for p in plans["data"] if p["period_amount"] == "0.0000000000"]
    return free


async def test_plan_crud_with_bundles_and_meters(client, merchant):
    h = merchant.headers
    meter = (
        await client.post(
            "/v1/meters",
            json={
                "name": "Chat",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "1"}],
            },
            headers=h,
        )
    ).json()
    plan = await make_plan(client, h, meter_ids=[meter["meter_id"]])
    assert plan["plan_id"].startswith("sc_test_")
    small, large = plan["credit_bundles"]
    assert set(plan) == {
        "plan_id",
        "merchant_id",
        "name",
        "period_amount",
        "included_credit",
        "billing_interval",
        "rollover_type",
        "bundle_rollover_type",
        "default_auto_top_up_bundle_id",
        "linked_meters",
        "credit_bundles",
        "created_at",
    }
    assert (plan["period_amount"], plan["included_credit"]) == ("25.0000000000", "20.0000000000")
    assert (plan["rollover_type"], plan["bundle_rollover_type"]) == ("none", "full")
    assert plan["linked_meters"] == [{"meter_id": meter["meter_id"], "name": "Chat"}]
    assert large == {
        "credit_bundle_id": large["credit_bundle_id"],
        "name": "Large",
        "cost": "20.0000000000",
        "credit_amount": "22.5000000000",
    }
    assert plan["default_auto_top_up_bundle_id"] == large["credit_bundle_id"]
    assert (await client.get(f"/v1/plans/{plan['plan_id']}", headers=h)).json() == plan

    bundles = (
        await client.get("/v1/credit_bundles", params={"plan_id": plan["plan_id"]}, headers=h)
    ).json()
    assert [b["credit_bundle_id"] for b in bundles["data"]] == sorted(
        [small["credit_bundle_id"], large["credit_bundle_id"]], reverse=True
    )
    one = (await client.get(f"/v1/credit_bundles/{small['credit_bundle_id']}", headers=h)).json()
    assert one["plan_id"] == plan["plan_id"] and one["name"] == "Small"

    # PATCH: bundles reconcile, meter_ids replace the links.
    changed = await client.patch(
        f"/v1/plans/{plan['plan_id']}",
        json={
            "name": "Pro 2",
            "rollover_type": "full",
            "included_credit": "25",
            "meter_ids": [],
            "credit_bundles": [
                {
                    **{k: small[k] for k in ("credit_bundle_id", "name")},
                    "cost": "6",
                    "credit_amount": "6",
                },
                {
                    "credit_bundle_id": large["credit_bundle_id"],
                    "name": "L",
                    "cost": "1",
                    "credit_amount": "1",
                    "is_deleted": True,
                },
                {"name": "New", "cost": "50", "credit_amount": "60"},
            ],
        },
        headers=h,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "Pro 2" and body["rollover_type"] == "full"
    assert body["included_credit"] == "25.0000000000" and body["linked_meters"] == []
    assert [(b["name"], b["cost"]) for b in body["credit_bundles"]] == [
        ("Small", "6.0000000000"),
        ("New", "50.0000000000"),
    ]
    assert body["default_auto_top_up_bundle_id"] is None  # its bundle was deleted
    assert_error(
        await client.get(f"/v1/credit_bundles/{large['credit_bundle_id']}", headers=h),
        404,
        "not_found",
        "credit_bundle_id",
    )
    for field, value in (("period_amount", "30"), ("billing_interval", "year")):
        assert_error(
            await client.patch(f"/v1/plans/{plan['plan_id']}", json={field: value}, headers=h),
            400,
            "invalid_request",
            field,
        )
    assert_error(
        await client.patch(
            f"/v1/plans/{plan['plan_id']}", json={"included_credit": "25.01"}, headers=h
        ),
        400,
        "invalid_request",
        "included_credit",
    )
    # DELETE soft-deletes the plan and its bundles.
    deleted = await client.delete(f"/v1/plans/{plan['plan_id']}", headers=h)
    assert deleted.json() == {"id": plan["plan_id"], "deleted": True}
    assert_error(
        await client.get(f"/v1/plans/{plan['plan_id']}", headers=h), 404, "not_found", "plan_id"
    )
    assert (await client.get("/v1/credit_bundles", headers=h)).json()["data"] == []


async def test_plan_validation(client, merchant):
    h = merchant.headers
    cases: list[tuple[dict[str, Any], str]] = [
        ({"included_credit": "26"}, "included_credit"),
        ({"period_amount": "10000.01", "included_credit": "1"}, "period_amount"),
        ({"period_amount": "-1"}, "period_amount"),
        ({"billing_interval": "fortnight"}, "billing_interval"),
        ({"default_auto_top_up_bundle_index": 2}, "default_auto_top_up_bundle_index"),
        ({"rollover_type": "some"}, "rollover_type"),
        ({"meter_ids": ["prd_test_nope"]}, "meter_ids"),
        ({"credit_bundles": [{"name": "x", "cost": "0", "credit_amount": "1"}]}, "credit_bundles"),
    ]
    for fields, param in cases:
        response = await client.post("/v1/plans", json={**PRO, **fields}, headers=h)
        assert response.status_code == 400, (fields, response.text)
        assert response.json()["error"]["param"].startswith(param), (fields, response.text)
    plans = (await client.get("/v1/plans", headers=h)).json()["data"]
    assert [p["name"] for p in plans] == ["Free"]  # nothing made but the Free plan
    assert await make_plan(client, h, period_amount="10000", included_credit="10000")


async def test_each_merchant_has_a_free_plan_and_free_subscriptions(client, merchant, clock):
    h = merchant.headers
    free = await free_plan(client, h)
    assert (free["name"], free["included_credit"], free["billing_interval"]) == (
        "Free",
        "0.0000000000",
        "month",
    )
    assert_error(
        await client.delete(f"/v1/plans/{free['plan_id']}", headers=h),
        400,
        "invalid_request",
        "plan_id",
    )
    customer = await make_customer(client, h, "user-1")
    paid = await make_plan(client, h)
    assert_error(
        await client.post(
            "/v1/subscriptions",
            json={"customer_id": customer["customer_id"], "plan_id": paid["plan_id"]},
            headers=h,
        ),
        400,
        "invalid_request",
        "plan_id",
    )
    made = await client.post(
        "/v1/subscriptions", json={"customer_id": "user-1", "plan_id": free["plan_id"]}, headers=h
    )
    assert made.status_code == 201, made.text
    sub = made.json()["subscription"]
    assert sub["plan_id"] == free["plan_id"] and sub["status"] == "active"
    assert sub["credits"] == {
        "total_remaining": "0.0000000000",
        "cycle_remaining": "0.0000000000",
        "bundle_remaining": "0.0000000000",
    }
    assert sub["pending_change"] is None and sub["cancelled_at"] is None
    # A second free plan replaces the first subscription.
    other_free = await make_plan(
        client,
        h,
        name="Hobby",
        period_amount="0",
        included_credit="0",
        credit_bundles=[],
        default_auto_top_up_bundle_index=None,
    )
    again = (
        await client.post(
            "/v1/subscriptions",
            json={"customer_id": customer["customer_id"], "plan_id": other_free["plan_id"]},
            headers=h,
        )
    ).json()["subscription"]
    listed = (
        await client.get(
            "/v1/subscriptions", params={"status": "all", "customer_id": "user-1"}, headers=h
        )
    ).json()["data"]
    assert [(s["subscription_id"], s["status"]) for s in listed] == [
        (again["subscription_id"], "active"),
        (sub["subscription_id"], "cancelled"),
    ]
    assert listed[0]["customer_id"] == customer["customer_id"]
    assert listed[0]["customer"] == {"phone": "", "first_name": "Ada", "last_name": "Lovelace"}
    active = (await client.get("/v1/subscriptions", headers=h)).json()["data"]
    assert [s["subscription_id"] for s in active] == [again["subscription_id"]]
    cancelled = (
        await client.get("/v1/subscriptions", params={"status": "cancelled"}, headers=h)
    ).json()["data"]
    assert [s["subscription_id"] for s in cancelled] == [sub["subscription_id"]]
    assert_error(
        await client.get("/v1/subscriptions", params={"status": "gone"}, headers=h),
        400,
        "invalid_request",
        "status",
    )
    # The customer shows it.
    seen = (await client.get(f"/v1/customers/{customer['customer_id']}", headers=h)).json()
    assert seen["subscription"] == {
        "subscription_id": again["subscription_id"],
        "plan_id": other_free["plan_id"],
        "name": "Hobby",
        "status": "active",
    }

    # PATCH: the bundle must be the plan's.
    bundle = paid["credit_bundles"][0]["credit_bundle_id"]
    path = f"/v1/subscriptions/{again['subscription_id']}"
    assert_error(
        await client.patch(path, json={"auto_top_up_bundle_id": bundle}, headers=h),
        400,
        "invalid_request",
        "auto_top_up_bundle_id",
    )
    assert (await client.patch(path, json={"auto_top_up_bundle_id": None}, headers=h)).json() == {
        "success": True
    }

    # Cancel: at the end of the cycle.
    assert (await client.delete(path, headers=h)).json() == {"success": True}
    answer = (
        await client.get(f"/v1/customers/{customer['customer_id']}/subscription", headers=h)
    ).json()["subscription"]
    assert answer["status"] == "active"
    assert answer["pending_change"] == {
        "type": "cancellation",
        "effective_at": answer["cycle_end_at"],
    }
    clock.now = datetime.fromisoformat(answer["cycle_end_at"].replace("Z", "+00:00"))
    await run_once(billing_of(client), clock.now)
    done = (
        await client.get("/v1/subscriptions", params={"status": "cancelled"}, headers=h)
    ).json()["data"][0]
    assert done["subscription_id"] == again["subscription_id"]
    assert done["cancelled_at"] == answer["cycle_end_at"] and done["pending_change"] is None
    assert (
        await client.get(f"/v1/customers/{customer['customer_id']}/subscription", headers=h)
    ).json() == {"subscription": None}
    assert_error(
        await client.delete("/v1/subscriptions/as_test_nope", headers=h),
        404,
        "not_found",
        "subscription_id",
    )


async def test_free_subscriptions_renew_without_a_charge(client, merchant, db, clock):
    h = merchant.headers
    free = await free_plan(client, h)
    await make_customer(client, h, "user-2")
    sub = (
        await client.post(
            "/v1/subscriptions",
            json={"customer_id": "user-2", "plan_id": free["plan_id"]},
            headers=h,
        )
    ).json()["subscription"]
    end = datetime.fromisoformat(sub["cycle_end_at"].replace("Z", "+00:00"))
    clock.now = end
    await run_once(billing_of(client), clock.now)
    renewed = (await client.get("/v1/customers/user-2/subscription", headers=h)).json()
    assert renewed["subscription"]["cycle_start_at"] == sub["cycle_end_at"]
    assert renewed["subscription"]["status"] == "active"
    assert (await ledger_check(db)).problems == []
