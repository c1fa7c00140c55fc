"""Checkout modes `subscription` and `credit_bundle` of the current API
(`docs/current-api.md#checkout`) through the hosted page: cycle and bundle credit, the order
they are spent in, upgrades at once, downgrades at the end of the cycle; the ledger stays
clean."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import DETAILS, GOOD_CARD, ORIGIN, Page, billing_of, secret_of
from tests.subscriptions.helpers import spend, wallet_row
from tests.webhooks.events import events_about

BASIC = {
    "name": "Basic",
    "period_amount": "10",
    "included_credit": "8",
    "billing_interval": "month",
    "bundle_rollover_type": "none",
    "credit_bundles": [{"name": "Top", "cost": "5", "credit_amount": "6"}],
}
PRO = {"name": "Pro", "period_amount": "30", "billing_interval": "month"}


async def checkout(client, h, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/checkout_sessions", json={"origin_url": ORIGIN, **body}, headers=h
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def subscription_of(client, h, customer_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/customers/{customer_id}/subscription", headers=h)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["subscription"])


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_subscribe_buy_bundles_upgrade_and_downgrade(client, merchant, db, clock):
    h = merchant.headers
    billing = billing_of(client)
    basic = (await client.post("/v1/plans", json=BASIC, headers=h)).json()
    pro = (await client.post("/v1/plans", json=PRO, headers=h)).json()
    bundle = basic["credit_bundles"][0]["credit_bundle_id"]

    # Without customer_id: the page makes the customer.
    session = await checkout(client, h, checkout_mode="subscription", plan_id=basic["plan_id"])
    assert session["plan_id"] == session["subscription_config_id"] == basic["plan_id"]
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    await page.verify()
    done = await page.post("pay", **GOOD_CARD)
    assert "You are subscribed" in done.text, done.text
    session = (
        await client.get(f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=h)
    ).json()
    customer_id = session["customer_id"]
    assert customer_id == session["connection_id"]
    sub = await subscription_of(client, h, customer_id)
    assert sub["plan_id"] == basic["plan_id"]
    assert sub["credits"] == {
        "total_remaining": "8.0000000000",
        "cycle_remaining": "8.0000000000",
        "bundle_remaining": "0.0000000000",
    }
    customer = (await client.get(f"/v1/customers/{customer_id}", headers=h)).json()
    subs = (await client.get("/v1/active-subscriptions", headers=h)).json()
    wallet_id = next(s["wallet_id"] for s in subs if s["connection_id"] == customer_id)
    assert customer["subscription"]["plan_id"] == basic["plan_id"]
    assert (await wallet_row(db, wallet_id)).balance == Decimal(8)  # $2 of $10 is the merchant's

    # A credit bundle: paid $5, granted 6 credits.
    assert_error(
        await client.post(
            "/v1/checkout_sessions",
            json={
                "origin_url": ORIGIN,
                "checkout_mode": "credit_bundle",
                "customer_id": customer_id,
            },
            headers=h,
        ),
        400,
        "invalid_request",
        "credit_bundle_id",
    )
    session = await checkout(
        client, h, checkout_mode="credit_bundle", customer_id=customer_id, credit_bundle_id=bundle
    )
    assert session["credit_bundle_id"] == bundle
    page = Page(client, secret_of(session))
    await page.post("send_code")
    await page.verify()
    done = await page.post("pay", **GOOD_CARD)
    assert "Payment complete" in done.text, done.text
    sub = await subscription_of(client, h, customer_id)
    assert sub["credits"] == {
        "total_remaining": "14.0000000000",
        "cycle_remaining": "8.0000000000",
        "bundle_remaining": "6.0000000000",
    }
    # Usage spends cycle credit first, then bundle credit.
    await spend(db, billing.settings, wallet_id, Decimal(10), clock.now)
    sub = await subscription_of(client, h, customer_id)
    assert (sub["credits"]["cycle_remaining"], sub["credits"]["bundle_remaining"]) == (
        "0.0000000000",
        "4.0000000000",
    )

    # Upgrade: applies at once, a new subscription on Pro.
    session = await checkout(
        client, h, checkout_mode="subscription", customer_id=customer_id, plan_id=pro["plan_id"]
    )
    page = Page(client, secret_of(session))
    await page.post("send_code")
    await page.verify()
    done = await page.post("pay", **GOOD_CARD)
    assert "You are subscribed" in done.text, done.text
    upgraded = await subscription_of(client, h, customer_id)
    assert upgraded["plan_id"] == pro["plan_id"]
    assert upgraded["subscription_id"] != sub["subscription_id"]
    assert upgraded["credits"]["cycle_remaining"] == "30.0000000000"
    old = (await client.get("/v1/subscriptions", params={"status": "cancelled"}, headers=h)).json()[
        "data"
    ]
    assert [s["subscription_id"] for s in old] == [sub["subscription_id"]]
    # A bundle of a plan the customer is not on is refused.
    assert_error(
        await client.post(
            "/v1/checkout_sessions",
            json={
                "origin_url": ORIGIN,
                "checkout_mode": "credit_bundle",
                "customer_id": customer_id,
                "credit_bundle_id": bundle,
            },
            headers=h,
        ),
        400,
        "invalid_request",
        "credit_bundle_id",
    )

    # Downgrade: scheduled for the cycle's end, nothing charged now.
    charges = len(billing.sandbox.charges)
    session = await checkout(
        client, h, checkout_mode="subscription", customer_id=customer_id, plan_id=basic["plan_id"]
    )
    page = Page(client, secret_of(session))
    await page.post("send_code")
    await page.verify()
    await page.post("pay", **GOOD_CARD)
    assert len(billing.sandbox.charges) == charges
    # The session completed, charging nothing: its merchant hears of it all the same.
    [completed] = await events_about(db, "checkout.completed", session["checkout_session_id"])
    assert completed["checkout_session_id"] == session["checkout_session_id"]
    assert completed["completed_at"] is not None and completed["checkout_mode"] == "subscription"
    pending = await subscription_of(client, h, customer_id)
    assert pending["plan_id"] == pro["plan_id"]
    assert pending["pending_change"] == {
        "type": "downgrade",
        "effective_at": pending["cycle_end_at"],
        "plan_id": basic["plan_id"],
        "name": "Basic",
        "period_amount": "10.0000000000",
        "included_credit": "8.0000000000",
    }
    clock.now = at(pending["cycle_end_at"])
    await run_once(billing, clock.now)
    await run_once(billing, clock.now)
    renewed = await subscription_of(client, h, customer_id)
    assert renewed["plan_id"] == basic["plan_id"] and renewed["pending_change"] is None
    assert renewed["subscription_id"] == upgraded["subscription_id"]
    assert renewed["cycle_start_at"] == pending["cycle_end_at"]
    assert renewed["credits"]["cycle_remaining"] == "8.0000000000"
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize(
    ("rollover", "bundle_rollover", "cycle_after", "bundle_after"),
    [
        ("none", "full", "8.0000000000", "6.0000000000"),
        ("none", "none", "8.0000000000", "0.0000000000"),
        ("full", "none", "13.0000000000", "0.0000000000"),
    ],
)
async def test_credit_at_the_end_of_a_cycle(
    client, merchant, db, clock, rollover, bundle_rollover, cycle_after, bundle_after
):
    """Cycle credit rolls over per `rollover_type`; bundle credit is kept at the cycle's end
    iff `bundle_rollover_type` is `full`."""
    h = merchant.headers
    billing = billing_of(client)
    plan = (
        await client.post(
            "/v1/plans",
            json={**BASIC, "rollover_type": rollover, "bundle_rollover_type": bundle_rollover},
            headers=h,
        )
    ).json()
    session = await checkout(client, h, checkout_mode="subscription", plan_id=plan["plan_id"])
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    await page.verify()
    await page.post("pay", **GOOD_CARD)
    session = (
        await client.get(f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=h)
    ).json()
    customer_id = session["customer_id"]
    bundle = plan["credit_bundles"][0]["credit_bundle_id"]
    session = await checkout(
        client, h, checkout_mode="credit_bundle", customer_id=customer_id, credit_bundle_id=bundle
    )
    page = Page(client, secret_of(session))
    await page.post("send_code")
    await page.verify()
    await page.post("pay", **GOOD_CARD)
    subs = (await client.get("/v1/active-subscriptions", headers=h)).json()
    wallet_id = next(s["wallet_id"] for s in subs if s["connection_id"] == customer_id)
    await spend(db, billing.settings, wallet_id, Decimal(3), clock.now)  # 8 -> 5 cycle credit
    before = await subscription_of(client, h, customer_id)
    assert before["credits"]["cycle_remaining"] == "5.0000000000"
    assert before["credits"]["bundle_remaining"] == "6.0000000000"
    clock.now = at(before["cycle_end_at"])
    # Credit due to expire is gone at once, before the worker has come by.
    due = await subscription_of(client, h, customer_id)
    kept_cycle = "5.0000000000" if rollover == "full" else "0.0000000000"
    kept_bundle = "6.0000000000" if bundle_rollover == "full" else "0.0000000000"
    assert due["credits"]["cycle_remaining"] == kept_cycle
    assert due["credits"]["bundle_remaining"] == kept_bundle
    await run_once(billing, clock.now)
    await run_once(billing, clock.now)
    after = await subscription_of(client, h, customer_id)
    assert after["cycle_start_at"] == before["cycle_end_at"]
    assert after["credits"]["cycle_remaining"] == cycle_after
    assert after["credits"]["bundle_remaining"] == bundle_after
    wallet = await wallet_row(db, wallet_id)
    assert wallet.balance == Decimal(after["credits"]["total_remaining"])
    assert (await ledger_check(db)).problems == []
