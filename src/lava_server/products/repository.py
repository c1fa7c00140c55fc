from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Product


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, product_id: str
) -> Product | None:
    return (
        await session.execute(
            select(Product).where(
                Product.id == product_id,
                Product.merchant_id == merchant_id,
                Product.livemode == livemode,
                Product.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()


async def get_by_secret(session: AsyncSession, secret: str) -> Product | None:
    return (
        await session.execute(
            select(Product).where(Product.secret == secret, Product.deleted_at.is_(None))
        )
    ).scalar_one_or_none()


async def page(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[Product]:
    query = select(Product).where(
        Product.merchant_id == merchant_id,
        Product.livemode == livemode,
        Product.deleted_at.is_(None),
    )
    if cursor is not None:
        query = query.where(Product.id < cursor)
    query = query.order_by(Product.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def by_secrets(session: AsyncSession, secrets: Sequence[str]) -> dict[str, Product]:
    if not secrets:
        return {}
    rows = await session.execute(
        select(Product).where(Product.secret.in_(secrets), Product.deleted_at.is_(None))
    )
    return {product.secret: product for product in rows.scalars()}
