"""Period credit through `POST /v1/requests` (the metering hot path calls `wallets.credit`):
usage spends period credit first, never expired credit, and tier positions reset with the
subscription cycle."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from lava_server.wallets.service import fund
from tests.checkout.helpers import balance
from tests.metering.helpers import make_product, report
from tests.subscriptions.helpers import subscribe, wallet_row


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


async def test_reported_usage_spends_period_credit_first(client, merchant, db, clock):
    clock.now = utc(2027, 5, 10, 12)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    await fund(db, sub["wallet_id"], Decimal(10), livemode=False, source="test")
    product = await make_product(
        client, merchant.headers, tiers=[{"start": 0, "rate": "15", "type": "requests"}]
    )
    connection = {
        "connection_secret": (
            await client.get(f"/v1/connections/{sub['connection_id']}", headers=merchant.headers)
        ).json()["connection_secret"]
    }
    response = await report(client, merchant.headers, connection, product, "r-1")
    assert response.status_code == 201, response.text
    cost = Decimal(response.json()["total_wallet_cost"])
    wallet = await wallet_row(db, sub["wallet_id"])
    assert wallet.balance == Decimal(30) - cost
    assert wallet.period_credit == Decimal(20) - cost


async def test_reported_usage_cannot_spend_expired_credit(client, merchant, db, clock):
    clock.now = utc(2027, 5, 10, 12)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    await fund(db, sub["wallet_id"], Decimal(3), livemode=False, source="test")
    product = await make_product(
        client, merchant.headers, tiers=[{"start": 0, "rate": "4", "type": "requests"}]
    )
    connection = {
        "connection_secret": (
            await client.get(f"/v1/connections/{sub['connection_id']}", headers=merchant.headers)
        ).json()["connection_secret"]
    }
    clock.now = utc(2027, 6, 10, 12, 0, 1)  # the period ended; no worker has run
    response = await report(client, merchant.headers, connection, product, "r-1")
    assert response.status_code == 402, response.text
    assert await balance(client, merchant.headers, sub["connection_id"]) == Decimal(3)


async def test_tier_positions_reset_with_the_subscription_cycle(client, merchant, db, clock):
    clock.now = utc(2027, 5, 10, 12)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="full")
    await fund(db, sub["wallet_id"], Decimal(100), livemode=False, source="test")
    product = await make_product(
        client,
        merchant.headers,
        tiers=[
            {"start": 0, "rate": "1", "type": "requests"},
            {"start": 1, "rate": "0.5", "type": "requests"},
        ],
    )
    connection = {
        "connection_secret": (
            await client.get(f"/v1/connections/{sub['connection_id']}", headers=merchant.headers)
        ).json()["connection_secret"]
    }
    first = await report(client, merchant.headers, connection, product, "r-1")
    assert first.json()["fee"]["amount"] == "1.0000000000"
    clock.now = utc(2027, 6, 5, 12)  # a new calendar month, the same subscription period
    second = await report(client, merchant.headers, connection, product, "r-2")
    assert second.json()["fee"]["amount"] == "0.5000000000"
    clock.now = utc(2027, 6, 10, 12)  # a new subscription period
    third = await report(client, merchant.headers, connection, product, "r-3")
    assert third.json()["fee"]["amount"] == "1.0000000000"
