"""Refunds through the provider that took the payment, and the payments list
(`docs/checkout-and-wallets.md#refunds`)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from lava_server.db.models import Payment
from lava_server.payments.interface import Outcome
from lava_server.wallets import operations
from lava_server.worker.runner import run_once
from tests.checkout.helpers import billing_of
from tests.money_ops.helpers import (
    account,
    count_txns,
    error,
    money,
    onboarded,
    refunds,
    wallet_of,
)
from tests.subscriptions.helpers import spend, subscribe


async def test_partial_refunds_up_to_the_paid_amount(client, merchant, db):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    sandbox = billing_of(client).sandbox
    payment = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()
    assert payment["top_up"] is True
    assert payment["status"] == "succeeded"
    assert payment["customer_id"] == customer
    assert payment["amount_refunded"] == "0.0000000000"
    assert payment["refunds"] == []

    first = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "10"}, headers=merchant.headers
    )
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    assert first.json()["provider"] == "sandbox"
    assert first.json()["provider_refund_id"].startswith("re_sandbox_")
    assert await money(client, merchant.headers, customer) == Decimal(15)

    too_much = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "15.01"}, headers=merchant.headers
    )
    assert too_much.status_code == 400, too_much.text
    assert error(too_much)["param"] == "amount"
    cents = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "1.001"}, headers=merchant.headers
    )
    assert cents.status_code == 400 and error(cents)["param"] == "amount"

    rest = await client.post(
        "/v1/refunds", json={"payment_id": payment_id}, headers=merchant.headers
    )
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == "15.0000000000"
    assert await money(client, merchant.headers, customer) == Decimal(0)

    again = await client.post(
        "/v1/refunds", json={"payment_id": payment_id}, headers=merchant.headers
    )
    assert again.status_code == 400
    assert error(again)["param"] == "payment_id"

    payment = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()
    assert payment["amount_refunded"] == "25.0000000000"
    assert [r["amount"] for r in payment["refunds"]] == ["10.0000000000", "15.0000000000"]
    refund = (
        await client.get(f"/v1/refunds/{first.json()['id']}", headers=merchant.headers)
    ).json()
    assert refund == first.json()
    provider_payment_id = payment["provider_payment_id"]
    assert sandbox.refunded(provider_payment_id) == Decimal(25)
    assert await account(db, "refunds:sandbox") == Decimal(25)
    assert await account(db, "refunds:pending") == Decimal(0)


async def test_a_refund_is_refused_when_the_wallet_no_longer_holds_it(
    client, merchant, db, settings
):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    wallet_id = await wallet_of(db, customer)
    await spend(db, settings, wallet_id, Decimal(20), billing_of(client).now())
    response = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "10"}, headers=merchant.headers
    )
    assert response.status_code == 402, response.text
    assert error(response)["code"] == "insufficient_balance"
    assert error(response)["param"] == "amount"
    assert await refunds(db) == []
    assert billing_of(client).sandbox.refunds == {}
    assert await money(client, merchant.headers, customer) == Decimal(5)
    ok = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "5"}, headers=merchant.headers
    )
    assert ok.status_code == 201, ok.text


async def test_granted_credit_is_not_refunded(client, merchant, db):
    customer, payment_id = await onboarded(client, merchant.headers, amount="10")
    response = await client.post(
        f"/v1/customers/{customer}/credits",
        json={"amount": "5", "reason": "gift", "expires_at": "2099-01-01T00:00:00Z"},
        headers=merchant.headers,
    )
    assert response.status_code == 201
    await client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"amount": "-8", "reason": "x"},
        headers=merchant.headers,
    )
    # 7 left: 5 of it granted (spent first, so 3 of it went) ... period credit 0, 7 purchased.
    refund = await client.post(
        "/v1/refunds", json={"payment_id": payment_id}, headers=merchant.headers
    )
    assert refund.status_code == 402, refund.text
    partial = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "7"}, headers=merchant.headers
    )
    assert partial.status_code == 201, partial.text
    assert await money(client, merchant.headers, customer) == Decimal(0)


async def test_refusals_name_the_payment(client, merchant, live_merchant, db):
    _, payment_id = await onboarded(client, merchant.headers)
    from lava_server.merchants import service as merchants

    other = await merchants.create_merchant(db, "Other", livemode=False)
    for headers in ({"Authorization": f"Bearer {other.secret_key}"}, live_merchant.headers):
        response = await client.post(
            "/v1/refunds", json={"payment_id": payment_id}, headers=headers
        )
        assert response.status_code == 404, response.text
        assert error(response)["param"] == "payment_id"
        assert (await client.get(f"/v1/payments/{payment_id}", headers=headers)).status_code == 404
    missing = await client.post(
        "/v1/refunds", json={"payment_id": "pay_test_x"}, headers=merchant.headers
    )
    assert missing.status_code == 404
    zero = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "0"}, headers=merchant.headers
    )
    assert zero.status_code == 400 and error(zero)["param"] == "amount"
    # A subscription's payment is not a top-up.
    await subscribe(client, merchant.headers, phone="+1 415 555 0199")
    listed = (await client.get("/v1/payments", headers=merchant.headers)).json()["data"]
    subscription_payments = [p for p in listed if not p["top_up"] and p["status"] == "succeeded"]
    assert subscription_payments, listed
    refused = await client.post(
        "/v1/refunds",
        json={"payment_id": subscription_payments[0]["id"]},
        headers=merchant.headers,
    )
    assert refused.status_code == 400, refused.text
    assert error(refused)["param"] == "payment_id"
    assert await refunds(db) == []


async def test_a_declined_refund_gives_the_debit_back(client, merchant, db):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    billing_of(client).sandbox.refund_outcome = Outcome.DECLINED
    response = await client.post(
        "/v1/refunds", json={"payment_id": payment_id}, headers=merchant.headers
    )
    assert response.status_code == 402, response.text
    assert error(response)["code"] == "refund_failed"
    assert await money(client, merchant.headers, customer) == Decimal(25)
    [refund] = await refunds(db)
    assert refund.status == "failed"
    payment = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()
    assert payment["amount_refunded"] == "0.0000000000"
    assert payment["refunds"][0]["status"] == "failed"
    assert await account(db, "refunds:pending") == Decimal(0)
    assert await count_txns(db, f"refund:{refund.id}") == 2  # the debit and its reversal


async def test_an_unknown_outcome_stays_pending_and_the_same_key_finishes_it_once(
    client, merchant, db
):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    sandbox = billing_of(client).sandbox
    sandbox.refund_outcome = Outcome.RETRY
    headers = {**merchant.headers, "Idempotency-Key": "refund-1"}
    body = {"payment_id": payment_id, "amount": "10"}
    response = await client.post("/v1/refunds", json=body, headers=headers)
    assert response.status_code == 502, response.text
    [refund] = await refunds(db)
    assert refund.status == "pending"
    # Debited at once: nothing can spend what is being refunded.
    assert await money(client, merchant.headers, customer) == Decimal(15)
    assert await account(db, "refunds:pending") == Decimal(10)
    sandbox.refund_outcome = Outcome.SUCCEEDED
    response = await client.post("/v1/refunds", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["id"] == refund.id
    assert response.json()["status"] == "succeeded"
    replay = await client.post("/v1/refunds", json=body, headers=headers)
    assert replay.json() == response.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(await refunds(db)) == 1
    assert len(sandbox.refunds) == 1
    assert await money(client, merchant.headers, customer) == Decimal(15)
    assert await account(db, "refunds:pending") == Decimal(0)
    assert await account(db, "refunds:sandbox") == Decimal(10)


async def test_concurrent_duplicates_refund_once(client, merchant, db):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    headers = {**merchant.headers, "Idempotency-Key": "refund-dup"}
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/refunds", json={"payment_id": payment_id, "amount": "5"}, headers=headers
            )
            for _ in range(5)
        )
    )
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert len(await refunds(db)) == 1
    assert await money(client, merchant.headers, customer) == Decimal(20)
    # Without a key, concurrent refunds of one payment never pass what was paid.
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/refunds",
                json={"payment_id": payment_id, "amount": "6"},
                headers=merchant.headers,
            )
            for _ in range(5)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 400, 400]
    assert await money(client, merchant.headers, customer) == Decimal(2)


async def test_a_refund_racing_debits_never_takes_the_wallet_below_zero(
    client, merchant, db, settings
):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    wallet_id = await wallet_of(db, customer)
    now = billing_of(client).now()

    async def debit() -> bool:
        try:
            await spend(db, settings, wallet_id, Decimal(4), now)
            return True
        except Exception:
            return False

    async def refund() -> int:
        response = await client.post(
            "/v1/refunds", json={"payment_id": payment_id, "amount": "15"}, headers=merchant.headers
        )
        return response.status_code

    results = await asyncio.gather(refund(), *(debit() for _ in range(5)))
    refunded = Decimal(15) if results[0] == 201 else Decimal(0)
    assert results[0] in (201, 402)
    spent = Decimal(4) * sum(1 for ok in results[1:] if ok)
    left = await money(client, merchant.headers, customer)
    assert left == Decimal(25) - refunded - spent
    assert left >= 0


async def test_a_refund_the_provider_reports_is_booked_once(client, merchant, db):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    billing = billing_of(client)
    for _ in range(3):
        async with billing.db.write() as session:
            payment = await session.get(Payment, payment_id)
            assert payment is not None
            await operations.book_provider_refund(
                session,
                payment,
                provider_refund_id="re_dashboard_1",
                amount=Decimal(5),
                now=billing.now(),
            )
    assert await money(client, merchant.headers, customer) == Decimal(20)
    [refund] = await refunds(db)
    assert refund.status == "succeeded"
    assert await account(db, "refunds:sandbox") == Decimal(5)
    # A report of a refund Lava asked for settles it, never debits twice.
    ours = await client.post(
        "/v1/refunds", json={"payment_id": payment_id, "amount": "3"}, headers=merchant.headers
    )
    assert ours.status_code == 201
    async with billing.db.write() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        await operations.book_provider_refund(
            session,
            payment,
            provider_refund_id=ours.json()["provider_refund_id"],
            amount=Decimal(3),
            now=billing.now(),
        )
    assert await money(client, merchant.headers, customer) == Decimal(17)
    assert len(await refunds(db)) == 2


async def test_payments_are_listed_newest_first_with_a_cursor(client, merchant, db):
    first, _ = await onboarded(client, merchant.headers, amount="5", phone="+1 415 555 0101")
    second, _ = await onboarded(client, merchant.headers, amount="6", phone="+1 415 555 0102")
    third, _ = await onboarded(client, merchant.headers, amount="7", phone="+1 415 555 0103")
    page = (await client.get("/v1/payments", params={"limit": 2}, headers=merchant.headers)).json()
    assert [p["customer_id"] for p in page["data"]] == [third, second]
    assert page["has_more"] is True
    rest = (
        await client.get(
            "/v1/payments",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=merchant.headers,
        )
    ).json()
    assert [p["customer_id"] for p in rest["data"]] == [first]
    assert rest["has_more"] is False
    one = (
        await client.get("/v1/payments", params={"connection_id": second}, headers=merchant.headers)
    ).json()
    assert [p["amount"] for p in one["data"]] == ["6.0000000000"]
    bad = await client.get("/v1/payments", params={"cursor": "x"}, headers=merchant.headers)
    assert bad.status_code == 400 and error(bad)["param"] == "cursor"
    both = await client.get(
        "/v1/payments",
        params={"customer_id": first, "connection_id": second},
        headers=merchant.headers,
    )
    assert both.status_code == 400


async def test_the_worker_finishes_a_refund_left_pending(client, merchant, db, clock):
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    billing = billing_of(client)
    billing.sandbox.refund_outcome = Outcome.RETRY
    response = await client.post(
        "/v1/refunds", json={"payment_id": payment_id}, headers=merchant.headers
    )
    assert response.status_code == 502
    billing.sandbox.refund_outcome = Outcome.SUCCEEDED
    assert (await run_once(billing)).refunds_retried == 0  # its request may still be asking
    clock.advance(minutes=2)
    assert (await run_once(billing)).refunds_retried == 1
    [refund] = await refunds(db)
    assert refund.status == "succeeded"
    assert await money(client, merchant.headers, customer) == Decimal(0)
    assert await account(db, "refunds:sandbox") == Decimal(25)
    assert (await run_once(billing)).refunds_retried == 0
