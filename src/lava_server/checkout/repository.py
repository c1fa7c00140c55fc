from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import CheckoutSession, CodeSend, Payment
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


# One-time code sends (`checkout.send_limits`), when the database counts them.


async def lock_code_keys(session: AsyncSession, keys: Sequence[str]) -> None:
    """Serialise the counting of these keys until the transaction ends (PostgreSQL: advisory
    locks, taken in one order; SQLite: its one writer already is)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 15))"), {"key": key}
        )


async def code_sends_since(
    session: AsyncSession, key: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many sends `key` has after `since`, and the oldest of them."""
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(CodeSend.sent_at)).where(
                CodeSend.key == key, CodeSend.sent_at > since
            )
        )
    ).one()
    return int(count), oldest


async def add_code_sends(
    session: AsyncSession, keys: Sequence[str], token: str, now: datetime
) -> None:
    session.add_all([CodeSend(key=key, token=token, sent_at=now) for key in keys])
    await session.flush()


async def remove_code_sends(session: AsyncSession, token: str) -> None:
    await session.execute(delete(CodeSend).where(CodeSend.token == token))


async def forget_code_sends(session: AsyncSession, before: datetime) -> None:
    """Sends older than every window are of no use any more."""
    await session.execute(delete(CodeSend).where(CodeSend.sent_at <= before))
