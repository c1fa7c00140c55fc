"""The statements of payment records and saved cards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Payment, PaymentMethod

# A payment's purpose, and its status.
CHECKOUT, RENEWAL, AUTOPAY = "checkout", "renewal", "autopay"
AUTO_TOP_UP = "auto_top_up"  # a subscription's auto top-up bundle (`metering.top_up`)
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


async def add_method(session: AsyncSession, method: PaymentMethod) -> None:
    session.add(method)


async def add_payment(session: AsyncSession, payment: Payment) -> None:
    session.add(payment)
    await session.flush()


async def get_method(session: AsyncSession, method_id: str) -> PaymentMethod | None:
    return await session.get(PaymentMethod, method_id)


async def latest_method(session: AsyncSession, wallet_id: str) -> PaymentMethod | None:
    """The card the wallet saved last (renewals and autopay charge it)."""
    return (
        await session.execute(
            select(PaymentMethod)
            .where(PaymentMethod.wallet_id == wallet_id)
            .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def key_used(session: AsyncSession, idempotency_key: str) -> bool:
    """Whether a payment has this idempotency key (it names one logical charge)."""
    query = select(Payment.id).where(Payment.idempotency_key == idempotency_key)
    return (await session.execute(query)).first() is not None


async def get_payment(session: AsyncSession, payment_id: str) -> Payment | None:
    return await session.get(Payment, payment_id)


async def lock_payment(session: AsyncSession, payment_id: str) -> Payment | None:
    """The payment, read again and locked until the transaction ends."""
    return (
        await session.execute(
            select(Payment)
            .where(Payment.id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def due_payments(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Pending payments whose next attempt is due by `now`, the longest waiting first."""
    rows = await session.execute(
        select(Payment.id)
        .where(Payment.status == PENDING, Payment.next_attempt_at <= now)
        .order_by(Payment.next_attempt_at)
        .limit(limit)
    )
    return list(rows.scalars())


async def pending_top_up(session: AsyncSession, subscription_id: str) -> Payment | None:
    """The subscription's pending auto top-up (at most one: `uq_payments_top_up_pending`),
    locked."""
    return (
        await session.execute(
            select(Payment)
            .where(
                Payment.active_subscription_id == subscription_id,
                Payment.purpose == AUTO_TOP_UP,
                Payment.status == PENDING,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def top_ups_of(session: AsyncSession, subscription_id: str) -> int:
    """How many auto top-ups the subscription has had (any outcome): the next one's number."""
    query = select(func.count()).where(
        Payment.active_subscription_id == subscription_id, Payment.purpose == AUTO_TOP_UP
    )
    return int((await session.execute(query)).scalar_one())


async def top_ups_since(session: AsyncSession, subscription_id: str, since: datetime) -> int:
    """The subscription's auto top-ups that succeeded since `since`."""
    query = select(func.count()).where(
        Payment.active_subscription_id == subscription_id,
        Payment.purpose == AUTO_TOP_UP,
        Payment.status == SUCCEEDED,
        Payment.created_at >= since,
    )
    return int((await session.execute(query)).scalar_one())


async def last_top_up(session: AsyncSession, subscription_id: str) -> Payment | None:
    """The subscription's latest auto top-up that ended (succeeded or failed)."""
    return (
        await session.execute(
            select(Payment)
            .where(
                Payment.active_subscription_id == subscription_id,
                Payment.purpose == AUTO_TOP_UP,
                Payment.status != PENDING,
            )
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def lock_payment_by_key(session: AsyncSession, idempotency_key: str) -> Payment | None:
    """The payment of this logical charge (keys are unique), locked until the transaction ends."""
    return (
        await session.execute(
            select(Payment)
            .where(Payment.idempotency_key == idempotency_key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
