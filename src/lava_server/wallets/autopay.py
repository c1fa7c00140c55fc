"""Autopay (`docs/checkout-and-wallets.md#autopay`): when a debit takes a wallet's available
balance below its threshold, one top-up of its autopay amount is charged to its saved card.

At most one autopay charge per wallet is pending at a time (a partial unique index backs the
check), a cooldown separates two of them, a wallet gets at most `autopay_max_per_period` per usage
period, and a declined charge turns autopay off until the customer turns it on again in a
checkout. Each charge is a payment row whose id is its idempotency key, settled once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.db.models import Payment
from lava_server.payments import repository as payment_records
from lava_server.payments.interface import ChargeResult
from lava_server.payments.repository import AUTOPAY, FAILED, SUCCEEDED
from lava_server.payments.service import new_payment, record_outcome
from lava_server.periods import usage_period
from lava_server.pricing import format_money
from lava_server.settings import Settings
from lava_server.timeutil import iso
from lava_server.wallets import repository
from lava_server.wallets.service import credit_payment


async def queue_if_due(
    session: AsyncSession, settings: Settings, wallet_id: str, now: datetime
) -> Payment | None:
    """Queue an autopay top-up if the wallet needs one and may have one now. The caller holds
    the wallet's lock; the worker charges the queued payment."""
    wallet = await repository.get_wallet(session, wallet_id, fresh=True)
    if (
        wallet is None
        or not wallet.autopay_enabled
        or wallet.autopay_threshold is None
        or wallet.autopay_amount is None
        or wallet.balance - wallet.held >= wallet.autopay_threshold
    ):
        return None
    if await repository.autopay_pending(session, wallet_id):
        return None
    last = await repository.last_autopay_at(session, wallet_id)
    if last is not None and now - last < timedelta(seconds=settings.autopay_cooldown_seconds):
        return None
    period_start = usage_period(now, wallet.cycle_started_at, wallet.cycle_ends_at)[0]
    this_period = await repository.autopay_count_since(session, wallet_id, period_start)
    if this_period >= settings.autopay_max_per_period:
        return None
    method = await payment_records.latest_method(session, wallet_id)
    if method is None:
        return None
    payment = new_payment(
        purpose=AUTOPAY,
        idempotency_key=None,
        method=method,
        amount=wallet.autopay_amount,
        merchant_id=None,
        now=now,
        next_attempt_at=now,
    )
    await payment_records.add_payment(session, payment)
    return payment


async def settle(
    session: AsyncSession, payment: Payment, result: ChargeResult, now: datetime
) -> None:
    """Record the outcome of a pending autopay charge. The caller holds the wallet's lock and
    the payment's."""
    record_outcome(payment, result, now)
    if payment.status in (SUCCEEDED, FAILED):
        await outbox.record(
            session,
            outbox.AUTOPAY_SUCCEEDED if payment.status == SUCCEEDED else outbox.AUTOPAY_FAILED,
            object_id=payment.wallet_id,
            wallet_id=payment.wallet_id,
            livemode=payment.livemode,
            data={"payment": render_payment(payment)},
            now=now,
        )
    if payment.status == SUCCEEDED:
        await credit_payment(session, payment, now)
    elif payment.status == FAILED:
        wallet = await repository.get_wallet(session, payment.wallet_id)
        assert wallet is not None
        wallet.autopay_enabled = False


def render_payment(payment: Payment) -> dict[str, object]:
    """The charge in an `autopay.*` or `auto_top_up.*` event's `data.payment`."""
    return {
        "payment_id": payment.id,
        "amount": format_money(payment.amount),
        "status": payment.status,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": iso(payment.created_at),
        "completed_at": iso(payment.completed_at) if payment.completed_at else None,
    }
