"""Grants of credit and adjustments (`docs/checkout-and-wallets.md#merchant-money-operations`):
the money, the ledger accounts, the refusals, idempotency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from lava_server.db.models import WebhookOutbox
from lava_server.outbox import BALANCE_KEY, BALANCE_UPDATED
from lava_server.timeutil import iso
from tests.money_ops.helpers import account, count_txns, error, money, new_customer, wallet_of


async def test_a_grant_is_paid_by_the_merchant_in_both_eras(client, merchant, db):
    customer = await new_customer(client, merchant.headers)
    response = await client.post(
        f"/v1/customers/{customer}/credits",
        json={"amount": "10", "reason": "welcome"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["object"] == "credit"
    assert body["id"].startswith("crd_test_")
    assert body["customer_id"] == body["connection_id"] == customer
    assert body["amount"] == "10.0000000000"
    assert body["wallet_balance"] == "10.0000000000"
    assert body["expires_at"] is None
    response = await client.post(
        f"/v1/connections/{customer}/credits",
        json={"amount": "2.5", "reason": "sorry"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    assert await money(client, merchant.headers, customer) == Decimal("12.5")
    assert await account(db, f"merchant:{merchant.merchant_id}:grants") == Decimal("-12.5")
    # Shown as a grant, not as a payment.
    payments = (await client.get("/v1/payments", headers=merchant.headers)).json()
    assert payments["data"] == []


async def test_grant_refusals_change_nothing(client, merchant, db):
    customer = await new_customer(client, merchant.headers)
    url = f"/v1/customers/{customer}/credits"
    cases = [
        ({"amount": "0", "reason": "x"}, 400, "amount"),
        ({"amount": "-1", "reason": "x"}, 400, "amount"),
        ({"amount": "1.5"}, 400, "reason"),
        ({"amount": "1", "reason": ""}, 400, "reason"),
        ({"amount": "1", "reason": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"),
        ({"amount": "1", "reason": "x", "expires_at": "tomorrow"}, 400, "expires_at"),
        ({"amount": "100000000", "reason": "x"}, 201, None),
        ({"amount": "1", "reason": "x"}, 400, "amount"),  # past the most a wallet holds
    ]
    for body, status, param in cases:
        response = await client.post(url, json=body, headers=merchant.headers)
        assert response.status_code == status, (body, response.text)
        if param is not None:
            assert error(response)["param"] == param, (body, response.text)
    response = await client.post(
        "/v1/customers/con_test_nope/credits",
        json={"amount": "1", "reason": "x"},
        headers=merchant.headers,
    )
    assert response.status_code == 404
    assert error(response)["param"] == "customer_id"
    assert await count_txns(db, "crd_") == 1


async def test_a_grant_with_expiry_is_period_credit_and_goes_back_to_the_merchant(
    client, merchant, db, clock
):
    customer = await new_customer(client, merchant.headers)
    response = await client.post(
        f"/v1/customers/{customer}/credits",
        json={"amount": "4", "reason": "trial", "expires_at": iso(clock.now + timedelta(hours=1))},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    await client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"amount": "1", "reason": "goodwill"},
        headers=merchant.headers,
    )
    assert await money(client, merchant.headers, customer) == Decimal(5)
    clock.advance(hours=2)
    # The next debit expires what is due first: 4 went back to the grants account, so only 1
    # (the adjustment, not period credit) can be taken.
    response = await client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"amount": "-2", "reason": "too much"},
        headers=merchant.headers,
    )
    assert response.status_code == 402, response.text
    assert error(response)["param"] == "amount"
    assert "1.0000000000" in error(response)["message"]
    response = await client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"amount": "-0.5", "reason": "fix"},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    assert await money(client, merchant.headers, customer) == Decimal("0.5")
    assert await account(db, f"merchant:{merchant.merchant_id}:grants") == Decimal(0)
    assert await account(db, f"merchant:{merchant.merchant_id}:adjustments") == Decimal("-0.5")


async def test_adjustments_are_signed_and_stop_at_zero(client, merchant, db):
    customer = await new_customer(client, merchant.headers)
    url = f"/v1/connections/{customer}/adjustments"
    up = await client.post(url, json={"amount": "5", "reason": "fix"}, headers=merchant.headers)
    assert up.status_code == 201, up.text
    assert up.json()["object"] == "adjustment"
    down = await client.post(
        url, json={"amount": "-3.25", "reason": "fix"}, headers=merchant.headers
    )
    assert down.status_code == 201, down.text
    assert down.json()["amount"] == "-3.2500000000"
    assert down.json()["wallet_balance"] == "1.7500000000"
    too_far = await client.post(
        url, json={"amount": "-1.7500000001", "reason": "fix"}, headers=merchant.headers
    )
    assert too_far.status_code == 402, too_far.text
    assert error(too_far)["code"] == "insufficient_balance"
    assert error(too_far)["param"] == "amount"
    zero = await client.post(url, json={"amount": "0", "reason": "x"}, headers=merchant.headers)
    assert zero.status_code == 400 and error(zero)["param"] == "amount"
    bad = await client.post(url, json={"amount": "--1", "reason": "x"}, headers=merchant.headers)
    assert bad.status_code == 400 and error(bad)["param"] == "amount"
    to_zero = await client.post(
        url, json={"amount": "-1.75", "reason": "fix"}, headers=merchant.headers
    )
    assert to_zero.status_code == 201, to_zero.text
    assert await money(client, merchant.headers, customer) == Decimal(0)
    assert await account(db, f"merchant:{merchant.merchant_id}:adjustments") == Decimal(0)
    assert await count_txns(db, "adj_") == 3


async def test_the_same_idempotency_key_grants_once(client, merchant, db):
    customer = await new_customer(client, merchant.headers)
    url = f"/v1/customers/{customer}/credits"
    headers = {**merchant.headers, "Idempotency-Key": "grant-1"}
    body = {"amount": "3", "reason": "welcome"}
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(url, json={**body, "amount": "4"}, headers=headers)
    assert other.status_code == 409
    # Concurrent duplicates: one movement, each answer the first one or a 409 to retry.
    headers = {**merchant.headers, "Idempotency-Key": "adjust-1"}
    answers = await asyncio.gather(
        *(
            client.post(
                f"/v1/customers/{customer}/adjustments",
                json={"amount": "-1", "reason": "x"},
                headers=headers,
            )
            for _ in range(5)
        )
    )
    assert {a.status_code for a in answers} <= {201, 409}
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert await money(client, merchant.headers, customer) == Decimal(2)
    assert await count_txns(db, "crd_") == 1
    assert await count_txns(db, "adj_") == 1


async def test_another_merchants_customer_is_not_found(client, merchant, live_merchant, db):
    customer = await new_customer(client, merchant.headers)
    from lava_server.merchants import service as merchants

    other = await merchants.create_merchant(db, "Other", livemode=False)
    response = await client.post(
        f"/v1/customers/{customer}/credits",
        json={"amount": "1", "reason": "x"},
        headers={"Authorization": f"Bearer {other.secret_key}"},
    )
    assert response.status_code == 404
    live = await client.post(
        f"/v1/customers/{customer}/adjustments",
        json={"amount": "1", "reason": "x"},
        headers=live_merchant.headers,
    )
    assert live.status_code == 404


async def test_each_movement_writes_its_balance_event(client, merchant, db):
    customer = await new_customer(client, merchant.headers)
    wallet_id = await wallet_of(db, customer)
    url = f"/v1/customers/{customer}"
    await client.post(
        f"{url}/credits", json={"amount": "3", "reason": "x"}, headers=merchant.headers
    )
    await client.post(
        f"{url}/adjustments", json={"amount": "1", "reason": "x"}, headers=merchant.headers
    )
    await client.post(
        f"{url}/adjustments", json={"amount": "-2", "reason": "x"}, headers=merchant.headers
    )
    refused = await client.post(
        f"{url}/adjustments", json={"amount": "-9", "reason": "x"}, headers=merchant.headers
    )
    assert refused.status_code == 402
    async with db.read() as session:
        rows = (
            await session.execute(
                select(WebhookOutbox.type, WebhookOutbox.coalesce_key, WebhookOutbox.data).where(
                    WebhookOutbox.wallet_id == wallet_id
                )
            )
        ).all()
    assert {row.type for row in rows} == {BALANCE_UPDATED}
    credits = [row for row in rows if row.coalesce_key is None]  # a credit's own event each
    assert [row.data[BALANCE_KEY] for row in credits] == ["3.0000000000", "4.0000000000"]
    assert len(rows) == 3  # and the debit's coalesced one; nothing for the refusal
