from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import Request, TierUsage, table_of
from lava_server.db.types import capped_add
from lava_server.metadata import metadata_conditions
from lava_server.pricing.config import TIER_POSITION_CAP


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


async def add_tier_units(
    session: AsyncSession, additions: Sequence[tuple[str, str, datetime, int]]
) -> None:
    """Add units to tier positions `(connection_id, product_id, period_start, units)`, summed per
    key and written in one global order (see `usage.rollups.add_requests`). A position stops at
    `TIER_POSITION_CAP`, past every tier start."""
    totals: dict[tuple[str, str, datetime], int] = {}
    for connection_id, product_id, period_start, units in additions:
        key = (connection_id, product_id, period_start)
        totals[key] = min(totals.get(key, 0) + units, TIER_POSITION_CAP)
    if not totals:
        return
    statement = upsert_insert(session)(table_of(TierUsage))
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "product_id", "period_start"],
        set_={
            "units": capped_add(
                table_of(TierUsage).c.units, statement.excluded.units, TIER_POSITION_CAP
            )
        },
    )
    await session.execute(
        statement,
        [
            {"connection_id": c, "product_id": p, "period_start": start, "units": units}
            for (c, p, start), units in sorted(totals.items())
        ],
    )


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


async def stored_keys(
    session: AsyncSession, keys: Sequence[tuple[str, bool, str]]
) -> set[tuple[str, bool, str]]:
    """Which of these `(merchant_id, livemode, request_id)` are stored (a cheap Core query; the
    rows themselves are read only for the rare repeats)."""
    if not keys:
        return set()
    t = table_of(Request)
    rows = await session.execute(
        select(t.c.merchant_id, t.c.livemode, t.c.request_id).where(
            tuple_(t.c.merchant_id, t.c.livemode, t.c.request_id).in_(keys)
        )
    )
    return {(r.merchant_id, r.livemode, r.request_id) for r in rows}


async def tier_units_many(
    session: AsyncSession, keys: Sequence[tuple[str, str, datetime]]
) -> dict[tuple[str, str, datetime], int]:
    if not keys:
        return {}
    rows = await session.execute(
        select(
            TierUsage.connection_id, TierUsage.product_id, TierUsage.period_start, TierUsage.units
        ).where(
            tuple_(TierUsage.connection_id, TierUsage.product_id, TierUsage.period_start).in_(keys)
        )
    )
    return {(r.connection_id, r.product_id, r.period_start): int(r.units) for r in rows}


async def insert_request(session: AsyncSession, values: dict[str, Any]) -> int:
    """Insert one request row (values by attribute name); its `seq`."""
    result = await session.execute(_INSERT_ONE, column_values(values))
    return int(result.scalar_one())


async def insert_requests(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert request rows (values by attribute name) in one statement; their `seq`s in the order
    given. Used by both metering paths (reported usage and the forward proxy)."""
    if len(rows) == 1:
        return [await insert_request(session, rows[0])]
    result = await session.execute(_INSERT_MANY, [column_values(row) for row in rows])
    return [int(seq) for seq in result.scalars()]


def column_values(values: dict[str, Any]) -> dict[str, Any]:
    """Request values by attribute name → by column name (`request_metadata` is `metadata`)."""
    if "request_metadata" not in values:
        return values
    renamed = dict(values)
    renamed["metadata"] = renamed.pop("request_metadata")
    return renamed


_REQUESTS = table_of(Request)
_INSERT_ONE = insert(_REQUESTS).returning(_REQUESTS.c.seq)
_INSERT_MANY = insert(_REQUESTS).returning(_REQUESTS.c.seq, sort_by_parameter_order=True)
