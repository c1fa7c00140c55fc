"""The auto top-up of credit bundles (`docs/checkout-and-wallets.md#auto-top-up-of-credit-bundles`).

A current-era subscription may name an auto top-up bundle (`auto_top_up_bundle_id`). Buying it
charges the bundle's `cost` to the subscription's saved card (the one its plan was paid with, else
the wallet's latest) through the payment providers autopay uses, and grants its `credit_amount`
as bundle credit exactly as a `credit_bundle` checkout does (`wallets.credit.grant_bundle`), in
the transaction that records the charge's success (`settle`).

Two triggers, one purchase each:

- **Proactively**, in the transaction of a charge (`queue_due`, called by `metering.charge`):
  when the charge leaves the wallet less than `wallets.credit.TOP_UP_BELOW` of the bundle's
  `credit_amount` to spend, a pending payment is queued and the worker charges it.
- **At the hold** (`AutoTopUp.buy`, called by both doors when a request would be refused with
  402): the purchase is made at once, and the request tried again.

A payment of purpose `auto_top_up` is claimed under the wallet's lock, and at most one per
subscription is pending at a time (`uq_payments_top_up_pending`): concurrent triggers, on any
number of server processes, find that pending payment and drive it with its own idempotency key
(`auto_top_up:<subscription>:<n>`), so the card is charged once and the bundle granted once. A
declined card ends that payment; no new attempt is made for `LAVA_AUTOPAY_COOLDOWN_SECONDS`
(requests meanwhile are refused with the decline's message), and at most
`LAVA_AUTOPAY_MAX_PER_PERIOD` bundles are bought per cycle of the subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.db.models import Payment, PaymentMethod
from lava_server.errors import InsufficientBalance
from lava_server.metering import repository
from lava_server.metering.repository import TopUpPlan
from lava_server.payments import repository as payment_records
from lava_server.payments import service as payments
from lava_server.payments.context import Billing
from lava_server.payments.interface import ChargeResult
from lava_server.payments.repository import AUTO_TOP_UP, FAILED, PENDING, SUCCEEDED
from lava_server.pricing import format_money
from lava_server.settings import Settings
from lava_server.wallets.autopay import render_payment
from lava_server.wallets.credit import WalletState, grant_bundle, open_wallets
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.service import credit_payment

log = logging.getLogger("lava_server.metering")
ZERO = Decimal(0)


async def queue_due(
    session: AsyncSession,
    settings: Settings,
    wallets: Mapping[str, WalletState],
    after: Mapping[str, Decimal],
    now: datetime,
) -> None:
    """In a charge's transaction (wallets locked, an ORM session): queue the auto top-up of
    each wallet whose available balance `after` the charge is below its floor."""
    if not after or not isinstance(session, AsyncSession):
        # A forward call's settlement on a Core connection: its wallet was above its floor with
        # the hold, and only a call costing more than its hold gets below; the next hold's
        # purchase (`AutoTopUp.buy`) covers that.
        return
    for wallet_id, available in sorted(after.items()):
        floor = wallets[wallet_id].top_up_floor
        if floor is None or available >= floor:
            continue
        plan = await repository.top_up_plan(session, wallet_id)
        if plan is not None:
            await _claim(session, settings, plan, now, lease=False)


async def _claim(
    session: AsyncSession,
    settings: Settings,
    plan: TopUpPlan,
    now: datetime,
    *,
    lease: bool,
) -> Payment | str:
    """Under the wallet's lock: the subscription's pending auto top-up, else a new one; or why
    none may be bought now. With `lease`, the caller charges it at once (the worker leaves it
    alone meanwhile); else the worker charges it."""
    subscription, bundle = plan.subscription, plan.bundle
    pending = await payment_records.pending_top_up(session, subscription.id)
    if pending is None:
        last = await payment_records.last_top_up(session, subscription.id)
        cooldown = timedelta(seconds=settings.autopay_cooldown_seconds)
        if (
            last is not None
            and last.status == FAILED
            and last.completed_at is not None
            and now - last.completed_at < cooldown
        ):
            return (
                f"the auto top-up of credit bundle {bundle.id} failed "
                f"({last.failure_message or 'the payment failed'}); it is tried again "
                f"{settings.autopay_cooldown_seconds} s after that failure"
            )
        bought = await payment_records.top_ups_since(
            session, subscription.id, subscription.current_period_start
        )
        if bought >= settings.autopay_max_per_period:
            return (
                f"the auto top-up bought {bought} credit bundles this cycle, the most it may "
                f"(LAVA_AUTOPAY_MAX_PER_PERIOD)"
            )
        method = await _method(session, plan)
        if method is None:
            return "the subscription has an auto top-up bundle but no saved payment method"
        number = await payment_records.top_ups_of(session, subscription.id) + 1
        pending = payments.new_payment(
            purpose=AUTO_TOP_UP,
            idempotency_key=f"{AUTO_TOP_UP}:{subscription.id}:{number}",
            method=method,
            amount=bundle.cost,
            merchant_id=subscription.merchant_id,
            now=now,
            next_attempt_at=now,
            active_subscription_id=subscription.id,
            credit_bundle_id=bundle.id,
        )
        await payment_records.add_payment(session, pending)
    if lease:
        pending.next_attempt_at = now + payments.LEASE
    return pending


async def _method(session: AsyncSession, plan: TopUpPlan) -> PaymentMethod | None:
    """The card the plan was paid with, else the wallet's latest (a free plan's customer who
    bought a bundle at checkout)."""
    method_id = plan.subscription.payment_method_id
    if method_id is not None:
        method = await payment_records.get_method(session, method_id)
        if method is not None:
            return method
    return await payment_records.latest_method(session, plan.subscription.wallet_id)


async def settle(
    session: AsyncSession, payment: Payment, result: ChargeResult, now: datetime
) -> None:
    """Record the outcome of a pending auto top-up; on success credit the payment and grant the
    bundle (`payment:<id>`, then `bundle_credit:<id>` when the bundle grants more or less than
    it costs). The caller holds the wallet's lock and the payment's."""
    assert payment.status == PENDING
    assert payment.active_subscription_id is not None and payment.credit_bundle_id is not None
    payments.record_outcome(payment, result, now)
    if payment.status not in (SUCCEEDED, FAILED):
        return
    subscription = await repository.subscription_of(session, payment.active_subscription_id)
    bundle = await repository.bundle_of(session, payment.credit_bundle_id)
    assert subscription is not None and bundle is not None
    if payment.status == SUCCEEDED:
        await credit_payment(session, payment, now)
        await grant_bundle(
            session,
            subscription=subscription,
            credit_amount=bundle.credit_amount,
            rollover=await repository.rollover_of(session, subscription.subscription_config_id),
            payment=payment,
            now=now,
        )
    await outbox.record(
        session,
        outbox.AUTO_TOP_UP_SUCCEEDED if payment.status == SUCCEEDED else outbox.AUTO_TOP_UP_FAILED,
        object_id=subscription.connection_id,
        merchant_id=subscription.merchant_id,
        livemode=payment.livemode,
        data={
            "customer_id": subscription.connection_id,
            "subscription_id": subscription.id,
            "credit_bundle_id": bundle.id,
            "credit_amount": format_money(bundle.credit_amount),
            "payment": render_payment(payment),
        },
        now=now,
    )


class OutOfCredit(InsufficientBalance):
    """A 402 under the overdraft `block` that buying the wallet's auto top-up bundle may turn
    into a success: the wallet, and what the request needs available (its hold or its cost)."""

    def __init__(self, message: str, *, wallet_id: str, needed: Decimal) -> None:
        super().__init__(message)
        self.wallet_id = wallet_id
        self.needed = needed


@dataclass(frozen=True)
class Bought:
    """The outcome of `AutoTopUp.buy`: `retry` when the request may be tried again (a bundle
    was bought, by this call or a concurrent one, or the balance suffices by now); else
    `reason`, for the 402's message (None: the wallet has no auto top-up)."""

    retry: bool
    reason: str | None = None


