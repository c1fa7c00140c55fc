"""The append-only ledger and the wallet lock. Call these inside a `Database.write()` session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.wallets import repository


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
    row = await repository.lock_balance(session, wallet_id)
    return None if row is None else LockedWallet(row.id, row.balance, row.held)


@dataclass(frozen=True)
class Movement:
    """One balanced money movement: the postings of one transaction id."""

    txn_id: str
    postings: Sequence[Posting]
    livemode: bool
    request_seq: int | None = None


async def post_movements(
    session: AsyncSession, movements: Sequence[Movement], now: datetime
) -> None:
    """Write balanced movements and apply them to the wallets they touch, in as few statements
    as possible. The caller must hold the lock of every wallet involved (`lock_wallet`)."""
    entries: list[dict[str, object]] = []
    deltas: dict[str, Decimal] = {}
    for movement in movements:
        postings = [p for p in movement.postings if p.amount != 0]
        if sum((p.amount for p in postings), Decimal(0)) != 0:
            raise UnbalancedTransaction(
                f"postings of {movement.txn_id} do not sum to zero: {postings}"
            )
        for p in postings:
            entries.append(
                {
                    "txn_id": movement.txn_id,
                    "account": p.account,
                    "wallet_id": p.wallet_id,
                    "amount": p.amount,
                    "kind": p.kind,
                    "livemode": movement.livemode,
                    "request_seq": movement.request_seq,
                    "created_at": now,
                }
            )
            if p.wallet_id is not None:
                deltas[p.wallet_id] = deltas.get(p.wallet_id, Decimal(0)) + p.amount
    if not entries:
        return
    await repository.insert_ledger_entries(session, entries)
    await repository.add_to_balances(session, deltas)


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
    await post_movements(session, [Movement(txn_id, postings, livemode, request_seq)], now)


async def lock_wallets(session: AsyncSession, wallet_ids: Sequence[str]) -> dict[str, LockedWallet]:
    """`lock_wallet` for several wallets, locked in id order (so that two transactions never
    wait on each other's wallets in opposite orders)."""
    if not wallet_ids:
        return {}
    rows = await repository.lock_balances(session, wallet_ids)
    return {row.id: LockedWallet(row.id, row.balance, row.held) for row in rows}
