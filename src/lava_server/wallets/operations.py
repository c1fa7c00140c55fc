"""A merchant's money operations on a wallet, in the ledger
(`docs/checkout-and-wallets.md#merchant-money-operations`): grants of credit, signed adjustments,
and the bookkeeping of refunds. Each function runs inside the caller's `Database.write()`
transaction, takes the wallet's lock itself (`open_wallets(..., lock=True)`, which also expires
due period credit first) and writes one balanced ledger transaction.

| transaction id | entries |
|---|---|
| `<grant id>` (`crd_...`) | `merchant:<id>:grants` → wallet |
| `<adjustment id>` (`adj_...`) | `merchant:<id>:adjustments` ↔ wallet (either way) |
| `refund:<refund id>` | wallet → `refunds:pending` (refund asked of the provider) |
| `refund:<refund id>:settled` | `refunds:pending` → `refunds:<provider>` (the provider refunded) |
| `refund:<refund id>:reversed` | `refunds:pending` → wallet (the provider refused) |
| `refund:<refund id>` (reported by the provider) | wallet → `refunds:<provider>` |
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import BalanceOperation, Dispute, Payment, Refund
from lava_server.errors import InsufficientBalance, InvalidRequest
from lava_server.ids import new_id
from lava_server.outbox import record_balance_changes, record_credit
from lava_server.payments import repository as payments
from lava_server.payments.repository import FAILED, PENDING, SUCCEEDED
from lava_server.pricing import MAX_AMOUNT, format_money
from lava_server.settings import Settings
from lava_server.wallets import repository
from lava_server.wallets.credit import WalletState, grant_credit, open_wallets, record_debits
from lava_server.wallets.ledger import Posting, lock_wallet, post, wallet_account

GRANT, ADJUSTMENT = "grant", "adjustment"
REFUNDS_PENDING = "refunds:pending"


def grants_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}:grants"


def adjustments_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}:adjustments"


def refunds_account(provider: str) -> str:
    return f"refunds:{provider}"


async def _open(session: AsyncSession, wallet_id: str, now: datetime) -> WalletState:
    states = await open_wallets(session, [wallet_id], now, lock=True)
    if wallet_id not in states:
        raise LookupError(f"no wallet {wallet_id}")
    return states[wallet_id]


async def lock_for_refund(session: AsyncSession, wallet_id: str, now: datetime) -> WalletState:
    """Lock the wallet a refund will debit (before its payment: the order settlements take)."""
    return await _open(session, wallet_id, now)


def _check_room(state: WalletState, amount: Decimal) -> None:
    if state.balance + amount > MAX_AMOUNT:
        raise InvalidRequest(
            f"amount: a wallet holds at most {format_money(MAX_AMOUNT)}; this one holds "
            f"{format_money(state.balance)}, so it can take at most "
            f"{format_money(MAX_AMOUNT - state.balance)} more.",
            param="amount",
        )


async def _book(
    session: AsyncSession, operation: BalanceOperation, merchant_account: str
) -> BalanceOperation:
    """Store a merchant's balance operation and post it: the wallet gets `amount` (signed), the
    merchant's account the opposite, in one ledger transaction named by the operation's id."""
    await repository.add_operation(session, operation)
    await post(
        session,
        txn_id=operation.id,
        postings=[
            Posting(
                wallet_account(operation.wallet_id),
                operation.amount,
                operation.kind,
                operation.wallet_id,
            ),
            Posting(merchant_account, -operation.amount, operation.kind),
        ],
        livemode=operation.livemode,
        now=operation.created_at,
    )
    return operation


async def grant(
    session: AsyncSession,
    *,
    merchant_id: str,
    connection_id: str,
    wallet_id: str,
    livemode: bool,
    amount: Decimal,
    reason: str,
    expires_at: datetime | None,
    now: datetime,
) -> BalanceOperation:
    """Credit paid by the merchant (`merchant:<id>:grants`). With `expires_at` it is period
    credit (`CreditGrant` of kind `grant`): spent before purchased credit, and what is left of
    it at `expires_at` goes back to `merchant:<id>:grants`."""
    if amount <= 0:
        raise InvalidRequest("amount must be greater than 0.", param="amount")
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest("expires_at must be in the future.", param="expires_at")
    state = await _open(session, wallet_id, now)
    _check_room(state, amount)
    operation = await _book(
        session,
        BalanceOperation(
            id=new_id("crd", livemode),
            kind=GRANT,
            merchant_id=merchant_id,
            livemode=livemode,
            connection_id=connection_id,
            wallet_id=wallet_id,
            amount=amount,
            reason=reason,
            expires_at=expires_at,
            created_at=now,
        ),
        grants_account(merchant_id),
    )
    if expires_at is not None:
        await grant_credit(
            session,
            wallet_id=wallet_id,
            livemode=livemode,
            merchant_id=merchant_id,
            active_subscription_id=None,
            payment_id=None,
            amount=amount,
            expires_at=expires_at,
            now=now,
            kind=GRANT,
            balance_operation_id=operation.id,
        )
    await record_credit(session, wallet_id, now)
    return operation


async def adjust(
    session: AsyncSession,
    settings: Settings,
    *,
    merchant_id: str,
    connection_id: str,
    wallet_id: str,
    livemode: bool,
    amount: Decimal,
    reason: str,
    now: datetime,
) -> BalanceOperation:
    """A signed correction against `merchant:<id>:adjustments`. A negative one is a debit: it
    takes the wallet down to zero available balance (balance less holds) at most (else 402
    naming `amount`), spends period credit first and may queue autopay, as any debit does."""
    if amount == 0:
        raise InvalidRequest("amount must not be 0.", param="amount")
    state = await _open(session, wallet_id, now)
    if amount > 0:
        _check_room(state, amount)
    elif state.available + amount < 0:
        raise InsufficientBalance(
            f"amount: the wallet's available balance is {format_money(state.available)}; an "
            "adjustment may take it down to zero, not below.",
            param="amount",
        )
    operation = await _book(
        session,
        BalanceOperation(
            id=new_id("adj", livemode),
            kind=ADJUSTMENT,
            merchant_id=merchant_id,
            livemode=livemode,
            connection_id=connection_id,
            wallet_id=wallet_id,
            amount=amount,
            reason=reason,
            expires_at=None,
            created_at=now,
        ),
        adjustments_account(merchant_id),
    )
    if amount > 0:
        await record_credit(session, wallet_id, now)
    else:
        await record_debits(session, settings, {wallet_id: state}, {wallet_id: -amount}, now)
        await record_balance_changes(session, [(wallet_id, state.balance, state.balance + amount)])
    return operation


def refundable(state: WalletState) -> Decimal:
    """What a refund may take out of the wallet: its available balance less its period credit
    (granted credit is not the customer's money to give back)."""
    return max(state.available - state.period_credit, Decimal(0))


async def reserve_refund(session: AsyncSession, refund: Refund, now: datetime) -> None:
    """Debit the wallet for a refund about to be asked of the provider, in the transaction that
    records it `pending` (`refund:<id>`: wallet → `refunds:pending`). A 402 naming `amount` when
    the wallet no longer holds it (`refundable`)."""
    assert refund.status == PENDING
    state = await _open(session, refund.wallet_id, now)
    if refund.amount > refundable(state):
        raise InsufficientBalance(
            f"amount: the wallet no longer holds {format_money(refund.amount)} to refund; it "
            f"can give back {format_money(refundable(state))} now (its available balance less "
            "granted period credit).",
            param="amount",
        )
    await post(
        session,
        txn_id=f"refund:{refund.id}",
        postings=[
            Posting(wallet_account(refund.wallet_id), -refund.amount, "refund", refund.wallet_id),
            Posting(REFUNDS_PENDING, refund.amount, "refund"),
        ],
        livemode=refund.livemode,
        now=now,
    )
    await record_balance_changes(
        session, [(refund.wallet_id, state.balance, state.balance - refund.amount)]
    )


async def settle_refund(
    session: AsyncSession, refund: Refund, provider_refund_id: str | None, now: datetime
) -> None:
    """The provider refunded a pending refund the caller has locked: the money leaves
    (`refunds:pending` → `refunds:<provider>`); the wallet was debited already."""
    assert refund.status == PENDING
    refund.status = SUCCEEDED
    refund.provider_refund_id = provider_refund_id
    refund.completed_at = now
    await post(
        session,
        txn_id=f"refund:{refund.id}:settled",
        postings=[
            Posting(REFUNDS_PENDING, -refund.amount, "refund"),
            Posting(refunds_account(refund.provider), refund.amount, "refund"),
        ],
        livemode=refund.livemode,
        now=now,
    )


async def reverse_refund(
    session: AsyncSession, refund: Refund, failure_code: str, message: str, now: datetime
) -> None:
    """The provider refused a pending refund the caller has locked: its debit goes back to the
    wallet (`refunds:pending` → wallet), with its balance event."""
    assert refund.status == PENDING
    refund.status = FAILED
    refund.failure_code = failure_code[:64]
    refund.failure_message = message[:255]
    refund.completed_at = now
    await lock_wallet(session, refund.wallet_id)
    await post(
        session,
        txn_id=f"refund:{refund.id}:reversed",
        postings=[
            Posting(REFUNDS_PENDING, -refund.amount, "refund"),
            Posting(wallet_account(refund.wallet_id), refund.amount, "refund", refund.wallet_id),
        ],
        livemode=refund.livemode,
        now=now,
    )
    await record_credit(session, refund.wallet_id, now)


async def book_provider_refund(
    session: AsyncSession,
    payment: Payment,
    *,
    provider_refund_id: str,
    amount: Decimal,
    now: datetime,
    idempotency_key: str | None = None,
) -> Refund:
    """A refund the provider reports (Stripe's `charge.refunded`, a refund made in its
    dashboard): the money has left already, so the wallet is debited by the whole `amount`
    (`refund:<id>`: wallet → `refunds:<provider>`), even below zero. Idempotent per provider
    refund id: a second report returns the refund booked the first time. A report of a refund
    that Lava asked for itself (`idempotency_key` = the key Lava sent, found in the provider's
    metadata) settles that refund instead of debiting twice.

    Two reports committing at once: the second fails on `uq_refunds_provider_refund` (an
    `IntegrityError`); its caller runs it again and gets the first one's refund."""
    found = await payments.refund_by_provider_id(session, payment.provider, provider_refund_id)
    if found is not None:
        return found
    if idempotency_key is not None:
        ours = await payments.refund_by_key(session, idempotency_key)
        if ours is not None:
            ours = await payments.lock_refund(session, ours.id)
            assert ours is not None
            if ours.status == PENDING:
                await settle_refund(session, ours, provider_refund_id, now)
            return ours
    refund_id = new_id("re", payment.livemode)
    refund = Refund(
        id=refund_id,
        livemode=payment.livemode,
        merchant_id=payment.merchant_id,
        payment_id=payment.id,
        wallet_id=payment.wallet_id,
        amount=amount,
        status=SUCCEEDED,
        provider=payment.provider,
        provider_refund_id=provider_refund_id,
        idempotency_key=f"provider_refund:{payment.provider}:{provider_refund_id}"[:255],
        created_at=now,
        completed_at=now,
    )
    await payments.add_refund(session, refund)
    state = await _open(session, payment.wallet_id, now)
    await post(
        session,
        txn_id=f"refund:{refund_id}",
        postings=[
            Posting(wallet_account(payment.wallet_id), -amount, "refund", payment.wallet_id),
            Posting(refunds_account(payment.provider), amount, "refund"),
        ],
        livemode=payment.livemode,
        now=now,
    )
    await record_balance_changes(
        session, [(payment.wallet_id, state.balance, state.balance - amount)]
    )
    return refund


# -- disputes ---------------------------------------------------------------------------------

OPEN, WON, LOST = "open", "won", "lost"


async def open_dispute(
    session: AsyncSession, payment: Payment, *, dispute_id: str, amount: Decimal, now: datetime
) -> bool:
    """A dispute of `payment` opened at its provider (Stripe's `charge.dispute.created`): the
    wallet the payment funded is frozen (calls and reports refused, 402 `wallet_frozen`) until
    every dispute of it is closed. Idempotent per provider dispute id; True when recorded now."""
    await lock_wallet(session, payment.wallet_id)  # the order of every money movement
    if await payments.get_dispute(session, payment.provider, dispute_id) is not None:
        return False
    await payments.add_dispute(
        session,
        Dispute(
            provider=payment.provider,
            id=dispute_id,
            livemode=payment.livemode,
            payment_id=payment.id,
            wallet_id=payment.wallet_id,
            amount=amount,
            status=OPEN,
            created_at=now,
        ),
    )
    await repository.set_frozen(session, payment.wallet_id, now)
    return True


async def close_dispute(
    session: AsyncSession, provider: str, dispute_id: str, *, won: bool, now: datetime
) -> bool:
    """The provider closed a dispute (`charge.dispute.closed`): a lost one takes its amount from
    the wallet, as a refund made at the provider (`book_provider_refund`: once, even below zero:
    the money went back to the card); the wallet thaws when no other dispute of it is open.
    Idempotent; True when closed now (False for a dispute never opened here or closed already)."""
    found = await payments.get_dispute(session, provider, dispute_id)
    if found is None:
        return False
    await lock_wallet(session, found.wallet_id)
    dispute = await payments.lock_dispute(session, provider, dispute_id)
    assert dispute is not None
    if dispute.status != OPEN:
        return False
    dispute.status = WON if won else LOST
    dispute.closed_at = now
    await session.flush()  # before counting the wallet's open disputes
    if not won:
        payment = await payments.get_payment(session, dispute.payment_id)
        assert payment is not None
        await book_provider_refund(
            session, payment, provider_refund_id=dispute_id, amount=dispute.amount, now=now
        )
    if not await payments.open_disputes_of(session, dispute.wallet_id):
        await repository.set_frozen(session, dispute.wallet_id, None)
    return True
