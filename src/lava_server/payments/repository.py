"""The statements of payment records and saved cards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import CheckoutSession, Dispute, Payment, PaymentMethod, Refund
from lava_server.db.sums import exact_sum

# A payment's purpose, and its status.
CHECKOUT, RENEWAL, AUTOPAY = "checkout", "renewal", "autopay"
AUTO_TOP_UP = "auto_top_up"  # a subscription's auto top-up bundle (`metering.top_up`)
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# The checkout modes whose payment tops up a wallet (refundable: `POST /v1/refunds`).
TOP_UP_MODES = ("onboarding", "topup")


async def add_method(session: AsyncSession, method: PaymentMethod) -> None:
    session.add(method)


async def add_payment(session: AsyncSession, payment: Payment) -> None:
    session.add(payment)
    await session.flush()


async def get_method(session: AsyncSession, method_id: str) -> PaymentMethod | None:
    return await session.get(PaymentMethod, method_id)


async def latest_method(session: AsyncSession, wallet_id: str) -> PaymentMethod | None:
    """The card the wallet saved last and still has (renewals and autopay charge it)."""
    return (
        await session.execute(
            select(PaymentMethod)
            .where(PaymentMethod.wallet_id == wallet_id, PaymentMethod.detached_at.is_(None))
            .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def usable_method(session: AsyncSession, method_id: str) -> PaymentMethod | None:
    """The card, unless it was removed at the provider."""
    method = await session.get(PaymentMethod, method_id)
    return None if method is None or method.detached_at is not None else method


async def detach_methods(
    session: AsyncSession, provider: str, provider_method_suffix: str, now: datetime
) -> int:
    """Mark the cards the provider removed (their `provider_method_id` ends with the suffix:
    Stripe's is `"<customer> <payment method>"`); returns how many were still attached."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(PaymentMethod)
        .where(
            PaymentMethod.provider == provider,
            PaymentMethod.provider_method_id.endswith(provider_method_suffix, autoescape=True),
            PaymentMethod.detached_at.is_(None),
        )
        .values(detached_at=now)
    )
    return result.rowcount


async def key_used(session: AsyncSession, idempotency_key: str) -> bool:
    """Whether a payment has this idempotency key (it names one logical charge)."""
    query = select(Payment.id).where(Payment.idempotency_key == idempotency_key)
    return (await session.execute(query)).first() is not None


async def get_payment(session: AsyncSession, payment_id: str) -> Payment | None:
    return await session.get(Payment, payment_id)


