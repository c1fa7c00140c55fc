from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import (
    ActiveSubscription,
    Connection,
    CreditBundle,
    CreditGrant,
    Payment,
    PlanMeter,
    Product,
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
            # In dunning, only once the next retry is due.
            or_(
                ActiveSubscription.next_payment_retry_at.is_(None),
                ActiveSubscription.next_payment_retry_at <= now,
            ),
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


# The current API's plans, bundles and subscriptions (`docs/current-api.md#plans`).


async def free_plan(
    session: AsyncSession, merchant_id: str, livemode: bool
) -> SubscriptionConfig | None:
    return (
        await session.execute(
            select(SubscriptionConfig).where(
                SubscriptionConfig.merchant_id == merchant_id,
                SubscriptionConfig.livemode == livemode,
                SubscriptionConfig.is_free.is_(True),
            )
        )
    ).scalar_one_or_none()


async def page_configs(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[SubscriptionConfig]:
    query = select(SubscriptionConfig).where(
        SubscriptionConfig.merchant_id == merchant_id,
        SubscriptionConfig.livemode == livemode,
        SubscriptionConfig.not_deleted(),
    )
    if cursor is not None:
        query = query.where(SubscriptionConfig.id < cursor)
    query = query.order_by(SubscriptionConfig.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def linked_meters(
    session: AsyncSession, plan_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(meter id, name) of each plan's linked meters that are not deleted."""
    found: dict[str, list[tuple[str, str]]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return found
    rows = await session.execute(
        select(PlanMeter.plan_id, Product.id, Product.name)
        .join(Product, Product.id == PlanMeter.meter_id)
        .where(PlanMeter.plan_id.in_(sorted(set(plan_ids))), Product.not_deleted())
        .order_by(Product.id)
    )
    for plan_id, meter_id, name in rows:
        found[plan_id].append((meter_id, name))
    return found


async def live_meter_ids(
    session: AsyncSession, merchant_id: str, livemode: bool, meter_ids: Sequence[str]
) -> set[str]:
    rows = await session.execute(
        select(Product.id).where(
            Product.id.in_(sorted(set(meter_ids))),
            Product.merchant_id == merchant_id,
            Product.livemode == livemode,
            Product.not_deleted(),
        )
    )
    return set(rows.scalars())


async def set_linked_meters(session: AsyncSession, plan_id: str, meter_ids: Sequence[str]) -> None:
    await session.execute(delete(PlanMeter).where(PlanMeter.plan_id == plan_id))
    for meter_id in sorted(set(meter_ids)):
        session.add(PlanMeter(plan_id=plan_id, meter_id=meter_id))
    await session.flush()


async def bundles_of(
    session: AsyncSession, plan_ids: Sequence[str]
) -> dict[str, list[CreditBundle]]:
    found: dict[str, list[CreditBundle]] = {plan_id: [] for plan_id in plan_ids}
    if not plan_ids:
        return found
    rows = await session.execute(
        select(CreditBundle)
        .where(CreditBundle.plan_id.in_(sorted(set(plan_ids))), CreditBundle.not_deleted())
        .order_by(CreditBundle.position, CreditBundle.id)
    )
    for bundle in rows.scalars():
        found[bundle.plan_id].append(bundle)
    return found


async def add_bundle(session: AsyncSession, bundle: CreditBundle) -> None:
    session.add(bundle)
    await session.flush()


async def get_bundle(
    session: AsyncSession, merchant_id: str, livemode: bool, bundle_id: str
) -> CreditBundle | None:
    return (
        await session.execute(
            select(CreditBundle).where(
                CreditBundle.id == bundle_id,
                CreditBundle.merchant_id == merchant_id,
                CreditBundle.livemode == livemode,
                CreditBundle.not_deleted(),
            )
        )
    ).scalar_one_or_none()


async def bundle_by_id(session: AsyncSession, bundle_id: str) -> CreditBundle | None:
    return await session.get(CreditBundle, bundle_id)


async def page_bundles(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    plan_id: str | None,
    cursor: str | None,
    limit: int,
) -> Sequence[CreditBundle]:
    query = (
        select(CreditBundle)
        .join(SubscriptionConfig, SubscriptionConfig.id == CreditBundle.plan_id)
        .where(
            CreditBundle.merchant_id == merchant_id,
            CreditBundle.livemode == livemode,
            CreditBundle.not_deleted(),
            SubscriptionConfig.not_deleted(),
        )
    )
    if plan_id is not None:
        query = query.where(CreditBundle.plan_id == plan_id)
    if cursor is not None:
        query = query.where(CreditBundle.id < cursor)
    query = query.order_by(CreditBundle.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def delete_bundles_of(session: AsyncSession, plan_id: str, now: datetime) -> None:
    await session.execute(
        update(CreditBundle)
        .where(CreditBundle.plan_id == plan_id, CreditBundle.deleted_at.is_(None))
        .values(deleted_at=now)
    )


SubscriptionView = tuple[ActiveSubscription, SubscriptionConfig, Wallet, Connection | None]


async def page_subscriptions(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    *,
    status: str | None,
    connection_id: str | None,
    cursor: str | None,
    limit: int,
) -> list[SubscriptionView]:
    query = (
        select(ActiveSubscription, SubscriptionConfig, Wallet, Connection)
        .join(
            SubscriptionConfig, SubscriptionConfig.id == ActiveSubscription.subscription_config_id
        )
        .join(Wallet, Wallet.id == ActiveSubscription.wallet_id)
        .outerjoin(Connection, Connection.id == ActiveSubscription.connection_id)
        .where(
            ActiveSubscription.merchant_id == merchant_id,
            ActiveSubscription.livemode == livemode,
        )
    )
    if status is not None:
        query = query.where(ActiveSubscription.status == status)
    if connection_id is not None:
        query = query.where(ActiveSubscription.connection_id == connection_id)
    if cursor is not None:
        query = query.where(ActiveSubscription.id < cursor)
    rows = await session.execute(query.order_by(ActiveSubscription.id.desc()).limit(limit + 1))
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def credit_left(
    session: AsyncSession, subscription_ids: Sequence[str], now: datetime
) -> dict[str, dict[str, Decimal]]:
    """What is left at `now` of each subscription's credit, by kind (`cycle`, `bundle`): credit
    due to expire by then counts as gone, whether or not a debit or the worker has expired it."""
    found: dict[str, dict[str, Decimal]] = {
        subscription_id: {"cycle": Decimal(0), "bundle": Decimal(0)}
        for subscription_id in subscription_ids
    }
    if not subscription_ids:
        return found
    rows = await session.execute(
        select(CreditGrant.active_subscription_id, CreditGrant.kind, CreditGrant.remaining).where(
            CreditGrant.active_subscription_id.in_(sorted(set(subscription_ids))),
            CreditGrant.expired_at.is_(None),
            CreditGrant.remaining > 0,
            or_(CreditGrant.expires_at.is_(None), CreditGrant.expires_at > now),
        )
    )
    for subscription_id, kind, remaining in rows:
        assert subscription_id is not None  # a merchant's grant has none (`kind = 'grant'`)
        found[subscription_id][kind] += remaining
    return found
