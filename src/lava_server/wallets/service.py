"""Funding wallets (by hand, and from succeeded payments), and `lava ledger check`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import Database
from lava_server.db.models import LedgerEntry, Payment
from lava_server.errors import InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.outbox import record_credit
from lava_server.payments.repository import SUCCEEDED
from lava_server.pricing import MAX_AMOUNT, format_money
from lava_server.timeutil import utcnow
from lava_server.wallets import repository
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
    balance = await repository.balance_of(session, wallet_id)
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
    await record_credit(session, wallet_id)


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
    await record_credit(session, payment.wallet_id, now)


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
    snapshot, so the picture is consistent while calls are being charged."""
    async with db.snapshot() as session:
        sums = await repository.ledger_sums_by_wallet(session)
        balances = await repository.balances(session)
        unbalanced = await repository.unbalanced_transactions(session)
        wrongly_held = await repository.wrongly_held(session)
        entries = await repository.count_ledger_entries(session)
    problems: list[LedgerProblem] = []
    for wallet_id, balance in balances:
        expected = sums.get(wallet_id, Decimal(0))
        if expected != balance:
            problems.append(LedgerProblem("balance", wallet_id, expected, balance))
    for wallet_id, held, expected_held in wrongly_held:
        problems.append(LedgerProblem("held", wallet_id, Decimal(expected_held), held))
    for txn_id, total in unbalanced:
        problems.append(LedgerProblem("unbalanced_txn", txn_id, Decimal(0), Decimal(total)))
    return LedgerReport(wallets=len(balances), entries=entries, problems=problems)


async def ledger_page(
    db: Database, merchant_id: str, wallet_id: str, before_id: int | None, limit: int
) -> Sequence[LedgerEntry]:
    """The dashboard's page of a customer's wallet ledger, newest first (`limit + 1` rows): the
    entries of the transactions that involve `merchant_id` (the caller checked that the wallet
    is its customer's)."""
    async with db.read() as session:
        return await repository.merchant_entries_page(
            session, wallet_id, merchant_id, before_id, limit
        )