async def payment_by_provider_id(
    session: AsyncSession, provider: str, provider_payment_id: str
) -> Payment | None:
    """The payment the provider knows by this id (a Stripe PaymentIntent)."""
    query = select(Payment).where(
        Payment.provider == provider, Payment.provider_payment_id == provider_payment_id
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


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


async def is_top_up(session: AsyncSession, payment: Payment) -> bool:
    """Whether the payment bought wallet credit at a merchant's checkout (onboarding, topup),
    not a subscription, a credit bundle or an autopay top-up of a shared wallet."""
    if payment.purpose != CHECKOUT or payment.checkout_session_id is None:
        return False
    mode = (
        await session.execute(
            select(CheckoutSession.mode).where(CheckoutSession.id == payment.checkout_session_id)
        )
    ).scalar_one_or_none()
    return mode in TOP_UP_MODES


async def payments_page(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    cursor: str | None,
    limit: int,
    wallet_id: str | None,
    connection_id: str | None = None,
) -> Sequence[tuple[Payment, str | None, str | None]]:
    """The merchant's payments, newest first, up to `limit + 1` (ids are time-ordered), each
    with its checkout session's connection id and mode (None without one). With `wallet_id` and
    `connection_id`: one customer's (the wallet's, less the checkouts of its other connections)."""
    query = (
        select(Payment, CheckoutSession.connection_id, CheckoutSession.mode)
        .outerjoin(CheckoutSession, CheckoutSession.id == Payment.checkout_session_id)
        .where(Payment.merchant_id == merchant_id, Payment.livemode == livemode)
    )
    if wallet_id is not None:
        query = query.where(Payment.wallet_id == wallet_id)
    if connection_id is not None:
        query = query.where(
            or_(
                CheckoutSession.connection_id.is_(None),
                CheckoutSession.connection_id == connection_id,
            )
        )
    if cursor is not None:
        query = query.where(Payment.id < cursor)
    rows = await session.execute(query.order_by(Payment.id.desc()).limit(limit + 1))
    return [(row[0], row[1], row[2]) for row in rows]


async def payment_of(
    session: AsyncSession, merchant_id: str, livemode: bool, payment_id: str
) -> tuple[Payment, str | None, str | None] | None:
    """One of the merchant's payments, as `payments_page` gives them."""
    row = (
        await session.execute(
            select(Payment, CheckoutSession.connection_id, CheckoutSession.mode)
            .outerjoin(CheckoutSession, CheckoutSession.id == Payment.checkout_session_id)
            .where(
                Payment.id == payment_id,
                Payment.merchant_id == merchant_id,
                Payment.livemode == livemode,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


# Refunds.


async def add_refund(session: AsyncSession, refund: Refund) -> None:
    session.add(refund)
    await session.flush()


async def get_refund(session: AsyncSession, refund_id: str) -> Refund | None:
    return await session.get(Refund, refund_id)


async def lock_refund(session: AsyncSession, refund_id: str) -> Refund | None:
    """The refund, read again and locked until the transaction ends."""
    return (
        await session.execute(
            select(Refund)
            .where(Refund.id == refund_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def refund_by_request(
    session: AsyncSession, merchant_id: str, livemode: bool, request_key: str
) -> Refund | None:
    """The refund a merchant's `Idempotency-Key` started."""
    query = select(Refund).where(
        Refund.merchant_id == merchant_id,
        Refund.livemode == livemode,
        Refund.request_key == request_key,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def refund_by_key(session: AsyncSession, idempotency_key: str) -> Refund | None:
    query = select(Refund).where(Refund.idempotency_key == idempotency_key)
    return (await session.execute(query)).scalar_one_or_none()


async def refund_by_provider_id(
    session: AsyncSession, provider: str, provider_refund_id: str
) -> Refund | None:
    query = select(Refund).where(
        Refund.provider == provider, Refund.provider_refund_id == provider_refund_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def refunded_total(session: AsyncSession, payment_id: str) -> Decimal:
    """What the payment's refunds that did not fail add up to (pending ones count)."""
    total = exact_sum(session.get_bind().dialect.name, Refund.amount)
    found = (
        await session.execute(
            select(total).where(Refund.payment_id == payment_id, Refund.status != FAILED)
        )
    ).scalar()
    return Decimal(found or 0)


async def refunds_of(session: AsyncSession, payment_ids: Sequence[str]) -> Sequence[Refund]:
    """The refunds of these payments, oldest first."""
    if not payment_ids:
        return []
    query = select(Refund).where(Refund.payment_id.in_(payment_ids)).order_by(Refund.id)
    return (await session.execute(query)).scalars().all()


async def pending_refunds(session: AsyncSession, created_before: datetime, limit: int) -> list[str]:
    """Refunds still pending that were created before `created_before`, the oldest first."""
    rows = await session.execute(
        select(Refund.id)
        .where(Refund.status == PENDING, Refund.created_at < created_before)
        .order_by(Refund.created_at)
        .limit(limit)
    )
    return list(rows.scalars())


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


# Disputes.


async def get_dispute(session: AsyncSession, provider: str, dispute_id: str) -> Dispute | None:
    return await session.get(Dispute, (provider, dispute_id))


async def lock_dispute(session: AsyncSession, provider: str, dispute_id: str) -> Dispute | None:
    return (
        await session.execute(
            select(Dispute)
            .where(Dispute.provider == provider, Dispute.id == dispute_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def add_dispute(session: AsyncSession, dispute: Dispute) -> None:
    session.add(dispute)
    await session.flush()


async def open_disputes_of(session: AsyncSession, wallet_id: str) -> int:
    """How many disputes of payments that funded the wallet are open."""
    query = select(func.count()).where(Dispute.wallet_id == wallet_id, Dispute.status == "open")
    return int((await session.execute(query)).scalar_one())
