"""Keeping the 15-minute usage roll-ups (`UsageBucket`). Runs inside the request's transaction."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import Request, UsageBucket

BUCKET_SECONDS = 15 * 60
ANY = ""  # connection_id / product_id of the roll-ups that sum over all of them

SUMMED = (
    "total_requests",
    "total_usage_tokens",
    "total_usage_cost",
    "total_fee_amount",
    "total_service_charge_amount",
    "total_request_cost",
    "total_wallet_cost",
    "total_merchant_cost",
)


def bucket_start(moment: datetime) -> datetime:
    seconds = int(moment.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def amounts_of(request: Request) -> dict[str, Any]:
    return {
        "total_requests": 1,
        "total_usage_tokens": request.input_tokens + request.output_tokens,
        "total_usage_cost": request.total_cost,
        "total_fee_amount": request.fee_amount,
        "total_service_charge_amount": request.service_charge_amount,
        "total_request_cost": request.total_request_cost,
        "total_wallet_cost": request.total_wallet_cost,
        "total_merchant_cost": request.total_merchant_cost,
    }


async def add_request(session: AsyncSession, request: Request) -> None:
    """Add a completed request to its four roll-up series, in one statement.

    Rows are always written in the same order (specific to general), so that two transactions
    never wait on each other's rows in opposite orders."""
    amounts = amounts_of(request)
    bucket = bucket_start(request.created_at)
    connection = request.connection_id or ANY
    product = request.product_id or ANY
    keys = [(connection, product), (connection, ANY), (ANY, product), (ANY, ANY)]
    rows = [
        {
            "merchant_id": request.merchant_id,
            "livemode": request.livemode,
            "connection_id": c,
            "product_id": p,
            "bucket_start": bucket,
            **amounts,
        }
        for c, p in dict.fromkeys(keys)
    ]
    statement = upsert_insert(session)(UsageBucket).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["merchant_id", "livemode", "connection_id", "product_id", "bucket_start"],
        set_={name: getattr(UsageBucket, name) + statement.excluded[name] for name in SUMMED},
    )
    await session.execute(statement)
