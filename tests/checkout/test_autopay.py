"""Autopay (`docs/checkout-and-wallets.md#autopay`): threshold and amount, one top-up in flight,
cooldown, a cap per period, off after a decline, never a double charge."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select, update

from lava_server.db.models import Connection, Payment, PaymentMethod, WebhookOutbox
from lava_server.wallets import autopay
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.service import check as ledger_check
from lava_server.wallets.service import fund
from lava_server.worker.runner import run_once
from tests.checkout.helpers import (
    GOOD_CARD,
    Page,
    billing_of,
    connection,
    create_session,
    secret_of,
    succeeded_charges,
)
from tests.subscriptions.helpers import spend, wallet_row

T0 = datetime(2027, 6, 1, 12, tzinfo=timezone.utc)


async def onboard_with_autopay(client, merchant, clock, threshold="5", amount="15") -> str:
    """An onboarding checkout of 10 with autopay on; returns the wallet's id."""
    clock.now = T0
    session = await create_session(client, merchant.headers)
    await Page(client, secret_of(session)).onboard(
        amount="10",
        card={
            **GOOD_CARD,
            "autopay": "on",
            "autopay_threshold": threshold,
            "autopay_amount": amount,
        },
    )
    connection_id = (
        await client.get(
            f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=merchant.headers
        )
    ).json()["connection_id"]
    assert (await connection(client, merchant.headers, connection_id))["wallet"][
        "autopay_enabled"
    ] is True
    async with billing_of(client).db.read() as db_session:
        found = await db_session.get(Connection, connection_id)
        assert found is not None
        return found.wallet_id


async def autopay_payments(db) -> list[Payment]:
    async with db.read() as session:
        return list(
            (
                await session.execute(
                    select(Payment).where(Payment.purpose == "autopay").order_by(Payment.created_at)
                )
            ).scalars()
        )


async def test_a_debit_below_the_threshold_tops_up_once(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)
    await spend(db, billing.settings, wallet_id, Decimal(4), T0 + timedelta(minutes=1))
    assert await autopay_payments(db) == []  # 6 left: above the threshold
    await spend(db, billing.settings, wallet_id, Decimal(2), T0 + timedelta(minutes=2))
    [queued] = await autopay_payments(db)
    assert (queued.status, queued.amount) == ("pending", Decimal(15))
    # More debits while it is in flight queue nothing more.
    await spend(db, billing.settings, wallet_id, Decimal(1), T0 + timedelta(minutes=3))
    assert len(await autopay_payments(db)) == 1
    report = await run_once(billing, T0 + timedelta(minutes=3))
    assert report.payments_processed == 1 and report.autopay_queued == 0
    assert (await wallet_row(db, wallet_id)).balance == Decimal(18)
    assert [p.status for p in await autopay_payments(db)] == ["succeeded"]
    assert (await ledger_check(db)).problems == []


async def test_the_worker_queues_what_no_debit_did(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock, threshold="20")
    billing = billing_of(client)
    # Autopay was turned on with the balance (10) already below the threshold (20).
    report = await run_once(billing, T0 + timedelta(seconds=1))
    assert (report.autopay_queued, report.payments_processed) == (1, 1)
    assert (await wallet_row(db, wallet_id)).balance == Decimal(25)
    # Still below 20? No: 25. Nothing more.
    assert (await run_once(billing, T0 + timedelta(hours=1))).autopay_queued == 0


async def test_cooldown_and_cap_per_period(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock, threshold="100", amount="1")
    billing = billing_of(client)
    billing.settings = billing.settings.model_copy(
        update={"autopay_cooldown_seconds": 600, "autopay_max_per_period": 3}
    )
    now = T0
    topped_up = []
    for minutes in (0, 5, 10, 15, 20, 25, 30, 40, 50):
        now = T0 + timedelta(minutes=minutes)
        await run_once(billing, now)
        topped_up.append(len(await autopay_payments(db)))
    # One now, then one per 10-minute cooldown, and no more than 3 in June.
    assert topped_up == [1, 1, 2, 2, 3, 3, 3, 3, 3]
    await run_once(billing, datetime(2027, 7, 1, 0, 0, 1, tzinfo=timezone.utc))
    assert len(await autopay_payments(db)) == 4  # a new month, a new allowance
    assert (await wallet_row(db, wallet_id)).balance == Decimal(14)
    assert (await ledger_check(db)).problems == []


async def test_a_decline_turns_autopay_off(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)
    async with db.write() as session:
        await session.execute(
            update(PaymentMethod).values(provider_method_id="pm_sandbox_funds_9995")
        )
    await spend(db, billing.settings, wallet_id, Decimal(8), T0 + timedelta(minutes=1))
    await run_once(billing, T0 + timedelta(minutes=1))
    [failed] = await autopay_payments(db)
    assert (failed.status, failed.failure_code) == ("failed", "insufficient_funds")
    wallet = await wallet_row(db, wallet_id)
    assert wallet.autopay_enabled is False and wallet.balance == Decimal(2)
    await spend(db, billing.settings, wallet_id, Decimal(1), T0 + timedelta(hours=2))
    await run_once(billing, T0 + timedelta(hours=2))
    assert len(await autopay_payments(db)) == 1  # off until the customer turns it on again
    # A top-up checkout with autopay turns it back on, with the new card.
    async with db.read() as session:
        connection_id = (await session.execute(select(Connection.id))).scalar_one()
    topup = await create_session(client, merchant.headers, "topup", connection_id=connection_id)
    page = Page(client, secret_of(topup))
    await page.post("send_code")
    await page.verify()
    await page.post("amount", amount="5")
    await page.post("pay", **GOOD_CARD, autopay="on", autopay_threshold="5", autopay_amount="15")
    assert (await wallet_row(db, wallet_id)).autopay_enabled is True
    await spend(db, billing.settings, wallet_id, Decimal(2), T0 + timedelta(hours=3))
    await run_once(billing, T0 + timedelta(hours=3))
    assert [p.status for p in await autopay_payments(db)] == ["failed", "succeeded"]


