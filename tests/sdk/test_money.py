"""``lava.credits``, ``lava.adjustments``, ``lava.refunds`` and ``lava.payments`` of ``Lava`` and
``AsyncLava`` against our own server over real HTTP, on SQLite and PostgreSQL
(`docs/checkout-and-wallets.md#merchant-money-operations`): typed answers, idempotency keys,
refusals as the SDK's errors, the ledger clean after."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from lava_server.wallets.service import check
from lavapayments import APIStatusError, BadRequestError, NotFoundError
from lavapayments.types import RestBalanceOperation, RestPayment, RestRefund
from tests.money_ops.helpers import onboarded

from .conftest import call, collect
from .live import base_url, lava  # noqa: F401 - the fixtures


async def test_money_operations(lava, base_url, merchant, db) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=base_url.removesuffix("/v1/")) as http:
        customer, payment_id = await onboarded(http, merchant.headers, amount="25")

    granted = await call(
        lava.credits.create(
            customer,
            amount=Decimal("5"),
            reason="welcome",
            expires_at=datetime(2099, 1, 1, tzinfo=timezone.utc),
            idempotency_key="grant-sdk",
        )
    )
    assert isinstance(granted, RestBalanceOperation)
    assert granted.object == "credit" and granted.amount == Decimal(5)
    assert granted.wallet_balance == Decimal(30)
    assert granted.expires_at == datetime(2099, 1, 1, tzinfo=timezone.utc)
    again = await call(
        lava.credits.create(
            customer,
            amount=Decimal("5"),
            reason="welcome",
            expires_at=datetime(2099, 1, 1, tzinfo=timezone.utc),
            idempotency_key="grant-sdk",
        )
    )
    assert again == granted

    adjusted = await call(lava.adjustments.create(customer, amount="-2.5", reason="fix"))
    assert adjusted.object == "adjustment" and adjusted.amount == Decimal("-2.5")
    assert adjusted.wallet_balance == Decimal("27.5")
    with pytest.raises(APIStatusError) as too_far:
        await call(lava.adjustments.create(customer, amount="-100", reason="fix"))
    assert too_far.value.status_code == 402

    refund = await call(
        lava.refunds.create(payment_id=payment_id, amount=Decimal("10"), idempotency_key="r-1")
    )
    assert isinstance(refund, RestRefund)
    assert refund.status == "succeeded" and refund.amount == Decimal(10)
    assert await call(lava.refunds.retrieve(refund.id)) == refund
    with pytest.raises(BadRequestError) as too_much:
        await call(lava.refunds.create(payment_id=payment_id, amount="15.01"))
    assert too_much.value.param == "amount"  # type: ignore[attr-defined]

    payments = await collect(lava.payments.list(customer_id=customer, limit=1))
    assert [p.id for p in payments] == [payment_id]
    payment = await call(lava.payments.retrieve(payment_id))
    assert isinstance(payment, RestPayment)
    assert payment.amount_refunded == Decimal(10) and payment.refunds == [refund]
    with pytest.raises(NotFoundError):
        await call(lava.payments.retrieve("pay_test_nope"))
    raw = await call(lava.with_raw_response.payments.retrieve(payment_id))
    assert raw.status_code == 200

    report = await check(db)
    assert report.problems == []
