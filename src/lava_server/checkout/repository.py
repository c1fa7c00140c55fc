from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import CheckoutSession, Payment
from lava_server.payments.repository import PENDING


async def add(session: AsyncSession, checkout: CheckoutSession) -> None:
    session.add(checkout)


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, checkout_session_id: str
) -> CheckoutSession | None:
    return (
        await session.execute(
            select(CheckoutSession).where(
                CheckoutSession.id == checkout_session_id,
                CheckoutSession.merchant_id == merchant_id,
                CheckoutSession.livemode == livemode,
            )
        )
    ).scalar_one_or_none()


async def page(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    cursor: str | None,
    limit: int,
    reference_id: str | None,
) -> Sequence[CheckoutSession]:
    query = select(CheckoutSession).where(
        CheckoutSession.merchant_id == merchant_id, CheckoutSession.livemode == livemode
    )
    if reference_id is not None:
        query = query.where(CheckoutSession.reference_id == reference_id)
    if cursor is not None:
        query = query.where(CheckoutSession.id < cursor)
    query = query.order_by(CheckoutSession.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def by_secret(
    session: AsyncSession, secret: str, *, lock: bool = False
) -> CheckoutSession | None:
    query = select(CheckoutSession).where(CheckoutSession.secret == secret)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def lock(session: AsyncSession, checkout_session_id: str) -> CheckoutSession:
    return (
        await session.execute(
            select(CheckoutSession)
            .where(CheckoutSession.id == checkout_session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def lock_if_there(session: AsyncSession, checkout_session_id: str) -> CheckoutSession | None:
    return (
        await session.execute(
            select(CheckoutSession)
            .where(CheckoutSession.id == checkout_session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def payments(session: AsyncSession, checkout_session_id: str) -> Sequence[Payment]:
    """The session's payments, newest first."""
    return (
        (
            await session.execute(
                select(Payment)
                .where(Payment.checkout_session_id == checkout_session_id)
                .order_by(Payment.created_at.desc(), Payment.id.desc())
            )
        )
        .scalars()
        .all()
    )


async def lock_pending_payment(session: AsyncSession, checkout_session_id: str) -> Payment | None:
    """The session's pending payment (at most one is), read again and locked."""
    return (
        await session.execute(
            select(Payment)
            .where(
                Payment.checkout_session_id == checkout_session_id,
                Payment.status == PENDING,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def other_subscription_payment_pending(
    session: AsyncSession, wallet_id: str, checkout_session_id: str
) -> bool:
    """Whether another subscription checkout of the wallet has a payment pending."""
    found = (
        await session.execute(
            select(Payment.id)
            .join(CheckoutSession, CheckoutSession.id == Payment.checkout_session_id)
            .where(
                Payment.wallet_id == wallet_id,
                Payment.status == PENDING,
                CheckoutSession.mode == "subscription",
                CheckoutSession.id != checkout_session_id,
            )
        )
    ).first()
    return found is not None
