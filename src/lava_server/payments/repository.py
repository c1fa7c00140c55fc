"""The statements of payment records and saved cards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Payment, PaymentMethod

# A payment's purpose, and its status.
CHECKOUT, RENEWAL, AUTOPAY = "checkout", "renewal", "autopay"
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