class AutoTopUp:
    """The purchase at hold time, for both doors. `billing_of` gives the payment providers and
    the clock as the app has them (tests may replace them before start-up)."""

    def __init__(self, billing_of: Callable[[], Billing]) -> None:
        self._billing_of = billing_of

    async def refused(self, error: OutOfCredit) -> InsufficientBalance | None:
        """For a door that got `error`: None when an auto top-up bundle was bought (try the
        request once more), else the 402 to answer, saying why no bundle helped."""
        bought = await self.buy(error.wallet_id, error.needed)
        if bought.retry:
            return None
        if bought.reason is None:
            return error
        return InsufficientBalance(f"{error.message} Auto top-up: {bought.reason}.")

    async def buy(self, wallet_id: str, needed: Decimal) -> Bought:
        """Buy the wallet's auto top-up bundle for a request that needs `needed` available
        (its hold, or its cost), if that makes it fit: at most one purchase, however many
        requests wait for it at once."""
        billing = self._billing_of()
        now = billing.now()
        async with billing.db.write() as session:
            states = await open_wallets(session, [wallet_id], now, lock=True)
            state = states.get(wallet_id)
            if state is None:
                return Bought(False)
            if state.available >= needed:
                return Bought(True)  # a concurrent purchase (or a refund) came first
            plan = await repository.top_up_plan(session, wallet_id)
            if plan is None:
                return Bought(False)
            if state.available + plan.bundle.credit_amount < needed:
                return Bought(
                    False,
                    f"the auto top-up bundle {plan.bundle.id} "
                    f"({format_money(plan.bundle.credit_amount)} credits) would not cover it, "
                    "so it was not bought",
                )
            claimed = await _claim(session, billing.settings, plan, now, lease=True)
            if isinstance(claimed, str):
                return Bought(False, claimed)
            request = await payments.charge_request(session, claimed)
        result = await payments.charge(billing, request)
        async with billing.db.write() as session:
            await lock_wallet(session, wallet_id)
            payment = await payment_records.lock_payment(session, request.payment_id)
            assert payment is not None
            if payment.status == PENDING:
                await settle(session, payment, result, now)
            status, message = payment.status, payment.failure_message
        if status == SUCCEEDED:
            log.info("auto top-up %s bought for wallet %s", request.payment_id, wallet_id)
            return Bought(True)
        if status == FAILED:
            return Bought(False, f"the auto top-up failed: {message or 'the payment failed'}")
        return Bought(False, "the auto top-up payment could not be completed right now")
