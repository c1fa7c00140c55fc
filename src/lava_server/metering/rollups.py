"""Keeping the 15-minute usage roll-ups (`UsageBucket`). Runs inside the request's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import UsageBucket, table_of
from lava_server.db.sums import wide_add

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


def bucket_of(moment: datetime) -> int:
    """The quarter hour holding `moment`, as unix seconds."""
    return int(moment.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS


def amounts_of(request: Mapping[str, Any]) -> dict[str, Any]:
    """What one request adds to a roll-up (`request`: its row, by attribute name)."""
    return {
        "total_requests": 1,
        "total_usage_tokens": request["input_tokens"] + request["output_tokens"],
        "total_usage_cost": request["total_cost"],
        "total_fee_amount": request["fee_amount"],
        "total_service_charge_amount": request["service_charge_amount"],
        "total_request_cost": request["total_request_cost"],
        "total_wallet_cost": request["total_wallet_cost"],
        "total_merchant_cost": request["total_merchant_cost"],
    }


async def add_requests(session: AsyncSession, requests: Sequence[Mapping[str, Any]]) -> None:
    """Add completed requests (their rows, by attribute name) to their four roll-up series
    each, in one statement.

    Rows are summed per key first (one statement may not update a row twice) and written in one
    global order, so that concurrent transactions never wait on each other's rows in opposite
    orders."""
    rows: dict[tuple[str, bool, str, str, int], dict[str, Any]] = {}
    for request in requests:
        amounts = amounts_of(request)
        bucket = bucket_of(request["created_at"])
        connection = request["connection_id"] or ANY
        product = request["product_id"] or ANY
        for c, p in {(connection, product), (connection, ANY), (ANY, product), (ANY, ANY)}:
            key = (request["merchant_id"], request["livemode"], c, p, bucket)
            row = rows.get(key)
            if row is None:
                rows[key] = {
                    "merchant_id": key[0],
                    "livemode": key[1],
                    "connection_id": c,
                    "product_id": p,
                    "bucket": bucket,
                    **amounts,
                }
            else:
                for name in SUMMED:
                    row[name] += amounts[name]
    if not rows:
        return
    await session.execute(_upsert(session), [rows[key] for key in sorted(rows)])


_UPSERTS: dict[str, Any] = {}


def _upsert(session: AsyncSession) -> Any:
    """One-row upsert per dialect, executed with many parameter sets: built once, and compiled
    once by SQLAlchemy's cache."""
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERTS:
        table = table_of(UsageBucket)
        statement = upsert_insert(session)(table)
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=[
                "merchant_id",
                "livemode",
                "connection_id",
                "product_id",
                "bucket",
            ],
            set_={
                name: wide_add(dialect, table.c[name], statement.excluded[name]) for name in SUMMED
            },
        )
    return _UPSERTS[dialect]
