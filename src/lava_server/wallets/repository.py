"""The statements of wallets, the ledger, period credit and autopay. The caller's transaction
holds the locks its functions say it needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from typing_extensions import Unpack

from lava_server.db.engine import any_of
from lava_server.db.models import (
    ActiveSubscription,
    BalanceOperation,
    CreditBundle,
    CreditGrant,
    LedgerEntry,
    Payment,
    Request,
    Wallet,
    table_of,
)
from lava_server.db.sums import exact_sum
from lava_server.db.types import Money
from lava_server.payments.repository import AUTOPAY, FAILED, PENDING

# Wallets and the ledger.

_wallets = table_of(Wallet)
# Core statements with bound parameters: compiled once, then cached by SQLAlchemy.
_APPLY_DELTA = (
    update(_wallets)
    .where(_wallets.c.id == bindparam("wallet"))
    .values(balance=_wallets.c.balance + bindparam("delta", type_=Money()))
)
_LEDGER_INSERT = insert(table_of(LedgerEntry))


async def get_wallet(
    session: AsyncSession, wallet_id: str, *, fresh: bool = False
) -> Wallet | None:
    """The wallet; `fresh` reads it again even if this session has it already."""
    return await session.get(Wallet, wallet_id, populate_existing=fresh)


async def add_wallet(session: AsyncSession, wallet: Wallet) -> None:
    session.add(wallet)
    await session.flush()


async def reload_wallet(session: AsyncSession, wallet: Wallet) -> None:
    """Read the wallet's columns again (statements changed them behind the ORM's back)."""
    await session.refresh(wallet)


async def lock_balance(session: AsyncSession, wallet_id: str) -> Row[str, Decimal, Decimal] | None:
    """The wallet's `id, balance, held`, its lock held until the transaction ends (PostgreSQL:
    `FOR UPDATE`; SQLite: the write transaction already holds the database's write lock)."""
    return (
        await session.execute(
            select(Wallet.id, Wallet.balance, Wallet.held)
            .where(Wallet.id == wallet_id)
            .with_for_update()
        )
    ).first()


async def lock_balances(
    session: AsyncSession, wallet_ids: Sequence[str]
) -> Sequence[Row[str, Decimal, Decimal]]:
    """`lock_balance` for several wallets, locked in id order."""
    return (
        await session.execute(
            select(Wallet.id, Wallet.balance, Wallet.held)
            .where(Wallet.id.in_(sorted(set(wallet_ids))))
            .order_by(Wallet.id)
            .with_for_update()
        )
    ).all()


async def balance_of(session: AsyncSession, wallet_id: str) -> Decimal:
    balance: Decimal = (
        await session.execute(select(Wallet.balance).where(Wallet.id == wallet_id))
    ).scalar_one()
    return balance


async def insert_ledger_entries(
    session: AsyncSession, entries: Sequence[Mapping[str, object]]
) -> None:
    await session.execute(_LEDGER_INSERT, entries)


async def add_to_balances(session: AsyncSession, deltas: Mapping[str, Decimal]) -> None:
    """Add each amount to its wallet's balance (one statement for all; zeros skipped)."""
    changes = [{"wallet": w, "delta": d} for w, d in sorted(deltas.items()) if d != 0]
    if changes:
        await session.execute(_APPLY_DELTA, changes)


