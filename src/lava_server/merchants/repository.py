from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import ApiKey, Merchant
from lava_server.timeutil import utcnow

_BOOTSTRAP_LOCK = 7_254_002


async def lock_bootstrap(session: AsyncSession) -> None:
    """Until the transaction ends, no other process bootstraps (PostgreSQL: an advisory lock;
    SQLite: the write transaction already holds the database's write lock)."""
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(text(f"SELECT pg_advisory_xact_lock({_BOOTSTRAP_LOCK})"))


async def add_merchant(session: AsyncSession, merchant: Merchant) -> None:
    session.add(merchant)
    await session.flush()


async def add_key(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)


async def count_merchants(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Merchant))).scalar_one())


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def list_keys(session: AsyncSession, merchant_id: str | None) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    return (await session.execute(query)).scalars().all()


async def revoke_key(session: AsyncSession, key_id: str) -> bool:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def lock_merchant(session: AsyncSession, merchant_id: str) -> None:
    """Serialises changes to a merchant's keys (so that its last key is never revoked)."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())


async def page_keys(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[ApiKey]:
    """A page of the active keys of one mode, newest first (`limit + 1` rows)."""
    query = select(ApiKey).where(
        ApiKey.merchant_id == merchant_id,
        ApiKey.livemode == livemode,
        ApiKey.revoked_at.is_(None),
    )
    if cursor is not None:
        query = query.where(ApiKey.id < cursor)
    return (
        (await session.execute(query.order_by(ApiKey.id.desc()).limit(limit + 1))).scalars().all()
    )


async def count_active_keys(session: AsyncSession, merchant_id: str, livemode: bool) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).where(
                    ApiKey.merchant_id == merchant_id,
                    ApiKey.livemode == livemode,
                    ApiKey.revoked_at.is_(None),
                )
            )
        ).scalar_one()
    )


async def active_key(
    session: AsyncSession, merchant_id: str, livemode: bool, key_id: str
) -> ApiKey | None:
    return (
        await session.execute(
            select(ApiKey).where(
                ApiKey.id == key_id,
                ApiKey.merchant_id == merchant_id,
                ApiKey.livemode == livemode,
                ApiKey.revoked_at.is_(None),
            )
        )
    ).scalar_one_or_none()
