"""The SQL of spend keys (`docs/current-api.md#spend-keys`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Connection, Product, SpendKey

Found = tuple[SpendKey, str | None, str | None]
"""A key with the wallet of its customer and the slug of its meter (None when unbound)."""


def _with_binding() -> Select[SpendKey, str, str]:
    return (
        select(SpendKey, Connection.wallet_id, Product.meter_slug)
        .outerjoin(Connection, Connection.id == SpendKey.connection_id)
        .outerjoin(Product, Product.id == SpendKey.meter_id)
    )


async def add(session: AsyncSession, key: SpendKey) -> None:
    session.add(key)
    await session.flush()


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, key_id: str, *, lock: bool = False
) -> Found | None:
    """The merchant's live (not revoked) key of this mode, else None."""
    query = _with_binding().where(
        SpendKey.id == key_id,
        SpendKey.merchant_id == merchant_id,
        SpendKey.livemode == livemode,
        SpendKey.not_deleted(),
    )
    if lock:
        query = query.with_for_update(of=SpendKey)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


async def page(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[Found]:
    """A page of the merchant's live keys of one mode, newest first (`limit + 1` rows)."""
    query = _with_binding().where(
        SpendKey.merchant_id == merchant_id,
        SpendKey.livemode == livemode,
        SpendKey.not_deleted(),
    )
    if cursor is not None:
        query = query.where(SpendKey.id < cursor)
    rows = (await session.execute(query.order_by(SpendKey.id.desc()).limit(limit + 1))).all()
    return [(row[0], row[1], row[2]) for row in rows]


async def by_hash(session: AsyncSession, key_hash: str) -> SpendKey | None:
    """The live key with this SHA-256 (any merchant), for the paths that spend with a key."""
    return (
        await session.execute(
            select(SpendKey).where(SpendKey.key_hash == key_hash, SpendKey.not_deleted())
        )
    ).scalar_one_or_none()
