from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
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
    model: str | None = None,
    status: str | None = None,
) -> Sequence[Request]:
    query = select(Request).where(Request.merchant_id == merchant_id, Request.livemode == livemode)
    if connection_id is not None:
        query = query.where(Request.connection_id == connection_id)
    if product_id is not None:
        query = query.where(Request.product_id == product_id)
    if model is not None:
        query = query.where(Request.model == model)
    if status is not None:
        query = query.where(Request.status == status)
    for condition in metadata_conditions(session, metadata_filters):
        query = query.where(condition)
    if before_seq is not None:
        query = query.where(Request.seq < before_seq)
    query = query.order_by(Request.seq.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


async def models_among_latest(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    since: datetime,
    sample: int,
    limit: int,
) -> list[Any]:
    """The models of the completed requests made since `since` among the latest `sample`
    requests, most requests first: rows of `model, requests, tokens`. A bounded read (the
    requests index, newest first), whatever the number of stored requests: the roll-ups have no
    model."""
    latest = (
        select(
            Request.model,
            Request.input_tokens,
            Request.output_tokens,
            Request.created_at,
            Request.status,
        )
        .where(Request.merchant_id == merchant_id, Request.livemode == livemode)
        .order_by(Request.seq.desc())
        .limit(sample)
        .subquery()
    )
    count = func.count().label("requests")
    rows = await session.execute(
        select(
            latest.c.model,
            count,
            func.sum(latest.c.input_tokens + latest.c.output_tokens),
        )
        .where(latest.c.created_at >= since, latest.c.status == "completed")
        .group_by(latest.c.model)
        .order_by(count.desc(), latest.c.model)
        .limit(limit)
    )
    return list(rows.all())
