from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Request
from lava_server.metadata import metadata_conditions


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, request_id: str
) -> Request | None:
    return (
        await session.execute(
            select(Request).where(
                Request.merchant_id == merchant_id,
                Request.livemode == livemode,
                Request.request_id == request_id,
            )
        )
    ).scalar_one_or_none()


async def page(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    *,
    before_seq: int | None,
    limit: int,
    connection_id: str | None,
    product_id: str | None,
    metadata_filters: dict[str, str],
) -> Sequence[Request]:
    query = select(Request).where(Request.merchant_id == merchant_id, Request.livemode == livemode)
    if connection_id is not None:
        query = query.where(Request.connection_id == connection_id)
    if product_id is not None:
        query = query.where(Request.product_id == product_id)
    for condition in metadata_conditions(session, metadata_filters):
        query = query.where(condition)
    if before_seq is not None:
        query = query.where(Request.seq < before_seq)
    query = query.order_by(Request.seq.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()
