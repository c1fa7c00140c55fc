"""The statements of `GET /v1/usage`: sums per day from `start` (a UTC moment at a day's start
in the caller's zone) to `end`, day 0 being the first. Each row is `day, total_requests,
total_usage_tokens, *MONEY_FIELDS`, exact at any size; days without usage have no row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, Integer, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Request, UsageBucket
from lava_server.db.sums import SumOf, execute_sums
from lava_server.metadata import metadata_conditions
from lava_server.metering.rollups import ANY

DAY = 86400
MONEY_FIELDS = (
    "total_usage_cost",
    "total_fee_amount",
    "total_service_charge_amount",
    "total_request_cost",
    "total_wallet_cost",
    "total_merchant_cost",
)


async def daily_rollup_sums(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    start: datetime,
    end: datetime,
    connection_id: str | None,
    product_id: str | None,
) -> list[Any]:
    """From the 15-minute roll-ups: one series, for one connection and product or all."""
    first = int(start.timestamp())
    day = ((UsageBucket.bucket - first) // DAY).label("day")

    def query(sum_of: SumOf) -> Executable:
        return (
            select(
                day,
                sum_of(UsageBucket.total_requests),
                sum_of(UsageBucket.total_usage_tokens),
                *(sum_of(getattr(UsageBucket, name)) for name in MONEY_FIELDS),
            )
            .where(
                UsageBucket.merchant_id == merchant_id,
                UsageBucket.livemode == livemode,
                UsageBucket.connection_id == (connection_id or ANY),
                UsageBucket.product_id == (product_id or ANY),
                UsageBucket.bucket >= first,
                UsageBucket.bucket < int(end.timestamp()),
            )
            .group_by(day)
        )

    return list(await execute_sums(session, query))


async def daily_request_sums(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    start: datetime,
    end: datetime,
    connection_id: str | None,
    product_id: str | None,
    metadata_filters: dict[str, str],
) -> list[Any]:
    """From the completed requests themselves (what metadata filters need)."""
    day = _day_index(session, Request.created_at, start).label("day")
    request_money = (
        Request.total_cost,
        Request.fee_amount,
        Request.service_charge_amount,
        Request.total_request_cost,
        Request.total_wallet_cost,
        Request.total_merchant_cost,
    )

    def query(sum_of: SumOf) -> Executable:
        found = select(
            day,
            func.count(),
            sum_of(Request.input_tokens + Request.output_tokens),
            *(sum_of(column) for column in request_money),
        ).where(
            Request.merchant_id == merchant_id,
            Request.livemode == livemode,
            Request.status == "completed",
            Request.created_at >= start,
            Request.created_at < end,
            *metadata_conditions(session, metadata_filters),
        )
        if connection_id is not None:
            found = found.where(Request.connection_id == connection_id)
        if product_id is not None:
            found = found.where(Request.product_id == product_id)
        return found.group_by(day)

    return list(await execute_sums(session, query))


def _day_index(session: AsyncSession, column: Any, start_utc: datetime) -> ColumnElement[Any]:
    """Whole days from `start_utc` to `column` (which is never before it)."""
    epoch = int(start_utc.timestamp())
    if session.get_bind().dialect.name == "sqlite":
        return (cast(func.strftime("%s", column), Integer) - epoch) // DAY
    return cast(func.floor((func.extract("epoch", column) - epoch) / DAY), Integer)


async def top_series(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    start: datetime,
    end: datetime,
    *,
    by: str,
    limit: int | None,
) -> list[Any]:
    """The connections (`by="connection"`, any product) or the products (`by="product"`, any
    connection) with the most fees from `start` to `end`, from the roll-ups: rows of `id,
    total_requests, total_usage_tokens, total_fee_amount, total_usage_cost`, most fees first."""
    if by == "connection":
        key, other = UsageBucket.connection_id, UsageBucket.product_id
    else:
        key, other = UsageBucket.product_id, UsageBucket.connection_id
    # `''` as a literal, not a parameter: the planners then use the partial index
    # `ix_usage_buckets_any_product` (a customer ranking reads one day's rows, not the history).
    any_key: ColumnElement[str] = literal_column("''")

    def query(sum_of: SumOf) -> Executable:
        fees = sum_of(UsageBucket.total_fee_amount).label("fees")
        return (
            select(
                key,
                sum_of(UsageBucket.total_requests),
                sum_of(UsageBucket.total_usage_tokens),
                fees,
                sum_of(UsageBucket.total_usage_cost),
            )
            .where(
                UsageBucket.merchant_id == merchant_id,
                UsageBucket.livemode == livemode,
                key != any_key,
                other == any_key,
                UsageBucket.bucket >= int(start.timestamp()),
                UsageBucket.bucket < int(end.timestamp()),
            )
            .group_by(key)
            .order_by(fees.desc(), key)
            .limit(limit)
        )

    return list(await execute_sums(session, query))


async def last_activity(
    session: AsyncSession, merchant_id: str, livemode: bool, connection_ids: list[str]
) -> dict[str, int]:
    """The start (unix seconds) of the last quarter hour in which each connection made a
    request, from the roll-ups; connections without requests are left out. One index seek per
    connection (the last row of its series)."""
    found: dict[str, int] = {}
    for connection_id in connection_ids:
        last = (
            await session.execute(
                select(func.max(UsageBucket.bucket)).where(
                    UsageBucket.merchant_id == merchant_id,
                    UsageBucket.livemode == livemode,
                    UsageBucket.connection_id == connection_id,
                    UsageBucket.product_id == ANY,
                )
            )
        ).scalar_one_or_none()
        if last is not None:
            found[connection_id] = int(last)
    return found
