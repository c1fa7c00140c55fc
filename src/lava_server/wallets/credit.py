"""Period credit, and the two calls every debit of a wallet makes.

A subscription payment credits the wallet (the ledger) and records that amount as a
`CreditGrant`: the wallet's `period_credit` is the sum of what is left of its grants. Usage
spends period credit before purchased credit (earliest expiry first), and what is left of a grant
when it expires leaves the wallet for the merchant's account, so expired credit can never be
spent: `open_wallets` expires what is due before any balance is read for a debit, whether or not
the worker has come by yet.

A debit (metered usage, a settled forwarded call) runs, in its transaction:

    locked = await lock_wallet(session, wallet_id)        # or lock_wallets(...)
    wallets = await open_wallets(session, [wallet_id], now)  # expire due credit; balances after
    ... price with wallets[wallet_id].period_start, check wallets[wallet_id].available ...
    await post(...)                                       # the debit
    await record_debits(session, settings, wallets, {wallet_id: amount}, now)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.driver import NeedsSession
from lava_server.db.models import ActiveSubscription, CreditGrant, Payment
from lava_server.outbox import record_balance_changes
from lava_server.periods import usage_period
from lava_server.settings import Settings
from lava_server.wallets import autopay, repository
from lava_server.wallets.ledger import Posting, post, wallet_account

ZERO = Decimal(0)
# A charge that leaves less than this share of the auto top-up bundle's `credit_amount` to
# spend queues the bundle's purchase
# (`docs/checkout-and-wallets.md#auto-top-up-of-credit-bundles`).
TOP_UP_BELOW = Decimal("0.1")


@dataclass(frozen=True)
class WalletState:
    """A locked wallet as a debit sees it, after due period credit has expired."""

    id: str
    livemode: bool
    balance: Decimal
    held: Decimal
    period_credit: Decimal
    period_start: datetime  # the usage period (tier positions reset at its bounds)
    period_end: datetime
    autopay_enabled: bool
    autopay_threshold: Decimal | None
    autopay_amount: Decimal | None
    # Below this available balance, a charge queues the purchase of the auto top-up bundle of
    # the wallet's subscription (`metering.top_up`); None without one.
    top_up_floor: Decimal | None = None
    frozen: bool = False  # a dispute is open: reports are refused (`WalletFrozen`)

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def needs_session(self) -> bool:
        """Whether a debit may have more to do than the ledger (spend period credit, queue
        autopay or an auto top-up): those writers need an ORM session. A forward call's
        settlement only raises the available balance above what it is with its hold."""
        return (
            self.period_credit > 0
            or self.autopay_enabled
            or (self.top_up_floor is not None and self.available < self.top_up_floor)
        )


async def open_wallets(
    session: AsyncSession, wallet_ids: Sequence[str], now: datetime, *, lock: bool = False
) -> dict[str, WalletState]:
    """Expire the period credit that is due in these wallets, and return their state. The
    caller holds their locks, or passes `lock=True` to take them here (in id order, as
    `ledger.lock_wallets` does) with the same read."""
    ids = sorted(set(wallet_ids))
    rows = await repository.debit_states(session, ids, lock=lock)
    due = [
        row.id
        for row in rows
        if row.period_credit_expires_at is not None and row.period_credit_expires_at <= now
    ]
    if due:
        if not isinstance(session, AsyncSession):
            # Expiring credit changes its grants (ORM objects): a lean writer rolls back and
            # writes with a session.
            raise NeedsSession("period credit falling due")
        for wallet_id in due:
            await expire_credit(session, wallet_id, now)
        rows = await repository.debit_states(session, ids)
    states: dict[str, WalletState] = {}
    for row in rows:
        start, end = usage_period(now, row.cycle_started_at, row.cycle_ends_at)
        states[row.id] = WalletState(
            id=row.id,
            livemode=row.livemode,
            balance=row.balance,
            held=row.held,
            period_credit=row.period_credit,
            period_start=start,
            period_end=end,
            autopay_enabled=row.autopay_enabled,
            autopay_threshold=row.autopay_threshold,
            autopay_amount=row.autopay_amount,
            top_up_floor=(None if row.top_up_credit is None else row.top_up_credit * TOP_UP_BELOW),
            frozen=row.frozen_at is not None,
        )
    return states


async def record_debits(
    session: AsyncSession,
    settings: Settings,
    states: Mapping[str, WalletState],
    debits: Mapping[str, Decimal],
    now: datetime,
) -> None:
    """After debiting wallets (same transaction): the debits spend period credit first, and a
    wallet whose available balance fell below its autopay threshold gets one autopay top-up
    queued (`wallets.autopay`). `states` are from `open_wallets`, before the debits."""
    for wallet_id, amount in sorted(debits.items()):
        state = states[wallet_id]
        if amount <= 0:
            continue
        if state.period_credit > 0:
            await spend_credit(session, wallet_id, amount)
        if (
            state.autopay_enabled
            and state.autopay_threshold is not None
            and state.available - amount < state.autopay_threshold
        ):
            await autopay.queue_if_due(session, settings, wallet_id, now)


def debit_changes(
    states: Mapping[str, WalletState], debits: Mapping[str, Decimal]
) -> list[tuple[str, Decimal, Decimal]]:
    """`(wallet id, balance before, balance after)` of each debited wallet, for the webhooks'
    outbox (`outbox.record_balance_changes`). `states` are from `open_wallets`."""
    return [
        (wallet_id, states[wallet_id].balance, states[wallet_id].balance - amount)
        for wallet_id, amount in sorted(debits.items())
        if amount
    ]


async def spend_credit(session: AsyncSession, wallet_id: str, amount: Decimal) -> None:
    """Take `amount` out of the wallet's period credit, earliest expiry first (as far as it
    goes: the rest was purchased credit)."""
    left = amount
    for grant in await repository.lock_grants_to_spend(session, wallet_id):
        if left <= 0:
            break
        used = min(grant.remaining, left)
        grant.remaining -= used
        left -= used
    await refresh_summary(session, wallet_id)


async def grant_credit(
    session: AsyncSession,
    *,
    wallet_id: str,
    livemode: bool,
    merchant_id: str,
    active_subscription_id: str | None,
    payment_id: str | None,
    amount: Decimal,
    expires_at: datetime | None,
    now: datetime,
    kind: str = "cycle",
    balance_operation_id: str | None = None,
) -> None:
    """Record `amount`, already credited to the wallet, as period credit: a cycle's (`cycle`),
    bought with a credit bundle (`bundle`, spent after the cycle's), or a merchant's grant with
    an expiry (`grant`, `balance_operation_id`; spent like a cycle's)."""
    await repository.add_grant(
        session,
        CreditGrant(
            wallet_id=wallet_id,
            livemode=livemode,
            merchant_id=merchant_id,
            active_subscription_id=active_subscription_id,
            payment_id=payment_id,
            amount=amount,
            remaining=amount,
            granted_at=now,
            expires_at=expires_at,
            kind=kind,
            balance_operation_id=balance_operation_id,
        ),
    )
    await refresh_summary(session, wallet_id)


async def grant_bundle(
    session: AsyncSession,
    *,
    subscription: ActiveSubscription,
    credit_amount: Decimal,
    rollover: str,
    payment: Payment,
    now: datetime,
) -> None:
    """A credit bundle was paid for (and the payment credited): its `credit_amount` becomes
    bundle credit of the subscription, spent after the cycle's credit and kept at the cycle's
    end only when the plan's `bundle_rollover_type` (`rollover`) is `full`. A bundle granting
    more or less than it costs moves the difference between the merchant and the wallet in its
    own ledger transaction (`bundle_credit:<payment>`). Bought through a `credit_bundle`
    checkout or by auto top-up (`docs/checkout-and-wallets.md`). The caller holds the wallet's
    lock."""
    difference = credit_amount - payment.amount
    if difference != 0:
        await post(
            session,
            txn_id=f"bundle_credit:{payment.id}",
            postings=[
                Posting(
                    wallet_account(subscription.wallet_id),
                    difference,
                    "bundle_credit",
                    subscription.wallet_id,
                ),
                Posting(f"merchant:{subscription.merchant_id}", -difference, "bundle_credit"),
            ],
            livemode=subscription.livemode,
            now=now,
        )
    await grant_credit(
        session,
        wallet_id=subscription.wallet_id,
        livemode=subscription.livemode,
        merchant_id=subscription.merchant_id,
        active_subscription_id=subscription.id,
        payment_id=payment.id,
        amount=credit_amount,
        expires_at=subscription.current_period_end if rollover == "none" else None,
        now=now,
        kind="bundle",
    )


async def end_credit_at(
    session: AsyncSession, wallet_id: str, active_subscription_id: str, ends_at: datetime
) -> None:
    """Make a subscription's credit expire at `ends_at` at the latest (its last period's end,
    once it is cancelled). The caller holds the wallet's lock."""
    for grant in await repository.lock_subscription_grants(session, active_subscription_id):
        if grant.expires_at is None or grant.expires_at > ends_at:
            grant.expires_at = ends_at
    await refresh_summary(session, wallet_id)


async def expire_credit(session: AsyncSession, wallet_id: str, now: datetime) -> Decimal:
    """Move what is left of every grant expired at `now` from the wallet to its merchant's
    account (a merchant's own grant: back to `merchant:<id>:grants`, which paid it), one ledger
    transaction per grant; returns the total. The caller holds the lock."""
    grants = await repository.lock_expired_grants(session, wallet_id, now)
    if not grants:
        return ZERO
    balance = await repository.balance_of(session, wallet_id)
    total = ZERO
    for grant in grants:
        # Never more than the balance: period credit is part of it, and spent first.
        amount = min(grant.remaining, max(balance, ZERO))
        merchant_account = f"merchant:{grant.merchant_id}"
        if grant.kind == "grant":
            merchant_account = f"{merchant_account}:grants"
        if amount > 0:
            await post(
                session,
                txn_id=f"credit_expiry:{grant.id}",
                postings=[
                    Posting(wallet_account(wallet_id), -amount, "credit_expiry", wallet_id),
                    Posting(merchant_account, amount, "credit_expiry"),
                ],
                livemode=grant.livemode,
                now=now,
            )
        balance -= amount
        total += amount
        grant.remaining = ZERO
        grant.expired_at = now
    await refresh_summary(session, wallet_id)
    if total:  # the balance fell: reported as debits are (`docs/webhooks.md#events`)
        await record_balance_changes(session, [(wallet_id, balance + total, balance)])
    return total


async def refresh_summary(session: AsyncSession, wallet_id: str) -> None:
    """Recompute the wallet's `period_credit` and `period_credit_expires_at` from its grants."""
    rows = await repository.credit_left(session, wallet_id)
    expiries = [row.expires_at for row in rows if row.expires_at is not None]
    await repository.set_period_credit(
        session,
        wallet_id,
        sum((row.remaining for row in rows), ZERO),
        min(expiries) if expiries else None,
    )
