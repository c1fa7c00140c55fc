"""Webhooks' SQL: endpoints, events, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import (
    Connection,
    Wallet,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
ENABLED = "enabled"
DISABLED = "disabled"


async def add(session: AsyncSession, row: Any) -> None:
    session.add(row)
    await session.flush()


async def get_endpoint(
    session: AsyncSession, merchant_id: str, livemode: bool, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpoint | None:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.merchant_id == merchant_id,
        WebhookEndpoint.livemode == livemode,
        WebhookEndpoint.not_deleted(),
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def endpoint_by_id(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    return await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)


async def page_endpoints(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.merchant_id == merchant_id,
        WebhookEndpoint.livemode == livemode,
        WebhookEndpoint.not_deleted(),
    )
    if cursor is not None:
        query = query.where(WebhookEndpoint.id < cursor)
    query = query.order_by(WebhookEndpoint.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def enabled_endpoints(
    session: AsyncSession, merchants: Collection[tuple[str, bool]]
) -> Sequence[WebhookEndpoint]:
    """The enabled endpoints of these (merchant, livemode) pairs."""
    if not merchants:
        return []
    ids = sorted({merchant_id for merchant_id, _ in merchants})
    rows = (
        (
            await session.execute(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.merchant_id.in_(ids),
                    WebhookEndpoint.status == ENABLED,
                    WebhookEndpoint.not_deleted(),
                )
            )
        )
        .scalars()
        .all()
    )
    return [row for row in rows if (row.merchant_id, row.livemode) in merchants]


async def connection_with_wallet(
    session: AsyncSession, connection_id: str
) -> tuple[Connection, Wallet] | None:
    """A connection, deleted or not, and its wallet."""
    row = (
        await session.execute(
            select(Connection, Wallet)
            .join(Wallet, Wallet.id == Connection.wallet_id)
            .where(Connection.id == connection_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def connections_of_wallets(
    session: AsyncSession, wallet_ids: Collection[str]
) -> Sequence[tuple[Connection, Wallet]]:
    """Every connection of these wallets (deleted ones too), with its wallet."""
    if not wallet_ids:
        return []
    rows = (
        await session.execute(
            select(Connection, Wallet)
            .join(Wallet, Wallet.id == Connection.wallet_id)
            .where(Connection.wallet_id.in_(sorted(wallet_ids)))
            .order_by(Connection.id)
        )
    ).all()
    return [(row[0], row[1]) for row in rows]


async def add_all(session: AsyncSession, rows: Sequence[Any]) -> None:
    session.add_all(rows)
    await session.flush()


async def get_event(session: AsyncSession, event_id: str) -> WebhookEvent | None:
    return await session.get(WebhookEvent, event_id)


async def page_deliveries(
    session: AsyncSession, endpoint_id: str, cursor: str | None, limit: int
) -> Sequence[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def attempts_of(
    session: AsyncSession, delivery_ids: Collection[str]
) -> dict[str, list[WebhookAttempt]]:
    found: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        rows = (
            (
                await session.execute(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id.in_(sorted(delivery_ids)))
                    .order_by(WebhookAttempt.id)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            found[row.delivery_id].append(row)
    return found


async def get_delivery(
    session: AsyncSession, endpoint_id: str, delivery_id: str, *, lock: bool = False
) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def due_deliveries(
    session: AsyncSession,
    now: datetime,
    limit: int,
    *,
    skip_endpoints: Collection[str],
    skip_locked: bool,
) -> Sequence[WebhookDelivery]:
    """Pending deliveries due now (claims that ran out included) to enabled endpoints, oldest
    first, locked; on PostgreSQL rows another worker is claiming are skipped."""
    query = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.status == ENABLED,
            WebhookEndpoint.not_deleted(),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if skip_endpoints:
        query = query.where(WebhookDelivery.endpoint_id.not_in(sorted(skip_endpoints)))
    if skip_locked:
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    return (await session.execute(query)).scalars().all()


async def lease(session: AsyncSession, delivery_ids: Sequence[str], until: datetime) -> None:
    """Claim: nobody else takes these deliveries before `until` (then they are due again)."""
    if delivery_ids:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(delivery_ids))
            .values(next_attempt_at=until, lease_until=until)
        )


async def lock_delivery(session: AsyncSession, delivery_id: str) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id, with_for_update=True)


async def events_by_ids(session: AsyncSession, ids: Collection[str]) -> dict[str, WebhookEvent]:
    if not ids:
        return {}
    rows = (
        (await session.execute(select(WebhookEvent).where(WebhookEvent.id.in_(sorted(ids)))))
        .scalars()
        .all()
    )
    return {row.id: row for row in rows}


async def endpoints_by_ids(
    session: AsyncSession, ids: Collection[str]
) -> dict[str, WebhookEndpoint]:
    if not ids:
        return {}
    rows = (
        (await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(sorted(ids)))))
        .scalars()
        .all()
    )
    return {row.id: row for row in rows}


async def any_due_delivery(session: AsyncSession, now: datetime) -> bool:
    row = (
        await session.execute(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
            .limit(1)
        )
    ).first()
    return row is not None


async def lock_endpoints(session: AsyncSession, ids: Collection[str]) -> dict[str, WebhookEndpoint]:
    rows = (
        (
            await session.execute(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(sorted(ids)))
                .order_by(WebhookEndpoint.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    return {row.id: row for row in rows}


async def lock_deliveries(
    session: AsyncSession, ids: Collection[str]
) -> dict[str, WebhookDelivery]:
    rows = (
        (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.id.in_(sorted(ids)))
                .order_by(WebhookDelivery.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    return {row.id: row for row in rows}


async def purge_before(session: AsyncSession, cutoff: datetime) -> int:
    """Forget what is older than `cutoff`: attempts, then finished deliveries left without
    attempts, then events left without deliveries. Returns how many rows went."""
    gone = 0
    result = await session.execute(
        delete(WebhookAttempt).where(WebhookAttempt.attempted_at < cutoff)
    )
    gone += result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status.in_((DELIVERED, FAILED)),
            WebhookDelivery.created_at < cutoff,
            ~exists().where(WebhookAttempt.delivery_id == WebhookDelivery.id),
        )
    )
    gone += result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.created_at < cutoff,
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id),
        )
    )
    gone += result.rowcount or 0  # type: ignore[attr-defined]
    return gone
