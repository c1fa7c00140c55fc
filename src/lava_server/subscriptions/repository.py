from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import (
    ActiveSubscription,
    CreditGrant,
    Payment,
    SubscriptionConfig,
    Wallet,
)
from lava_server.payments.repository import PENDING, RENEWAL

ACTIVE, CANCELLED = "active", "cancelled"


async def add_config(session: AsyncSession, config: SubscriptionConfig) -> None:
    session.add(config)


async def get_config(
    session: AsyncSession, merchant_id: str, livemode: bool, config_id: str
) -> SubscriptionConfig | None:
    return (
        await session.execute(
            select(SubscriptionConfig).where(
                SubscriptionConfig.id == config_id,
                SubscriptionConfig.merchant_id == merchant_id,
                SubscriptionConfig.livemode == livemode,
                SubscriptionConfig.not_deleted(),
            )
        )
    ).scalar_one_or_none()


async def config_by_id(session: AsyncSession, config_id: str) -> SubscriptionConfig | None:
    """The plan, deleted or not (subscriptions keep theirs)."""
    return await session.get(SubscriptionConfig, config_id)


async def list_configs(
    session: AsyncSession, merchant_id: str, livemode: bool
) -> Sequence[SubscriptionConfig]:
    return (
        (
            await session.execute(
                select(SubscriptionConfig)
                .where(
                    SubscriptionConfig.merchant_id == merchant_id,
                    SubscriptionConfig.livemode == livemode,
                    SubscriptionConfig.not_deleted(),
                )
                .order_by(SubscriptionConfig.id.desc())
            )
        )
        .scalars()
        .all()
    )


async def config_in_use(session: AsyncSession, config_id: str) -> bool:
    row = (
        await session.execute(
            select(ActiveSubscription.id)
            .where(
                ActiveSubscription.subscription_config_id == config_id,
                ActiveSubscription.status == ACTIVE,
            )
            .limit(1)
        )
    ).first()
    return row is not None


SubscriptionRow = tuple[ActiveSubscription, SubscriptionConfig, Wallet]


async def list_subscriptions(
    session: AsyncSession, merchant_id: str, livemode: bool
) -> list[SubscriptionRow]:
    rows = await session.execute(
        select(ActiveSubscription, SubscriptionConfig, Wallet)
        .join(
            SubscriptionConfig, SubscriptionConfig.id == ActiveSubscription.subscription_config_id
        )
        .join(Wallet, Wallet.id == ActiveSubscription.wallet_id)
        .where(
            ActiveSubscription.merchant_id == merchant_id,
            ActiveSubscription.livemode == livemode,
        )
        .order_by(ActiveSubscription.id.desc())
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def get_subscription(
    session: AsyncSession, merchant_id: str, livemode: bool, subscription_id: str
) -> ActiveSubscription | None:
    return (
        await session.execute(
            select(ActiveSubscription).where(
                ActiveSubscription.id == subscription_id,
                ActiveSubscription.merchant_id == merchant_id,
                ActiveSubscription.livemode == livemode,
            )
        )
    ).scalar_one_or_none()


async def subscription_by_id(
    session: AsyncSession, subscription_id: str
) -> ActiveSubscription | None:
    return await session.get(ActiveSubscription, subscription_id)


async def add_subscription(session: AsyncSession, subscription: ActiveSubscription) -> None:
    session.add(subscription)
    await session.flush()


async def lock_subscription(session: AsyncSession, subscription_id: str) -> ActiveSubscription:
    return (
        await session.execute(
            select(ActiveSubscription)
            .where(ActiveSubscription.id == subscription_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def active_for_wallet(session: AsyncSession, wallet_id: str) -> ActiveSubscription | None:
    return (
        await session.execute(
            select(ActiveSubscription).where(
                ActiveSubscription.wallet_id == wallet_id, ActiveSubscription.status == ACTIVE
            )
        )
    ).scalar_one_or_none()


async def due_for_renewal(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    rows = await session.execute(
        select(ActiveSubscription.id)
        .where(
            ActiveSubscription.status == ACTIVE,
            ActiveSubscription.current_period_end <= now,
        )
        .order_by(ActiveSubscription.current_period_end)
        .limit(limit)
    )
    return list(rows.scalars())


async def start_wallet_cycle(session: AsyncSession, wallet_id: str, started_at: datetime) -> None:
    """The wallet's usage periods follow a subscription cycle started at `started_at`."""
    await session.execute(
        update(Wallet)
        .where(Wallet.id == wallet_id)
        .values(cycle_started_at=started_at, cycle_ends_at=None)
    )


async def end_wallet_cycle(session: AsyncSession, wallet_id: str, ends_at: datetime) -> None:
    """The wallet's subscription cycle ends at `ends_at`."""
    await session.execute(
        update(Wallet).where(Wallet.id == wallet_id).values(cycle_ends_at=ends_at)
    )


def _pending_renewal_of(subscription_id: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Payment.active_subscription_id == subscription_id,
        Payment.purpose == RENEWAL,
        Payment.status == PENDING,
    )


async def renewal_pending(session: AsyncSession, subscription_id: str) -> bool:
    """Whether a renewal charge of the subscription is pending."""
    query = select(Payment.id).where(*_pending_renewal_of(subscription_id))
    return (await session.execute(query)).first() is not None


async def lock_pending_renewals(session: AsyncSession, subscription_id: str) -> Sequence[Payment]:
    """The subscription's pending renewal charges, read again and locked."""
    return (
        (
            await session.execute(
                select(Payment)
                .where(*_pending_renewal_of(subscription_id))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )


async def live_for_connections(
    session: AsyncSession, connection_ids: Sequence[str]
) -> dict[str, tuple[ActiveSubscription, SubscriptionConfig]]:
    """The active subscription (with its plan) of each of these connections that has one."""
    if not connection_ids:
        return {}
    rows = await session.execute(
        select(ActiveSubscription, SubscriptionConfig)
        .join(
            SubscriptionConfig, SubscriptionConfig.id == ActiveSubscription.subscription_config_id
        )
        .where(
            ActiveSubscription.connection_id.in_(sorted(set(connection_ids))),
            ActiveSubscription.status == ACTIVE,
        )
    )
    return {row[0].connection_id: (row[0], row[1]) for row in rows}


async def period_credit_left(session: AsyncSession, subscription_id: str) -> Decimal:
    """What is left of the period credit this subscription granted (not yet expired)."""
    total = (
        await session.execute(
            select(func.coalesce(func.sum(CreditGrant.remaining), 0)).where(
                CreditGrant.active_subscription_id == subscription_id,
                CreditGrant.expired_at.is_(None),
            )
        )
    ).scalar_one()
    return Decimal(total)
