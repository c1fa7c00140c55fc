"""The append-only ledger and the wallet lock. Call these inside a `Database.write()` session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import LedgerEntry, Wallet


@dataclass(frozen=True)
class Posting:
    """One side of a movement: `account` gains `amount` (negative: loses)."""

    account: str
    amount: Decimal
    kind: str
    wallet_id: str | None = None


def wallet_account(wallet_id: str) -> str:
    return f"wallet:{wallet_id}"


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero: a bug, never written."""


@dataclass(frozen=True)
class LockedWallet:
    id: str
    balance: Decimal
    held: Decimal

    @property
    def available(self) -> Decimal:
        """What can still be spent: the balance less open holds."""
        return self.balance - self.held


async def lock_wallet(session: AsyncSession, wallet_id: str) -> LockedWallet | None:
    """Read the wallet and hold its lock until the transaction ends.

    PostgreSQL: a row lock (`FOR UPDATE`), so concurrent writers to one wallet queue, from any
    number of server processes. SQLite: a write transaction already holds the database's write
    lock (BEGIN IMMEDIATE), which serialises every writer.
    """
    row = (
        await session.execute(
            select(Wallet.id, Wallet.balance, Wallet.held)
            .where(Wallet.id == wallet_id)
            .with_for_update()
        )
    ).first()
    return None if row is None else LockedWallet(row.id, row.balance, row.held)


async def post(
    session: AsyncSession,
    *,
    txn_id: str,
    postings: Sequence[Posting],
    livemode: bool,
    now: datetime,
    request_seq: int | None = None,
) -> None:
    """Write one balanced movement and apply it to the wallets it touches.

    The caller must hold the lock of every wallet in `postings` (`lock_wallet`)."""
    postings = [p for p in postings if p.amount != 0]
    if sum((p.amount for p in postings), Decimal(0)) != 0:
        raise UnbalancedTransaction(f"postings of {txn_id} do not sum to zero: {postings}")
    if not postings:
        return
    await session.execute(
        insert(LedgerEntry),
        [
            {
                "txn_id": txn_id,
                "account": p.account,
                "wallet_id": p.wallet_id,
                "amount": p.amount,
                "kind": p.kind,
                "livemode": livemode,
                "request_seq": request_seq,
                "created_at": now,
            }
            for p in postings
        ],
    )
    deltas: dict[str, Decimal] = {}
    for p in postings:
        if p.wallet_id is not None:
            deltas[p.wallet_id] = deltas.get(p.wallet_id, Decimal(0)) + p.amount
    for wallet_id, delta in sorted(deltas.items()):
        await session.execute(
            update(Wallet).where(Wallet.id == wallet_id).values(balance=Wallet.balance + delta)
        )
