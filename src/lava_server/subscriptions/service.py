"""Plans, active subscriptions, and what starting, renewing and ending one does to its wallet."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import (
    ActiveSubscription,
    CreditBundle,
    Payment,
    PaymentMethod,
    SubscriptionConfig,
    Wallet,
)
from lava_server.errors import Conflict, InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.payments.repository import FAILED
from lava_server.periods import interval_start
from lava_server.pricing import format_money
from lava_server.subscriptions import repository
from lava_server.subscriptions.repository import ACTIVE, CANCELLED
from lava_server.subscriptions.schemas import (
    RestActiveSubscription,
    RestSubscriptionConfig,
    RolloverType,
    SubscriptionConfigCreate,
    SubscriptionConfigUpdate,
    SubscriptionStatus,
    SubscriptionWallet,
)
from lava_server.timeutil import iso
from lava_server.wallets.credit import end_credit_at, expire_credit, grant_bundle, grant_credit
from lava_server.wallets.ledger import Posting, lock_wallet, post, wallet_account
from lava_server.wallets.repository import get_wallet

CANCELLED_BY_MERCHANT = "cancelled"
PAYMENT_FAILED = "payment_failed"
REPLACED = "replaced"
PENDING_CANCELLATION, PENDING_DOWNGRADE = "cancellation", "downgrade"


def render_config(config: SubscriptionConfig) -> RestSubscriptionConfig:
    """The seed's `RestSubscriptionConfig`."""
    return {
        "subscription_config_id": config.id,
        "merchant_id": config.merchant_id,
        "name": config.name,
        "period_amount": format_money(config.period_amount),
        "rollover_type": cast(RolloverType, config.rollover_type),
        "created_at": iso(config.created_at),
    }


def render_subscription(
    subscription: ActiveSubscription, config: SubscriptionConfig, wallet: Wallet
) -> RestActiveSubscription:
    """The seed's `RestActiveSubscription`, plus `connection_id` and the current period."""
    wallet_body: SubscriptionWallet = {
        "wallet_id": wallet.id,
        "phone": wallet.phone or "",
        "active_balance": format_money(wallet.balance - wallet.held),
        "created_at": iso(wallet.created_at),
    }
    if wallet.email is not None:
        wallet_body["email"] = wallet.email
    if wallet.first_name is not None:
        wallet_body["first_name"] = wallet.first_name
    if wallet.last_name is not None:
        wallet_body["last_name"] = wallet.last_name
    body: RestActiveSubscription = {
        "active_subscription_id": subscription.id,
        "wallet_id": subscription.wallet_id,
        "subscription_config_id": subscription.subscription_config_id,
        "started_at": iso(subscription.started_at),
        "billing_anchor": subscription.billing_anchor,
        "status": cast(SubscriptionStatus, subscription.status),
        "created_at": iso(subscription.created_at),
        "subscription_config": render_config(config),
        "wallet": wallet_body,
        "connection_id": subscription.connection_id,
        "current_period_start": iso(subscription.current_period_start),
        "current_period_end": iso(subscription.current_period_end),
    }
    if subscription.cancelled_at is not None:
        body["cancelled_at"] = iso(subscription.cancelled_at)
    if subscription.past_due_since is not None:  # dunning (`docs/checkout-and-wallets.md#dunning`)
        body["past_due_since"] = iso(subscription.past_due_since)
        body["payment_retries"] = subscription.payment_retries
        retry_at = subscription.next_payment_retry_at
        body["next_payment_retry_at"] = None if retry_at is None else iso(retry_at)
    return body


