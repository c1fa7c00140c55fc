"""Renewals on the billing anchor, period credit and rollover, cancellation, declines: the clock
moves through months and the worker runs rounds at chosen times."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from lava_server.db.models import ActiveSubscription, Payment, PaymentMethod, WebhookOutbox
from lava_server.errors import InsufficientBalance
from lava_server.wallets.service import check as ledger_check
from lava_server.wallets.service import fund
from lava_server.worker.runner import Round, run_once
from tests.checkout.helpers import billing_of, connection, succeeded_charges
from tests.subscriptions.helpers import grants, spend, subscribe, wallet_row


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


async def renewal_payments(db) -> list[Payment]:
    async with db.read() as session:
        return list(
            (
                await session.execute(
                    select(Payment).where(Payment.purpose == "renewal").order_by(Payment.created_at)
                )
            ).scalars()
        )


@pytest.mark.parametrize("year", [2027, 2028])
@pytest.mark.parametrize("rollover", ["none", "full"])
async def test_renewals_across_month_ends(client, merchant, db, settings, clock, year, rollover):
    billing = billing_of(client)
    clock.now = utc(year, 1, 31, 10, 0)
    sub = await subscribe(client, merchant.headers, amount="20", rollover=rollover)
    wallet_id, connection_id = sub["wallet_id"], sub["connection_id"]
    assert sub["billing_anchor"] == 31
    assert sub["started_at"] == f"{year}-01-31T10:00:00.000Z"
    february_end = 29 if year == 2028 else 28
    assert sub["current_period_end"] == f"{year}-02-{february_end}T10:00:00.000Z"
    con = await connection(client, merchant.headers, connection_id)
    assert con["previous_usage_reset"] == f"{year}-01-31T10:00:00.000Z"
    assert con["next_usage_reset"] == f"{year}-02-{february_end}T10:00:00.000Z"

    await spend(db, settings, wallet_id, Decimal(5), utc(year, 2, 1))
    assert (await wallet_row(db, wallet_id)).period_credit == Decimal(15)

    # One second early: nothing.
    assert await run_once(billing, utc(year, 2, february_end, 9, 59, 59)) == Round(0, 0, 0, 0)
    clock.now = utc(year, 2, february_end, 10, 0)
    done = await run_once(billing, clock.now)
    assert done.renewals_queued == 1 and done.payments_processed == 1
    wallet = await wallet_row(db, wallet_id)
    if rollover == "none":
        assert wallet.balance == Decimal(20) and wallet.period_credit == Decimal(20)
    else:
        assert wallet.balance == Decimal(35) and wallet.period_credit == Decimal(35)
    con = await connection(client, merchant.headers, connection_id)
    assert con["previous_usage_reset"] == f"{year}-02-{february_end}T10:00:00.000Z"
    assert con["next_usage_reset"] == f"{year}-03-31T10:00:00.000Z"
    listed = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert listed["current_period_end"] == f"{year}-03-31T10:00:00.000Z"
    assert listed["billing_anchor"] == 31

    clock.now = utc(year, 3, 31, 10, 0)
    assert (await run_once(billing, clock.now)).payments_processed == 1
    clock.now = utc(year, 4, 30, 10, 0)
    assert (await run_once(billing, clock.now)).payments_processed == 1
    payments = await renewal_payments(db)
    assert [p.period_index for p in payments] == [1, 2, 3]
    assert [p.status for p in payments] == ["succeeded"] * 3
    assert len(succeeded_charges(billing.sandbox)) == 4  # the checkout and three renewals
    wallet = await wallet_row(db, wallet_id)
    assert wallet.balance == (Decimal(20) if rollover == "none" else Decimal(75))
    con = await connection(client, merchant.headers, connection_id)
    assert con["previous_usage_reset"] == f"{year}-04-30T10:00:00.000Z"
    assert con["next_usage_reset"] == f"{year}-05-31T10:00:00.000Z"
    assert (await ledger_check(db)).problems == []


async def test_usage_spends_period_credit_before_purchased(client, merchant, db, settings, clock):
    clock.now = utc(2027, 5, 10, 12)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    wallet_id = sub["wallet_id"]
    await fund(db, wallet_id, Decimal(10), livemode=False, source="test")
    await spend(db, settings, wallet_id, Decimal(15), utc(2027, 5, 20))
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (Decimal(15), Decimal(5))
    # The period ends: the 5 left of the period credit expires, the 10 purchased stay.
    await run_once(billing_of(client), utc(2027, 6, 10, 12))
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (Decimal(30), Decimal(20))
    expired = (await grants(db, wallet_id))[0]
    assert expired.remaining == 0 and expired.expired_at == utc(2027, 6, 10, 12)
    # Spending more than the period credit takes the rest from purchased credit.
    await spend(db, settings, wallet_id, Decimal(25), utc(2027, 6, 11))
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (Decimal(5), Decimal(0))
    assert (await ledger_check(db)).problems == []


async def test_expired_credit_cannot_be_spent_before_the_worker_comes(
    client, merchant, db, settings, clock
):
    clock.now = utc(2027, 5, 10, 12)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    wallet_id = sub["wallet_id"]
    await fund(db, wallet_id, Decimal(3), livemode=False, source="test")
    after_end = utc(2027, 6, 10, 12, 0, 1)
    with pytest.raises(InsufficientBalance):  # refused, and rolled back as a whole
        await spend(db, settings, wallet_id, Decimal(4), after_end)
    await spend(db, settings, wallet_id, Decimal(3), after_end)
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (Decimal(0), Decimal(0))
    assert (await ledger_check(db)).problems == []


async def test_a_late_worker_charges_only_the_current_period(client, merchant, db, clock):
    clock.now = utc(2027, 1, 31, 10)
    await subscribe(client, merchant.headers, amount="20", rollover="full")
    billing = billing_of(client)
    await run_once(billing, utc(2027, 5, 15))  # down since February
    payments = await renewal_payments(db)
    assert [(p.period_index, p.status) for p in payments] == [(3, "succeeded")]
    listed = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert listed["current_period_start"] == "2027-04-30T10:00:00.000Z"
    assert listed["current_period_end"] == "2027-05-31T10:00:00.000Z"
    assert len(succeeded_charges(billing.sandbox)) == 2


async def test_renewal_rounds_never_charge_twice(client, merchant, db, clock):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="full")
    billing = billing_of(client)
    due = utc(2027, 4, 3, 3)
    await asyncio.gather(*(run_once(billing, due) for _ in range(4)))
    await run_once(billing, due + timedelta(minutes=5))
    assert len(await renewal_payments(db)) == 1
    assert len(succeeded_charges(billing.sandbox)) == 2
    assert (await wallet_row(db, sub["wallet_id"])).balance == Decimal(40)
    assert (await ledger_check(db)).problems == []


async def test_new_period_amount_applies_at_the_next_renewal(client, merchant, db, clock):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    await client.put(
        f"/v1/subscription-configs/{sub['subscription_config_id']}",
        json={"period_amount": "35.50"},
        headers=merchant.headers,
    )
    await run_once(billing_of(client), utc(2027, 4, 3, 3))
    assert [p.amount for p in await renewal_payments(db)] == [Decimal("35.5")]
    assert (await wallet_row(db, sub["wallet_id"])).balance == Decimal("35.5")


@pytest.mark.parametrize("rollover", ["none", "full"])
async def test_cancel_keeps_credit_until_the_period_ends(
    client, merchant, db, settings, clock, rollover
):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover=rollover)
    wallet_id = sub["wallet_id"]
    billing = billing_of(client)
    await run_once(billing, utc(2027, 4, 3, 3))  # one renewal
    await fund(db, wallet_id, Decimal(7), livemode=False, source="test")  # purchased
    await spend(db, settings, wallet_id, Decimal(12), utc(2027, 4, 10))
    clock.now = utc(2027, 4, 20)
    response = await client.delete(
        f"/v1/active-subscriptions/{sub['active_subscription_id']}", headers=merchant.headers
    )
    assert response.status_code == 200
    period_credit = Decimal(8) if rollover == "none" else Decimal(28)
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (period_credit + 7, period_credit)
    await spend(db, settings, wallet_id, Decimal(1), utc(2027, 5, 3, 2, 59))  # still spendable
    con = await connection(client, merchant.headers, sub["connection_id"])
    assert con["next_usage_reset"] == "2027-05-03T03:00:00.000Z"
    clock.now = utc(2027, 5, 3, 3)
    assert (await run_once(billing, clock.now)).payments_processed == 0  # no renewal
    wallet = await wallet_row(db, wallet_id)
    assert (wallet.balance, wallet.period_credit) == (Decimal(7), Decimal(0))
    assert len(succeeded_charges(billing.sandbox)) == 2
    # After the cycle, usage periods are calendar months again, from the cycle's end.
    con = await connection(client, merchant.headers, sub["connection_id"])
    assert con["previous_usage_reset"] == "2027-05-03T03:00:00.000Z"
    assert con["next_usage_reset"] == "2027-06-01T00:00:00.000Z"
    clock.now = utc(2027, 7, 9)
    con = await connection(client, merchant.headers, sub["connection_id"])
    assert con["previous_usage_reset"] == "2027-07-01T00:00:00.000Z"
    assert (await ledger_check(db)).problems == []


async def test_cancel_drops_a_renewal_not_yet_charged(client, merchant, db, clock):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    billing = billing_of(client)
    from lava_server.subscriptions import renewals

    assert await renewals.queue_due(billing, utc(2027, 4, 3, 3)) == 1
    clock.now = utc(2027, 4, 3, 4)
    await client.delete(
        f"/v1/active-subscriptions/{sub['active_subscription_id']}", headers=merchant.headers
    )
    await run_once(billing, utc(2027, 4, 3, 5))
    [payment] = await renewal_payments(db)
    assert (payment.status, payment.failure_code) == ("failed", "subscription_cancelled")
    assert len(succeeded_charges(billing.sandbox)) == 1
    wallet = await wallet_row(db, sub["wallet_id"])
    assert wallet.balance == 0  # the period ended before the cancel: its credit is gone


async def subscription_events(db, subscription_id: str) -> list[dict]:
    async with db.read() as session:
        rows = await session.execute(
            select(WebhookOutbox.type, WebhookOutbox.data)
            .where(WebhookOutbox.object_id == subscription_id)
            .order_by(WebhookOutbox.id)
        )
        return [{"type": row.type, **(row.data or {})} for row in rows]


async def decline_every_card(db) -> None:
    async with db.write() as session:
        await session.execute(
            update(PaymentMethod).values(provider_method_id="pm_sandbox_declined_0002")
        )


@pytest.mark.parametrize("rollover", ["none", "full"])
async def test_a_declined_renewal_is_retried_after_1_3_and_5_days_then_cancelled(
    client, merchant, db, clock, rollover
):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover=rollover)
    sub_id = sub["active_subscription_id"]
    await fund(db, sub["wallet_id"], Decimal(4), livemode=False, source="test")
    await decline_every_card(db)
    due = utc(2027, 4, 3, 3)
    billing = billing_of(client)
    await run_once(billing, due)
    [payment] = await renewal_payments(db)
    assert (payment.status, payment.failure_code) == ("failed", "card_declined")
    listed = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert listed["status"] == "active" and listed["past_due_since"] == "2027-04-03T03:00:00.000Z"
    assert listed["next_payment_retry_at"] == "2027-04-04T03:00:00.000Z"
    assert listed["payment_retries"] == 0
    # Still subscribed: rolled-over credit stays while the retries run; the period's own ends.
    wallet = await wallet_row(db, sub["wallet_id"])
    kept = Decimal(20) if rollover == "full" else Decimal(0)
    assert (wallet.balance, wallet.period_credit) == (4 + kept, kept)
    # Nothing before a retry is due; then one retry per step, each a new charge.
    for at in (due + timedelta(hours=23), due + timedelta(days=1)):
        await run_once(billing, at)
    assert len(await renewal_payments(db)) == 2
    for at in (due + timedelta(days=2), due + timedelta(days=3), due + timedelta(days=4)):
        await run_once(billing, at)
    assert len(await renewal_payments(db)) == 3
    async with db.read() as session:
        row = (await session.execute(select(ActiveSubscription))).scalar_one()
    assert row.status == "active" and row.payment_retries == 2
    assert row.next_payment_retry_at == due + timedelta(days=5)
    await run_once(billing, due + timedelta(days=5))
    payments = await renewal_payments(db)
    assert [p.idempotency_key for p in payments] == [
        f"{sub_id}:renewal:1",
        f"{sub_id}:renewal:1:retry:1",
        f"{sub_id}:renewal:1:retry:2",
        f"{sub_id}:renewal:1:retry:3",
    ]
    assert {p.status for p in payments} == {"failed"}
    async with db.read() as session:
        row = (await session.execute(select(ActiveSubscription))).scalar_one()
    assert (row.status, row.cancel_reason) == ("cancelled", "payment_failed")
    events = await subscription_events(db, sub_id)
    assert [e["type"] for e in events] == [
        "subscription.created",
        "subscription.payment_failed",
        "subscription.payment_failed",
        "subscription.payment_failed",
        "subscription.payment_failed",
        "subscription.cancelled",
    ]
    assert [e.get("next_payment_retry_at") for e in events[1:4]] == [
        "2027-04-04T03:00:00.000Z",
        "2027-04-06T03:00:00.000Z",
        "2027-04-08T03:00:00.000Z",
    ]
    assert events[4]["next_payment_retry_at"] is None and events[4]["status"] == "cancelled"
    wallet = await wallet_row(db, sub["wallet_id"])
    assert (wallet.balance, wallet.period_credit) == (Decimal(4), Decimal(0))
    listed = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()[0]
    assert listed["status"] == "cancelled" and "cancelled_at" in listed
    await run_once(billing, utc(2027, 5, 3, 3))
    assert len(await renewal_payments(db)) == 4
    assert (await ledger_check(db)).problems == []


async def test_a_retry_on_a_new_card_renews_the_subscription(client, merchant, db, clock):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    sub_id = sub["active_subscription_id"]
    await decline_every_card(db)
    billing = billing_of(client)
    due = utc(2027, 4, 3, 3)
    await run_once(billing, due)
    # The customer saves a new card (a later checkout): the retry takes the card saved last.
    async with db.write() as session:
        old = (await session.execute(select(PaymentMethod))).scalar_one()
        session.add(
            PaymentMethod(
                id="pm_test_new",
                wallet_id=old.wallet_id,
                livemode=False,
                provider="sandbox",
                provider_method_id="pm_sandbox_ok_4242",
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2034,
                created_at=due + timedelta(hours=1),
            )
        )
    await run_once(billing, due + timedelta(days=1))
    payments = await renewal_payments(db)
    assert [(p.status, p.payment_method_id) for p in payments] == [
        ("failed", old.id),
        ("succeeded", "pm_test_new"),
    ]
    async with db.read() as session:
        row = (await session.execute(select(ActiveSubscription))).scalar_one()
    assert (row.status, row.past_due_since, row.next_payment_retry_at) == ("active", None, None)
    assert row.current_period_start == due and row.current_period_end == utc(2027, 5, 3, 3)
    wallet = await wallet_row(db, sub["wallet_id"])
    assert (wallet.balance, wallet.period_credit) == (Decimal(20), Decimal(20))
    events = [e["type"] for e in await subscription_events(db, sub_id)]
    assert events == [
        "subscription.created",
        "subscription.payment_failed",
        "subscription.renewed",
    ]
    # The card that paid is the subscription's card now: the next period renews on it.
    await run_once(billing, utc(2027, 4, 20))
    assert len(await renewal_payments(db)) == 2  # nothing early
    await run_once(billing, utc(2027, 5, 3, 3))
    payments = await renewal_payments(db)
    assert (payments[-1].status, payments[-1].payment_method_id) == ("succeeded", "pm_test_new")
    assert payments[-1].idempotency_key == f"{sub_id}:renewal:2"
    assert (await ledger_check(db)).problems == []


async def test_unknown_renewal_outcome_is_retried_with_the_same_key(client, merchant, db, clock):
    clock.now = utc(2027, 3, 3, 3)
    sub = await subscribe(client, merchant.headers, amount="20", rollover="none")
    billing = billing_of(client)
    real_charge = billing.sandbox.charge
    keys: list[str] = []

    async def lost_answer(**kwargs):
        keys.append(kwargs["idempotency_key"])
        await real_charge(**kwargs)
        raise TimeoutError("no answer")

    billing.sandbox.charge = lost_answer  # type: ignore[method-assign]
    due = utc(2027, 4, 3, 3)
    await run_once(billing, due)
    [payment] = await renewal_payments(db)
    assert payment.status == "pending" and payment.next_attempt_at == due + timedelta(seconds=30)
    billing.sandbox.charge = real_charge  # type: ignore[method-assign]
    await run_once(billing, due + timedelta(seconds=10))  # not yet
    assert (await renewal_payments(db))[0].status == "pending"
    await run_once(billing, due + timedelta(seconds=30))
    assert (await renewal_payments(db))[0].status == "succeeded"
    assert keys == [f"{sub['active_subscription_id']}:renewal:1"]
    assert len(succeeded_charges(billing.sandbox)) == 2
    assert (await wallet_row(db, sub["wallet_id"])).balance == Decimal(20)
