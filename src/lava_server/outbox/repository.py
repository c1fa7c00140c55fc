"""The outbox's SQL: rows written with the changes they report, read and removed by the
webhooks' delivery worker."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import Wallet, WebhookOutbox, table_of

_TABLE = table_of(WebhookOutbox)
_COALESCED: dict[str, Any] = {}


async def add(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert change rows (Core: works on the lean writers' sessions too)."""
    if rows:
        await session.execute(_TABLE.insert(), list(rows))


async def add_coalesced(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows whose `coalesce_key` may be taken already (then the row there stands for
    this change too): one statement for the whole batch."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement = _COALESCED.get(dialect)
    if statement is None:
        statement = upsert_insert(session)(_TABLE).on_conflict_do_nothing(
            index_elements=["coalesce_key"]
        )
        _COALESCED[dialect] = statement
    await session.execute(statement, list(rows))


async def available_balance(session: AsyncSession, wallet_id: str) -> Decimal | None:
    """The wallet's balance less what in-flight calls hold (what `GET` shows), as this
    transaction sees it."""
    table = table_of(Wallet)
    row = (
        await session.execute(select(table.c.balance, table.c.held).where(table.c.id == wallet_id))
    ).first()
    return None if row is None else Decimal(row[0]) - Decimal(row[1])


async def claim_due(
    session: AsyncSession, now: Any, limit: int, *, skip_locked: bool
) -> Sequence[WebhookOutbox]:
    """Due rows, oldest first, locked (rows another worker holds are skipped on PostgreSQL)."""
    query = (
        select(WebhookOutbox)
        .where(WebhookOutbox.due_at <= now)
        .order_by(WebhookOutbox.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query)).scalars().all()


async def remove(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(WebhookOutbox).where(WebhookOutbox.id.in_(ids)))


async def all_rows(session: AsyncSession) -> Sequence[WebhookOutbox]:
    """Every row not yet turned into events (tests and `lava webhooks` diagnostics)."""
    return (await session.execute(select(WebhookOutbox).order_by(WebhookOutbox.id))).scalars().all()


async def any_due(session: AsyncSession, now: Any) -> bool:
    row = (
        await session.execute(select(WebhookOutbox.id).where(WebhookOutbox.due_at <= now).limit(1))
    ).first()
    return row is not None