async def operation_by_key(
    session: AsyncSession, merchant_id: str, livemode: bool, idempotency_key: str
) -> BalanceOperation | None:
    """The merchant's grant or adjustment made with this `Idempotency-Key` in this mode."""
    query = select(BalanceOperation).where(
        BalanceOperation.merchant_id == merchant_id,
        BalanceOperation.livemode == livemode,
        BalanceOperation.idempotency_key == idempotency_key,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def add_operation(session: AsyncSession, operation: BalanceOperation) -> None:
    """A merchant's grant or adjustment (`wallets.operations`)."""
    session.add(operation)
    await session.flush()


async def get_operation(session: AsyncSession, operation_id: str) -> BalanceOperation | None:
    return await session.get(BalanceOperation, operation_id)


# Period credit.

_STATE_COLUMNS = (
    Wallet.id,
    Wallet.livemode,
    Wallet.balance,
    Wallet.held,
    Wallet.period_credit,
    Wallet.period_credit_expires_at,
    Wallet.cycle_started_at,
    Wallet.cycle_ends_at,
    Wallet.autopay_enabled,
    Wallet.autopay_threshold,
    Wallet.autopay_amount,
    Wallet.frozen_at,
    # The `credit_amount` of the auto top-up bundle of the wallet's running subscription, if it
    # has one (`metering.top_up`): a subquery of the same statement, no extra round trip.
    select(CreditBundle.credit_amount)
    .join(ActiveSubscription, ActiveSubscription.auto_top_up_bundle_id == CreditBundle.id)
    .where(
        ActiveSubscription.wallet_id == Wallet.id,
        ActiveSubscription.status == "active",
        CreditBundle.not_deleted(),
    )
    .limit(1)
    .scalar_subquery()
    .label("top_up_credit"),
)


async def debit_states(
    session: AsyncSession, wallet_ids: Sequence[str], *, lock: bool = False
) -> Sequence[Row[Unpack[tuple[Any, ...]]]]:
    """What a debit reads of each wallet (balance, period credit and its expiry, usage cycle,
    autopay); `lock` takes their locks in id order with the same read."""
    if len(wallet_ids) == 1:
        query = _DEBIT_STATE_LOCKED if lock else _DEBIT_STATE
        return (await session.execute(query, {"id": wallet_ids[0]})).all()
    if session.get_bind().dialect.name == "postgresql":
        query = _DEBIT_STATES_LOCKED_PG if lock else _DEBIT_STATES_PG
    else:
        query = _DEBIT_STATES_LOCKED if lock else _DEBIT_STATES
    return (await session.execute(query, {"ids": list(wallet_ids)})).all()


# Built once: SQLAlchemy, and the lean writers' driver sessions (`db.driver`), compile each once.
_DEBIT_STATE = select(*_STATE_COLUMNS).where(Wallet.id == bindparam("id"))
_DEBIT_STATE_LOCKED = _DEBIT_STATE.with_for_update()
_DEBIT_STATES = select(*_STATE_COLUMNS).where(Wallet.id.in_(bindparam("ids", expanding=True)))
_DEBIT_STATES_LOCKED = _DEBIT_STATES.order_by(Wallet.id).with_for_update()
# One array parameter, one prepared statement whatever the number (`db.engine.one_of`).
_DEBIT_STATES_PG = select(*_STATE_COLUMNS).where(any_of(Wallet.id, "ids"))
_DEBIT_STATES_LOCKED_PG = _DEBIT_STATES_PG.order_by(Wallet.id).with_for_update()


async def wallets_with_credit_due(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Wallets holding period credit that has expired by `now`."""
    rows = await session.execute(
        select(Wallet.id).where(Wallet.period_credit_expires_at <= now).limit(limit)
    )
    return list(rows.scalars())


def _lock_grants(*where: ColumnElement[bool]) -> Select[CreditGrant]:
    return (
        select(CreditGrant)
        .where(CreditGrant.remaining > 0, *where)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def lock_grants_to_spend(session: AsyncSession, wallet_id: str) -> Sequence[CreditGrant]:
    """The wallet's grants with credit left, in the order credit is spent: a cycle's credit
    before bought (bundle) credit (`docs/current-api.md#plans`), then earliest expiry first,
    grants that never expire last."""
    query = _lock_grants(CreditGrant.wallet_id == wallet_id).order_by(
        CreditGrant.kind == "bundle",
        CreditGrant.expires_at.is_(None),
        CreditGrant.expires_at,
        CreditGrant.id,
    )
    return (await session.execute(query)).scalars().all()


async def lock_subscription_grants(
    session: AsyncSession, active_subscription_id: str
) -> Sequence[CreditGrant]:
    """The grants of a subscription with credit left."""
    query = _lock_grants(CreditGrant.active_subscription_id == active_subscription_id)
    return (await session.execute(query)).scalars().all()


async def lock_expired_grants(
    session: AsyncSession, wallet_id: str, now: datetime
) -> Sequence[CreditGrant]:
    """The wallet's grants with credit left that have expired by `now`, earliest first."""
    query = _lock_grants(
        CreditGrant.wallet_id == wallet_id, CreditGrant.expires_at <= now
    ).order_by(CreditGrant.expires_at, CreditGrant.id)
    return (await session.execute(query)).scalars().all()


async def add_grant(session: AsyncSession, grant: CreditGrant) -> None:
    session.add(grant)
    await session.flush()


async def credit_left(
    session: AsyncSession, wallet_id: str
) -> Sequence[Row[Decimal, datetime | None]]:
    """`remaining, expires_at` of the wallet's grants with credit left, counting the changes
    this session made to grants (written first: the sessions do not autoflush)."""
    await session.flush()
    return (
        await session.execute(
            select(CreditGrant.remaining, CreditGrant.expires_at).where(
                CreditGrant.wallet_id == wallet_id, CreditGrant.remaining > 0
            )
        )
    ).all()


async def set_period_credit(
    session: AsyncSession, wallet_id: str, amount: Decimal, expires_at: datetime | None
) -> None:
    await session.execute(
        update(Wallet)
        .where(Wallet.id == wallet_id)
        .values(period_credit=amount, period_credit_expires_at=expires_at)
    )


# Autopay.


def _autopay_of(wallet_id: str) -> tuple[ColumnElement[bool], ...]:
    return (Payment.wallet_id == wallet_id, Payment.purpose == AUTOPAY)


async def autopay_pending(session: AsyncSession, wallet_id: str) -> bool:
    """Whether an autopay charge of the wallet is pending."""
    query = select(Payment.id).where(*_autopay_of(wallet_id), Payment.status == PENDING).limit(1)
    return (await session.execute(query)).first() is not None


async def last_autopay_at(session: AsyncSession, wallet_id: str) -> datetime | None:
    """When the wallet's latest autopay charge was created."""
    query = select(func.max(Payment.created_at)).where(*_autopay_of(wallet_id))
    last: datetime | None = (await session.execute(query)).scalar()
    return last


async def autopay_count_since(session: AsyncSession, wallet_id: str, since: datetime) -> int:
    """The wallet's autopay charges created since `since`, declined ones not counted."""
    query = select(func.count()).where(
        *_autopay_of(wallet_id), Payment.status != FAILED, Payment.created_at >= since
    )
    return int((await session.execute(query)).scalar_one())


async def wallets_needing_topup(session: AsyncSession, limit: int) -> list[str]:
    """Wallets with autopay on, below their threshold and no autopay charge pending."""
    pending = select(Payment.id).where(
        Payment.wallet_id == Wallet.id, Payment.purpose == AUTOPAY, Payment.status == PENDING
    )
    rows = await session.execute(
        select(Wallet.id)
        .where(
            Wallet.autopay_enabled.is_(True),
            Wallet.autopay_threshold.is_not(None),
            Wallet.autopay_amount.is_not(None),
            Wallet.balance - Wallet.held < Wallet.autopay_threshold,
            ~pending.exists(),
        )
        .limit(limit)
    )
    return list(rows.scalars())


async def wallets_due_autopay_retry(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Wallets whose declined autopay is due to be tried again (`payments.dunning`)."""
    rows = await session.execute(
        select(Wallet.id)
        .where(Wallet.autopay_retry_at <= now)
        .order_by(Wallet.autopay_retry_at)
        .limit(limit)
    )
    return list(rows.scalars())


# `lava ledger check`: run in one read transaction.


async def ledger_sums_by_wallet(session: AsyncSession) -> dict[str, Decimal]:
    """What each wallet's ledger entries sum to."""
    total = exact_sum(session.get_bind().dialect.name, LedgerEntry.amount)
    rows = await session.execute(
        select(LedgerEntry.wallet_id, total)
        .where(LedgerEntry.wallet_id.is_not(None))
        .group_by(LedgerEntry.wallet_id)
    )
    return {wallet_id: Decimal(amount or 0) for wallet_id, amount in rows}


async def balances(session: AsyncSession) -> Sequence[Row[str, Decimal]]:
    """`id, balance` of every wallet."""
    return (await session.execute(select(Wallet.id, Wallet.balance))).all()


async def unbalanced_transactions(session: AsyncSession) -> Sequence[Row[str, Any]]:
    """`txn_id, total` of every ledger transaction whose entries do not sum to zero."""
    total = exact_sum(session.get_bind().dialect.name, LedgerEntry.amount)
    return (
        await session.execute(
            select(LedgerEntry.txn_id, total).group_by(LedgerEntry.txn_id).having(total != 0)
        )
    ).all()


async def wrongly_held(session: AsyncSession) -> Sequence[Row[str, Decimal, Any]]:
    """`id, held, what its pending calls hold` of every wallet where the two differ (one
    statement: one snapshot of both tables)."""
    pending = (
        select(
            Request.wallet_id,
            exact_sum(session.get_bind().dialect.name, Request.hold_amount).label("held"),
        )
        .where(Request.status == "pending", Request.wallet_id.is_not(None))
        .group_by(Request.wallet_id)
        .subquery()
    )
    pending_held = func.coalesce(pending.c.held, 0)
    rows: Sequence[Row[str, Decimal, Any]] = (
        await session.execute(
            select(Wallet.id, Wallet.held, pending_held)
            .outerjoin(pending, pending.c.wallet_id == Wallet.id)
            .where(Wallet.held != pending_held)
        )
    ).all()
    return rows


async def count_ledger_entries(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one())


async def set_frozen(session: AsyncSession, wallet_id: str, at: datetime | None) -> None:
    """Freeze the wallet from `at` (None: thaw it): the hold's rule refuses frozen wallets."""
    await session.execute(update(Wallet).where(Wallet.id == wallet_id).values(frozen_at=at))


async def merchant_entries_page(
    session: AsyncSession,
    wallet_id: str,
    merchant_id: str,
    before_id: int | None,
    limit: int,
) -> Sequence[LedgerEntry]:
    """A page of the wallet's ledger entries, newest first (`limit + 1` rows), of the
    transactions that touch one of `merchant_id`'s accounts (`merchant:<id>`,
    `merchant:<id>:grants`...): a wallet two merchants share shows each only its own."""
    other = aliased(LedgerEntry)
    merchant_account = f"merchant:{merchant_id}"
    touches_merchant = (
        select(other.id)
        .where(
            other.txn_id == LedgerEntry.txn_id,
            or_(
                other.account == merchant_account,
                other.account.startswith(merchant_account + ":", autoescape=True),
            ),
        )
        .exists()
    )
    query = select(LedgerEntry).where(LedgerEntry.wallet_id == wallet_id, touches_merchant)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    query = query.order_by(LedgerEntry.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()