async def autopay_events(db, wallet_id: str) -> list[dict]:
    async with db.read() as session:
        rows = await session.execute(
            select(WebhookOutbox.type, WebhookOutbox.data)
            .where(WebhookOutbox.object_id == wallet_id, WebhookOutbox.type.like("autopay.%"))
            .order_by(WebhookOutbox.id)
        )
        return [{"type": row.type, **(row.data or {})} for row in rows]


async def set_card(db, provider_method_id: str) -> None:
    async with db.write() as session:
        await session.execute(update(PaymentMethod).values(provider_method_id=provider_method_id))


async def test_a_declined_top_up_is_retried_after_1_3_and_5_days_then_autopay_stays_off(
    client, merchant, db, clock
):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)
    await set_card(db, "pm_sandbox_funds_9995")
    declined_at = T0 + timedelta(minutes=1)
    await spend(db, billing.settings, wallet_id, Decimal(8), declined_at)
    await run_once(billing, declined_at)
    for days in (0.5, 1, 2, 3, 4, 5, 6, 10):
        await run_once(billing, declined_at + timedelta(days=days))
    payments = await autopay_payments(db)
    assert [p.status for p in payments] == ["failed"] * 4
    assert [p.created_at - declined_at for p in payments] == [
        timedelta(0),
        timedelta(days=1),
        timedelta(days=3),
        timedelta(days=5),
    ]
    assert len({p.idempotency_key for p in payments}) == 4
    events = await autopay_events(db, wallet_id)
    assert [e["type"] for e in events] == ["autopay.failed"] * 4
    assert [(e["retries"], e["next_retry_at"]) for e in events] == [
        (0, "2027-06-02T12:01:00.000Z"),
        (1, "2027-06-04T12:01:00.000Z"),
        (2, "2027-06-06T12:01:00.000Z"),
        (3, None),
    ]
    assert events[0]["payment"]["failure_code"] == "insufficient_funds"
    wallet = await wallet_row(db, wallet_id)
    assert wallet.autopay_enabled is False and wallet.autopay_retry_at is None
    assert wallet.balance == Decimal(2)
    assert (await ledger_check(db)).problems == []


async def test_a_retry_that_succeeds_turns_autopay_back_on(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)
    await set_card(db, "pm_sandbox_funds_9995")
    declined_at = T0 + timedelta(minutes=1)
    await spend(db, billing.settings, wallet_id, Decimal(8), declined_at)
    await run_once(billing, declined_at)
    await set_card(db, "pm_sandbox_ok_4242")  # the bank lets it through now
    await run_once(billing, declined_at + timedelta(days=1))
    assert [p.status for p in await autopay_payments(db)] == ["failed", "succeeded"]
    wallet = await wallet_row(db, wallet_id)
    assert wallet.autopay_enabled is True and wallet.balance == Decimal(17)
    assert (wallet.autopay_failed_at, wallet.autopay_retries, wallet.autopay_retry_at) == (
        None,
        0,
        None,
    )
    types = [e["type"] for e in await autopay_events(db, wallet_id)]
    assert types == ["autopay.failed", "autopay.succeeded"]
    assert (await ledger_check(db)).problems == []


async def test_a_retry_no_longer_needed_resumes_autopay_without_a_charge(
    client, merchant, db, clock
):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)
    await set_card(db, "pm_sandbox_funds_9995")
    declined_at = T0 + timedelta(minutes=1)
    await spend(db, billing.settings, wallet_id, Decimal(8), declined_at)
    await run_once(billing, declined_at)
    await fund(db, wallet_id, Decimal(10), livemode=False, source="test")  # topped up meanwhile
    await run_once(billing, declined_at + timedelta(days=1))
    assert [p.status for p in await autopay_payments(db)] == ["failed"]
    wallet = await wallet_row(db, wallet_id)
    assert wallet.autopay_enabled is True and wallet.autopay_retry_at is None
    assert (await ledger_check(db)).problems == []


async def test_autopay_never_charges_twice(client, merchant, db, clock):
    wallet_id = await onboard_with_autopay(client, merchant, clock)
    billing = billing_of(client)

    async def queue() -> None:
        async with db.write() as session:
            await lock_wallet(session, wallet_id)
            await autopay.queue_if_due(session, billing.settings, wallet_id, T0)

    await spend(db, billing.settings, wallet_id, Decimal(6), T0)
    await asyncio.gather(*(queue() for _ in range(5)))  # queued from many places at once
    assert len(await autopay_payments(db)) == 1
    # The provider's answer is lost once: the retry reuses the key.
    real_charge = billing.sandbox.charge
    calls = []

    async def lost_once(**kwargs):
        calls.append(kwargs["idempotency_key"])
        result = await real_charge(**kwargs)
        if len(calls) == 1:
            raise ConnectionError("lost")
        return result

    billing.sandbox.charge = lost_once  # type: ignore[method-assign]
    await asyncio.gather(*(run_once(billing, T0) for _ in range(3)))
    await asyncio.gather(*(run_once(billing, T0 + timedelta(minutes=1)) for _ in range(3)))
    assert len(set(calls)) == 1
    assert [p.status for p in await autopay_payments(db)] == ["succeeded"]
    autopay_charges = [
        c for c in succeeded_charges(billing.sandbox) if c.idempotency_key.startswith("autopay")
    ]
    assert len(autopay_charges) == 1
    assert (await wallet_row(db, wallet_id)).balance == Decimal(19)
    assert (await ledger_check(db)).problems == []
