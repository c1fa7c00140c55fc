"""Autopay (`docs/checkout-and-wallets.md#autopay`): when a debit takes a wallet's available
balance below its threshold, one top-up of its autopay amount is charged to its saved card.

At most one autopay charge per wallet is pending at a time (a partial unique index backs the
check), a cooldown separates two of them, a wallet gets at most `autopay_max_per_period` per usage
period, and a declined charge turns autopay off until the customer turns it on again in a
checkout. Each charge is a payment row whose id is its idempotency key, settled once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Payment, Wallet
from lava_server.payments.interface import ChargeResult
from lava_server.payments.service import (
    AUTOPAY,
    FAILED,
    PENDING,
    SUCCEEDED,
    credit_wallet,
    latest_method,
    new_payment,
    record_outcome,
)
from lava_server.periods import usage_period
from lava_server.settings import Settings


async def queue_if_due(
    session: AsyncSession, settings: Settings, wallet_id: str, now: datetime
) -> Payment | None:
    """Queue an autopay top-up if the wallet needs one and may have one now. The caller holds
    the wallet's lock; the worker charges the queued payment."""
    wallet = await session.get(Wallet, wallet_id, populate_existing=True)
    if (
        wallet is None
        or not wallet.autopay_enabled
        or wallet.autopay_threshold is None
        or wallet.autopay_amount is None
        or wallet.balance - wallet.held >= wallet.autopay_threshold
    ):
        return None
    mine = (Payment.wallet_id == wallet_id, Payment.purpose == AUTOPAY)
    pending = (
        await session.execute(select(Payment.id).where(*mine, Payment.status == PENDING).limit(1))
    ).first()
    if pending is not None:
        return None
    last = (await session.execute(select(func.max(Payment.created_at)).where(*mine))).scalar()
    if last is not None and now - last < timedelta(seconds=settings.autopay_cooldown_seconds):
        return None
    period_start = usage_period(now, wallet.cycle_started_at, wallet.cycle_ends_at)[0]
    this_period = (
        await session.execute(
            select(func.count()).where(
                *mine, Payment.status != FAILED, Payment.created_at >= period_start
            )
        )
    ).scalar_one()
    if this_period >= settings.autopay_max_per_period:
        return None
    method = await latest_method(session, wallet_id)
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
    session.add(payment)
    await session.flush()
    return payment


async def settle(
    session: AsyncSession, payment: Payment, result: ChargeResult, now: datetime
) -> None:
    """Record the outcome of a pending autopay charge. The caller holds the wallet's lock and
    the payment's."""
    record_outcome(payment, result, now)
    if payment.status == SUCCEEDED:
        await credit_wallet(session, payment, now)
    elif payment.status == FAILED:
        wallet = await session.get(Wallet, payment.wallet_id)
        assert wallet is not None
        wallet.autopay_enabled = False


async def wallets_needing_topup(session: AsyncSession, limit: int) -> list[str]:
    """Wallets with autopay on, below their threshold and no charge pending: the worker's
    backstop for debits that did not queue one (a cooldown was running, say)."""
    pending = select(Payment.id).where(
        Payment.wallet_id == Wallet.id, Payment.purpose == AUTOPAY, Payment.status == PENDING
    )
    rows = await session.execute(
        select(Wallet.id)
        .where(
            Wallet.autopay_enabled.is_(True),
            Wallet.autopay_threshold.is_not(None),
            Wallet.autopay_amount.is_not(None),
            Wallet.balance - Wallet.held < Wallet.autopay_threshold,
            ~pending.exists(),
        )
        .limit(limit)
    )
    return list(rows.scalars())
