from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Request


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


def metadata_conditions(
    session: AsyncSession, filters: dict[str, str]
) -> list[ColumnElement[bool]]:
    """Requests whose metadata holds every pair exactly."""
    if not filters:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [type_coerce(Request.request_metadata, JSONB).contains(filters)]  # JSONB @>
    return [
        func.json_extract(Request.request_metadata, f'$."{key}"') == value
        for key, value in filters.items()
    ]


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