async def create_config(
    db: Database, caller: Caller, params: SubscriptionConfigCreate, now: datetime
) -> SubscriptionConfig:
    config = SubscriptionConfig(
        id=new_id("sc", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        period_amount=params.period_amount,
        included_credit=params.period_amount,
        billing_interval="month",
        rollover_type=params.rollover_type,
        bundle_rollover_type="full",
        is_free=False,
        created_at=now,
        updated_at=now,
    )
    async with db.write() as session:
        await repository.add_config(session, config)
    return config


async def list_configs(db: Database, caller: Caller) -> list[SubscriptionConfig]:
    async with db.read() as session:
        return list(await repository.list_configs(session, caller.merchant_id, caller.livemode))


async def update_config(
    db: Database, caller: Caller, config_id: str, params: SubscriptionConfigUpdate, now: datetime
) -> SubscriptionConfig:
    async with db.write() as session:
        config = await repository.get_config(
            session, caller.merchant_id, caller.livemode, config_id
        )
        if config is None:
            raise NotFound(f"No subscription config {config_id}.", param="subscription_config_id")
        new_amount = params.period_amount
        if new_amount is not None and config.is_free:
            raise InvalidRequest("period_amount: the Free plan stays free.", param="period_amount")
        if new_amount is not None:
            # A plan granting what it charges keeps doing so; one granting less never grants
            # more than it charges (`docs/current-api.md#plans`).
            if config.included_credit == config.period_amount:
                config.included_credit = new_amount
            else:
                config.included_credit = min(config.included_credit, new_amount)
        for field, value in params.model_dump(exclude_none=True).items():
            setattr(config, field, value)
        config.updated_at = now
    return config


async def delete_config(db: Database, caller: Caller, config_id: str, now: datetime) -> None:
    """Soft delete (cancelled subscriptions still show their plan); refused while in use."""
    async with db.write() as session:
        config = await repository.get_config(
            session, caller.merchant_id, caller.livemode, config_id
        )
        if config is None:
            raise NotFound(f"No subscription config {config_id}.", param="subscription_config_id")
        if config.is_free:
            raise InvalidRequest("The Free plan cannot be deleted.", param="subscription_config_id")
        if await repository.config_in_use(session, config.id):
            raise Conflict(
                f"Subscription config {config_id} has active subscriptions; cancel them first.",
                param="subscription_config_id",
            )
        config.deleted_at = now


async def list_subscriptions(db: Database, caller: Caller) -> list[RestActiveSubscription]:
    async with db.read() as session:
        rows = await repository.list_subscriptions(session, caller.merchant_id, caller.livemode)
    return [render_subscription(*row) for row in rows]


async def cancel(db: Database, caller: Caller, subscription_id: str, now: datetime) -> None:
    """Cancel at the end of the cycle (`docs/current-api.md#subscriptions`), through either
    era's route: the subscription stays active with a pending cancellation, and the renewal
    that would start the next period ends it instead (`finish_pending`). Credit already granted
    stays spendable until then. When its period has already ended (a renewal is due) it ends at
    once. Cancelling a cancelled subscription, or cancelling twice, changes nothing."""
    async with db.write() as session:
        found = await repository.get_subscription(
            session, caller.merchant_id, caller.livemode, subscription_id
        )
        if found is None:
            raise NotFound(f"No active subscription {subscription_id}.", param="id")
        if found.status != ACTIVE:
            return
        await lock_wallet(session, found.wallet_id)
        subscription = await repository.lock_subscription(session, found.id)
        if subscription.status != ACTIVE:
            return
        if subscription.current_period_end <= now:
            await end(session, subscription, CANCELLED_BY_MERCHANT, now)
            await _drop_unstarted_renewals(session, subscription.id, now)
            return
        subscription.pending_change = PENDING_CANCELLATION
        subscription.pending_at = subscription.current_period_end
        subscription.pending_plan_id = None
        # What ends with the cycle is known now: the wallet's cycle, and its credit.
        await repository.end_wallet_cycle(
            session, subscription.wallet_id, subscription.current_period_end
        )
        await end_credit_at(
            session, subscription.wallet_id, subscription.id, subscription.current_period_end
        )
        await _drop_unstarted_renewals(session, subscription.id, now)


async def finish_pending(
    session: AsyncSession, subscription: ActiveSubscription, now: datetime
) -> bool:
    """At a renewal: apply the change pending for this time. A cancellation ends the
    subscription (its `cancelled_at` is the cycle's end; returns True, nothing to renew); a
    downgrade moves it to the cheaper plan, which the renewal then charges. The caller holds
    the wallet's lock and the subscription's."""
    if subscription.pending_change is None or subscription.pending_at is None:
        return False
    if subscription.pending_at > now:
        return False
    at = subscription.pending_at
    if subscription.pending_change == PENDING_CANCELLATION:
        await end(session, subscription, CANCELLED_BY_MERCHANT, now, at=at)
        await _drop_unstarted_renewals(session, subscription.id, now)
        return True
    if subscription.pending_plan_id is not None:
        subscription.subscription_config_id = subscription.pending_plan_id
        subscription.auto_top_up_bundle_id = None
    _clear_pending(subscription)
    return False


def _clear_pending(subscription: ActiveSubscription) -> None:
    subscription.pending_change = None
    subscription.pending_at = None
    subscription.pending_plan_id = None


async def end(
    session: AsyncSession,
    subscription: ActiveSubscription,
    reason: str,
    now: datetime,
    *,
    at: datetime | None = None,
) -> None:
    """Stop a subscription (`at`, default now): its cycle, and its credit, end with its current
    period. The caller holds the wallet's lock and the subscription's."""
    subscription.status = CANCELLED
    subscription.cancelled_at = now if at is None else at
    subscription.next_payment_retry_at = None
    subscription.cancel_reason = reason
    _clear_pending(subscription)
    ends_at = subscription.current_period_end
    await repository.end_wallet_cycle(session, subscription.wallet_id, ends_at)
    await end_credit_at(session, subscription.wallet_id, subscription.id, ends_at)
    if ends_at <= now:
        await expire_credit(session, subscription.wallet_id, now)
    if reason == PAYMENT_FAILED:
        await _report(session, outbox.SUBSCRIPTION_PAYMENT_FAILED, subscription, now)
    await _report(session, outbox.SUBSCRIPTION_CANCELLED, subscription, now)


async def _report(
    session: AsyncSession, event_type: str, subscription: ActiveSubscription, now: datetime
) -> None:
    """Write the subscription's event (`docs/webhooks.md`), its data as the API shows it."""
    await session.flush()
    config = await repository.config_by_id(session, subscription.subscription_config_id)
    wallet = await get_wallet(session, subscription.wallet_id, fresh=True)
    assert config is not None and wallet is not None
    await outbox.record(
        session,
        event_type,
        object_id=subscription.id,
        merchant_id=subscription.merchant_id,
        livemode=subscription.livemode,
        data=dict(render_subscription(subscription, config, wallet)),
        now=now,
    )


async def _drop_unstarted_renewals(
    session: AsyncSession, subscription_id: str, now: datetime
) -> None:
    """A renewal charge not yet sent to the provider is dropped. One that was sent (or is being
    sent) settles normally; its money then lands as purchased credit."""
    for payment in await repository.lock_pending_renewals(session, subscription_id):
        if payment.attempts == 0 and payment.next_attempt_at <= now:
            payment.status = FAILED
            payment.failure_code = "subscription_cancelled"
            payment.failure_message = "The subscription was cancelled before this renewal."
            payment.completed_at = now


async def start(
    session: AsyncSession,
    *,
    merchant_id: str,
    livemode: bool,
    wallet_id: str,
    connection_id: str,
    config: SubscriptionConfig,
    method: PaymentMethod | None,
    payment: Payment | None,
    now: datetime,
) -> ActiveSubscription:
    """Create the subscription its first (succeeded, credited) payment paid for, start the
    wallet's cycle, and grant the first period's credit. The caller holds the wallet's lock."""
    subscription = ActiveSubscription(
        id=new_id("as", livemode),
        merchant_id=merchant_id,
        livemode=livemode,
        wallet_id=wallet_id,
        connection_id=connection_id,
        subscription_config_id=config.id,
        payment_method_id=None if method is None else method.id,
        status=ACTIVE,
        started_at=now,
        billing_anchor=now.day,
        period_index=0,
        current_period_start=now,
        current_period_end=interval_start(now, 1, config.billing_interval),
        created_at=now,
        auto_top_up_bundle_id=config.default_auto_top_up_bundle_id,
    )
    await repository.add_subscription(session, subscription)
    await repository.start_wallet_cycle(session, wallet_id, now)
    if payment is not None:
        await _grant_period(session, subscription, config, payment, now)
        payment.active_subscription_id = subscription.id
        payment.period_index = 0
    await _report(session, outbox.SUBSCRIPTION_CREATED, subscription, now)
    return subscription


async def _grant_period(
    session: AsyncSession,
    subscription: ActiveSubscription,
    config: SubscriptionConfig,
    payment: Payment,
    now: datetime,
) -> None:
    """The period's credit: the plan's `included_credit` (at most what was paid). What was paid
    beyond it is the merchant's, moved out of the wallet in its own ledger transaction."""
    granted = min(config.included_credit, payment.amount)
    fee = payment.amount - granted
    if fee > 0:
        await post(
            session,
            txn_id=f"plan_fee:{payment.id}",
            postings=[
                Posting(
                    wallet_account(subscription.wallet_id), -fee, "plan_fee", subscription.wallet_id
                ),
                Posting(f"merchant:{subscription.merchant_id}", fee, "plan_fee"),
            ],
            livemode=subscription.livemode,
            now=now,
        )
    if granted <= 0:
        return
    await grant_credit(
        session,
        wallet_id=subscription.wallet_id,
        livemode=subscription.livemode,
        merchant_id=subscription.merchant_id,
        active_subscription_id=subscription.id,
        payment_id=payment.id,
        amount=granted,
        expires_at=subscription.current_period_end if config.rollover_type == "none" else None,
        now=now,
    )


async def renewed(
    session: AsyncSession, subscription: ActiveSubscription, payment: Payment, now: datetime
) -> None:
    """A renewal payment succeeded (and was credited): move to its period and grant its credit.
    For a subscription cancelled meanwhile, the money stays as purchased credit."""
    if subscription.status != ACTIVE or payment.period_index is None:
        return
    config = await repository.config_by_id(session, subscription.subscription_config_id)
    assert config is not None
    _move_to_period(subscription, config, payment.period_index)
    subscription.payment_method_id = payment.payment_method_id  # a retry may take a newer card
    await _grant_period(session, subscription, config, payment, now)
    await _report(session, outbox.SUBSCRIPTION_RENEWED, subscription, now)


async def payment_failed(
    session: AsyncSession, subscription: ActiveSubscription, now: datetime
) -> None:
    """A renewal was declined and will be retried (`payments.dunning`): say so."""
    await _report(session, outbox.SUBSCRIPTION_PAYMENT_FAILED, subscription, now)


def _move_to_period(
    subscription: ActiveSubscription, config: SubscriptionConfig, index: int
) -> None:
    interval = config.billing_interval
    subscription.period_index = index
    # A new period is paid for (or free): any dunning of the last one is over.
    subscription.past_due_since, subscription.payment_retries = None, 0
    subscription.next_payment_retry_at = None
    subscription.current_period_start = interval_start(subscription.started_at, index, interval)
    subscription.current_period_end = interval_start(subscription.started_at, index + 1, interval)


async def renewed_free(
    session: AsyncSession,
    subscription: ActiveSubscription,
    config: SubscriptionConfig,
    index: int,
    now: datetime,
) -> None:
    """A period of a $0 plan starts: nothing to charge, nothing granted."""
    _move_to_period(subscription, config, index)
    await _report(session, outbox.SUBSCRIPTION_RENEWED, subscription, now)


async def bundle_bought(
    session: AsyncSession,
    subscription: ActiveSubscription,
    bundle: CreditBundle,
    payment: Payment,
    now: datetime,
) -> None:
    """A credit bundle was paid for (and the payment credited): `wallets.credit.grant_bundle`,
    which the auto top-up (`metering.top_up`) calls too. The caller holds the wallet's lock."""
    config = await repository.config_by_id(session, subscription.subscription_config_id)
    assert config is not None
    await grant_bundle(
        session,
        subscription=subscription,
        credit_amount=bundle.credit_amount,
        rollover=config.bundle_rollover_type,
        payment=payment,
        now=now,
    )
