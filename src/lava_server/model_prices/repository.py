"""SQL of `model_prices`, the prices added with `lava prices add`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import ModelPrice, table_of


async def all_prices(session: AsyncSession) -> Sequence[ModelPrice]:
    return (
        (await session.execute(select(ModelPrice).order_by(ModelPrice.provider, ModelPrice.model)))
        .scalars()
        .all()
    )


async def put(
    session: AsyncSession, provider: str, model: str, prices: dict[str, Any], now: datetime
) -> None:
    """Add the price of a model, or replace the one it had."""
    statement = upsert_insert(session)(table_of(ModelPrice)).values(
        provider=provider, model=model, prices=prices, updated_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["provider", "model"],
            set_={"prices": statement.excluded.prices, "updated_at": statement.excluded.updated_at},
        )
    )


async def remove(session: AsyncSession, provider: str, model: str) -> bool:
    """Remove the price of a model; False when there was none."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        delete(ModelPrice).where(ModelPrice.provider == provider, ModelPrice.model == model)
    )
    return result.rowcount > 0
