"""Funding wallets (by hand, and from succeeded payments), and `lava ledger check`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import Database
from lava_server.db.models import LedgerEntry, Payment, Request, Wallet
from lava_server.db.sums import exact_sum
from lava_server.errors import InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.payments.service import SUCCEEDED
from lava_server.pricing import MAX_AMOUNT, format_money
from lava_server.timeutil import utcnow
from lava_server.wallets.ledger import Posting, lock_wallet, post, wallet_account


async def fund_in_session(
    session: AsyncSession,
    wallet_id: str,
    amount: Decimal,
    *,
    livemode: bool,
    source: str,
    field: str = "amount",
) -> None:
    """Credit `amount` from `funding:<source>`; the caller's transaction holds the wallet lock.
    A credit that would take the balance past `MAX_AMOUNT` is a 400 naming `field`."""
    balance = (
        await session.execute(select(Wallet.balance).where(Wallet.id == wallet_id))
    ).scalar_one()
    if balance + amount > MAX_AMOUNT:
        raise InvalidRequest(
            f"{field}: a wallet holds at most {format_money(MAX_AMOUNT)}; this one holds "
            f"{format_money(balance)}, so it can take at most {format_money(MAX_AMOUNT - balance)}"
            " more.",
            param=field,
        )
    await post(
        session,
        txn_id=new_id("fund", livemode),
        postings=[
            Posting(wallet_account(wallet_id), amount, "funding", wallet_id),
            Posting(f"funding:{source}", -amount, "funding"),
        ],
        livemode=livemode,
        now=utcnow(),
    )


async def credit_payment(session: AsyncSession, payment: Payment, now: datetime) -> None:
    """Put a succeeded payment's amount in its wallet; the caller holds the wallet's lock."""
    assert payment.status == SUCCEEDED
    await post(
        session,
        txn_id=f"payment:{payment.id}",
        postings=[
            Posting(
                wallet_account(payment.wallet_id), payment.amount, "payment", payment.wallet_id
            ),
            Posting(f"funding:{payment.provider}", -payment.amount, "payment"),
        ],
        livemode=payment.livemode,
        now=now,
    )


async def fund(
    db: Database, wallet_id: str, amount: Decimal, *, livemode: bool, source: str
) -> None:
    async with db.write() as session:
        if await lock_wallet(session, wallet_id) is None:
            raise NotFound(f"No wallet {wallet_id}.")
        await fund_in_session(session, wallet_id, amount, livemode=livemode, source=source)


@dataclass(frozen=True)
class LedgerProblem:
    kind: str  # "balance", "unbalanced_txn" or "held"
    subject: str
    expected: Decimal
    found: Decimal

    def describe(self) -> str:
        if self.kind == "balance":
            return (
                f"wallet {self.subject}: balance {self.found} but its ledger entries sum to "
                f"{self.expected} (difference {self.found - self.expected})"
            )
        if self.kind == "held":
            return (
                f"wallet {self.subject}: {self.found} held but its pending calls hold "
                f"{self.expected} (difference {self.found - self.expected})"
            )
        return f"transaction {self.subject}: entries sum to {self.found}, not 0"


@dataclass(frozen=True)
class LedgerReport:
    wallets: int
    entries: int
    problems: list[LedgerProblem]


async def check(db: Database) -> LedgerReport:
    """Recompute every wallet balance from the ledger, check that every transaction sums to
    zero, and that what each wallet holds is what its pending forward calls hold. Read in one
    transaction, so the picture is consistent."""
    async with db.read() as session:
        dialect = session.get_bind().dialect.name
        total = exact_sum(dialect, LedgerEntry.amount)  # sums of many entries pass 64 bits
        sums: dict[str, Decimal] = dict(
            (
                await session.execute(
                    select(LedgerEntry.wallet_id, total)
                    .where(LedgerEntry.wallet_id.is_not(None))
                    .group_by(LedgerEntry.wallet_id)
                )
            ).all()
        )
        balances = (await session.execute(select(Wallet.id, Wallet.balance))).all()
        unbalanced = (
            await session.execute(
                select(LedgerEntry.txn_id, total).group_by(LedgerEntry.txn_id).having(total != 0)
            )
        ).all()
        pending = (
            select(Request.wallet_id, exact_sum(dialect, Request.hold_amount).label("held"))
            .where(Request.status == "pending", Request.wallet_id.is_not(None))
            .group_by(Request.wallet_id)
            .subquery()
        )
        pending_held = func.coalesce(pending.c.held, 0)
        wrongly_held = (
            await session.execute(  # one statement: one snapshot of both tables
                select(Wallet.id, Wallet.held, pending_held)
                .outerjoin(pending, pending.c.wallet_id == Wallet.id)
                .where(Wallet.held != pending_held)
            )
        ).all()
        entries = int(
            (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        )
    problems: list[LedgerProblem] = []
    for wallet_id, balance in balances:
        expected = Decimal(sums.get(wallet_id) or 0)
        if expected != balance:
            problems.append(LedgerProblem("balance", wallet_id, expected, balance))
    for wallet_id, held, expected_held in wrongly_held:
        problems.append(LedgerProblem("held", wallet_id, Decimal(expected_held), held))
    for txn_id, total in unbalanced:
        problems.append(LedgerProblem("unbalanced_txn", txn_id, Decimal(0), Decimal(total)))
    return LedgerReport(wallets=len(balances), entries=entries, problems=problems)
