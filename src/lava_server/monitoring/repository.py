"""The SQL of `/metrics`: a few cheap reads made at each scrape (wallets are few next to
requests and ledger entries; the webhook reads use their indexes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Executable, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import LedgerEntry, Wallet, WebhookDelivery, WebhookOutbox
from lava_server.db.sums import SumOf, execute_sums
from lava_server.webhooks.repository import PENDING

ZERO = Decimal(0)


@dataclass(frozen=True)
class ModeTotals:
    livemode: bool
    wallets: int
    balance: Decimal
    held: Decimal


@dataclass(frozen=True)
class Backlog:
    pending_deliveries: int
    outbox_rows: int
    oldest_due: datetime | None  # the earliest `next_attempt_at` of a pending delivery


async def wallet_totals(session: AsyncSession) -> list[ModeTotals]:
    """Per mode: the wallets, the sum of their balances (each the sum of its ledger entries)
    and of their holds."""
    rows = await execute_sums(session, _totals)
    found = []
    for row in rows:
        livemode, count, balance, held = tuple(row)
        found.append(ModeTotals(bool(livemode), int(count), balance or ZERO, held or ZERO))
    return found


def _totals(sum_of: SumOf) -> Executable:
    return select(
        Wallet.livemode, func.count(), sum_of(Wallet.balance), sum_of(Wallet.held)
    ).group_by(Wallet.livemode)


async def last_ledger_entry(session: AsyncSession) -> int:
    """The id of the newest ledger entry (0: none): it grows with every money movement."""
    found = await session.scalar(select(func.max(LedgerEntry.id)))
    return int(found or 0)


async def webhook_backlog(session: AsyncSession) -> Backlog:
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.status == PENDING
            )
        )
    ).one()
    outbox = await session.scalar(select(func.count()).select_from(WebhookOutbox))
    return Backlog(int(pending), int(outbox or 0), oldest)
