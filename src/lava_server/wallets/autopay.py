"""Autopay (`docs/checkout-and-wallets.md#autopay`): when a debit takes a wallet's available
balance below its threshold, one top-up of its autopay amount is charged to its saved card.

At most one autopay charge per wallet is pending at a time (a partial unique index backs the
check), a cooldown separates two of them, a wallet gets at most `autopay_max_per_period` per usage
period. A declined charge turns autopay off and is retried on the dunning schedule
(`payments.dunning`: 1, 3 and 5 days after the first decline, on the card saved last); a retry
that succeeds turns autopay back on, as does a retry found unneeded (the wallet was topped up
meanwhile), and after the last one autopay stays off until the customer turns it on again in a
checkout. Each decline is an `autopay.failed` event saying when the next retry is due. Each
charge is a payment row whose id is its idempotency key, settled once."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.db.models import Payment, Wallet
from lava_server.payments import dunning
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


async def retry_if_due(session: AsyncSession, wallet_id: str, now: datetime) -> Payment | None:
    """Queue the dunning schedule's next retry of a declined autopay top-up, if it is due and
    still needed. The caller holds the wallet's lock; the worker charges the queued payment."""
    wallet = await repository.get_wallet(session, wallet_id, fresh=True)
    if wallet is None or wallet.autopay_retry_at is None or wallet.autopay_retry_at > now:
        return None
    if await repository.autopay_pending(session, wallet_id):
        return None
    wallet.autopay_retries += 1
    wallet.autopay_retry_at = None
    method = await payment_records.latest_method(session, wallet_id)
    needed = (
        wallet.autopay_threshold is not None
        and wallet.autopay_amount is not None
        and wallet.balance - wallet.held < wallet.autopay_threshold
    )
    if not needed or method is None:
        # Topped up meanwhile: autopay resumes without a charge. No card left: it stays off.
        _end_dunning(wallet, resume=not needed)
        return None
    assert wallet.autopay_amount is not None
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


def turn_on(wallet: Wallet, *, threshold: Decimal, amount: Decimal) -> None:
    """The customer turned autopay on (a checkout): any dunning of the old card is over."""
    wallet.autopay_threshold, wallet.autopay_amount = threshold, amount
    _end_dunning(wallet, resume=True)


def _end_dunning(wallet: Wallet, *, resume: bool) -> None:
    wallet.autopay_failed_at, wallet.autopay_retries, wallet.autopay_retry_at = None, 0, None
    if resume:
        wallet.autopay_enabled = True


async def settle(
    session: AsyncSession, payment: Payment, result: ChargeResult, now: datetime
) -> None:
    """Record the outcome of a pending autopay charge. The caller holds the wallet's lock and
    the payment's."""
    record_outcome(payment, result, now)
    if payment.status not in (SUCCEEDED, FAILED):
        return
    wallet = await repository.get_wallet(session, payment.wallet_id)
    assert wallet is not None
    retry_at, retries = None, wallet.autopay_retries
    if payment.status == SUCCEEDED:
        await credit_payment(session, payment, now)
        if wallet.autopay_failed_at is not None:  # a retry mended it
            _end_dunning(wallet, resume=True)
    else:
        wallet.autopay_enabled = False
        first = wallet.autopay_failed_at or now
        retry_at = dunning.next_retry_at(first, wallet.autopay_retries, payment.failure_code)
        if retry_at is None:
            _end_dunning(wallet, resume=False)
        else:
            wallet.autopay_failed_at, wallet.autopay_retry_at = first, retry_at
    data: dict[str, object] = {"payment": render_payment(payment)}
    if payment.status == FAILED:
        data["retries"] = retries
        data["next_retry_at"] = None if retry_at is None else iso(retry_at)
    await outbox.record(
        session,
        outbox.AUTOPAY_SUCCEEDED if payment.status == SUCCEEDED else outbox.AUTOPAY_FAILED,
        object_id=payment.wallet_id,
        wallet_id=payment.wallet_id,
        livemode=payment.livemode,
        data=data,
        now=now,
    )


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
